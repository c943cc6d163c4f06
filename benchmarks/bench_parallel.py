"""Scaling out on one machine (run by hand): dask inference and parallel searches.

1. ``AutoDecoder.reconstruct`` of MNIST-32 test images with a 12x12 center
   hole: rows per second in this process (one torch thread), and through
   ``skautodec.parallel.reconstruct`` on a dask ``LocalCluster`` of 1 and of 2
   single-threaded worker processes.
2. A ``GridSearchCV`` (4 candidates x 2 folds) serial, with ``n_jobs=2``
   (joblib's loky processes) and on the dask joblib backend (2 workers).

Worker pools are started and warmed (torch imported) before timing; their
start-up is reported apart. Prints one table::

    python benchmarks/bench_parallel.py --quick    # small sizes, minutes
    python benchmarks/bench_parallel.py            # larger sizes

Needs ``pip install "skautodec[dask]"`` and the MNIST IDX files in
``<data-home>/MNIST/raw``.
"""

import argparse
import os
import time
import warnings

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import GridSearchCV

from skautodec import AutoDecoder, parallel
from skautodec.datasets import load_mnist
from skautodec.masks import center_mask

SIZES = {
    True: dict(train=500, test=400, epochs=2, chunk=50, grid_rows=200, grid_ep=1),
    False: dict(train=5000, test=4000, epochs=10, chunk=250, grid_rows=1000, grid_ep=5),
}


def _warm():
    import skautodec  # noqa: F401

    return os.getpid()


def _model(epochs, **kwargs):
    return AutoDecoder(
        latent_dim=16,
        channels=8,
        max_epochs=epochs,
        transform_max_iter=20,
        n_init=2,
        n_neighbors=10,
        random_state=0,
        **kwargs,
    )


def _cluster(n_workers):
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=n_workers,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster)
    client.run(_warm)
    return cluster, client, time.perf_counter() - start


def bench_inference(size, data_home, rows):
    import dask.array as da

    X_train = load_mnist(data_home=data_home, n_samples=size["train"], return_X_y=True)[
        0
    ]
    X_test = load_mnist(
        train=False, data_home=data_home, n_samples=size["test"], return_X_y=True
    )[0]
    model = _model(size["epochs"]).fit(X_train)
    hole = center_mask((32, 32), 12)
    n = len(X_test)

    start = time.perf_counter()
    expected = model.reconstruct(X_test, mask=hole)
    wall = time.perf_counter() - start
    rows.append(
        dict(
            task="reconstruct",
            setup="in process, 1 thread",
            wall_s=wall,
            rows_per_s=n / wall,
            startup_s=0.0,
            max_abs_diff=0.0,
        )
    )

    X_d = da.from_array(X_test, chunks=(size["chunk"], -1))
    for n_workers in (1, 2):
        cluster, client, startup = _cluster(n_workers)
        try:
            # ship the model and run one chunk before timing
            parallel.reconstruct(model, X_d[: size["chunk"]], mask=hole).compute()
            start = time.perf_counter()
            out = parallel.reconstruct(model, X_d, mask=hole).compute()
            wall = time.perf_counter() - start
        finally:
            client.close()
            cluster.close()
        rows.append(
            dict(
                task="reconstruct",
                setup=f"dask, {n_workers} worker(s)",
                wall_s=wall,
                rows_per_s=n / wall,
                startup_s=startup,
                max_abs_diff=float(np.abs(out - expected).max()),
            )
        )


def _search(X, epochs, **kwargs):
    grid = {"latent_penalty": [1e-4, 1e-2], "weight_decay": [0.0, 1e-5]}
    return GridSearchCV(_model(epochs), grid, cv=2, **kwargs).fit(X)


def bench_search(size, data_home, rows):
    X = load_mnist(data_home=data_home, n_samples=size["grid_rows"], return_X_y=True)[0]
    epochs = size["grid_ep"]
    start = time.perf_counter()
    serial = _search(X, epochs)
    rows.append(
        dict(
            task="GridSearchCV 4x2",
            setup="serial, 1 thread",
            wall_s=time.perf_counter() - start,
            startup_s=0.0,
            max_abs_diff=0.0,
        )
    )
    scores = serial.cv_results_["mean_test_score"]

    start = time.perf_counter()
    joblib.Parallel(n_jobs=2)(joblib.delayed(_warm)() for _ in range(2))
    startup = time.perf_counter() - start
    start = time.perf_counter()
    loky = _search(X, epochs, n_jobs=2)
    rows.append(
        dict(
            task="GridSearchCV 4x2",
            setup="n_jobs=2 (loky)",
            wall_s=time.perf_counter() - start,
            startup_s=startup,
            max_abs_diff=float(
                np.abs(loky.cv_results_["mean_test_score"] - scores).max()
            ),
        )
    )

    cluster, client, startup = _cluster(2)
    try:
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            on_dask = _search(X, epochs, n_jobs=-1)
        wall = time.perf_counter() - start
    finally:
        client.close()
        cluster.close()
    rows.append(
        dict(
            task="GridSearchCV 4x2",
            setup="dask backend, 2 workers",
            wall_s=wall,
            startup_s=startup,
            max_abs_diff=float(
                np.abs(on_dask.cv_results_["mean_test_score"] - scores).max()
            ),
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument(
        "--data-home", default="/work/shared/data", help="folder holding MNIST/raw"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    os.environ["PYTHONWARNINGS"] = "ignore"  # worker processes too
    size = SIZES[args.quick]
    rows = []
    bench_inference(size, args.data_home, rows)
    bench_search(size, args.data_home, rows)
    table = pd.DataFrame(rows)
    print(
        f"sizes: {size}; cores: {os.cpu_count()}; "
        f"load average before the end: {os.getloadavg()[0]:.1f}"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
