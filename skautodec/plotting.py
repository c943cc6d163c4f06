"""Figures of the study: image grids, errors, interpolations, codes, training.

matplotlib is imported only when a function here is called (``pip install
skautodec[plot]``). Images are rows flattened in (C, H, W) order with values
in [0, 1]; values outside are clipped for display. Every function returns a
``matplotlib.figure.Figure``.
"""

from collections.abc import Mapping

import numpy as np

from ._grid import (
    _grid_tensor,
    _observed_rgb,
    _pyplot,
    _resolve_shape,
    _show,
    _spread_grid,
    _to_rgb,
    image_grid,
)
from .masks import check_mask
from .report import interpolate, reconstruct

__all__ = [
    "image_grid",
    "plot_error_vs_hole_size",
    "plot_interpolations",
    "plot_inverse_problems",
    "plot_latent_tsne",
    "plot_masked_reconstructions",
    "plot_progressive_reconstructions",
    "plot_sample_spread",
    "plot_training_curves",
]


def _model_at(model, key):
    return model[key] if isinstance(model, Mapping) else model


def plot_masked_reconstructions(
    models, X, masks, *, image_shape=None, n_images=6, nrow=3
):
    """Inpainting side by side: original, observed part, each model's output.

    One row of panels per mask and one column per model, after the original
    images and the observed part (the loss region; the hidden entries are
    shown in red).

    Parameters
    ----------
    models : mapping
        Fitted models by name, as for :func:`skautodec.report.compare`.
    X : array-like of shape (n_samples, n_features)
        Images; the first ``n_images`` are shown.
    masks : mapping of key to array-like of bool
        Masks (True = hidden) by key, e.g. the hole size, of shape
        (n_features,) or (n_samples, n_features).
    image_shape : tuple of int or None, default=None
    n_images : int, default=6
    nrow : int, default=3
        Images per row within a panel.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skautodec.datasets import load_digits_images
    >>> from skautodec.masks import center_mask
    >>> from skautodec.plotting import plot_masked_reconstructions
    >>> from skautodec.report import MeanFill
    >>> X = load_digits_images().data[:50]
    >>> masks = {2: center_mask((8, 8), 2), 4: center_mask((8, 8), 4)}
    >>> fig = plot_masked_reconstructions({"mean": MeanFill().fit(X)}, X, masks)
    >>> len(fig.axes)  # 2 masks x (original, observed, mean)
    6
    >>> plt.close(fig)
    """
    plt = _pyplot()
    X = np.asarray(X, dtype=np.float32)[:n_images]
    shape = _resolve_shape(image_shape, X.shape[1])
    rows = {}
    for key, mask in masks.items():
        mask = np.asarray(mask)
        hidden = check_mask(mask[:n_images] if mask.ndim == 2 else mask, X.shape)
        rgb = [_to_rgb(X, shape), _observed_rgb(X, hidden, shape)]
        for model in models.values():
            out = reconstruct(_model_at(model, key), X, mask=hidden)
            rgb.append(_to_rgb(out, shape))
        rows[key] = rgb
    return _panel_rows(plt, rows, ["original", "observed", *models], nrow)


def plot_inverse_problems(
    X, images, *, methods=None, image_shape=None, n_images=6, nrow=3
):
    """Images rebuilt from measurements: one row per problem.

    Columns, left to right: the truth, what the measurements show (the
    blurred or low-resolution images, or the least-norm solution of
    compressed sensing) and each method's images.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        The true images; the first ``n_images`` are shown.
    images : dict of problem -> dict of column -> array of shape (n_rows,
        n_features)
        As returned by the inverse-problem study: per problem,
        ``"measurements"`` and one entry per method.
    methods : list of str or None, default=None
        The methods to show, in order; None shows every one of the first
        problem.
    image_shape : tuple of int or None, default=None
    n_images : int, default=6
    nrow : int, default=3
        Images per row within a panel.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skautodec.plotting import plot_inverse_problems
    >>> X = np.random.default_rng(0).random((6, 64))
    >>> images = {"blur": {"measurements": X, "identity": X}}
    >>> fig = plot_inverse_problems(X, images)
    >>> [ax.get_title() for ax in fig.axes]
    ['truth', 'measurements', 'identity']
    >>> plt.close(fig)
    """
    plt = _pyplot()
    X = np.asarray(X, dtype=np.float32)[:n_images]
    shape = _resolve_shape(image_shape, X.shape[1])
    if methods is None:
        methods = [k for k in next(iter(images.values())) if k != "measurements"]
    columns = ["truth", "measurements", *methods]
    rows = {
        problem: [
            _to_rgb(X, shape),
            *(_to_rgb(np.asarray(shown[c])[:n_images], shape) for c in columns[1:]),
        ]
        for problem, shown in images.items()
    }
    return _panel_rows(plt, rows, columns, nrow)


