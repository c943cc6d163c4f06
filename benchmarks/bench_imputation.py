"""Imputation benchmark: LatentImputer against the imputers users know, on tables.

Run by hand (not in CI), from the repository root, after
``pip install -e ".[bench]"`` (miceforest, lightgbm 4.5, palmerpenguins)::

    python benchmarks/bench_imputation.py --quick   # one seed
    python benchmarks/bench_imputation.py           # three seeds
    python benchmarks/bench_imputation.py --only scaling

Tables: scikit-learn's breast_cancer (569 x 30), wine (178 x 13) and
diabetes (442 x 10), raw (``--units raw,scaled`` adds standardized copies),
and penguins (``palmerpenguins.load_penguins()`` without ``year``, rows with
a missing value dropped: 333 x 7, species, island and sex categorical).
Entries are hidden completely at random (MCAR, ``random_mask``) or at random
given always-observed columns (MAR, ``mar_mask``; numeric tables) at 10, 20,
30 and 50%. Every imputer runs at its defaults:

- mean (``SimpleImputer()``; the most frequent category for categories),
  ``KNNImputer()``, ``IterativeImputer(max_iter=20)``,
  ``IterativeImputer(ExtraTreesRegressor(n_estimators=50))`` (missForest-like);
  on penguins these three see one-hot columns and take the largest indicator;
- miceforest's ``ImputationKernel`` (5 iterations; miceforest 6.0.5 with
  lightgbm 4.5.0);
- ``LatentImputer(AutoDecoder())``.

Tables printed: RMSE on the hidden numeric entries in units of each
feature's standard deviation (mean fill is about 1) and, on penguins, the
accuracy of the hidden categories, means over seeds; seconds per
``fit_transform``; ``scaling``, the cost on synthetic low-rank tables of
1k, 5k, 20k and 100k rows (``--sizes``) of 10 columns (``--columns``) beside
``IterativeImputer``'s, with where the time goes; ``coverage``, multiple
imputation on breast_cancer standardized (the
share of hidden values inside the central 90% interval of ``--draws`` draws,
target 0.85-0.95, the Spearman correlation between the draws' spread and the
error of their mean, and the RMSE of their mean).
"""

import argparse
import sys
import time
import warnings
from collections import defaultdict

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
from skautodec.datasets import make_low_rank
from skautodec.masks import mar_mask, random_mask

NUMERIC = {
    "breast_cancer": load_breast_cancer,
    "wine": load_wine,
    "diabetes": load_diabetes,
}
RATES = (0.1, 0.2, 0.3, 0.5)


def penguins():
    from palmerpenguins import load_penguins

    df = load_penguins().drop(columns="year").dropna().reset_index(drop=True)
    for column in ("species", "island", "sex"):
        df[column] = df[column].astype("category")
    return df


class _Mice:
    """miceforest's ImputationKernel as a fit_transform."""

    def __init__(self, seed):
        self.seed = seed

    def fit_transform(self, X):
        import miceforest

        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        frame.columns = [str(c) for c in frame.columns]
        kernel = miceforest.ImputationKernel(frame, random_state=self.seed)
        kernel.mice(5)
        out = kernel.complete_data()
        return out if isinstance(X, pd.DataFrame) else out.to_numpy()


class _OneHot:
    """A numeric imputer on a table with categories: one-hot columns in, the
    largest indicator out (means for SimpleImputer, as the most frequent)."""

    def __init__(self, imputer):
        self.imputer = imputer

    def fit_transform(self, frame):
        categorical = [c for c in frame.columns if frame[c].dtype == "category"]
        parts, blocks = [], {}
        for column in frame.columns:
            if column in categorical:
                cats = frame[column].cat.categories
                onehot = pd.get_dummies(frame[column], dtype=float)[cats]
                onehot[frame[column].isna()] = np.nan
                blocks[column] = (len(parts), cats)
                parts.append(onehot.to_numpy())
            else:
                parts.append(frame[[column]].to_numpy(dtype=float))
        widths = np.cumsum([0] + [p.shape[1] for p in parts])
        filled = self.imputer.fit_transform(np.hstack(parts))
        out = frame.copy()
        for i, column in enumerate(frame.columns):
            block = filled[:, widths[i] : widths[i + 1]]
            if column in blocks:
                cats = blocks[column][1]
                out[column] = pd.Categorical(
                    cats[block.argmax(axis=1)], categories=cats
                )
            else:
                out[column] = block[:, 0]
        return out


