"""masked_reconstruction_scorer: hide entries, score how well they are filled in."""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skautodec import AutoDecoder, ConvAutoEncoder, LatentImputer
from skautodec.datasets import make_low_rank
from skautodec.masks import block_mask, center_mask, random_mask
from skautodec.metrics import masked_reconstruction_scorer

FAST = dict(latent_dim=2, max_epochs=3, transform_max_iter=10, random_state=0)


@pytest.fixture(scope="module")
def ad(X_tab):
    return AutoDecoder(**FAST).fit(X_tab)


@pytest.fixture(scope="module")
def ad_img(X_img):
    return AutoDecoder(**FAST, n_init=2).fit(X_img)


class _Spy(TransformerMixin, BaseEstimator):
    """Records what ``transform`` sees and fills NaN with ``value``."""

    def __init__(self, value=0.0):
        self.value = value

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        self.seen_ = np.array(X, dtype=np.float64)
        return np.where(np.isnan(self.seen_), self.value, self.seen_)


def _manual(model, X, hidden):
    """Negative MSE of ``model``'s reconstruction on ``hidden`` entries."""
    X_seen = np.where(hidden, np.nan, X)
    if hasattr(model, "steps"):  # a Pipeline: reconstruct through its steps
        head, last = model[:-1], model[-1]
        recon = head.inverse_transform(last.reconstruct(head.transform(X_seen)))
    else:
        recon = model.reconstruct(X_seen)
    return -np.mean((recon[hidden].astype(np.float64) - X[hidden]) ** 2)


# --------------------------------------------------------------- patterns
def test_random_pattern_equals_score_with_mask(ad, X_tab):
    scorer = masked_reconstruction_scorer(0.3, random_state=4)
    hidden = random_mask(*X_tab.shape, 0.3, random_state=4)
    expected = ad.score(X_tab, mask=hidden)
    assert scorer(ad, X_tab) == pytest.approx(expected, rel=1e-6)
    assert scorer(ad, X_tab) == pytest.approx(_manual(ad, X_tab, hidden), rel=1e-6)
    assert scorer(ad, X_tab) < 0


def test_several_starts_score_like_score_with_mask(X_tab):
    ad = AutoDecoder(**FAST, n_init=3).fit(X_tab)
    hidden = random_mask(*X_tab.shape, 0.25, random_state=0)
    assert masked_reconstruction_scorer()(ad, X_tab) == pytest.approx(
        ad.score(X_tab, mask=hidden), rel=1e-6
    )


def test_center_pattern_infers_square_image(ad_img, X_img):
    # default missing_fraction 0.25 of an 8x8 image: a 4x4 square
    scorer = masked_reconstruction_scorer(pattern="center")
    hole = center_mask((8, 8), 4)
    assert scorer(ad_img, X_img) == pytest.approx(
        ad_img.score(X_img, mask=hole), rel=1e-6
    )


@pytest.mark.parametrize(
    "kwargs, size",
    [
        (dict(size=2), 2),
        (dict(missing_fraction=0.5), 6),
        (dict(missing_fraction=0.001), 1),
        (dict(image_shape=(8, 8), size=3), 3),
        (dict(image_shape=(1, 8, 8), size=5), 5),
    ],
)
def test_center_pattern_size(kwargs, size, ad_img, X_img):
    scorer = masked_reconstruction_scorer(pattern="center", **kwargs)
    hole = center_mask((8, 8), size)
    assert scorer(ad_img, X_img) == pytest.approx(
        ad_img.score(X_img, mask=hole), rel=1e-6
    )


def test_block_pattern(ad_img, X_img):
    scorer = masked_reconstruction_scorer(pattern="block", size=3, random_state=2)
    hidden = block_mask(len(X_img), (8, 8), 3, random_state=2)
    assert scorer(ad_img, X_img) == pytest.approx(
        ad_img.score(X_img, mask=hidden), rel=1e-6
    )


@pytest.mark.parametrize("pattern", ["center", "block"])
def test_image_patterns_need_an_image(pattern, ad, X_tab):
    with pytest.raises(ValueError, match="image_shape"):
        masked_reconstruction_scorer(pattern=pattern)(ad, X_tab)
    with pytest.raises(ValueError, match="image_shape"):
        masked_reconstruction_scorer(pattern=pattern, image_shape=(2, 2))(ad, X_tab)


