"""Inference benchmark: what ``reconstruct`` and ``transform`` cost, and buy.

Run by hand (not in CI), from the repository root::

    python benchmarks/bench_inference.py --data-home ../shared/data
    python benchmarks/bench_inference.py --data-home ../shared/data --quick

Real MNIST, padded to 32x32: the first ``--n-train`` official training images
(3,000), the first ``--n-test`` official test images (100), with
``AutoDecoder(channels=16, max_epochs=8, random_state=0)`` and ``--threads``
torch threads (2). Every table is measured side by side in one run.

1. Target: today's default ``reconstruct`` (``transform_init="nearest",
   n_init=10, transform_max_iter=100, transform_lr=0.05, tol=0,
   n_neighbors=20, neighbor_weight=0.5, neighbor_source="decodes"``, set
   with ``set_params``) against the new defaults, on the same fitted model,
   and ``KNNImputer(n_neighbors=5)``:
   wall seconds summed over centered holes of 8, 12, 16 and 20 pixels, and
   the MSE on the hidden pixels at each size.
2. Time to quality: hole MSE and seconds of each test-time setting tried
   (starts x steps, learning rate), one row per setting; with ``--figure``, a
   plot of MSE against seconds.
3. ``fit`` against a hand-written PyTorch loop with the same module, data,
   batch size, optimizer and epochs: the ratio of wall times (``fit`` with
   explicit test-time settings, so that it only trains: no blend chosen on
   held-out blocks, no encoder; the default ``fit`` is timed beside).
4. Batched ``transform`` against one row at a time, ``tol=0`` so that both run
   the same steps to the same final loss (the default steps, then 100): seconds
   per row and the speedup, and the arithmetic rate of each beside that of a
   large matrix product (what batching could reach at best on this machine).
5. Peak memory of ``transform`` and ``reconstruct`` on ``--n-memory`` rows
   (10,000), each in a fresh process with 2 steps per row (memory follows the
   batch, not the steps): resident set size above the loaded model.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch

from skautodec import AutoDecoder
from skautodec.datasets import load_mnist
from skautodec.masks import center_mask

SIZES = (8, 12, 16, 20)
OLD_DEFAULTS = dict(
    transform_init="nearest",
    n_init=10,
    transform_max_iter=100,
    transform_lr=0.05,
    transform_penalty=None,
    tol=0.0,
    n_neighbors=20,
    neighbor_weight=0.5,
    neighbor_source="decodes",
)
# (label, set_params over the new defaults) of the time-to-quality table; the
# chosen neighbour blend is kept except in the old default's row
CANDIDATES = [
    ("10 starts x 100 steps (old)", OLD_DEFAULTS),
    ("encoder + 2 closest, 3 x 10 (new)", {}),
    (
        "3 closest x 20 (previous)",
        dict(transform_init="nearest", transform_max_iter=20),
    ),
    ("3 closest x 10", dict(transform_init="nearest")),
    ("encoder + 2 closest, 3 x 20", dict(transform_max_iter=20)),
    ("encoder + 2 closest, 3 x 5", dict(transform_max_iter=5)),
    ("encoder + 1 closest, 2 x 10", dict(n_init=2)),
    ("encoder, 1 x 10", dict(n_init=1)),
    ("encoder, 1 x 5", dict(n_init=1, transform_max_iter=5)),
    ("encoder, no steps", dict(n_init=1, transform_max_iter=0)),
    (
        "3 closest x up to 100, prior 1e-2, tol 1e-2",
        dict(
            transform_init="nearest",
            transform_max_iter=100,
            transform_penalty=1e-2,
            tol=1e-2,
        ),
    ),
]


def _hole_errors(model, X, sizes):
    """Seconds summed over the hole sizes, and the hole MSE at each."""
    seconds, errors = 0.0, []
    for size in sizes:
        mask = np.broadcast_to(center_mask((32, 32), size), X.shape)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recon = model.reconstruct(X, mask=mask)
        seconds += time.perf_counter() - start
        errors.append(float(((recon - X)[mask] ** 2).mean()))
    return seconds, errors


def _knn_errors(X_train, X, sizes):
    from sklearn.impute import KNNImputer

    seconds, errors = 0.0, []
    for size in sizes:
        mask = np.broadcast_to(center_mask((32, 32), size), X.shape)
        X_missing = np.where(mask, np.nan, X)
        start = time.perf_counter()
        filled = KNNImputer(n_neighbors=5).fit(X_train).transform(X_missing)
        seconds += time.perf_counter() - start
        errors.append(float(((filled - X)[mask] ** 2).mean()))
    return seconds, errors


def target_table(model, X_train, X, sizes):
    new = model.get_params()
    rows = []
    for label, params in [("old default", OLD_DEFAULTS), ("new default", new)]:
        model.set_params(**params)
        seconds, errors = _hole_errors(model, X, sizes)
        rows.append([label, seconds, *errors])
    model.set_params(**new)
    seconds, errors = _knn_errors(X_train, X, sizes)
    rows.append(["KNNImputer(k=5)", seconds, *errors])
    table = pd.DataFrame(rows, columns=["method", "seconds", *map(str, sizes)])
    table["s/image"] = table["seconds"] / (len(X) * len(sizes))
    old, cur = table.iloc[0], table.iloc[1]
    print("\n1. Target: reconstruct, old default against new (hole MSE per size)")
    print(table.to_string(index=False, float_format="{:.4f}".format))
    print(
        f"speedup {old.seconds / cur.seconds:.1f}x; MSE ratio new/old per size: "
        + ", ".join(f"{cur[str(s)] / old[str(s)]:.3f}" for s in sizes)
        + f"; new / KNN time {cur.seconds / table.iloc[2].seconds:.1f}x"
    )
    return table


def plot_quality(table, path):
    """Hole MSE (mean over sizes) against seconds, one labelled point per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter(table["seconds"], table["mean"])
    for _, row in table.iterrows():
        ax.annotate(
            row["setting"],
            (row["seconds"], row["mean"]),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=7,
        )
    ax.set_xscale("log")
    ax.set_xlabel("seconds (4 hole sizes)")
    ax.set_ylabel("hole MSE, mean over sizes")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def quality_table(model, X, sizes, figure=None):
    new = model.get_params()
    rows = []
    for label, params in CANDIDATES:
        model.set_params(**dict(new, **params))
        seconds, errors = _hole_errors(model, X, sizes)
        rows.append([label, seconds, *errors, np.mean(errors)])
    model.set_params(**new)
    table = pd.DataFrame(rows, columns=["setting", "seconds", *map(str, sizes), "mean"])
    print("\n2. Time to quality (hole MSE per size, seconds summed over sizes)")
    print(table.to_string(index=False, float_format="{:.4f}".format))
    if figure:
        plot_quality(table, figure)
        print(f"figure: {figure}")
    return table


