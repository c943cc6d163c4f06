import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.impute import KNNImputer

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec._baselines import KNNFill, MeanFill, PCAFill
from skautodec.masks import center_mask, random_mask
from skautodec.report import (
    STUDY_MODELS,
    _slerp,
    compare,
    fit_study,
    interpolate,
    reconstruct,
    to_markdown,
    wide_table,
    with_refinement,
)

TINY = {"latent_dim": 4, "channels": 4, "max_epochs": 2, "random_state": 0}


@pytest.fixture(scope="module")
def fitted(X_img):
    ae = ConvAutoEncoder(**TINY).fit(X_img[:40])
    ad = AutoDecoder(transform_max_iter=3, **TINY).fit(X_img[:40])
    return ae, ad


@pytest.fixture(scope="module")
def masks():
    return {2: center_mask((8, 8), 2), 4: center_mask((8, 8), 4)}


# ------------------------------------------------------------------ baselines
def test_mean_fill_exact():
    X = np.array([[0.0, 2.0, 4.0], [2.0, np.nan, 0.0]], dtype=np.float32)
    fill = MeanFill().fit(X)
    np.testing.assert_allclose(fill.mean_, [1.0, 2.0, 2.0])
    out = fill.reconstruct(X, mask=[False, False, True])
    np.testing.assert_allclose(out, [[0.0, 2.0, 2.0], [2.0, 2.0, 2.0]])
    assert np.isnan(X[1, 1]) and X[0, 2] == 4.0  # input untouched


def test_knn_fill_matches_knn_imputer(X_img):
    mask = random_mask(10, 64, 0.3, random_state=0)
    fill = KNNFill(n_neighbors=3).fit(X_img[:40])
    out = fill.reconstruct(X_img[40:50], mask=mask)
    X_nan = X_img[40:50].copy()
    X_nan[mask] = np.nan
    expected = KNNImputer(n_neighbors=3).fit(X_img[:40]).transform(X_nan)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    np.testing.assert_array_equal(out[~mask], X_img[40:50][~mask])


def test_pca_fill_recovers_linear_data():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(50, 2)) @ rng.normal(size=(2, 10))).astype(np.float32)
    mask = np.zeros(10, dtype=bool)
    mask[:3] = True
    out = PCAFill(n_components=2).fit(X[:40]).reconstruct(X[40:], mask=mask)
    mean_out = MeanFill().fit(X[:40]).reconstruct(X[40:], mask=mask)
    err = ((out - X[40:])[:, mask] ** 2).mean()
    assert err < 1e-3 * ((mean_out - X[40:])[:, mask] ** 2).mean()


def test_pca_fill_row_masks_and_nan(X_img):
    mask = random_mask(10, 64, 0.3, random_state=1)
    fill = PCAFill(n_components=5).fit(X_img[:40])
    X = X_img[40:50].copy()
    X[mask] = np.nan
    out = fill.reconstruct(X)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, fill.reconstruct(X_img[40:50], mask=mask))


def test_baselines_errors(X_img):
    with pytest.raises(NotFittedError):
        MeanFill().reconstruct(X_img)
    with pytest.raises(ValueError, match="mask has shape"):
        MeanFill().fit(X_img).reconstruct(X_img, mask=np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="n_neighbors"):
        KNNFill(n_neighbors=0).fit(X_img)


