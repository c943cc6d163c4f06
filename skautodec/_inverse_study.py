"""The inverse-problem study: fitted models and classical baselines, side by
side, on images measured through operators (``skautodec compare --inverse``,
``benchmarks/bench_inverse.py``).

Every method sees the same noisy measurements of the test images and
returns whole images; errors are per-pixel MSE against the truth, nothing
clipped. The baselines' parameters (Lasso's alpha, PCA's number of
components, Tikhonov's lambda) are chosen per problem on held-out training
images measured the same way.
"""

import time

import numpy as np
import pandas as pd

from . import _inverse_baselines as base
from .operators import Downsample, GaussianBlur, Linear

__all__ = ["inverse_study", "study_problems"]

_TIKHONOV_GRID = np.logspace(-5, 0, 11)
_PCA_GRID = (5, 10, 20, 40, 75, 100, 150, 200, 300)


def study_problems(
    n_features,
    *,
    measurements=(25, 50, 100, 200, 400),
    factors=(2, 4),
    blur_sigma=1.5,
    noise_std=0.01,
    random_state=0,
):
    """The study's problems by name: compressed sensing with Gaussian
    matrices (entries N(0, 1/m)), block-average super-resolution and a
    Gaussian blur, each with noise of ``noise_std``."""
    rng = np.random.default_rng(random_state)
    problems = {}
    for m in measurements:
        A = rng.normal(0.0, 1.0 / np.sqrt(m), size=(m, n_features))
        problems[f"CS m={m}"] = Linear(A.astype(np.float32), noise_std=noise_std)
    for f in factors:
        problems[f"SR {f}x"] = Downsample(f, noise_std=noise_std)
    if blur_sigma:
        problems[f"blur {blur_sigma:g}"] = GaussianBlur(blur_sigma, noise_std=noise_std)
    return problems


def dense_matrix(operator, n_features, image_shape):
    """A linear operator as a matrix (m, n_features): its measures of the
    unit rows."""
    return operator.measure(np.eye(n_features), image_shape).T.astype(np.float64)