def _panel_rows(plt, rows, columns, nrow):
    """A figure of image grids: one row per key of ``rows`` (labelled with
    it), one column per RGB batch of its value (titled by ``columns``)."""
    fig, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(1.9 * len(columns), 1.9 * len(rows) * 2 / max(nrow, 1) + 0.4),
        squeeze=False,
    )
    for i, (key, batches) in enumerate(rows.items()):
        for j, rgb in enumerate(batches):
            grid = _grid_tensor(rgb, nrow, 1, 1.0)
            _show(axes[i, j], grid, columns[j] if i == 0 else None)
        axes[i, 0].set_ylabel(str(key), fontsize=9)
    fig.tight_layout()
    return fig


def plot_sample_spread(
    model,
    X,
    mask,
    *,
    image_shape=None,
    n_images=6,
    n_samples=20,
    n_draws=3,
    nrow=3,
    random_state=None,
):
    """Completions drawn from a model's posterior and their per-pixel spread.

    The model's ``sample`` draws ``n_samples`` completions of the hidden
    pixels of the first ``n_images`` images. Panels, left to right: the
    original images, the observed part (hidden pixels in red), the mean of
    the draws, ``n_draws`` single draws and the per-pixel standard deviation
    of the draws as a heat map with a colour bar. Observed pixels are the same
    in every draw, so their standard deviation is zero; bright pixels are
    where the model is unsure of the hole.

    Parameters
    ----------
    model : fitted estimator with a ``sample`` method
        E.g. :class:`~skautodec.AutoDecoder`; its ``sample(X, mask=...,
        n_samples=..., random_state=...)`` returns draws of shape
        (n_samples, n_rows, n_features).
    X : array-like of shape (n_rows, n_features)
        Images; the first ``n_images`` are shown, and only they are passed
        to ``sample`` (which also estimates its residual noise from them).
    mask : array-like of bool of shape (n_features,) or (n_rows, n_features)
        True = hidden. NaN in ``X`` counts as hidden too; None hides only
        the NaN entries.
    image_shape : tuple of int or None, default=None
    n_images : int, default=6
    n_samples : int, default=20
        Draws behind the mean and the standard deviation.
    n_draws : int, default=3
        Single draws shown; at most ``n_samples``.
    nrow : int, default=3
        Images per row within a panel.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws (passed to ``sample``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``3 + n_draws + 1`` image panels, then the colour bar's axes.

    See Also
    --------
    plot_masked_reconstructions : Each model's single reconstruction.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skautodec import AutoDecoder
    >>> from skautodec.datasets import load_digits_images
    >>> from skautodec.masks import center_mask
    >>> from skautodec.plotting import plot_sample_spread
    >>> X = load_digits_images().data[:40]
    >>> ad = AutoDecoder(latent_dim=4, channels=4, max_epochs=2,
    ...                  transform_max_iter=2, random_state=0).fit(X)
    >>> fig = plot_sample_spread(ad, X, center_mask((8, 8), 4), n_samples=5,
    ...                          random_state=0)
    >>> [ax.get_title() for ax in fig.axes][-2:]
    ['std of draws', '']
    >>> len(fig.axes)  # original, observed, mean, 3 draws, std + colour bar
    8
    >>> plt.close(fig)
    """
    if not callable(getattr(model, "sample", None)):
        raise ValueError(
            f"plot_sample_spread needs a model with a sample method that draws "
            f"completions (such as AutoDecoder); {type(model).__name__} has none."
        )
    if not 0 <= n_draws <= n_samples:
        raise ValueError(
            f"n_draws must be between 0 and n_samples={n_samples}; got {n_draws}."
        )
    plt = _pyplot()
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"X must be 2-D (n_rows, n_features); got {X.shape}.")
    mask = None if mask is None else np.asarray(mask)
    if mask is not None and mask.ndim == 2:
        mask = mask[:n_images]
    X = X[:n_images]
    shape = _resolve_shape(image_shape, X.shape[1])
    hidden = check_mask(mask, X.shape) | np.isnan(X)
    draws = np.asarray(
        model.sample(X, mask=hidden, n_samples=n_samples, random_state=random_state),
        dtype=np.float64,
    )
    # std is shift invariant; deviations from one draw are exactly zero where
    # every draw keeps the observed value, so the spread there is exactly zero
    std = (draws - draws[0]).std(axis=0)
    columns = ["original", "observed", f"mean of {n_samples} draws"]
    columns += [f"draw {k + 1}" for k in range(n_draws)] + ["std of draws"]
    panels = [
        _grid_tensor(_observed_rgb(X, np.isnan(X), shape), nrow, 1, 1.0),
        _grid_tensor(_observed_rgb(X, hidden, shape), nrow, 1, 1.0),
        *(
            _grid_tensor(_to_rgb(images, shape), nrow, 1, 1.0)
            for images in (draws.mean(axis=0), *draws[:n_draws])
        ),
    ]
    # a narrow last column holds the colour bar, so that the heat map keeps
    # the size of the other panels
    fig, axes = plt.subplots(
        1,
        len(columns) + 1,
        figsize=(1.9 * len(columns) + 0.5, 1.9 * 2 / max(nrow, 1) + 0.4),
        gridspec_kw={"width_ratios": [1.0] * len(columns) + [0.06]},
        squeeze=False,
    )
    for ax, grid, title in zip(axes[0], panels, columns, strict=False):
        _show(ax, grid, title)
    heat = axes[0, -2].imshow(
        np.ma.masked_invalid(_spread_grid(std, shape, nrow)),
        cmap=plt.get_cmap("magma").with_extremes(bad="white"),
        vmin=0.0,
        interpolation="nearest",
    )
    _show(axes[0, -2], None, columns[-1])
    fig.colorbar(heat, cax=axes[0, -1]).ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def plot_error_vs_hole_size(
    results, metric="mse_hidden", *, x="mask", xlabel="hole size", logy=False
):
    """Line plot of an error of :func:`~skautodec.report.compare` against the
    mask key, one line per model.

    Parameters
    ----------
    results : pandas.DataFrame
        As returned by :func:`skautodec.report.compare`; the ``x`` column
        must be numeric.
    metric : str, default="mse_hidden"
    x : str, default="mask"
    xlabel : str, default="hole size"
    logy : bool, default=False

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skautodec.datasets import load_digits_images
    >>> from skautodec.masks import center_mask
    >>> from skautodec.plotting import plot_error_vs_hole_size
    >>> from skautodec.report import MeanFill, compare
    >>> X = load_digits_images().data[:50]
    >>> masks = {size: center_mask((8, 8), size) for size in (2, 4, 6)}
    >>> results = compare({"mean": MeanFill().fit(X)}, X, masks)
    >>> fig = plot_error_vs_hole_size(results)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['mean']
    >>> plt.close(fig)
    """
    import pandas as pd

    plt = _pyplot()
    for col in (metric, x, "model"):
        if col not in results.columns:
            raise ValueError(f"results has no column {col!r}.")
    if not pd.api.types.is_numeric_dtype(results[x]):
        raise ValueError(
            f"Column {x!r} must be numeric to plot against it; got {results[x].dtype}."
        )
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in pd.unique(results["model"]):
        part = results[results["model"] == name].sort_values(x)
        ax.plot(part[x], part[metric], marker="o", label=str(name))
    ax.set_xticks(sorted(pd.unique(results[x])))
    return _finish_line_plot(fig, ax, xlabel, metric, logy)