# ------------------------------------------------------------------- compare
def test_compare_values_by_hand():
    X = np.array([[0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    df = compare(
        {"mean": MeanFill().fit(X)},
        X,
        {"a": [True, False], "b": np.array([[True, True], [False, False]])},
        fit_seconds={"mean": 1.5},
    )
    assert list(df["mask"]) == ["a", "b"]
    a, b = df.iloc[0], df.iloc[1]
    assert a["mse_hidden"] == pytest.approx(0.25)
    assert a["mse_observed"] == 0.0
    assert a["mse_all"] == pytest.approx(0.125)
    assert a["psnr_hidden"] == pytest.approx(10 * np.log10(4.0))
    assert a["missing_fraction"] == 0.5 and a["fit_seconds"] == 1.5
    assert b["mse_hidden"] == pytest.approx(0.125)  # row 0 hidden: 0.25 and 0
    assert df["transform_seconds"].ge(0).all() and (df["n_samples"] == 2).all()


def test_compare_uses_per_mask_models_and_skips_nan():
    X = np.array([[0.0, 1.0], [np.nan, 1.0]], dtype=np.float32)
    low = MeanFill().fit(np.zeros((2, 2)))
    high = MeanFill().fit(np.ones((2, 2)))
    m = [True, False]
    df = compare({"m": {"zero": low, "one": high}}, X, {"zero": m, "one": m})
    # only row 0, feature 0 is hidden and known
    assert df["mse_hidden"].tolist() == pytest.approx([0.0, 1.0])
    with pytest.raises(ValueError, match="none for mask 'other'"):
        compare({"m": {"zero": low}}, X, {"other": m})


def test_compare_errors(X_img):
    fill = MeanFill().fit(X_img)
    with pytest.raises(TypeError, match="models must be"):
        compare([fill], X_img, {"a": center_mask((8, 8), 2)})
    with pytest.raises(TypeError, match="masks must be"):
        compare({"f": fill}, X_img, [center_mask((8, 8), 2)])
    with pytest.raises(TypeError, match="neither reconstruct"):
        compare({"f": object()}, X_img, {"a": center_mask((8, 8), 2)})
    with pytest.raises(ValueError, match="data_range"):
        compare({"f": fill}, X_img, {"a": center_mask((8, 8), 2)}, data_range=0)


def test_reconstruct_estimator_and_refinement(fitted, X_img, masks):
    ae, _ = fitted
    X, mask = X_img[40:], masks[4]
    out = reconstruct(ae, X, mask=mask)
    np.testing.assert_array_equal(out, ae.inverse_transform(ae.transform(X, mask=mask)))
    refined = with_refinement(ae, transform_max_iter=5, transform_lr=0.1)
    assert ae.transform_max_iter == 0 and refined.transform_max_iter == 5
    assert refined.transform_lr == 0.1 and refined.net_ is not ae.net_
    df = compare({"ae": ae, "refined": refined}, X, {4: mask})
    # the refinement lowers the loss on the observed entries it is fitted to
    assert df["mse_observed"][1] <= df["mse_observed"][0] + 1e-7


def test_compare_study_models(fitted, X_img, masks):
    ae, ad = fitted
    models = {"ae": ae, "ad": ad, "mean": MeanFill().fit(X_img[:40])}
    df = compare(models, X_img[40:], masks)
    assert len(df) == 6
    assert df["mse_hidden"].notna().all() and (df["mse_hidden"] > 0).all()
    assert (df["mse_all"] >= df[["mse_hidden", "mse_observed"]].min(axis=1)).all()


def test_wide_table_and_markdown():
    df = pd.DataFrame(
        {
            "model": ["b|x", "a", "b|x", "a"],
            "mask": [3, 3, 2, 2],
            "mse_hidden": [0.5, 0.25, np.nan, 0.125],
        }
    )
    table = wide_table(df)
    assert list(table.index) == [3, 2] and list(table.columns) == ["b|x", "a"]
    assert table.loc[2, "a"] == 0.125
    md = to_markdown(table).splitlines()
    assert md[0] == "| mask | b\\|x | a |"
    assert md[1] == "| --- | ---: | ---: |"
    assert md[3] == "| 2 |  | 0.125 |"
    with pytest.raises(ValueError, match="no column 'psnr'"):
        wide_table(df, values="psnr")


# --------------------------------------------------------------- interpolate
def test_interpolate_endpoints_and_shapes(fitted, X_img):
    ae, ad = fitted
    a, b = X_img[40:43], X_img[43:46]
    ends = ae.inverse_transform(ae.transform(np.vstack([a, b])))
    for method in ("linear", "slerp"):
        out = interpolate(ae, a, b, alphas=[0.0, 0.5, 1.0], method=method)
        assert out.shape == (3, 3, 64)
        np.testing.assert_allclose(out[:, 0], ends[:3], atol=1e-5)
        np.testing.assert_allclose(out[:, 2], ends[3:], atol=1e-5)
    assert interpolate(ad, a[0], b[0]).shape == (5, 64)


def test_slerp_keeps_norm_and_handles_parallel_codes():
    za = np.array([[[1.0, 0.0]]])
    zb = np.array([[[0.0, 1.0]]])
    mid = _slerp(za, zb, 0.5)
    np.testing.assert_allclose(mid, [[[np.sqrt(0.5), np.sqrt(0.5)]]])
    same = _slerp(za, 2 * za, 0.5)
    np.testing.assert_allclose(same, [[[1.5, 0.0]]])


def test_interpolate_errors(fitted, X_img):
    ae, _ = fitted
    with pytest.raises(ValueError, match="method"):
        interpolate(ae, X_img[0], X_img[1], method="cubic")
    with pytest.raises(ValueError, match="same shape"):
        interpolate(ae, X_img[:2], X_img[:3])
    with pytest.raises(TypeError, match="no transform"):
        interpolate(MeanFill().fit(X_img), X_img[0], X_img[1])


# ----------------------------------------------------------------- fit_study
def test_fit_study(X_img, masks):
    ae = ConvAutoEncoder(**{**TINY, "max_epochs": 1})
    ad = AutoDecoder(transform_max_iter=2, **{**TINY, "max_epochs": 1})
    study = fit_study(
        X_img[:30], masks, autoencoder=ae, autodecoder=ad, refine_max_iter=2
    )
    assert list(study.models) == list(STUDY_MODELS)
    assert not hasattr(ae, "net_") and not hasattr(ad, "net_")
    per_mask = study.models["autoencoder (mask in fit)"]
    assert list(per_mask) == [2, 4] and set(study.fit_seconds[STUDY_MODELS[1]]) == {
        2,
        4,
    }
    # trained with the hole: no observed value to centre the hidden pixels on
    full = study.models["autoencoder"]
    hole = masks[4]
    assert (per_mask[4].offset_[hole] == 0).all() and (full.offset_[hole] != 0).any()
    assert study.models["autoencoder + refinement"].transform_max_iter == 2
    assert study.models["PCA fill"].pca_.n_components_ == 4
    df = compare(study.models, X_img[30:40], masks, fit_seconds=study.fit_seconds)
    assert len(df) == len(STUDY_MODELS) * 2
    assert df["fit_seconds"].notna().all()


def test_fit_study_pca_rank_follows_auto_latent_dim(X_img, masks):
    ad = AutoDecoder(max_epochs=1, transform_max_iter=2, random_state=0)
    study = fit_study(
        X_img[:30],
        {2: masks[2]},
        autoencoder=ConvAutoEncoder(**{**TINY, "max_epochs": 1}),
        autodecoder=ad,
        refine_max_iter=0,
    )
    rank = study.models["autodecoder"].latents_.shape[1]
    assert study.models["PCA fill"].n_components == rank


def test_fit_study_options(X_img, masks):
    ae = ConvAutoEncoder(**{**TINY, "max_epochs": 1})
    ad = AutoDecoder(**{**TINY, "max_epochs": 1})
    study = fit_study(
        X_img[:30],
        {2: masks[2]},
        autoencoder=ae,
        autodecoder=ad,
        refine_max_iter=0,
        baselines={"knn": KNNFill(n_neighbors=2)},
        progress=True,
    )
    assert list(study.models) == [
        "autoencoder",
        "autoencoder (mask in fit)",
        "autodecoder",
        "knn",
    ]
    # the progress bar callback is not left in the fitted models' parameters
    assert study.models["autodecoder"].callbacks is None