# ----------------------------------------------------------- missing truth
def test_nan_entries_are_neither_hidden_nor_scored(ad, X_tab):
    X = X_tab.copy()
    nan = random_mask(*X.shape, 0.2, random_state=7)
    X[nan] = np.nan
    spy = _Spy()
    scorer = masked_reconstruction_scorer(0.3, random_state=4)
    hidden = random_mask(*X.shape, 0.3, random_state=4) & ~nan
    assert scorer(ad, X) == pytest.approx(_manual(ad, X, hidden), rel=1e-6)
    # the spy sees NaN exactly at the originally missing and the hidden entries
    score = scorer(spy, X)
    np.testing.assert_array_equal(np.isnan(spy.seen_), nan | hidden)
    np.testing.assert_array_equal(spy.seen_[~(nan | hidden)], X[~(nan | hidden)])
    assert score == pytest.approx(-np.mean(X[hidden].astype(np.float64) ** 2))


def test_mask_entries_are_neither_hidden_nor_scored(ad, X_tab):
    missing = random_mask(*X_tab.shape, 0.2, random_state=7)
    X_garbage = np.where(missing, 1e6, X_tab).astype(np.float32)
    scorer = masked_reconstruction_scorer(0.3, random_state=4)
    hidden = random_mask(*X_tab.shape, 0.3, random_state=4) & ~missing
    expected = _manual(ad, np.where(missing, np.nan, X_tab), hidden)
    assert scorer(ad, X_garbage, mask=missing) == pytest.approx(expected, rel=1e-6)
    spy = _Spy()
    scorer(spy, X_garbage, mask=missing)
    assert not (spy.seen_ == 1e6).any()  # masked values never reach the model


def test_nothing_to_hide_is_an_error(ad, X_tab):
    X = np.full_like(X_tab, np.nan)
    with pytest.raises(ValueError, match="hid no entry"):
        masked_reconstruction_scorer()(ad, X)
    with pytest.raises(ValueError, match="hid no entry"):
        masked_reconstruction_scorer()(ad, X_tab, mask=np.ones(X_tab.shape[1], bool))


def test_rows_hidden_entirely_do_not_warn(ad, X_tab):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = masked_reconstruction_scorer(1.0)(ad, X_tab)
    # every entry hidden: each row decodes the prior code
    prior = ad.inverse_transform(np.zeros((1, 2)))
    assert score == pytest.approx(-np.mean((prior - X_tab) ** 2), rel=1e-5)


def test_input_is_not_modified(ad, X_tab):
    X = X_tab.copy()
    X[0, 0] = np.nan
    before = X.copy()
    masked_reconstruction_scorer()(ad, X)
    np.testing.assert_array_equal(X, before)


# ----------------------------------------------------------- estimators
def test_pipeline_with_scaler(X_tab):
    pipe = make_pipeline(StandardScaler(), AutoDecoder(**FAST)).fit(X_tab)
    hidden = random_mask(*X_tab.shape, 0.25, random_state=0)
    score = masked_reconstruction_scorer()(pipe, X_tab)
    assert score == pytest.approx(_manual(pipe, X_tab, hidden), rel=1e-6)


def test_imputers(X_tab):
    hidden = random_mask(*X_tab.shape, 0.25, random_state=0)
    scorer = masked_reconstruction_scorer()
    mean = SimpleImputer().fit(X_tab)
    expected = -np.mean(
        (np.broadcast_to(mean.statistics_, X_tab.shape)[hidden] - X_tab[hidden]) ** 2
    )
    assert scorer(mean, X_tab) == pytest.approx(expected, rel=1e-6)
    for imputer in (KNNImputer(n_neighbors=3), LatentImputer(AutoDecoder(**FAST))):
        imputer.fit(X_tab)
        X_seen = np.where(hidden, np.nan, X_tab)
        filled = imputer.transform(X_seen)
        expected = -np.mean((filled[hidden] - X_tab[hidden]) ** 2)
        assert scorer(imputer, X_tab) == pytest.approx(expected, rel=1e-6)