def _hand_loop(X, params, seed):
    """The autodecoder's training, written directly in PyTorch."""
    from skautodec._modules import make_decoder

    probe = AutoDecoder(**params).fit(X[:2])  # resolves sizes and scaling only
    torch.manual_seed(seed)
    Xn = torch.as_tensor((X - X.mean(0)) / X.std())
    decoder = make_decoder(
        probe.latent_dim_, X.shape[1], probe.image_shape_, probe.channels_
    )
    codes = torch.nn.Embedding(len(X), probe.latent_dim_)
    opt = torch.optim.Adam(
        [
            {"params": decoder.parameters(), "weight_decay": probe.weight_decay},
            {"params": codes.parameters(), "lr": 10 * probe.lr},
        ],
        lr=probe.lr,
    )
    start = time.perf_counter()
    for _ in range(params["max_epochs"]):
        for idx in torch.randperm(len(X)).split(probe.batch_size):
            z = codes(idx)
            loss = ((decoder(z) - Xn[idx]) ** 2).mean() + probe.latent_penalty * (
                z**2
            ).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def fit_table(X, max_epochs):
    params = dict(channels=16, max_epochs=max_epochs, random_state=0)
    # the training alone: no blend chosen on held-out blocks, no encoder
    alone = dict(
        transform_init="nearest",
        neighbor_weight=0.5,
        n_neighbors=20,
        neighbor_source="decodes",
    )
    hand = _hand_loop(X, params, 0)
    start = time.perf_counter()
    AutoDecoder(**params, **alone).fit(X)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    AutoDecoder(**params).fit(X)
    full = time.perf_counter() - start
    print(
        f"\n3. fit on {len(X)} rows, {max_epochs} epochs: AutoDecoder's training "
        f"{ours:.1f} s, hand-written loop {hand:.1f} s, ratio {ours / hand:.3f}; "
        f"the default fit (blend chosen on held-out blocks, encoder) {full:.1f} s"
    )
    return ours, hand