def plot_interpolations(
    models,
    x_a,
    x_b,
    *,
    alphas=(0.0, 0.25, 0.5, 0.75, 1.0),
    methods=("linear", "slerp"),
    image_shape=None,
):
    """Decoded codes between pairs of images, per model and method.

    Parameters
    ----------
    models : mapping of str to fitted estimator
        Models with ``transform`` and ``inverse_transform``.
    x_a, x_b : array-like of shape (n_pairs, n_features)
        The pairs' end points.
    alphas : sequence of float, default=(0, .25, .5, .75, 1)
    methods : sequence of {"linear", "slerp"}, default=("linear", "slerp")
    image_shape : tuple of int or None, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel per (model, method): a row per pair, a column per alpha.

    Examples
    --------
    Any model with ``transform`` and ``inverse_transform`` will do; here PCA:

    >>> import matplotlib.pyplot as plt
    >>> from sklearn.decomposition import PCA
    >>> from skautodec.datasets import load_digits_images
    >>> from skautodec.plotting import plot_interpolations
    >>> X = load_digits_images().data[:100]
    >>> fig = plot_interpolations({"PCA": PCA(4).fit(X)}, X[:2], X[2:4])
    >>> len(fig.axes)  # one model x (linear, slerp)
    2
    >>> plt.close(fig)
    """
    plt = _pyplot()
    x_a = np.atleast_2d(np.asarray(x_a, dtype=np.float32))
    x_b = np.atleast_2d(np.asarray(x_b, dtype=np.float32))
    shape = _resolve_shape(image_shape, x_a.shape[1])
    alphas = list(alphas)
    fig, axes = plt.subplots(
        len(models),
        len(methods),
        figsize=(0.9 * len(alphas) * len(methods) + 0.6, 0.9 * len(x_a) * len(models)),
        squeeze=False,
    )
    for i, (name, est) in enumerate(models.items()):
        for j, method in enumerate(methods):
            images = interpolate(est, x_a, x_b, alphas, method=method)
            grid = image_grid(
                images.reshape(-1, images.shape[-1]), shape, nrow=len(alphas)
            )
            _show(axes[i, j], grid, f"{name}, {method}")
            _, h, w = shape
            axes[i, j].set_xticks([1 + k * (w + 1) + w / 2 for k in range(len(alphas))])
            axes[i, j].set_xticklabels([f"{a:g}" for a in alphas], fontsize=7)
            axes[i, j].tick_params(length=0)
    fig.tight_layout()
    return fig


