"""Inpainting benchmark: MSE on a center hole of growing size, real MNIST at 32x32.

Run by hand (not in CI)::

    python benchmarks/bench_inpainting.py --data-home ../shared/data

Trains on the first ``--n-train`` official training images, scores the first
``--n-test`` official test images, and prints one table: rows are methods,
columns are hole sizes, cells are the mean squared error on the hidden pixels.

Methods: the AutoDecoder with its defaults; ablations of its test-time
settings (what each default buys); the reference study's autoencoder
experiments (1: fed the masked input, 2: trained with the hole masked out of
the loss, one model per size); the autoencoder's code refined on the visible
pixels (encoder warm start); mean-image fill; KNNImputer (k=5).
"""

import argparse
import time

import numpy as np
import pandas as pd
import torch
from sklearn.impute import KNNImputer

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.masks import center_mask


def load(data_home, n_train, n_test):
    import torchvision

    def rows(train, n):
        ds = torchvision.datasets.MNIST(data_home, train=train, download=False)
        images = ds.data[:n].numpy().astype(np.float32) / 255.0
        return np.pad(images, ((0, 0), (2, 2), (2, 2))).reshape(len(images), -1)

    return rows(True, n_train), rows(False, n_test)


def reconstruct(est, X, mask, reconstruct="mean", **params):
    """``est.reconstruct`` under temporary test-time settings."""
    saved = {key: est.get_params()[key] for key in params}
    est.set_params(**params)
    try:
        if reconstruct == "best":
            return est.inverse_transform(est.transform(X, mask=mask))
        return est.reconstruct(X, mask=mask)
    finally:
        est.set_params(**saved)


def hole_mse(recon, X, mask):
    return float(((recon - X)[:, mask] ** 2).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--sizes", default="8,12,16,20")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-exp2", action="store_true", help="skip experiment 2")
    parser.add_argument("--out", default=None, help="also write the table as CSV")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    torch.set_num_threads(max(1, torch.get_num_threads()))

    X_train, X_test = load(args.data_home, args.n_train, args.n_test)
    common = dict(latent_dim=64, max_epochs=args.max_epochs, random_state=0)
    common["device"] = args.device
    times = {}

    t0 = time.perf_counter()
    ad = AutoDecoder(**common).fit(X_train)
    times["AutoDecoder fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ae = ConvAutoEncoder(**common).fit(X_train)
    times["ConvAutoEncoder fit"] = time.perf_counter() - t0

    # (label, fitted estimator, test-time settings); ablations reuse the fitted
    # networks and change one test-time setting of the defaults.
    methods = [
        ("AutoDecoder (defaults)", ad, {}),
        ("  ablation: best start only", ad, {"reconstruct": "best"}),
        ("  ablation: 1 start", ad, {"n_init": 1}),
        ("  ablation: zeros init", ad, {"transform_init": "zeros"}),
        ("AE exp. 1: masked input", ae, {}),
        ("AE warm start + refinement", ae, {"transform_max_iter": 100}),
    ]

    table = {}
    for size in sizes:
        mask = center_mask((1, 32, 32), size)
        col = f"{size}px"
        table.setdefault("mean-image fill", {})[col] = hole_mse(
            np.broadcast_to(X_train.mean(axis=0), X_test.shape), X_test, mask
        )
        X_nan = np.where(mask, np.nan, X_test)
        knn = KNNImputer(n_neighbors=5).fit(X_train)
        t0 = time.perf_counter()
        table.setdefault("KNNImputer (k=5)", {})[col] = hole_mse(
            knn.transform(X_nan), X_test, mask
        )
        times[f"KNNImputer {col}"] = time.perf_counter() - t0
        for name, est, params in methods:
            t0 = time.perf_counter()
            recon = reconstruct(est, X_test, mask, **params)
            times[f"{name.strip()} {col}"] = time.perf_counter() - t0
            table.setdefault(name, {})[col] = hole_mse(recon, X_test, mask)
        if not args.no_exp2:
            t0 = time.perf_counter()
            ae2 = ConvAutoEncoder(**common).fit(X_train, mask=mask)
            times[f"AE exp. 2 fit {col}"] = time.perf_counter() - t0
            recon = ae2.reconstruct(X_test, mask=mask)
            table.setdefault("AE exp. 2: trained without hole", {})[col] = hole_mse(
                recon, X_test, mask
            )

    df = pd.DataFrame(table).T
    df.index.name = "hole MSE"
    with pd.option_context("display.float_format", "{:.4f}".format):
        print(df.to_string())
        print()
        print(pd.Series(times, name="seconds").round(1).to_string())
    if args.out:
        df.to_csv(args.out)


if __name__ == "__main__":
    main()
