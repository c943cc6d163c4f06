"""Partial observations: ``mask`` (True = missing) and NaN in fit, transform, score."""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.masks import center_mask, random_mask

AD = dict(latent_dim=2, max_epochs=3, transform_max_iter=10, random_state=0)
CAE = dict(latent_dim=2, max_epochs=3, random_state=0)

MODELS = {
    "AutoDecoder": lambda: AutoDecoder(**AD),
    "ConvAutoEncoder": lambda: ConvAutoEncoder(**CAE),
    "ConvAutoEncoder-refined": lambda: ConvAutoEncoder(**CAE, transform_max_iter=10),
}


@pytest.fixture(scope="module", params=list(MODELS))
def fitted(request, X_tab):
    """Each model fitted on the complete tabular rows."""
    return MODELS[request.param]().fit(X_tab)


@pytest.fixture(scope="module", params=list(MODELS))
def fitted_img(request, X_img):
    """Each model fitted on 8x8 images (convolutional decoder)."""
    return MODELS[request.param]().fit(X_img)


@pytest.fixture(scope="module")
def mask_tab(X_tab):
    return random_mask(*X_tab.shape, 0.3, random_state=1)


def _garbage_under(X, mask, seed=0):
    """``X`` with other values (large, and NaN) under ``mask``."""
    rng = np.random.RandomState(seed)
    out = X.copy()
    out[mask] = rng.uniform(-1e3, 1e3, size=mask.sum())
    out[mask & (rng.uniform(size=X.shape) < 0.3)] = np.nan
    return out


# --------------------------------------------------------------- transform
def test_transform_ignores_values_under_mask(fitted, X_tab, mask_tab):
    Z = fitted.transform(X_tab, mask=mask_tab)
    Z_other = fitted.transform(_garbage_under(X_tab, mask_tab), mask=mask_tab)
    np.testing.assert_array_equal(Z, Z_other)
    # the mask matters: without it the codes change
    assert not np.array_equal(Z, fitted.transform(X_tab))


def test_transform_ignores_values_under_mask_images(fitted_img, X_img):
    hole = center_mask((8, 8), 4)
    Z = fitted_img.transform(X_img, mask=hole)
    Z_other = fitted_img.transform(
        _garbage_under(X_img, np.broadcast_to(hole, X_img.shape)), mask=hole
    )
    np.testing.assert_array_equal(Z, Z_other)


@pytest.mark.filterwarnings("ignore:.*no observed entry:UserWarning")
def test_nan_and_mask_are_united(fitted, X_tab, mask_tab):
    nan_entries = random_mask(*X_tab.shape, 0.2, random_state=2)
    X_nan = np.where(nan_entries, np.nan, X_tab).astype(np.float32)
    union = nan_entries | mask_tab
    Z = fitted.transform(X_nan, mask=mask_tab)
    np.testing.assert_array_equal(Z, fitted.transform(X_tab, mask=union))
    X_all_nan = np.where(union, np.nan, X_tab).astype(np.float32)
    np.testing.assert_array_equal(Z, fitted.transform(X_all_nan))


def test_shared_mask_equals_broadcast_mask(fitted, X_tab):
    shared = np.array([True, False, False, True, False, False])
    full = np.tile(shared, (len(X_tab), 1))
    np.testing.assert_array_equal(
        fitted.transform(X_tab, mask=shared), fitted.transform(X_tab, mask=full)
    )
    assert fitted.score(X_tab, mask=shared) == fitted.score(X_tab, mask=full)


def test_integer_mask_equals_boolean_mask(fitted, X_tab, mask_tab):
    np.testing.assert_array_equal(
        fitted.transform(X_tab, mask=mask_tab.astype(int)),
        fitted.transform(X_tab, mask=mask_tab),
    )


def test_mask_none_and_all_false_agree(fitted, X_tab):
    np.testing.assert_array_equal(
        fitted.transform(X_tab, mask=np.zeros(X_tab.shape, dtype=bool)),
        fitted.transform(X_tab),
    )


def test_all_missing_rows(fitted, X_tab):
    mask = np.zeros(X_tab.shape, dtype=bool)
    mask[[0, 5]] = True
    X = X_tab.copy()
    X[7] = np.nan  # a row missing through NaN
    with pytest.warns(UserWarning, match="3 row\\(s\\) have no observed entry"):
        Z = fitted.transform(X, mask=mask)
    assert np.isfinite(Z).all()
    assert np.isfinite(fitted.inverse_transform(Z)).all()
    if isinstance(fitted, AutoDecoder):
        np.testing.assert_array_equal(Z[[0, 5, 7]], 0.0)
    else:
        # the encoder's code of a row of fill_value, refined on nothing
        fill = np.full((1, X.shape[1]), fitted.fill_value, dtype=np.float32)
        encoder_only = copy.deepcopy(fitted).set_params(transform_max_iter=0)
        expected = np.repeat(encoder_only.transform(fill), 3, axis=0)
        np.testing.assert_allclose(Z[[0, 5, 7]], expected, rtol=1e-5, atol=1e-6)
    # the other rows are as if encoded alone (up to float rounding in batches)
    np.testing.assert_allclose(
        Z[1:5], fitted.transform(X[1:5], mask=mask[1:5]), rtol=1e-5, atol=1e-6
    )


