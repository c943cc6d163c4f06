"""Searches on joblib and dask, and row-parallel inference on dask collections."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from skautodec import AutoDecoder, ConvAutoEncoder, LatentImputer, parallel

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

GRID = {"latent_penalty": [1e-4, 1e-1], "latent_dim": [1, 2]}


def _score(estimator, X, y=None):
    return estimator.score(X)


def _torch_threads(estimator, X, y=None):
    """A "score" that reports the torch threads of the process that scored."""
    return torch.get_num_threads()


def _search(X, **kwargs):
    model = AutoDecoder(
        latent_dim=2,
        max_epochs=3,
        transform_max_iter=5,
        n_init=1,
        n_neighbors=3,
        random_state=0,
    )
    scoring = {"score": _score, "threads": _torch_threads}
    return GridSearchCV(
        model, GRID, cv=2, scoring=scoring, refit="score", **kwargs
    ).fit(X)


def _assert_same_search(a, b):
    assert a.best_params_ == b.best_params_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_allclose(a.cv_results_[key], b.cv_results_[key], rtol=1e-5)


@pytest.fixture(scope="module")
def serial_search(X_tab):
    return _search(X_tab)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on loopback, closed at the end."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def fitted(X_tab):
    X = X_tab
    small = dict(latent_dim=2, max_epochs=3, random_state=0)
    ad = AutoDecoder(transform_max_iter=5, n_init=2, n_neighbors=3, **small).fit(X)
    ae = ConvAutoEncoder(transform_max_iter=3, **small).fit(X)
    X_missing = X.copy()
    X_missing[::3, 1] = np.nan
    X_missing[1::4, 4] = np.nan
    imputer = LatentImputer(
        AutoDecoder(transform_max_iter=5, n_init=1, n_neighbors=3, **small)
    ).fit(X_missing)
    return {"ad": ad, "ae": ae, "imputer": imputer, "X_missing": X_missing}


# ------------------------------------------------------------------ searches
def test_search_on_loky_limits_threads_and_matches_serial(X_tab, serial_search):
    parallel_search = _search(X_tab, n_jobs=2)
    _assert_same_search(parallel_search, serial_search)
    # loky caps each worker's OpenMP pool, which torch reads at import
    limit = max(joblib.cpu_count() // 2, 1)
    assert parallel_search.cv_results_["mean_test_threads"].max() <= limit


def test_search_on_dask_backend_matches_serial(X_tab, serial_search, client):
    with joblib.parallel_config(backend="dask"):
        dask_search = _search(X_tab, n_jobs=-1)
    _assert_same_search(dask_search, serial_search)
    assert dask_search.cv_results_["mean_test_threads"].max() == 1


# --------------------------------------------------------- dask collections
def _mask(shape):
    mask = np.zeros(shape, dtype=bool)
    mask[::2, :2] = True
    mask[1::3, -1] = True
    return mask


@pytest.mark.parametrize("name", ["ad", "ae"])
def test_dask_array_methods_match_in_memory(X_tab, fitted, client, name):
    da = pytest.importorskip("dask.array")
    est = fitted[name]
    X = X_tab
    Xd = da.from_array(X, chunks=(13, 3))  # column blocks are merged
    mask = _mask(X.shape)
    mask_d = da.from_array(mask, chunks=(7, 6))  # rechunked like X
    Z = parallel.transform(est, Xd)
    assert Z.shape == (len(X), 2)
    assert Z.dtype == np.float32
    Z_mask = parallel.transform(est, Xd, mask=mask_d)
    X_hat = parallel.inverse_transform(est, da.from_array(est.transform(X), 9))
    R = parallel.reconstruct(est, Xd, mask=mask_d)
    R_shared = parallel.reconstruct(est, Xd, mask=mask[0])
    Z, Z_mask, X_hat, R, R_shared = client.compute(
        [Z, Z_mask, X_hat, R, R_shared], sync=True
    )
    tol = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(Z, est.transform(X), **tol)
    np.testing.assert_allclose(Z_mask, est.transform(X, mask=mask), **tol)
    np.testing.assert_allclose(X_hat, est.inverse_transform(est.transform(X)), **tol)
    np.testing.assert_allclose(R, est.reconstruct(X, mask=mask), **tol)
    np.testing.assert_allclose(R_shared, est.reconstruct(X, mask=mask[0]), **tol)


def test_impute_dask_array_and_dataframe(fitted, client):
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    imputer, X_missing = fitted["imputer"], fitted["X_missing"]
    expected = imputer.transform(X_missing)

    out = parallel.impute(imputer, da.from_array(X_missing, chunks=(11, 6)))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.compute(), expected, rtol=1e-5, atol=1e-5)

    df = pd.DataFrame(X_missing, index=np.arange(100, 140))
    out = parallel.impute(imputer, dd.from_pandas(df, npartitions=3)).compute()
    assert out.index.equals(df.index)
    assert list(out.columns) == list(df.columns)
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-5, atol=1e-5)


def test_model_enters_the_graph_once(X_tab, fitted):
    da = pytest.importorskip("dask.array")
    est = fitted["ad"]
    result = parallel.reconstruct(est, da.from_array(X_tab, chunks=(5, 6)))
    model_size = len(pickle.dumps(est))
    sizes = {
        key: len(pickle.dumps(node))
        for key, node in dict(result.__dask_graph__()).items()
    }
    assert sum(size >= model_size for size in sizes.values()) == 1
    block_tasks = [
        size for key, size in sizes.items() if str(key).find("_reconstruct_block") >= 0
    ]
    assert len(block_tasks) == 8
    assert max(block_tasks) < model_size / 10


def test_errors(X_tab, fitted):
    da = pytest.importorskip("dask.array")
    Xd = da.from_array(X_tab, chunks=(10, 6))
    with pytest.raises(NotFittedError):
        parallel.transform(AutoDecoder(), Xd)
    with pytest.raises(ValueError, match="has 5 columns"):
        parallel.reconstruct(fitted["ad"], Xd[:, :5])
    with pytest.raises(ValueError, match="mask has shape"):
        parallel.reconstruct(fitted["ad"], Xd, mask=np.zeros((3, 6), dtype=bool))
    with pytest.raises(TypeError, match="no reconstruct method"):
        parallel.reconstruct(fitted["imputer"], Xd)
    with pytest.raises(ValueError, match="must be 2-D"):
        parallel.transform(fitted["ad"], Xd[:, 0])


def test_inverse_transform_with_auto_latent_dim(X_tab):
    da = pytest.importorskip("dask.array")
    est = AutoDecoder(max_epochs=1, transform_max_iter=2, random_state=0).fit(X_tab)
    Z = est.transform(X_tab)
    out = parallel.inverse_transform(est, da.from_array(Z, chunks=(10, -1)))
    np.testing.assert_allclose(out.compute(), est.inverse_transform(Z), atol=1e-6)
    with pytest.raises(ValueError, match=f"expects {Z.shape[1]}"):
        parallel.inverse_transform(est, da.from_array(Z[:, :2], chunks=(10, -1)))
