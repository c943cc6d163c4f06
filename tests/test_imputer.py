"""LatentImputer: a drop-in imputer built on the latent models."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.impute import KNNImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skautodec import AutoDecoder, ConvAutoEncoder, LatentImputer
from skautodec.masks import random_mask

FAST = dict(latent_dim=2, max_epochs=2, transform_max_iter=10, random_state=0)


@parametrize_with_checks([LatentImputer(AutoDecoder(**FAST))])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def X_missing(X_tab):
    X = X_tab.copy()
    X[random_mask(*X.shape, 0.25, random_state=0)] = np.nan
    return X


def _imputer(n_estimators="auto", **kwargs):
    return LatentImputer(AutoDecoder(**{**FAST, **kwargs}), n_estimators=n_estimators)


def test_fills_missing_and_keeps_observed(X_missing):
    X_before = X_missing.copy()
    out = _imputer().fit_transform(X_missing)
    missing = np.isnan(X_missing)
    assert out.shape == X_missing.shape
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[~missing], X_missing[~missing])
    np.testing.assert_array_equal(X_missing, X_before)  # input untouched


def test_missing_entries_come_from_the_decoder(X_missing):
    imputer = _imputer(n_estimators=1).fit(X_missing)
    out = imputer.transform(X_missing)
    rows = np.isnan(X_missing).any(axis=1)
    recon = imputer.estimator_.reconstruct(X_missing[rows])
    missing = np.isnan(X_missing[rows])
    np.testing.assert_allclose(out[rows][missing], recon[missing], rtol=1e-6)


def test_tables_average_five_differently_seeded_models(X_missing):
    imputer = _imputer().fit(X_missing)
    assert imputer.n_estimators_ == 5 and len(imputer.estimators_) == 5
    assert imputer.estimators_[0] is imputer.estimator_
    seeds = [est.random_state for est in imputer.estimators_]
    assert seeds[0] == 0 and len(set(seeds)) == 5
    assert not np.allclose(
        imputer.estimators_[0].latents_, imputer.estimators_[1].latents_
    )
    rows = np.isnan(X_missing).any(axis=1)
    recon = np.mean(
        [est.reconstruct(X_missing[rows]) for est in imputer.estimators_], axis=0
    )
    missing = np.isnan(X_missing[rows])
    out = imputer.transform(X_missing)
    np.testing.assert_allclose(out[rows][missing], recon[missing], rtol=1e-5)
    # an int random_state makes the whole ensemble reproducible
    again = _imputer().fit(X_missing)
    assert [est.random_state for est in again.estimators_] == seeds
    np.testing.assert_array_equal(again.transform(X_missing), out)


def test_member_seeds_from_none_and_random_state_instances(X_missing):
    unseeded = _imputer(random_state=None, n_estimators=2).fit(X_missing)
    assert [est.random_state for est in unseeded.estimators_] == [None, None]
    rs = np.random.RandomState(3)
    state = rs.get_state()[1].copy()
    seeded = _imputer(random_state=rs, n_estimators=2).fit(X_missing)
    assert isinstance(seeded.estimators_[1].random_state, int)
    np.testing.assert_array_equal(rs.get_state()[1], state)  # user's rs untouched


def test_the_imputers_random_state_seeds_unseeded_estimators(X_missing):
    unseeded = {k: v for k, v in FAST.items() if k != "random_state"}
    seeded = _imputer(n_estimators=2)
    from_imputer = LatentImputer(
        AutoDecoder(**unseeded), n_estimators=2, random_state=0
    )
    out = seeded.fit_transform(X_missing)
    np.testing.assert_array_equal(from_imputer.fit_transform(X_missing), out)
    seeds = [est.random_state for est in seeded.estimators_]
    assert [est.random_state for est in from_imputer.estimators_] == seeds
    assert from_imputer.estimator.random_state is None  # the parameter untouched
    # the estimator's own seed comes first
    own = LatentImputer(AutoDecoder(**{**FAST, "random_state": 5}), random_state=0)
    own.set_params(n_estimators=2).fit(X_missing)
    assert own.estimators_[0].random_state == 5
    # a generator gives int seeds, drawn from it
    rs = np.random.RandomState(3)
    drawn = LatentImputer(AutoDecoder(**unseeded), n_estimators=2, random_state=rs)
    drawn.fit(X_missing)
    assert all(isinstance(est.random_state, int) for est in drawn.estimators_)


def test_images_train_one_model(X_img):
    X = X_img.copy()
    X[random_mask(*X.shape, 0.2, random_state=0)] = np.nan
    imputer = LatentImputer(AutoDecoder(**FAST)).fit(X)
    assert imputer.n_estimators_ == 1 and len(imputer.estimators_) == 1
    forced = LatentImputer(AutoDecoder(**FAST), n_estimators=2).fit(X)
    assert forced.n_estimators_ == 2


@pytest.mark.parametrize("n_estimators", [0, 1.5, "three"])
def test_invalid_n_estimators(n_estimators, X_missing):
    with pytest.raises(ValueError, match="n_estimators"):
        _imputer(n_estimators=n_estimators).fit(X_missing)


def test_pipeline_reconstructs_through_its_steps(X_missing):
    pipe = make_pipeline(StandardScaler(), AutoDecoder(**FAST))
    imputer = LatentImputer(pipe).fit(X_missing)
    out = imputer.transform(X_missing)
    rows = np.isnan(X_missing).any(axis=1)
    seeds = [est[-1].random_state for est in imputer.estimators_]
    assert seeds[0] == 0 and len(set(seeds)) == 5  # nested random_state reseeded
    recons = []
    for est in imputer.estimators_:
        scaler, ad = est[0], est[-1]
        scaled = ad.reconstruct(scaler.transform(X_missing[rows]))
        recons.append(scaler.inverse_transform(scaled))
    recon = np.mean(recons, axis=0)
    missing = np.isnan(X_missing[rows])
    np.testing.assert_allclose(out[rows][missing], recon[missing], rtol=1e-5)


def test_estimator_is_cloned_and_fitted_on_incomplete_data(X_missing):
    ad = AutoDecoder(**FAST)
    imputer = LatentImputer(ad, train_together=False).fit(X_missing)
    assert not hasattr(ad, "net_")  # the given estimator stays unfitted
    assert imputer.estimator_ is not ad
    assert imputer.estimator_.n_features_in_ == X_missing.shape[1]
    # fitting the clone on the NaN data directly gives the same codes
    direct = clone(ad).fit(X_missing)
    np.testing.assert_array_equal(imputer.estimator_.latents_, direct.latents_)


def test_placeholder_missing_values(X_missing):
    missing = np.isnan(X_missing)
    X_sentinel = np.where(missing, -999.0, X_missing).astype(np.float32)
    out_nan = _imputer().fit_transform(X_missing)
    imputer = LatentImputer(AutoDecoder(**FAST), missing_values=-999.0)
    out_sentinel = imputer.fit_transform(X_sentinel)
    np.testing.assert_array_equal(out_sentinel, out_nan)
    with pytest.raises(ValueError, match="NaN"):
        LatentImputer(AutoDecoder(**FAST), missing_values=-999.0).fit(X_missing)


def test_complete_rows_pass_through_unchanged(X_tab):
    imputer = _imputer().fit(X_tab)
    np.testing.assert_array_equal(imputer.transform(X_tab), X_tab)


def test_float64_in_float64_out(X_missing):
    out = _imputer().fit_transform(X_missing.astype(np.float64))
    assert out.dtype == np.float64
    assert np.isfinite(out).all()


def test_pandas_names_and_set_output(X_missing):
    pd = pytest.importorskip("pandas")
    columns = [f"f{i}" for i in range(X_missing.shape[1])]
    df = pd.DataFrame(X_missing, columns=columns)
    imputer = _imputer().set_output(transform="pandas").fit(df)
    out = imputer.transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == columns
    assert list(imputer.get_feature_names_out()) == columns
    assert not out.isna().any().any()


def test_feature_names_out_without_names(X_missing):
    imputer = _imputer().fit(X_missing)
    names = imputer.get_feature_names_out()
    assert list(names) == [f"x{i}" for i in range(X_missing.shape[1])]


def test_tags_follow_missing_values():
    assert _imputer().__sklearn_tags__().input_tags.allow_nan
    tags = LatentImputer(AutoDecoder(), missing_values=0).__sklearn_tags__()
    assert not tags.input_tags.allow_nan


@pytest.mark.parametrize(
    "estimator",
    [
        ConvAutoEncoder(latent_dim=2, max_epochs=2, random_state=0),
        make_pipeline(StandardScaler(), AutoDecoder(**FAST)),
    ],
    ids=["ConvAutoEncoder", "Pipeline"],
)
def test_other_estimators(estimator, X_missing):
    out = LatentImputer(estimator).fit_transform(X_missing)
    missing = np.isnan(X_missing)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[~missing], X_missing[~missing])


def test_in_a_pipeline_like_knn_imputer(X_missing):
    # same place in a pipeline as KNNImputer
    for imputer in (KNNImputer(n_neighbors=3), _imputer()):
        pipe = make_pipeline(imputer, StandardScaler()).fit(X_missing)
        assert np.isfinite(pipe.transform(X_missing)).all()


def test_beats_mean_imputation_on_low_rank_data():
    from skautodec.datasets import make_low_rank

    X = make_low_rank(n_samples=80, n_features=8, rank=2, noise=0.02, random_state=1)
    hide = random_mask(*X.shape, 0.2, random_state=2)
    X_missing = np.where(hide, np.nan, X).astype(np.float32)
    ad = AutoDecoder(
        latent_dim=2,
        max_epochs=30,
        batch_size=16,
        transform_max_iter=20,
        random_state=0,
    )
    out = LatentImputer(ad).fit_transform(X_missing)
    mse = np.mean((out[hide] - X[hide]) ** 2)
    means = np.nanmean(X_missing, axis=0)
    mse_mean = np.mean((np.broadcast_to(means, X.shape)[hide] - X[hide]) ** 2)
    assert mse < 0.3 * mse_mean  # measured: 0.08


@pytest.mark.parametrize(
    "estimator, error",
    [(None, "estimator"), (StandardScaler, "estimator"), ("ad", "estimator")],
)
def test_invalid_estimator(estimator, error, X_missing):
    with pytest.raises((TypeError, ValueError), match=error):
        LatentImputer(estimator).fit(X_missing)


def test_estimator_without_inverse_transform(X_missing):
    with pytest.raises((TypeError, ValueError), match="inverse_transform"):
        LatentImputer(KNNImputer()).fit(X_missing)


def test_transform_errors(X_missing):
    with pytest.raises(NotFittedError):
        _imputer().transform(X_missing)
    imputer = _imputer().fit(X_missing)
    with pytest.raises(ValueError, match="features"):
        imputer.transform(X_missing[:, :4])
    with pytest.raises(ValueError, match="[Ii]nf"):
        imputer.transform(np.full_like(X_missing, np.inf))


# ---------------------------------------------------------- sample_posterior
def test_sample_posterior_draws(X_missing):
    imputer = _imputer(max_epochs=5)
    imputer.set_params(sample_posterior=True, random_state=0).fit(X_missing)
    missing = np.isnan(X_missing)
    first, second = imputer.transform(X_missing), imputer.transform(X_missing)
    for out in (first, second):
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out[~missing], X_missing[~missing])
    assert (first[missing] != second[missing]).all()  # a new draw per call
    # an int random_state gives the same sequence of tables after fit
    imputer.fit(X_missing)
    np.testing.assert_array_equal(imputer.transform(X_missing), first)
    np.testing.assert_array_equal(imputer.transform(X_missing), second)
    other = clone(imputer).set_params(random_state=1).fit(X_missing)
    assert (other.transform(X_missing) != first).any()


def test_sample_posterior_deviation_of_one_model_around_the_mean(
    X_missing, monkeypatch
):
    imputer = _imputer().set_params(sample_posterior=True, random_state=0)
    imputer.fit(X_missing)
    missing = np.isnan(X_missing)
    rows = missing.any(axis=1)
    points = [est.reconstruct(X_missing[rows]) for est in imputer.estimators_]
    mean = np.mean(points, axis=0)[missing[rows]]
    for k, est in enumerate(imputer.estimators_):
        # model k "draws" its own fill shifted by k + 100
        def fake(X, random_state=None, est=est, k=k):
            return (est.reconstruct(X) + k + 100.0)[None]

        monkeypatch.setattr(est, "sample", fake)
    picked = []
    for _ in range(20):
        shift = np.unique(
            np.round(imputer.transform(X_missing)[rows][missing[rows]] - mean, 3)
        )
        assert len(shift) == 1  # the whole table from one model, around the mean
        picked.append(shift[0] - 100)
    assert set(picked) == {0, 1, 2, 3, 4}  # each model in turn


def test_sample_posterior_off_is_the_reconstruction(X_missing):
    a = _imputer().fit_transform(X_missing)
    b = LatentImputer(AutoDecoder(**FAST), random_state=5).fit_transform(X_missing)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(sample_posterior="yes"), "sample_posterior"),
        (dict(random_state="a"), "random_state"),
    ],
)
def test_sample_posterior_parameter_errors(params, match, X_missing):
    with pytest.raises(ValueError, match=match):
        LatentImputer(AutoDecoder(**FAST), **params).fit(X_missing)


def test_sample_posterior_needs_sample(X_missing):
    imputer = LatentImputer(
        ConvAutoEncoder(latent_dim=2, max_epochs=1), sample_posterior=True
    )
    with pytest.raises(ValueError, match="sample"):
        imputer.fit(X_missing)


def _with_empty_column(X_tab):
    X = X_tab.astype(np.float64).copy()
    X[::4, 0] = np.nan
    X[:, 2] = np.nan
    return X


def test_empty_features_are_dropped_with_a_warning(X_tab):
    X = _with_empty_column(X_tab)
    imputer = LatentImputer(
        AutoDecoder(latent_dim=2, max_epochs=2, transform_max_iter=5, random_state=0),
        n_estimators=2,
    ).fit(X)
    with pytest.warns(UserWarning, match=r"Skipping features .*\[2\]"):
        out = imputer.transform(X)
    assert out.shape == (len(X), X.shape[1] - 1)
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out[1:4, 2:], X[1:4, 3:])  # observed, unchanged
    names = imputer.get_feature_names_out()
    assert names.tolist() == ["x0", "x1", "x3", "x4", "x5"]
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=list("abcdef"))
    imputer.set_output(transform="pandas").fit(df)
    with pytest.warns(UserWarning, match=r"Skipping features .*\['c'\]"):
        assert imputer.transform(df).columns.tolist() == list("abdef")


def test_keep_empty_features_fills_them_with_zero(X_tab):
    X = _with_empty_column(X_tab)
    imputer = LatentImputer(
        AutoDecoder(latent_dim=2, max_epochs=2, transform_max_iter=5, random_state=0),
        n_estimators=1,
        keep_empty_features=True,
    ).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        out = imputer.transform(X)
    assert out.shape == X.shape
    np.testing.assert_array_equal(out[:, 2], 0.0)
    assert len(imputer.get_feature_names_out()) == X.shape[1]


def test_tiny_table_warns_once(X_tab):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        LatentImputer(AutoDecoder(max_epochs=1, random_state=0)).fit(X_tab[:5])
    few = [w for w in record if "too few" in str(w.message)]
    assert len(few) == 1 and "fit got 5 row(s)" in str(few[0].message)


def test_clones_share_the_settings_the_first_chose():
    from skautodec.datasets import make_low_rank

    X_missing = make_low_rank(n_samples=120, n_features=6, random_state=0)
    X_missing[random_mask(*X_missing.shape, 0.25, random_state=0)] = np.nan
    imputer = LatentImputer(
        AutoDecoder(max_epochs=3, transform_max_iter=5, random_state=0),
        n_estimators=3,
    ).fit(X_missing)
    first, *others = imputer.estimators_
    assert first.chosen_params_ and first.held_out_error_ is not None
    for member in others:
        for name, value in first.chosen_params_.items():
            assert member.get_params()[name] == value  # taken, not chosen
        assert member.held_out_error_ is None and member.chosen_params_ == {}
        np.testing.assert_array_equal(member._held_out_mse, first._held_out_mse)
    own = LatentImputer(
        AutoDecoder(max_epochs=3, transform_max_iter=5, random_state=0),
        n_estimators=2,
        share_settings=False,
    ).fit(X_missing)
    assert all(m.held_out_error_ is not None for m in own.estimators_)
    assert own.estimators_[1].get_params()["neighbor_weight"] == "auto"


def test_ensemble_size_follows_the_rows():
    from skautodec._resolve import ensemble_size

    assert ensemble_size(500, images=False) == 5
    assert ensemble_size(20_000, images=False) == 2
    assert ensemble_size(500, images=True) == 1
