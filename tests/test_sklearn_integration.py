"""Both estimators inside scikit-learn: Pipeline, GridSearchCV, clone, joblib,
pandas output and feature names."""

import io

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skautodec import AutoDecoder, ConvAutoEncoder

FAST = dict(latent_dim=3, channels=4, max_epochs=2, transform_max_iter=10)
ESTIMATORS = [AutoDecoder, ConvAutoEncoder]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:80] / 16.0).astype(np.float32), y[:80]


def dump_load(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pipeline_with_classifier(Estimator, digits):
    X, y = digits
    pipe = make_pipeline(
        Estimator(
            **dict(FAST, latent_dim=8, max_epochs=3, lr=1e-2, batch_size=16),
            random_state=0,
        ),
        LogisticRegression(max_iter=1000),
    )
    pipe.fit(X[:60], y[:60])
    pred = pipe.predict(X[60:])
    assert pred.shape == (20,)
    assert set(pred) <= set(y[:60])
    # codes carry class information: better than chance (0.1) on training rows
    assert pipe.score(X[:60], y[:60]) > 0.3


def test_grid_search_over_penalties(X_tab):
    grid = {"latent_penalty": [1e-3, 1e-1], "weight_decay": [0.0, 1e-4]}
    search = GridSearchCV(
        AutoDecoder(**FAST, random_state=0), grid, cv=2, error_score="raise"
    )
    search.fit(X_tab)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert (search.cv_results_["mean_test_score"] < 0).all()
    assert search.best_params_["latent_penalty"] in grid["latent_penalty"]
    assert (
        search.best_estimator_.latent_penalty == search.best_params_["latent_penalty"]
    )
    assert search.transform(X_tab[:3]).shape == (3, 3)


def test_grid_search_conv_autoencoder(X_img):
    search = GridSearchCV(
        ConvAutoEncoder(**FAST, random_state=0),
        {"weight_decay": [0.0, 1e-3]},
        cv=2,
        error_score="raise",
    )
    search.fit(X_img[:40])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.n_iter_ == 2


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_clone(Estimator, X_tab):
    est = Estimator(**FAST, random_state=0)
    assert clone(est).get_params() == est.get_params()
    est.fit(X_tab)
    copy = clone(est)
    assert not hasattr(copy, "net_")
    assert copy.get_params() == est.get_params()
    np.testing.assert_array_equal(
        copy.fit(X_tab).transform(X_tab), est.transform(X_tab)
    )


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_joblib_round_trip(Estimator, X_tab):
    est = Estimator(**FAST, random_state=0).fit(X_tab)
    loaded = dump_load(est)
    np.testing.assert_array_equal(loaded.transform(X_tab), est.transform(X_tab))
    Z = est.transform(X_tab[:4])
    np.testing.assert_array_equal(loaded.inverse_transform(Z), est.inverse_transform(Z))
    assert loaded.score(X_tab) == est.score(X_tab)


@pytest.mark.parametrize(
    "Estimator, prefix",
    [(AutoDecoder, "autodecoder"), (ConvAutoEncoder, "convautoencoder")],
)
def test_feature_names_out(Estimator, prefix, X_tab):
    est = Estimator(**FAST, random_state=0).fit(X_tab)
    names = est.get_feature_names_out()
    assert list(names) == [f"{prefix}{i}" for i in range(3)]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_set_output_pandas(Estimator, X_tab):
    columns = [f"f{i}" for i in range(X_tab.shape[1])]
    df = pd.DataFrame(X_tab, columns=columns, index=np.arange(100, 140))
    est = Estimator(**FAST, random_state=0).set_output(transform="pandas").fit(df)
    np.testing.assert_array_equal(est.feature_names_in_, columns)
    out = est.transform(df)
    assert isinstance(out, pd.DataFrame)
    prefix = Estimator.__name__.lower()
    assert list(out.columns) == [f"{prefix}{i}" for i in range(3)]
    assert list(out.index) == list(df.index)
    np.testing.assert_array_equal(
        out.to_numpy(), est.set_output(transform="default").transform(df)
    )


def test_pandas_output_in_pipeline(X_tab):
    pipe = make_pipeline(AutoDecoder(**FAST, random_state=0)).set_output(
        transform="pandas"
    )
    out = pipe.fit_transform(X_tab)
    assert list(out.columns) == ["autodecoder0", "autodecoder1", "autodecoder2"]


def test_mask_routed_through_pipeline(X_tab):
    mask = np.zeros(X_tab.shape, dtype=bool)
    mask[:, 0] = True
    with sklearn.config_context(enable_metadata_routing=True):
        est = AutoDecoder(**FAST, random_state=0).set_transform_request(mask=True)
        pipe = make_pipeline(est).fit(X_tab)
        routed = pipe.transform(X_tab, mask=mask)
    np.testing.assert_array_equal(routed, pipe[0].transform(X_tab, mask=mask))
    assert not np.array_equal(routed, pipe[0].transform(X_tab))
