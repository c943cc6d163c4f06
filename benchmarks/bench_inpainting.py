"""Inpainting benchmark: MSE on a center hole of growing size, real MNIST at 32x32.

Run by hand (not in CI), from the repository root::

    python benchmarks/bench_inpainting.py --data-home ../shared/data --out results/mnist

It runs ``skautodec compare --dataset mnist --ablations`` (the first
``--n-train`` official training images, the first ``--n-test`` official test
images; any option of ``skautodec compare`` can be added) and prints one
table: rows are methods, columns are hole sizes, cells are the mean squared
error on the hidden pixels.

Rows: the AutoDecoder with its defaults and four ablations of its test-time
settings (one start instead of ``n_init``; codes started at zero instead of
at the nearest training codes; the hole from the fitted codes only,
``neighbor_weight=0``; from the unfitted closest training rows only,
``neighbor_weight=1``); the reference study's autoencoder
experiments (1: fed the masked input; 2: trained with the hole left out of
its loss, one model per size); the autoencoder's code refined on the visible
pixels (encoder warm start); mean-image fill; KNNImputer (k=5); PCA fill.
"""

import os
import sys

import pandas as pd

from skautodec.cli import main as cli_main


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--out" not in argv:
        argv += ["--out", "results/mnist"]
    out = argv[argv.index("--out") + 1]
    status = cli_main(["compare", "--dataset", "mnist", "--ablations", *argv])
    if status:
        return status
    results = pd.read_csv(os.path.join(out, "results.csv"))
    table = results.pivot(index="model", columns="mask", values="mse_hidden")
    table.columns = [f"{size}px" for size in table.columns]
    table = table.sort_values(table.columns[-1])
    with pd.option_context("display.float_format", "{:.4f}".format):
        print("\nMSE on the hidden pixels (lower is better)")
        print(table.to_string())


if __name__ == "__main__":
    sys.exit(main())