def _step_flops(model):
    """Floating-point operations of one test-time step (decode and gradient
    with respect to the code) for one row."""
    from torch.utils.flop_counter import FlopCounterMode

    from skautodec._latent import frozen

    z = torch.zeros(8, model.latent_dim_, requires_grad=True)
    with (
        frozen(model._get_decoder()) as decoder,
        FlopCounterMode(display=False) as counter,
    ):
        decoder(z).pow(2).sum().backward()
    return counter.get_total_flops() / len(z)


def _matmul_rate(seconds=1.0, n=2048):
    """GFLOP/s of a large float32 matrix product: this machine's ceiling."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - start) / 1e9


def batch_table(model, X, steps):
    model = model.set_params(tol=0.0, transform_max_iter=steps)
    n_steps = model._test_time().max_iter  # what "auto" resolved to
    start = time.perf_counter()
    batched = model.transform(X)
    t_batch = time.perf_counter() - start
    start = time.perf_counter()
    single = np.concatenate([model.transform(X[i : i + 1]) for i in range(len(X))])
    t_single = time.perf_counter() - start
    gap = float(np.abs(batched - single).max())
    work = _step_flops(model) * n_steps * len(X) / 1e9
    ceiling = _matmul_rate()
    print(
        f"\n4. transform of {len(X)} rows, {n_steps} steps each: batched "
        f"{1e3 * t_batch / len(X):.2f} ms/row, one row at a time "
        f"{1e3 * t_single / len(X):.2f} ms/row, speedup {t_single / t_batch:.1f}x "
        f"(largest code difference {gap:.1e})\n"
        f"   {1e3 * work / (len(X) * n_steps):.1f} MFLOP per row and step: "
        f"batched {work / t_batch:.0f} GFLOP/s, one row {work / t_single:.0f} "
        f"GFLOP/s, a {2048}x{2048} matrix product {ceiling:.0f} GFLOP/s; a batch "
        f"at that rate would be {ceiling * t_single / work:.1f}x one row"
    )
    return t_batch, t_single


_MEMORY_CHILD = """
import json, resource, sys, warnings, joblib, numpy as np, torch
torch.set_num_threads({threads})
model = joblib.load({path!r}); X = np.load({data!r})
# memory depends on the batch, not on the number of steps
model.set_params(transform_max_iter=2)
from skautodec.masks import center_mask
mask = np.broadcast_to(center_mask((32, 32), 12), X.shape)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
warnings.simplefilter("ignore")
getattr(model, {method!r})(X, mask=mask)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"before": before, "after": after}}))
"""


def memory_table(model, X, threads, workdir):
    import joblib

    path = os.path.join(workdir, "model.joblib")
    data = os.path.join(workdir, "rows.npy")
    joblib.dump(model, path)
    np.save(data, X)
    print(
        f"\n5. Peak memory on {len(X)} rows (MiB of resident set above the "
        f"loaded model; the rows are {X.nbytes / 2**20:.0f} MiB)"
    )
    for method in ("transform", "reconstruct"):
        code = _MEMORY_CHILD.format(
            threads=threads, path=path, data=data, method=method
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        rss = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"   {method:12s} +{(rss['after'] - rss['before']) / 1024:.0f} MiB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--n-memory", type=int, default=10_000)
    parser.add_argument("--n-batch", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--figure", default=None, help="PNG of table 2")
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--only", default="1,2,3,4,5", help="tables to run, e.g. 1,4")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.n_memory, args.n_batch = 300, 10, 500, 20
    torch.set_num_threads(args.threads)
    only = {int(s) for s in args.only.split(",")}
    X_train, _ = load_mnist(
        n_samples=args.n_train, data_home=args.data_home, return_X_y=True
    )
    X_test, _ = load_mnist(
        train=False,
        n_samples=max(args.n_test, args.n_batch, args.n_memory),
        data_home=args.data_home,
        return_X_y=True,
    )
    epochs = 1 if args.quick else 8
    start = time.perf_counter()
    model = AutoDecoder(channels=16, max_epochs=epochs, random_state=0).fit(X_train)
    print(
        f"AutoDecoder(channels=16, max_epochs={epochs}) on {len(X_train)} rows: "
        f"fit {time.perf_counter() - start:.1f} s, {args.threads} torch threads"
    )
    X = X_test[: args.n_test]
    if 1 in only:
        target_table(model, X_train, X, SIZES)
    if 2 in only:
        quality_table(model, X, SIZES, args.figure)
    if 3 in only:
        fit_table(X_train, epochs)
    if 4 in only:
        for steps in ("auto", 20 if args.quick else 100):
            batch_table(model, X_test[: args.n_batch], steps)
    if 5 in only:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            memory_table(model, X_test[: args.n_memory], args.threads, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
