"""Imputation benchmark: LatentImputer against scikit-learn's imputers on tables.

Run by hand (not in CI), from the repository root::

    python benchmarks/bench_imputation.py --quick   # one seed
    python benchmarks/bench_imputation.py           # three seeds

Datasets are scikit-learn's bundled tables (no download): breast_cancer
(569 x 30), wine (178 x 13) and diabetes (442 x 10), each standardized and
raw. Entries are hidden completely at random (MCAR, ``random_mask``) or at
random given always-observed columns (MAR, ``mar_mask``) at 10%, 20%, 30%
and 50%. Every imputer runs at its defaults:

- ``SimpleImputer()`` (mean), ``KNNImputer()``,
  ``IterativeImputer(max_iter=20)``,
  ``IterativeImputer(ExtraTreesRegressor(n_estimators=50))`` (missForest-like);
- ``LatentImputer(AutoDecoder())``.

The first table is the RMSE on the hidden entries in units of each feature's
standard deviation (so raw and standardized tables are comparable; mean fill
is about 1), averaged over seeds; the second the seconds per
``fit_transform``. The third is multiple imputation on breast_cancer
standardized, MCAR: the share of hidden values inside the central 90%
interval of ``--draws`` draws (target 0.85-0.95), the Spearman correlation
between the draws' standard deviation and the absolute error of their mean,
and the RMSE of their mean. The draws are ``--draws`` ``transform`` calls of
one fitted ``LatentImputer(sample_posterior=True)`` (each row from one of its
models, picked at random); IterativeImputer's from ``sample_posterior=True``
refitted with ``random_state`` 0, 1, ...
"""

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler

from skautodec import AutoDecoder, LatentImputer
from skautodec.masks import mar_mask, random_mask

DATASETS = {
    "breast_cancer": load_breast_cancer,
    "wine": load_wine,
    "diabetes": load_diabetes,
}
RATES = (0.1, 0.2, 0.3, 0.5)


def imputers(seed):
    return {
        "mean": SimpleImputer(),
        "KNN": KNNImputer(),
        "Iterative": IterativeImputer(max_iter=20, random_state=seed),
        "Iterative-ET": IterativeImputer(
            ExtraTreesRegressor(n_estimators=50, random_state=seed),
            random_state=seed,
        ),
        "LatentImputer": LatentImputer(AutoDecoder(random_state=seed)),
    }


def load(name, scaled):
    X = DATASETS[name]().data.astype(np.float64)
    return StandardScaler().fit_transform(X) if scaled else X


def make_mask(X, mechanism, rate, seed):
    if mechanism == "MCAR":
        mask = random_mask(*X.shape, rate, random_state=seed)
    else:
        mask = mar_mask(X, rate, random_state=seed)
    mask[mask.all(axis=1), 0] = False  # no empty row
    return mask


def rmse(X_hat, X, mask):
    return float(np.sqrt(np.mean(((X_hat - X) / X.std(axis=0))[mask] ** 2)))


def point_table(datasets, seeds, skip):
    rows = []
    for name in datasets:
        for scaled in (True, False):
            X = load(name, scaled)
            for mechanism in ("MCAR", "MAR"):
                for rate in RATES:
                    for seed in seeds:
                        mask = make_mask(X, mechanism, rate, seed)
                        X_missing = np.where(mask, np.nan, X)
                        for label, imputer in imputers(seed).items():
                            if label in skip:
                                continue
                            start = time.perf_counter()
                            X_hat = imputer.fit_transform(X_missing)
                            rows.append(
                                dict(
                                    dataset=name,
                                    units="scaled" if scaled else "raw",
                                    mechanism=mechanism,
                                    rate=f"{rate:.0%}",
                                    imputer=label,
                                    seed=seed,
                                    rmse=rmse(X_hat, X, mask),
                                    seconds=time.perf_counter() - start,
                                )
                            )
                        print(".", end="", flush=True)
    print()
    return pd.DataFrame(rows)


def interval_stats(draws, X, mask):
    low, high = np.percentile(draws, [5, 95], axis=0)
    mean, std = draws.mean(axis=0), draws.std(axis=0)
    return dict(
        coverage_90=float(((X >= low) & (X <= high))[mask].mean()),
        spearman=float(spearmanr(std[mask], np.abs(mean - X)[mask])[0]),
        rmse_mean_draw=rmse(mean, X, mask),
    )


def coverage_table(seeds, n_draws, skip=()):
    X = load("breast_cancer", True)
    rows = []
    for rate in (0.2, 0.5):
        for seed in seeds:
            mask = make_mask(X, "MCAR", rate, seed)
            X_missing = np.where(mask, np.nan, X)
            start = time.perf_counter()
            imputer = LatentImputer(
                AutoDecoder(random_state=seed), sample_posterior=True, random_state=seed
            ).fit(X_missing)
            draws = np.stack([imputer.transform(X_missing) for _ in range(n_draws)])
            stats = interval_stats(draws, X, mask)
            rows.append(
                dict(
                    imputer="LatentImputer",
                    rate=f"{rate:.0%}",
                    seed=seed,
                    seconds=time.perf_counter() - start,
                    **stats,
                )
            )
            print(".", end="", flush=True)
            if "Iterative(sample_posterior)" in skip:
                continue
            start = time.perf_counter()
            draws = np.stack(
                [
                    IterativeImputer(
                        sample_posterior=True, random_state=1000 * seed + k
                    ).fit_transform(X_missing)
                    for k in range(n_draws)
                ]
            )
            rows.append(
                dict(
                    imputer="Iterative(sample_posterior)",
                    rate=f"{rate:.0%}",
                    seed=seed,
                    seconds=time.perf_counter() - start,
                    **interval_stats(draws, X, mask),
                )
            )
    print()
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed")
    parser.add_argument("--seeds", type=int, default=None, help="default 3 (1)")
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS)
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        help="imputers to leave out, by label (Iterative(sample_posterior): the"
        " coverage table's 50 IterativeImputer fits per setting)",
    )
    parser.add_argument("--no-coverage", action="store_true")
    parser.add_argument("--out", default=None, help="CSV prefix for the results")
    args = parser.parse_args(argv)
    seeds = range(args.seeds or (1 if args.quick else 3))
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # convergence warnings of the imputers

    results = point_table(args.datasets, seeds, set(args.skip))
    keys = ["dataset", "units", "mechanism", "rate", "imputer"]
    mean = results.groupby(keys, sort=False)[["rmse", "seconds"]].mean()
    table = mean["rmse"].unstack("imputer")
    table["best"] = table.idxmin(axis=1)
    with pd.option_context("display.float_format", "{:.3f}".format):
        print(f"\nRMSE on the hidden entries, in feature std (mean of {len(seeds)})")
        print(table.to_string())
        print("\nSeconds per fit_transform (mean over every setting)")
        print(mean["seconds"].groupby("imputer", sort=False).mean().to_string())
    if args.out:
        results.to_csv(f"{args.out}_rmse.csv", index=False)
    if not args.no_coverage:
        coverage = coverage_table(seeds, args.draws, set(args.skip))
        summary = coverage.groupby(["imputer", "rate"], sort=False).mean()
        with pd.option_context("display.float_format", "{:.3f}".format):
            print(
                f"\nMultiple imputation, breast_cancer standardized, MCAR, "
                f"{args.draws} draws (mean of {len(seeds)})"
            )
            print(summary.drop(columns="seed").to_string())
        if args.out:
            coverage.to_csv(f"{args.out}_coverage.csv", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