def imputers(seed, table=False):
    out = {
        "mean": SimpleImputer(),
        "KNN": KNNImputer(),
        "Iterative": IterativeImputer(max_iter=20, random_state=seed),
        "Iterative-ET": IterativeImputer(
            ExtraTreesRegressor(n_estimators=50, random_state=seed),
            random_state=seed,
        ),
        "miceforest": _Mice(seed),
        "LatentImputer": LatentImputer(AutoDecoder(random_state=seed)).set_output(
            transform="pandas" if table else "default"
        ),
    }
    if table:
        for name in ("mean", "KNN", "Iterative", "Iterative-ET"):
            out[name] = _OneHot(out[name])
    return out


def make_mask(X, mechanism, rate, seed):
    if mechanism == "MCAR":
        mask = random_mask(*X.shape, rate, random_state=seed)
    else:
        mask = mar_mask(X, rate, random_state=seed)
    mask[mask.all(axis=1), 0] = False  # no empty row
    return mask


def rmse(X_hat, X, mask):
    return float(np.sqrt(np.mean(((X_hat - X) / X.std(axis=0))[mask] ** 2)))


def _settings(args):
    for name in args.datasets:
        if name == "penguins":
            yield name, "raw", penguins()
            continue
        X = NUMERIC[name]().data.astype(np.float64)
        for units in args.units:
            yield (
                name,
                units,
                StandardScaler().fit_transform(X) if units == "scaled" else X,
            )


def _score(out, X, mask, table):
    """RMSE of the numeric holes and, on a table, accuracy of the categories."""
    if not table:
        return rmse(np.asarray(out, dtype=float), X, mask), np.nan
    numeric = [j for j, c in enumerate(X.columns) if X[c].dtype != "category"]
    cats = [j for j in range(X.shape[1]) if j not in numeric]
    truth = X.iloc[:, numeric].to_numpy(dtype=float)
    filled = np.asarray(out.iloc[:, numeric], dtype=float)
    accuracy = np.mean(
        [
            (out.iloc[:, j].astype(str) == X.iloc[:, j].astype(str))[mask[:, j]].mean()
            for j in cats
        ]
    )
    return rmse(filled, truth, mask[:, numeric]), float(accuracy)


