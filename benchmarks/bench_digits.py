"""Benchmark both estimators on scikit-learn's digits (run by hand).

Held-out reconstruction error against the mean image and PCA, a
``LogisticRegression`` pipeline, reproducibility (joblib round trip and a
refit with the same ``random_state``), a small ``GridSearchCV`` and wall
times. Prints one table::

    python benchmarks/bench_digits.py --threads 1   # default training (100 epochs)
    python benchmarks/bench_digits.py --quick       # a few epochs, to try the script

Takes about 5 minutes on two CPU cores with ``--threads 1``; results are in
``benchmarks/README.md``.
"""

import argparse
import io
import sys
import time

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skautodec import AutoDecoder, ConvAutoEncoder

LATENT_DIM = 8
IMAGE_SHAPE = (1, 8, 8)
GRID_ROWS = 600  # GridSearchCV runs on the first 600 training rows


def mse(a, b):
    return float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


def load():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=300, random_state=0)


def roundtrip(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(func):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bench(name, est, grid, grid_params, X_train, X_test, y_train, y_test, baseline):
    row = {"estimator": name}
    log(f"{name}: fit")
    _, row["fit_s"], row["fit_cpu_s"] = timed(lambda: est.fit(X_train))
    Z, row["transform_s"], row["transform_cpu_s"] = timed(lambda: est.transform(X_test))
    recon = est.inverse_transform(Z)
    row["test_mse"] = mse(recon, X_test)
    row["mse / mean-image mse"] = row["test_mse"] / baseline
    row["recon_std_across_rows"] = float(recon.std(axis=0).mean())

    log(f"{name}: pipeline (fits a clone with the same random_state)")
    pipe = make_pipeline(clone(est), LogisticRegression(max_iter=1000))
    pipe.fit(X_train, y_train)
    Z_refit = pipe[0].transform(X_test)
    # what pipe.score(X_test, y_test) computes, without encoding X_test twice
    row["pipeline_accuracy"] = pipe[-1].score(Z_refit, y_test)
    row["refit_max_abs_diff"] = float(np.abs(Z_refit - Z).max())
    log(f"{name}: joblib round trip")
    row["joblib_max_abs_diff"] = float(
        np.abs(roundtrip(est).transform(X_test) - Z).max()
    )

    log(f"{name}: grid search")
    search = GridSearchCV(
        clone(est).set_params(**grid_params), grid, cv=2, error_score="raise"
    )
    _, row["grid_s"], _ = timed(lambda: search.fit(X_train[:GRID_ROWS]))
    row["grid_best"] = ", ".join(f"{k}={v:g}" for k, v in search.best_params_.items())
    row["grid_best_mse"] = -search.best_score_
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs, few steps")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    X_train, X_test, y_train, y_test = load()
    baseline = mse(np.broadcast_to(X_train.mean(axis=0), X_test.shape), X_test)
    pca = PCA(n_components=LATENT_DIM, random_state=0).fit(X_train)
    pca_mse = mse(pca.inverse_transform(pca.transform(X_test)), X_test)

    common = dict(latent_dim=LATENT_DIM, image_shape=IMAGE_SHAPE, random_state=0)
    # The search is cut down to keep the script short: fewer epochs and, for
    # AutoDecoder, one start per row in score (reconstruct).
    ad_grid = dict(max_epochs=20, n_init=1)
    ae_grid = dict(max_epochs=20)
    if args.quick:
        common.update(max_epochs=3)
        ad_grid.update(max_epochs=2, transform_max_iter=10)
        ae_grid.update(max_epochs=2)
    estimators = [
        (
            "AutoDecoder",
            AutoDecoder(**common, **({"transform_max_iter": 10} if args.quick else {})),
            {"latent_penalty": [1e-4, 1e-2], "weight_decay": [0.0, 1e-5]},
            ad_grid,
        ),
        (
            "ConvAutoEncoder",
            ConvAutoEncoder(**common),
            {"weight_decay": [0.0, 1e-5, 1e-4]},
            ae_grid,
        ),
    ]
    rows = [
        bench(name, est, grid, grid_params, X_train, X_test, y_train, y_test, baseline)
        for name, est, grid, grid_params in estimators
    ]
    table = pd.DataFrame(rows).set_index("estimator")
    print(
        f"digits: {len(X_train)} train / {len(X_test)} test rows, "
        f"latent_dim={LATENT_DIM}, image_shape={IMAGE_SHAPE}, "
        f"max_epochs={common.get('max_epochs', 'default (100)')}; "
        f"torch threads={torch.get_num_threads()}"
    )
    print(
        f"GridSearchCV(cv=2) on the first {GRID_ROWS} training rows with "
        f"AutoDecoder {ad_grid}, ConvAutoEncoder {ae_grid}"
    )
    print(f"mean-image test MSE: {baseline:.5f}")
    print(f"test images' pixel std across rows: {X_test.std(axis=0).mean():.4f}")
    print(f"PCA(n_components={LATENT_DIM}) test MSE: {pca_mse:.5f}")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.T.to_string(float_format=lambda v: f"{v:.4g}"))
    ok = (table["mse / mean-image mse"] < 0.5) & (table["pipeline_accuracy"] > 0.8)
    print("done-when (MSE < half the mean-image MSE, accuracy > 0.8):", ok.to_dict())
    return table


if __name__ == "__main__":
    main()