def test_transform_no_warning_without_empty_rows(fitted, X_tab, mask_tab):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.transform(X_tab, mask=mask_tab)


@pytest.mark.parametrize("fill_value", [0.0, 0.5])
def test_autoencoder_fills_missing_with_fill_value(X_tab, mask_tab, fill_value):
    ae = ConvAutoEncoder(**CAE, fill_value=fill_value).fit(X_tab)
    filled = np.where(mask_tab, np.float32(fill_value), X_tab)
    np.testing.assert_array_equal(
        ae.transform(X_tab, mask=mask_tab), ae.transform(filled)
    )


def test_autoencoder_refinement_fits_observed_entries_better(X_tab, mask_tab):
    plain = ConvAutoEncoder(**CAE).fit(X_tab)
    refined = ConvAutoEncoder(**CAE, transform_max_iter=30).fit(X_tab)
    # same training: refinement only changes transform
    np.testing.assert_array_equal(
        plain.transform(X_tab),
        refined.set_params(transform_max_iter=0).transform(X_tab),
    )
    refined.set_params(transform_max_iter=30)

    def observed_error(model):
        R = model.inverse_transform(model.transform(X_tab, mask=mask_tab))
        return ((R - X_tab) ** 2 * ~mask_tab).sum(axis=1)

    before, after = observed_error(plain), observed_error(refined)
    assert (after <= before + 1e-5).all()
    assert after.sum() < 0.9 * before.sum()


# --------------------------------------------------------------------- fit
@pytest.mark.parametrize("name", ["AutoDecoder", "ConvAutoEncoder"])
def test_fit_ignores_values_under_mask(name, X_tab, mask_tab):
    a = MODELS[name]().fit(X_tab, mask=mask_tab)
    b = MODELS[name]().fit(_garbage_under(X_tab, mask_tab, seed=3), mask=mask_tab)
    np.testing.assert_array_equal(a.offset_, b.offset_)
    np.testing.assert_array_equal(a.scale_, b.scale_)
    for key, value in a.net_.module_.state_dict().items():
        np.testing.assert_array_equal(value, b.net_.module_.state_dict()[key])
    if name == "AutoDecoder":
        np.testing.assert_array_equal(a.latents_, b.latents_)
    np.testing.assert_array_equal(
        a.transform(X_tab, mask=mask_tab), b.transform(X_tab, mask=mask_tab)
    )
    # the mask matters: fitting on every entry gives another model
    c = MODELS[name]().fit(X_tab)
    assert not np.array_equal(
        a.inverse_transform(np.ones((1, 2))), c.inverse_transform(np.ones((1, 2)))
    )


@pytest.mark.parametrize("name", ["AutoDecoder", "ConvAutoEncoder"])
def test_fit_nan_equals_fit_mask(name, X_tab, mask_tab):
    a = MODELS[name]().fit(X_tab, mask=mask_tab)
    b = MODELS[name]().fit(np.where(mask_tab, np.nan, X_tab))
    Z = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(a.inverse_transform(Z), b.inverse_transform(Z))


@pytest.mark.parametrize("name", ["AutoDecoder", "ConvAutoEncoder"])
def test_fit_shared_mask_equals_broadcast(name, X_tab):
    shared = np.array([False, True, False, False, False, True])
    a = MODELS[name]().fit(X_tab, mask=shared)
    b = MODELS[name]().fit(X_tab, mask=np.tile(shared, (len(X_tab), 1)))
    Z = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(a.inverse_transform(Z), b.inverse_transform(Z))


def test_fit_scaling_uses_observed_entries(X_tab, mask_tab):
    ad = AutoDecoder(**AD).fit(_garbage_under(X_tab, mask_tab), mask=mask_tab)
    observed_mean = np.nanmean(np.where(mask_tab, np.nan, X_tab), axis=0)
    np.testing.assert_allclose(ad.offset_, observed_mean, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["AutoDecoder", "ConvAutoEncoder"])
def test_fit_transform_with_mask(name, X_tab, mask_tab):
    Z = MODELS[name]().fit_transform(X_tab, mask=mask_tab)
    model = MODELS[name]().fit(X_tab, mask=mask_tab)
    np.testing.assert_array_equal(Z, model.transform(X_tab, mask=mask_tab))


# ------------------------------------------------------------------- score
def test_score_with_mask_is_mse_on_hidden_entries(fitted, X_tab, mask_tab):
    X = X_tab.copy()
    X[0, 0] = np.nan  # unknown truth: never scored
    mask = mask_tab.copy()
    mask[0, 0] = True
    recon = fitted.reconstruct(X, mask=mask)
    scored = mask & ~np.isnan(X)
    expected = -np.mean((recon[scored].astype(np.float64) - X[scored]) ** 2)
    assert fitted.score(X, mask=mask) == pytest.approx(expected, rel=1e-6)
    # the truth under the mask is read, so garbage there lowers the score
    assert fitted.score(_garbage_under(X, mask), mask=mask) < expected


