"""Property-based tests: random shapes, values and masks get a finite result
when valid and a documented error otherwise; each row is encoded on its own."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.datasets import make_low_rank

F, D = 16, 2
TINY = dict(latent_dim=D, channels=2, max_epochs=2, transform_max_iter=4)
ESTIMATORS = {"AutoDecoder": AutoDecoder, "ConvAutoEncoder": ConvAutoEncoder}
NOTHING_TO_SCORE = "nothing to score|mask hides no entry"

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

values = st.one_of(st.floats(-3, 3, width=32), st.floats(-1e4, 1e4, width=32))
# What each corruption of valid input must raise.
ERRORS = {
    "features": r"X has \d+ features, but \w+ is expecting 16 features",
    "no rows": r"Found array with 0 sample\(s\)",
    "inf": "Input X contains infinity",
    "mask": "mask has shape",
}


@st.composite
def data_and_mask(draw, corruption="none", n_features=None):
    """(X, mask): valid data with NaN and a mask, then ``corruption``."""
    n = draw(st.integers(1, 6))
    f = F if n_features is None else draw(n_features)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    X = draw(hnp.arrays(dtype, (n, f), elements=values))
    if draw(st.booleans()):  # NaN marks missing entries
        X[draw(hnp.arrays(bool, (n, f)))] = np.nan
    kind = draw(st.sampled_from(["none", "full", "shared"]))
    mask = {
        "none": lambda: None,
        "full": lambda: draw(hnp.arrays(bool, (n, f))),
        "shared": lambda: draw(hnp.arrays(bool, (f,))),
    }[kind]()
    if corruption == "features":
        X = X[:, : f - 1] if f > 1 else np.hstack([X, X])
    elif corruption == "no rows":
        X = X[:0]
    elif corruption == "inf":
        X.flat[draw(st.integers(0, X.size - 1))] = draw(
            st.sampled_from([np.inf, -np.inf])
        )
    elif corruption == "mask":
        mask = np.zeros((n + draw(st.sampled_from([-1, 1])), f), dtype=bool)
    return X, mask


@pytest.fixture(scope="module")
def X():
    return make_low_rank(n_samples=30, n_features=F, random_state=0)


@pytest.fixture(scope="module", params=list(ESTIMATORS))
def fitted(request, X):
    return ESTIMATORS[request.param](**TINY, random_state=0).fit(X)


def _quiet(f, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return f(*args, **kwargs)


@pytest.mark.parametrize("corruption", list(ERRORS))
@SETTINGS
@given(data=st.data())
def test_transform_and_score_report_bad_input(fitted, corruption, data):
    X, mask = data.draw(data_and_mask(corruption))
    with pytest.raises(ValueError, match=ERRORS[corruption]):
        _quiet(fitted.transform, X, mask=mask)
    with pytest.raises(ValueError, match=ERRORS[corruption]):
        _quiet(fitted.score, X, mask=mask)


@SETTINGS
@given(case=data_and_mask())
def test_transform_and_score_finite_on_valid_input(fitted, case):
    X, mask = case
    Z = _quiet(fitted.transform, X, mask=mask)
    assert Z.dtype == np.float32 and Z.shape == (len(X), D)
    assert np.isfinite(Z).all()
    X_back = fitted.inverse_transform(Z)
    assert X_back.shape == X.shape and np.isfinite(X_back).all()
    try:
        score = _quiet(fitted.score, X, mask=mask)
    except ValueError as exc:
        assert re.search(NOTHING_TO_SCORE, str(exc))
    else:
        assert np.isfinite(score) and score <= 0


@SETTINGS
@given(
    Z=hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int64]),
        st.tuples(st.integers(1, 4), st.just(D)),
        elements=st.integers(-1000, 1000),
    ),
    where=st.integers(0, 7),
)
@pytest.mark.parametrize("corruption", ["none", "nan", "inf", "width", "no rows"])
def test_inverse_transform_finite_or_documented_error(fitted, corruption, Z, where):
    if corruption in ("nan", "inf"):
        Z = Z.astype(np.float64)
        Z.flat[where % Z.size] = np.nan if corruption == "nan" else -np.inf
    elif corruption == "width":
        Z = np.hstack([Z, Z])
    elif corruption == "no rows":
        Z = Z[:0]
    if corruption != "none":
        with pytest.raises(ValueError, match=r"Z has \d+ columns|Input Z|0 sample"):
            fitted.inverse_transform(Z)
        return
    X_back = fitted.inverse_transform(Z)
    assert X_back.dtype == np.float32 and X_back.shape == (len(Z), F)
    assert np.isfinite(X_back).all()


@SETTINGS
@given(
    rows=hnp.arrays(np.float32, (6, F), elements=st.floats(-3, 3, width=32)),
    hidden=hnp.arrays(bool, (6, F)),
    perm=st.permutations(range(6)),
)
def test_codes_do_not_depend_on_the_batch(fitted, rows, hidden, perm):
    perm = np.asarray(perm)
    Z = _quiet(fitted.transform, rows, mask=hidden)
    # commutes with a permutation of the rows
    np.testing.assert_allclose(
        _quiet(fitted.transform, rows[perm], mask=hidden[perm]), Z[perm], atol=1e-4
    )
    # a row alone gets the code it gets in the batch
    for i in (0, 5):
        alone = _quiet(fitted.transform, rows[i : i + 1], mask=hidden[i : i + 1])
        np.testing.assert_allclose(alone[0], Z[i], atol=1e-4)


@pytest.mark.parametrize("corruption", ["none", "features", "no rows", "inf", "mask"])
@settings(SETTINGS, max_examples=5)
@given(name=st.sampled_from(list(ESTIMATORS)), data=st.data())
def test_fit_finite_or_documented_error(corruption, name, data):
    X, mask = data.draw(data_and_mask(corruption, n_features=st.integers(1, 9)))
    est = ESTIMATORS[name](**{**TINY, "max_epochs": 1}, random_state=0)
    missing = np.isnan(X)
    if mask is not None and corruption == "none":
        missing |= np.broadcast_to(mask, X.shape)
    if corruption in ("no rows", "mask", "inf"):
        with pytest.raises(ValueError, match=ERRORS[corruption]):
            _quiet(est.fit, X, mask=mask)
        assert not hasattr(est, "net_")
        return
    # A different width is no error in fit: it is the model's width.
    mask = mask if corruption != "features" else None
    try:
        _quiet(est.fit, X, mask=mask)
    except ValueError as exc:
        # fitting data with no observed entry at all is an error
        assert missing.all() and "no observed entry" in str(exc)
        return
    assert est.n_iter_ == 1 and est.n_features_in_ == X.shape[1]
    Z = _quiet(est.transform, X, mask=mask)
    assert Z.shape == (len(X), D) and np.isfinite(Z).all()
    assert np.isfinite(est.inverse_transform(Z)).all()