def point_table(args, seeds):
    rows = []
    for name, units, X in _settings(args):
        table = isinstance(X, pd.DataFrame)
        mechanisms = ("MCAR",) if table else ("MCAR", "MAR")
        for mechanism in mechanisms:
            for rate in RATES:
                for seed in seeds:
                    mask = make_mask(
                        np.zeros(X.shape) if table else X, mechanism, rate, seed
                    )
                    if table:
                        X_missing = X.mask(mask)
                    else:
                        X_missing = np.where(mask, np.nan, X)
                    for label, imputer in imputers(seed, table).items():
                        if label in args.skip:
                            continue
                        start = time.perf_counter()
                        out = imputer.fit_transform(X_missing)
                        seconds = time.perf_counter() - start
                        error, accuracy = _score(out, X, mask, table)
                        rows.append(
                            dict(
                                dataset=name,
                                units=units,
                                mechanism=mechanism,
                                rate=f"{rate:.0%}",
                                imputer=label,
                                seed=seed,
                                rmse=error,
                                accuracy=accuracy,
                                seconds=seconds,
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
    X = StandardScaler().fit_transform(load_breast_cancer().data)
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
            rows.append(
                dict(
                    imputer="LatentImputer",
                    rate=f"{rate:.0%}",
                    seed=seed,
                    seconds=time.perf_counter() - start,
                    **interval_stats(draws, X, mask),
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


def _timed(module, name, label, totals):
    """Wrap ``module.name`` so that its seconds add up in ``totals[label]``."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - start

    setattr(module, name, wrapper)
    return original


def scaling_table(sizes, n_features=10, rate=0.2):
    """Seconds of LatentImputer against IterativeImputer on synthetic tables,
    with where they go (held-out probes, training, test-time fills, searches
    for the closest training rows; these overlap: a probe trains and fills)."""
    from skautodec import _base, _inference, _select, _together

    rows = []
    for n in sizes:
        X = make_low_rank(n_samples=n, n_features=n_features, rank=4, random_state=0)
        X = X.astype(np.float64)
        mask = make_mask(X, "MCAR", rate, 0)
        X_missing = np.where(mask, np.nan, X)
        start = time.perf_counter()
        iterative = IterativeImputer(max_iter=20, random_state=0).fit_transform(
            X_missing
        )
        t_iterative = time.perf_counter() - start
        totals = defaultdict(float)
        wrapped = [
            (
                _select,
                "select_for_table",
                _timed(_select, "select_for_table", "probes", totals),
            ),
            (
                _base._BaseLatentModel,
                "_train",
                _timed(_base._BaseLatentModel, "_train", "training", totals),
            ),
            (
                _together,
                "_train_stacked",
                _timed(_together, "_train_stacked", "training", totals),
            ),
            (
                _inference,
                "fitted_fill",
                _timed(_inference, "fitted_fill", "fills", totals),
            ),
            (
                _inference,
                "nearest_training_rows",
                _timed(_inference, "nearest_training_rows", "searches", totals),
            ),
        ]
        try:
            start = time.perf_counter()
            imputer = LatentImputer(AutoDecoder(random_state=0))
            filled = imputer.fit_transform(X_missing)
            t_latent = time.perf_counter() - start
        finally:
            for module, name, original in wrapped:
                setattr(module, name, original)
        rows.append(
            dict(
                rows=n,
                iterative_s=t_iterative,
                latent_s=t_latent,
                ratio=t_latent / t_iterative,
                models=imputer.n_estimators_,
                **{f"{k}_s": v for k, v in totals.items()},
                rmse_latent=rmse(filled, X, mask),
                rmse_iterative=rmse(iterative, X, mask),
            )
        )
        print(".", end="", flush=True)
    print()
    return pd.DataFrame(rows).set_index("rows")


def _print_points(results, seeds):
    keys = ["dataset", "units", "mechanism", "rate", "imputer"]
    mean = results.groupby(keys, sort=False)[["rmse", "accuracy", "seconds"]].mean()
    table = mean["rmse"].unstack("imputer")
    table["best"] = table.idxmin(axis=1)
    with pd.option_context("display.float_format", "{:.3f}".format):
        print(f"\nRMSE on the hidden numeric entries, in feature std (mean of {seeds})")
        print(table.to_string())
        accuracy = mean["accuracy"].dropna().unstack("imputer")
        if len(accuracy):
            accuracy["best"] = accuracy.idxmax(axis=1)
            print(f"\nAccuracy of the hidden categories (mean of {seeds})")
            print(accuracy.to_string())
        print("\nSeconds per fit_transform (mean over the settings of each table)")
        seconds = mean["seconds"].groupby(["dataset", "imputer"], sort=False).mean()
        print(seconds.unstack("imputer").to_string())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed")
    parser.add_argument("--seeds", type=int, default=None, help="default 3 (1)")
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=[*NUMERIC, "penguins"],
        choices=[*NUMERIC, "penguins"],
    )
    parser.add_argument("--units", default="raw", help="raw, scaled or raw,scaled")
    parser.add_argument(
        "--only",
        default="points,scaling,coverage",
        help="tables to print: points, scaling, coverage",
    )
    parser.add_argument("--sizes", default="1000,5000,20000,100000")
    parser.add_argument(
        "--columns", default="10", help="columns of the scaling table's tables"
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        help="imputers to leave out, by label (Iterative(sample_posterior): the"
        " coverage table's 50 IterativeImputer fits per setting)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="CSV prefix for the results")
    args = parser.parse_args(argv)
    args.units = args.units.split(",")
    only = args.only.split(",")
    seeds = range(args.seeds or (1 if args.quick else 3))
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # convergence warnings of the imputers
    if "points" in only:
        results = point_table(args, seeds)
        _print_points(results, len(seeds))
        if args.out:
            results.to_csv(f"{args.out}_points.csv", index=False)
    if "scaling" in only:
        sizes = [int(s) for s in args.sizes.split(",")]
        columns = [int(c) for c in args.columns.split(",")]
        scaling = pd.concat(
            {c: scaling_table(sizes, n_features=c) for c in columns}, names=["columns"]
        )
        with pd.option_context("display.float_format", "{:.3g}".format):
            print(f"\nCost on synthetic low-rank tables, 20% MCAR ({args.threads}"
                  " torch thread(s))")  # fmt: skip
            print(scaling.to_string())
        if args.out:
            scaling.to_csv(f"{args.out}_scaling.csv")
    if "coverage" in only:
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