def test_score_without_mask_is_mse_on_observed_entries(fitted, X_tab):
    X = X_tab.copy()
    X[1, 2] = np.nan
    recon = fitted.reconstruct(X)
    known = ~np.isnan(X)
    expected = -np.mean((recon[known].astype(np.float64) - X[known]) ** 2)
    assert fitted.score(X) == pytest.approx(expected, rel=1e-6)


def test_score_mask_over_nan_only_is_an_error(fitted, X_tab):
    X = X_tab.copy()
    X[:, 0] = np.nan
    mask = np.zeros(X.shape[1], dtype=bool)
    mask[0] = True
    with pytest.raises(ValueError, match="nothing to score"):
        fitted.score(X, mask=mask)


def test_score_with_all_hidden_rows_does_not_warn(fitted, X_tab):
    mask = np.zeros(X_tab.shape, dtype=bool)
    mask[0] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(fitted.score(X_tab, mask=mask))


# --------------------------------------------------------------- no copies
def test_inputs_are_not_modified(X_tab, mask_tab):
    X = X_tab.copy()
    X[2, 3] = np.nan
    mask_int = mask_tab.astype(np.int64)
    X.setflags(write=False)
    mask_ro = mask_tab.copy()
    mask_ro.setflags(write=False)
    shared = np.array([True, False, False, False, False, False])
    copies = [X.copy(), mask_int.copy(), mask_ro.copy(), shared.copy()]
    for name in ["AutoDecoder", "ConvAutoEncoder-refined"]:
        model = MODELS[name]().fit(X, mask=mask_ro)
        model.fit_transform(X, mask=mask_int)
        model.transform(X, mask=mask_ro)
        model.transform(X, mask=shared)
        model.score(X, mask=mask_int)
        model.score(X, mask=shared)
    for original, now in zip(copies, [X, mask_int, mask_ro, shared], strict=True):
        np.testing.assert_array_equal(original, now)


# ------------------------------------------------------------------ errors
N, F = 40, 6
BAD_MASKS = [
    pytest.param(np.zeros((N, F + 1), bool), ValueError, "mask has shape", id="cols"),
    pytest.param(np.zeros((N - 1, F), bool), ValueError, "mask has shape", id="rows"),
    pytest.param(np.zeros(F + 1, bool), ValueError, "mask has shape", id="shared"),
    pytest.param(np.zeros((N, F, 1), bool), ValueError, "mask has shape", id="3d"),
    pytest.param(np.full((N, F), 0.5), ValueError, "boolean", id="values"),
    pytest.param(np.full((N, F), 2), ValueError, "boolean", id="int"),
    pytest.param(np.full((N, F), np.nan), ValueError, "boolean", id="nan"),
    pytest.param(np.full((N, F), "a"), TypeError, "boolean", id="str"),
    pytest.param(sp.csr_matrix(np.ones((N, F))), TypeError, "dense", id="sparse"),
]


@pytest.mark.parametrize("bad, error, match", BAD_MASKS)
@pytest.mark.parametrize("name", ["AutoDecoder", "ConvAutoEncoder"])
def test_bad_mask_in_fit(name, bad, error, match, X_tab):
    with pytest.raises(error, match=match):
        MODELS[name]().fit(X_tab, mask=bad)


@pytest.mark.parametrize("bad, error, match", BAD_MASKS)
@pytest.mark.parametrize("method", ["transform", "score"])
def test_bad_mask_after_fit(fitted, method, bad, error, match, X_tab):
    with pytest.raises(error, match=match):
        getattr(fitted, method)(X_tab, mask=bad)


# ---------------------------------------------------------------- done when
@pytest.mark.slow
def test_autodecoder_inpaints_digit_centers_best():
    """A 4x4 hole at the center of held-out digits: the AutoDecoder's fill
    beats the mean image and an autoencoder fed the masked input."""
    from sklearn.datasets import load_digits

    X = (load_digits().data / 16.0).astype(np.float32)
    order = np.random.RandomState(0).permutation(len(X))
    X_train, X_test = X[order[300:]], X[order[:300]]
    hole = center_mask((8, 8), 4)
    settings = dict(
        latent_dim=8, image_shape=(1, 8, 8), channels=8, max_epochs=30, random_state=0
    )

    def hole_mse(model):
        recon = model.reconstruct(X_test, mask=hole)
        return np.mean((recon[:, hole] - X_test[:, hole]) ** 2)

    mean_fill = np.mean((X_train.mean(axis=0)[hole] - X_test[:, hole]) ** 2)
    ad = AutoDecoder(**settings, transform_max_iter=50).fit(X_train)
    ae = ConvAutoEncoder(**settings).fit(X_train)
    ad_mse, ae_mse = hole_mse(ad), hole_mse(ae)
    # measured: mean image 0.144, AutoDecoder 0.083, ConvAutoEncoder 0.274
    assert ad_mse < mean_fill
    assert ad_mse < ae_mse
    assert -ad.score(X_test, mask=hole) == pytest.approx(ad_mse, rel=1e-5)