def plot_progressive_reconstructions(
    estimator, callback=None, *, X=None, image_shape=None
):
    """Decoded training codes at the epochs a
    :class:`~skautodec.callbacks.ProgressiveReconstructions` callback recorded.

    Parameters
    ----------
    estimator : fitted AutoDecoder
        Fitted with the callback.
    callback : ProgressiveReconstructions or None, default=None
        None finds the instance that ran in ``estimator.net_``.
    X : array-like of shape (n_samples, n_features) or None, default=None
        The training rows; when given, the targets are shown in a last row.
    image_shape : tuple of int or None, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure
        A row per snapshot, a column per followed training row.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skautodec import AutoDecoder
    >>> from skautodec.callbacks import ProgressiveReconstructions
    >>> from skautodec.datasets import load_digits_images
    >>> from skautodec.plotting import plot_progressive_reconstructions
    >>> X = load_digits_images().data[:40]
    >>> cb = ProgressiveReconstructions(sample_indices=range(4), epochs=[0, 2])
    >>> ad = AutoDecoder(latent_dim=4, max_epochs=2, callbacks=[cb],
    ...                  random_state=0).fit(X)
    >>> fig = plot_progressive_reconstructions(ad, X=X)
    >>> plt.close(fig)
    """
    from .callbacks import ProgressiveReconstructions

    plt = _pyplot()
    if callback is None:
        callback = ProgressiveReconstructions.from_estimator(estimator)
    recon = callback.reconstructions(estimator)  # (n_epochs, n_samples, F)
    labels = [f"epoch {e}" for e in callback.epochs_]
    rows = list(recon)
    if X is not None:
        rows.append(np.asarray(X, dtype=np.float32)[callback._indices_])
        labels.append("target")
    n_samples, n_features = recon.shape[1:]
    shape = _resolve_shape(image_shape, n_features)
    grid = image_grid(np.concatenate(rows), shape, nrow=n_samples)
    fig, ax = plt.subplots(figsize=(0.7 * n_samples + 1.2, 0.7 * len(rows) + 0.4))
    _show(ax, grid)
    h = shape[1]
    ax.set_yticks([1 + k * (h + 1) + h / 2 for k in range(len(rows))])
    ax.set_yticklabels(labels, fontsize=8)
    ax.tick_params(length=0)
    fig.tight_layout()
    return fig