def test_autoencoder(X_tab):
    ae = ConvAutoEncoder(**FAST).fit(X_tab)
    hidden = random_mask(*X_tab.shape, 0.25, random_state=0)
    assert masked_reconstruction_scorer()(ae, X_tab) == pytest.approx(
        ae.score(X_tab, mask=hidden), rel=1e-6
    )


def test_pandas_input(X_tab):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X_tab, columns=[f"f{i}" for i in range(X_tab.shape[1])])
    model = AutoDecoder(**FAST).fit(df)
    scorer = masked_reconstruction_scorer()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warnings
        score = scorer(model, df)
    assert score == pytest.approx(scorer(model, X_tab), rel=1e-6)


def test_random_state(ad, X_tab):
    assert masked_reconstruction_scorer(random_state=1)(ad, X_tab) == (
        masked_reconstruction_scorer(random_state=1)(ad, X_tab)
    )
    assert masked_reconstruction_scorer(random_state=1)(ad, X_tab) != (
        masked_reconstruction_scorer(random_state=2)(ad, X_tab)
    )
    scorer = masked_reconstruction_scorer(random_state=np.random.RandomState(0))
    assert scorer(ad, X_tab) != scorer(ad, X_tab)  # a generator advances


# -------------------------------------------------------- model selection
def test_cross_val_score(X_tab):
    scorer = masked_reconstruction_scorer(0.3)
    scores = cross_val_score(AutoDecoder(**FAST), X_tab, cv=2, scoring=scorer)
    train, test = next(iter(KFold(2).split(X_tab)))
    fold = AutoDecoder(**FAST).fit(X_tab[train])
    assert scores[0] == pytest.approx(scorer(fold, X_tab[test]), rel=1e-6)


def test_grid_search_picks_the_best_inpainter():
    X = make_low_rank(n_samples=60, n_features=8, rank=2, noise=0.02, random_state=1)
    model = AutoDecoder(
        latent_dim=2,
        max_epochs=15,
        batch_size=16,
        transform_max_iter=20,
        random_state=0,
    )
    # a huge prior pins every code at zero: the model can only predict the mean
    search = GridSearchCV(
        model,
        {"latent_penalty": [1e-3, 1e3]},
        cv=2,
        scoring=masked_reconstruction_scorer(0.25),
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert search.best_params_ == {"latent_penalty": 1e-3}
    assert scores[0] > scores[1]


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(missing_fraction=0.0),
        dict(missing_fraction=1.5),
        dict(pattern="stripes"),
        dict(size=0),
        dict(size=2.5),
        dict(image_shape=(8, 0)),
        dict(image_shape=(1, 1, 8, 8)),
        dict(image_shape="8x8"),
    ],
)
def test_invalid_parameters(kwargs):
    with pytest.raises(ValueError, match="missing_fraction|pattern|size|image_shape"):
        masked_reconstruction_scorer(**kwargs)


def test_estimator_without_transform(X_tab):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(X_tab[:, 1:], X_tab[:, 0])
    with pytest.raises(TypeError, match="transform"):
        masked_reconstruction_scorer()(model, X_tab)


def test_transform_that_is_no_reconstruction(X_tab):
    class _Codes(_Spy):
        def transform(self, X):
            return np.zeros_like(X)

    with pytest.raises(TypeError, match="inverse_transform"):
        masked_reconstruction_scorer()(_Codes().fit(X_tab), X_tab)
    first_two = FunctionTransformer(lambda X: X[:, :2]).fit(X_tab)
    with pytest.raises(ValueError, match="shape"):
        masked_reconstruction_scorer()(first_two, X_tab)


def test_non_finite_reconstruction(X_tab):
    with pytest.raises(ValueError, match="non-finite"):
        masked_reconstruction_scorer()(_Spy(value=np.nan).fit(X_tab), X_tab)


def test_bad_X(ad):
    with pytest.raises(ValueError, match="2-dimensional"):
        masked_reconstruction_scorer()(ad, np.zeros(6))
    with pytest.raises(TypeError, match="numbers"):
        masked_reconstruction_scorer()(ad, [["a"] * 6] * 3)


def test_repr():
    scorer = masked_reconstruction_scorer(0.5, "center", size=3)
    assert repr(scorer) == (
        "masked_reconstruction_scorer(missing_fraction=0.5, pattern='center', "
        "size=3, random_state=0)"
    )
