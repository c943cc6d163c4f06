"""Inverse-problem benchmark: images rebuilt from measurements through operators.

Run by hand (not in CI), from the repository root::

    python benchmarks/bench_inverse.py --data-home ../shared/data
    python benchmarks/bench_inverse.py --data-home ../shared/data --quick

Per data set (MNIST-32: the first 10,000 official training images, the first
200 test images; Fashion-MNIST-32: 5,000 and 200), an
``AutoDecoder(channels=16, max_epochs=10, random_state=0)`` and a
``ConvAutoEncoder(latent_dim=64, channels=16, max_epochs=10,
random_state=0)`` are trained once; both fit codes to the measurements at
test time (the autoencoder's decoder as the generator); the autodecoder's
"auto" prior is the Gaussian of its training codes. It also runs with
``transform_penalty=None`` (the training penalty on the codes' squared norm,
the earlier default), with ``transform_residual=None`` (the fitted decodes
without the correction of their error) and ``transform_discrepancy=None``
(every fit runs its 100 steps), the targets being read for its default; the
autoencoder runs with and without that correction too, and with
``transform_discrepancy=1.0`` (the autodecoder's "auto").
Problems, all with noise of standard deviation 0.01: compressed sensing with
Gaussian matrices (entries N(0, 1/m)) at m = 25, 50, 100, 200, 400; 2x and
4x block-average super-resolution; a Gaussian blur of sigma 1.5. Baselines
in the same run: Lasso in a DCT basis (plain, and weighted by the training
images' coefficient spread), PCA least squares, PCA with a Gaussian prior,
the nearest training image under the operator, bicubic upsampling
(super-resolution), Tikhonov and Wiener deconvolution (blur). Their
parameters are chosen per problem on 200 further training images.

Printed: per-pixel MSE and seconds per image (the solve only) of every
method, the targets, the autodecoder's gap to the best other method with its
paired standard error over the test images, and what the autodecoder's step
budget buys.
"""

import argparse
import copy
import time
import warnings

import numpy as np
import pandas as pd
import torch

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec._inverse_study import inverse_study, study_problems
from skautodec.datasets import load_fashion_mnist, load_mnist

SIZES = {"mnist": 10_000, "fashion-mnist": 5_000}
LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
SHOWN = ("CS m=50", "SR 4x", "blur 1.5")
PLAIN = "autodecoder, training penalty"
DECODE = "autodecoder, no residual step"
NO_STOP = "autodecoder, no discrepancy stop"
VARIANTS = (PLAIN, DECODE, NO_STOP)
AE_DECODE = "autoencoder, no residual step"
AE_STOP = "autoencoder, discrepancy stop"


def _load(name, n_train, n_val, n_test, data_home):
    loader = LOADERS[name]
    train = loader(train=True, n_samples=n_train + n_val, data_home=data_home)
    test = loader(train=False, n_samples=n_test, data_home=data_home)
    X = train.data
    return X[:n_train], X[n_train:], test.data, train.image_shape


def _fit(X, epochs):
    models, seconds = {}, {}
    for name, est in (
        ("autoencoder", ConvAutoEncoder(64, channels=16, max_epochs=epochs)),
        ("autodecoder", AutoDecoder(channels=16, max_epochs=epochs)),
    ):
        start = time.perf_counter()
        models[name] = est.set_params(random_state=0).fit(X)
        seconds[name] = time.perf_counter() - start
    # the same model with the training penalty on the codes' squared norm
    # (the earlier "auto"; "auto" is now the Gaussian of the training codes)
    plain = copy.deepcopy(models["autodecoder"])
    models[PLAIN] = plain.set_params(transform_penalty=None)
    # and the fitted decodes alone, their error not corrected
    decode = copy.deepcopy(models["autodecoder"])
    models[DECODE] = decode.set_params(transform_residual=None)
    # and the fits run to the end, not stopped at the expected loss
    no_stop = copy.deepcopy(models["autodecoder"])
    models[NO_STOP] = no_stop.set_params(transform_discrepancy=None)
    ae_decode = copy.deepcopy(models["autoencoder"])
    models[AE_DECODE] = ae_decode.set_params(transform_residual=None)
    ae_stop = copy.deepcopy(models["autoencoder"])
    models[AE_STOP] = ae_stop.set_params(transform_discrepancy=1.0)
    return models, seconds


def _others(table):
    """The columns of every method but the autodecoder and its variants."""
    return table.drop(columns=["autodecoder", *VARIANTS], errors="ignore")


def _targets(table, seconds):
    """The issue's three targets, read off the tables."""
    ad = table["autodecoder"]
    others = _others(table)
    lowest = (ad < others.min(axis=1)).all()
    lines = [f"autodecoder lowest in every problem: {lowest}"]
    for problem in table.index[~(ad < others.min(axis=1))]:
        best = others.loc[problem].idxmin()
        lines.append(
            f"  {problem}: {best} {others.loc[problem, best]:.4f} < "
            f"autodecoder {ad[problem]:.4f}"
        )
    if {"CS m=100", "CS m=400"} <= set(table.index):
        lasso = table.loc["CS m=400", "Lasso DCT"]
        lines.append(
            f"autodecoder at m=100 {ad['CS m=100']:.4f} vs Lasso DCT at m=400 "
            f"{lasso:.4f}: {ad['CS m=100'] <= lasso}"
        )
    ratio = (seconds["autodecoder"] / seconds["Lasso DCT"]).replace(np.inf, np.nan)
    lines.append(
        "autodecoder / Lasso DCT seconds per image: "
        + ", ".join(f"{p} {r:.1f}x" for p, r in ratio.items())
    )
    return lines