def measurement_view(operator, Y, A, image_shape):
    """What the measurements show as images: the blurred images, the
    low-resolution ones enlarged, or the least-norm solution of ``A x = y``."""
    if isinstance(operator, GaussianBlur):
        return Y
    if isinstance(operator, Downsample):
        c, h, w = image_shape
        f = operator.factor
        low = Y.reshape(len(Y), c, -(-h // f), -(-w // f))
        big = low.repeat(f, axis=2).repeat(f, axis=3)[:, :, :h, :w]
        return big.reshape(len(Y), -1)
    return Y @ np.linalg.pinv(A).T


def _timed(solve):
    start = time.perf_counter()
    out = solve()
    return np.asarray(out, dtype=np.float64), time.perf_counter() - start


def baseline_methods(operator, A, X_train, X_val, image_shape, noise_std, seed):
    """Each baseline as a function of the measurements, with its parameter
    chosen on ``X_val``: {name: (solve, setting)}."""
    mean = X_train.mean(axis=0)
    scale = base.dct_scales(X_train, image_shape, mean)
    methods = {}
    for name, kw in (("Lasso DCT", {}), ("Lasso DCT, weighted", {"scale": scale})):
        alpha, _ = base.choose_lasso_alpha(
            A, X_val, image_shape, None, noise_std, seed, mean=mean, **kw
        )
        methods[name] = (
            lambda Y, a=alpha, kw=kw: base.lasso_dct(
                A, Y, image_shape, a, mean=mean, **kw
            ),
            f"alpha={alpha:.2g}",
        )
    grid = [k for k in _PCA_GRID if k < min(A.shape[0], len(X_train))] or [1]
    k, _ = base.choose_pca_components(A, X_train, X_val, grid, noise_std, seed)
    methods["PCA least squares"] = (
        lambda Y: base.pca_least_squares(A, Y, X_train, k),
        f"components={k}",
    )
    ridge = max(noise_std**2, 1e-6)
    full = min(A.shape[1], len(X_train))
    methods["PCA, Gaussian prior"] = (
        lambda Y: base.pca_least_squares(A, Y, X_train, full, ridge=ridge),
        f"components={full}",
    )
    methods["nearest training image"] = (
        lambda Y: base.nearest_training_image(A, Y, X_train),
        "",
    )
    if isinstance(operator, Downsample):
        methods["bicubic"] = (
            lambda Y: base.bicubic_upsample(Y, image_shape, operator.factor),
            "",
        )
    if isinstance(operator, GaussianBlur):
        lam, _ = base.choose_tikhonov_lambda(
            A, X_val, _TIKHONOV_GRID, noise_std, seed, mean=mean
        )
        methods["Tikhonov"] = (
            lambda Y: base.tikhonov_deconvolution(A, Y, lam, mean=mean),
            f"lambda={lam:.2g}",
        )
        power = base.power_spectrum(X_train, image_shape)
        _, h, w = image_shape
        delta = np.zeros((1, h * w))
        delta[0, (h // 2) * w + w // 2] = 1.0
        kernel = operator.measure(delta, (1, h, w))
        methods["Wiener"] = (
            lambda Y: base.wiener_deconvolution(
                Y, image_shape, kernel, noise_std, power
            ),
            "",
        )
    return methods


def inverse_study(
    models,
    X_train,
    X_val,
    X_test,
    problems,
    image_shape,
    *,
    baselines=True,
    random_state=0,
    progress=False,
):
    """Every model and baseline on every problem.

    Parameters
    ----------
    models : dict of name -> fitted estimator
        Estimators with ``reconstruct(Y, operator=...)``.
    X_train : ndarray of shape (n_train, n_features)
        The baselines' training images (PCA, nearest image, priors).
    X_val : ndarray of shape (n_val, n_features)
        Held-out images that choose the baselines' parameters.
    X_test : ndarray of shape (n_test, n_features)
    problems : dict of name -> operator
    image_shape : tuple (C, H, W)
    baselines : bool, default=True
    random_state : int, default=0
        Seeds the measurements' noise (the same for every method).
    progress : bool, default=False

    Returns
    -------
    results : pandas.DataFrame
        One row per (problem, method): ``mse``, ``seconds_per_image`` (the
        solve, not the training or the tuning) and ``setting``.
    images : dict
        Per problem: ``{"measurements": view, method: X_hat, ...}``.
    """
    X_train, X_val, X_test = (
        np.asarray(a, dtype=np.float64) for a in (X_train, X_val, X_test)
    )
    n_features = X_test.shape[1]
    rows, images = [], {}
    items = list(problems.items())
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="inverse problems")
    for name, op in items:
        A = dense_matrix(op, n_features, image_shape)
        Y = op.measure(X_test, image_shape, random_state=random_state)
        images[name] = {"measurements": measurement_view(op, Y, A, image_shape)}
        methods = {
            label: (lambda Y, m=model, op=op: m.reconstruct(Y, operator=op), "")
            for label, model in models.items()
        }
        if baselines:
            methods.update(
                baseline_methods(
                    op, A, X_train, X_val, image_shape, op.noise_std, random_state
                )
            )
        for label, (solve, setting) in methods.items():
            X_hat, seconds = _timed(lambda s=solve, Y=Y: s(Y))
            images[name][label] = X_hat
            rows.append(
                {
                    "problem": name,
                    "method": label,
                    "mse": float(np.mean((X_hat - X_test) ** 2)),
                    "seconds_per_image": seconds / len(X_test),
                    "setting": setting,
                    "n_test": len(X_test),
                }
            )
    return pd.DataFrame(rows), images


#: The problems of ``skautodec compare --inverse`` by image size: fewer,
#: smaller measurements for the 8x8 digits.
CLI_PROBLEMS = {
    64: dict(measurements=(8, 16, 32), factors=(2,), blur_sigma=1.0),
    1024: dict(measurements=(25, 50, 100, 200, 400), factors=(2, 4), blur_sigma=1.5),
}


def write_inverse_study(models, X_train, X_test, image_shape, out, progress=False):
    """The study of ``skautodec compare --inverse``: writes ``inverse.csv``
    and ``inverse_problems.png`` into ``out`` and returns the report's
    Markdown section (lines). The baselines' parameters are chosen on the
    last tenth of ``X_train`` (at most 200 images), which they do not
    train on."""
    from .plotting import plot_inverse_problems
    from .report import to_markdown

    n_features = X_test.shape[1]
    kwargs = CLI_PROBLEMS.get(n_features, CLI_PROBLEMS[1024])
    problems = study_problems(n_features, noise_std=0.01, random_state=0, **kwargs)
    n_val = min(200, max(1, len(X_train) // 10))
    results, images = inverse_study(
        models,
        X_train[:-n_val],
        X_train[-n_val:],
        X_test,
        problems,
        image_shape,
        progress=progress,
    )
    results.to_csv(f"{out}/inverse.csv", index=False)
    shown = [p for p in problems if p.startswith("CS")][1:2] + [
        p for p in problems if not p.startswith("CS")
    ]
    methods = ["Lasso DCT", "PCA, Gaussian prior", *models]
    fig = plot_inverse_problems(
        X_test,
        {p: images[p] for p in shown},
        methods=methods,
        image_shape=image_shape,
    )
    fig.savefig(f"{out}/inverse_problems.png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)

    def table(values):
        wide = results.pivot(index="method", columns="problem", values=values)
        return wide[list(problems)]

    return [
        "## Inverse problems: per-pixel MSE of images rebuilt from measurements",
        "",
        "Compressed sensing (CS, Gaussian matrices with m rows), block-average "
        "super-resolution (SR) and a Gaussian blur, with noise of standard "
        "deviation 0.01; the networks fit codes to the measurements (the "
        "autoencoder's decoder as the generator). All rows: `inverse.csv`.",
        "",
        to_markdown(table("mse")),
        "",
        "Seconds per image (the solve; not the training or the baselines' "
        "tuning):",
        "",
        to_markdown(table("seconds_per_image"), floatfmt=".3g"),
        "",
        "![inverse_problems](inverse_problems.png)",
        "",
    ]