def plot_latent_tsne(codes, y, *, X=None, perplexity=30.0, random_state=None):
    """t-SNE maps of the codes of several models, coloured by label.

    Parameters
    ----------
    codes : mapping of str to ndarray or fitted estimator
        Codes of shape (n_samples, latent_dim) by name, or estimators whose
        ``transform(X)`` gives them.
    y : array-like of shape (n_samples,)
        Labels for the colours.
    X : array-like of shape (n_samples, n_features) or None, default=None
        Rows to encode, for the estimators in ``codes``.
    perplexity : float, default=30.0
        Lowered to ``(n_samples - 1) / 3`` for small samples.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.decomposition import PCA
    >>> from skautodec.datasets import load_digits_images
    >>> from skautodec.plotting import plot_latent_tsne
    >>> X, y = load_digits_images(return_X_y=True)
    >>> codes = {"PCA": PCA(8).fit_transform(X[:60])}
    >>> fig = plot_latent_tsne(codes, y[:60], random_state=0)
    >>> plt.close(fig)
    """
    from sklearn.manifold import TSNE

    plt = _pyplot()
    y = np.asarray(y)
    fig, axes = plt.subplots(
        1, len(codes), figsize=(4.2 * len(codes), 4), squeeze=False
    )
    for ax, (name, value) in zip(axes[0], codes.items(), strict=True):
        if hasattr(value, "transform"):
            if X is None:
                raise ValueError(f"Pass X to encode with the estimator {name!r}.")
            value = value.transform(X)
        Z = np.asarray(value, dtype=np.float64)
        if len(Z) != len(y):
            raise ValueError(f"{name!r} has {len(Z)} codes, but y has {len(y)} labels.")
        perp = min(perplexity, max((len(Z) - 1) / 3.0, 1.0))
        emb = TSNE(
            n_components=2, perplexity=perp, init="pca", random_state=random_state
        ).fit_transform(Z)
        points = ax.scatter(emb[:, 0], emb[:, 1], c=y, cmap="tab10", s=6)
        ax.set_title(f"{name} codes (t-SNE)", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(points, ax=list(axes[0]), label="label")
    return fig


def plot_training_curves(models, *, logy=True):
    """Training loss per epoch from each model's ``history_``.

    Parameters
    ----------
    models : mapping
        Fitted estimators by name (or mask key -> estimator, one line each);
        models without ``history_`` (the baselines) are skipped.
    logy : bool, default=True

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skautodec import AutoDecoder
    >>> from skautodec.datasets import make_low_rank
    >>> from skautodec.plotting import plot_training_curves
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=3, random_state=0).fit(X)
    >>> fig = plot_training_curves({"autodecoder": ad})
    >>> len(fig.axes[0].get_lines()[0].get_xdata())  # one point per epoch
    3
    >>> plt.close(fig)
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    lines = 0
    for name, model in models.items():
        items = model.items() if isinstance(model, Mapping) else [(None, model)]
        for key, est in items:
            history = getattr(est, "history_", None)
            if history is None or not len(history):
                continue
            loss = history[:, "train_loss"]
            label = str(name) if key is None else f"{name} [{key}]"
            ax.plot(np.arange(1, len(loss) + 1), loss, label=label)
            lines += 1
    if not lines:
        raise ValueError("No model has a training history (history_) to plot.")
    return _finish_line_plot(fig, ax, "epoch", "training loss (scaled units)", logy)


def _finish_line_plot(fig, ax, xlabel, ylabel, logy):
    """Labels, optional log scale, grid and legend of a one-axes line plot."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