def gap_table(table, images, X_test):
    """The autodecoder against the best other method of each problem, image
    by image: the mean of the per-image MSE differences and its standard
    error (the same images and measurements for both, so the pairs' spread
    is what decides whether a gap is more than the test set's draw)."""
    others = _others(table)
    rows = []
    for problem in table.index:
        best = others.loc[problem].idxmin()
        per_image = {
            label: np.mean((images[problem][label] - X_test) ** 2, axis=1)
            for label in ("autodecoder", best)
        }
        diff = per_image["autodecoder"] - per_image[best]
        rows.append(
            {
                "problem": problem,
                "best other": best,
                "autodecoder - best": diff.mean(),
                "paired s.e.": diff.std(ddof=1) / np.sqrt(len(diff)),
                "images where lower": float(np.mean(diff < 0)),
            }
        )
    return pd.DataFrame(rows).set_index("problem")


def step_table(model, X, problems, steps):
    """What the autodecoder's step budget buys: MSE and s/image per problem."""
    rows = []
    for budget in steps:
        model.set_params(transform_max_iter=budget)
        for name in SHOWN:
            op = problems[name]
            Y = op.measure(X, random_state=0)
            start = time.perf_counter()
            recon = model.reconstruct(Y, operator=op)
            rows.append(
                {
                    "steps": budget,
                    "problem": name,
                    "mse": float(np.mean((recon - X) ** 2)),
                    "s/image": (time.perf_counter() - start) / len(X),
                }
            )
    model.set_params(transform_max_iter="auto")
    table = pd.DataFrame(rows)
    return table.pivot(index="steps", columns="problem", values=["mse", "s/image"])


def run(name, args):
    n_train = 1000 if args.quick else SIZES[name]
    n_test = 20 if args.quick else args.n_test
    X_train, X_val, X_test, shape = _load(
        name, n_train, 50 if args.quick else 200, n_test, args.data_home
    )
    models, fit_seconds = _fit(X_train, 2 if args.quick else 10)
    problems = study_problems(X_train.shape[1], noise_std=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, images = inverse_study(
            models, X_train, X_val, X_test, problems, shape, random_state=0
        )
    order = list(problems)
    mse = results.pivot(index="problem", columns="method", values="mse").loc[order]
    sec = results.pivot(
        index="problem", columns="method", values="seconds_per_image"
    ).loc[order]
    print(
        f"\n## {name}: {n_train} training, {n_test} test images; fit seconds "
        + ", ".join(f"{k} {v:.0f}" for k, v in fit_seconds.items())
    )
    print("\nper-pixel MSE")
    print(mse.T.to_string(float_format="%.4f"))
    print("\nseconds per image")
    print(sec.T.to_string(float_format="%.4f"))
    settings = results[results.setting != ""].pivot(
        index="problem", columns="method", values="setting"
    )
    print("\nbaselines' chosen settings")
    print(settings.loc[order].T.to_string())
    print()
    print("\n".join(_targets(mse, sec)))
    gaps = gap_table(mse, images, np.asarray(X_test, dtype=np.float64))
    print("\nautodecoder minus the best other method (per-pixel MSE, paired)")
    print(gaps.to_string(float_format="%.5f"))
    for label in ("autodecoder",) if not (args.quick or args.no_steps) else ():
        print(f"\n{label}: step budget (3 starts)")
        steps = (0, 25, 50, 100, 200)
        budget = step_table(models[label], X_test[:100], problems, steps)
        print(budget.to_string(float_format="%.4f"))
    if args.out:
        results.assign(dataset=name).to_csv(f"{args.out}_{name}.csv", index=False)
        gaps.to_csv(f"{args.out}_{name}_gaps.csv")
    if args.figure:
        from skautodec.plotting import plot_inverse_problems

        fig = plot_inverse_problems(
            X_test,
            {p: images[p] for p in SHOWN},
            methods=["Lasso DCT", "PCA, Gaussian prior", "autoencoder", "autodecoder"],
            image_shape=shape,
            n_images=6,
        )
        fig.savefig(f"{args.figure}_{name}.png", dpi=120, bbox_inches="tight")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--datasets", default="mnist,fashion-mnist")
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument(
        "--no-steps", action="store_true", help="without the step-budget table"
    )
    parser.add_argument("--out", default=None, help="CSV prefix of the results")
    parser.add_argument("--figure", default=None, help="PNG prefix of the figure")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch threads: {args.threads}")
    for name in args.datasets.split(","):
        run(name, args)


if __name__ == "__main__":
    main()
