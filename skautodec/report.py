"""Compare fitted models on masked data: tidy tables, the study, interpolation.

A *model* here is anything with ``reconstruct(X, mask=None)`` (the baselines
:class:`MeanFill`, :class:`KNNFill` and :class:`PCAFill`) or with
``transform(X, mask=None)`` and ``inverse_transform(Z)`` (the estimators).
:func:`compare` takes models by name, and a name may map to one fitted model
per mask (a model trained with that mask).
"""

import copy
import math
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import Bunch

from ._baselines import KNNFill, MeanFill, PCAFill
from ._reconstruct import reconstruct_rows
from .masks import check_mask

__all__ = [
    "KNNFill",
    "MeanFill",
    "PCAFill",
    "STUDY_MODELS",
    "compare",
    "fit_study",
    "interpolate",
    "reconstruct",
    "to_markdown",
    "wide_table",
    "with_refinement",
]

#: Names of the models :func:`~skautodec.report.fit_study` returns, in order.
STUDY_MODELS = (
    "autoencoder",
    "autoencoder (mask in fit)",
    "autoencoder + refinement",
    "autodecoder",
    "mean image",
    "KNN imputer",
    "PCA fill",
)


def reconstruct(estimator, X, mask=None):
    """Reconstruction of ``X`` by a fitted model, from the entries ``mask``
    leaves visible.

    ``estimator.reconstruct(X, mask=mask)`` when the model has it (also at
    the end of a ``Pipeline``), the output of an imputer, else
    ``estimator.inverse_transform(estimator.transform(X))``, hidden entries
    set to NaN.

    Parameters
    ----------
    estimator : fitted model
    X : array-like of shape (n_samples, n_features)
    mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
        True where an entry is hidden from the model.

    Returns
    -------
    X_hat : ndarray of shape (n_samples, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.report import MeanFill, reconstruct
    >>> X = np.array([[0.0, 2.0], [2.0, 4.0]])
    >>> reconstruct(MeanFill().fit(X), X, mask=[False, True])
    array([[0., 3.],
           [2., 3.]], dtype=float32)
    """
    return np.asarray(reconstruct_rows(estimator, X, mask=mask))


def with_refinement(estimator, transform_max_iter=100, **params):
    """A copy of a fitted ConvAutoEncoder whose ``transform`` refines the
    encoder's codes on the observed entries (the encoder warm start).

    ``sklearn.base.clone`` would drop the fitted weights, so the fitted model is
    deep-copied and its parameters set.

    Parameters
    ----------
    estimator : fitted ConvAutoEncoder
    transform_max_iter : int, default=100
        Adam steps of the refinement.
    **params
        Other parameters to set, e.g. ``transform_lr``.

    Returns
    -------
    refined : ConvAutoEncoder

    Examples
    --------
    >>> from skautodec import ConvAutoEncoder
    >>> from skautodec.datasets import make_low_rank
    >>> from skautodec.report import with_refinement
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> ae = ConvAutoEncoder(latent_dim=2, max_epochs=2, random_state=0).fit(X)
    >>> refined = with_refinement(ae, transform_max_iter=10)
    >>> ae.transform_max_iter, refined.transform_max_iter
    (0, 10)
    """
    return copy.deepcopy(estimator).set_params(
        transform_max_iter=transform_max_iter, **params
    )


def _check_mapping(value, name):
    if not isinstance(value, Mapping) or not value:
        raise TypeError(
            f"{name} must be a non-empty mapping (e.g. a dict) of name -> "
            f"value; got {type(value).__name__}."
        )
    return value


def _model_for(models, name, key):
    model = models[name]
    if isinstance(model, Mapping):
        if key not in model:
            raise ValueError(
                f"Model {name!r} has one estimator per mask, but none for mask "
                f"{key!r}; it has {list(model)}."
            )
        return model[key]
    return model


def _lookup(seconds, name, key):
    if seconds is None or name not in seconds:
        return np.nan
    value = seconds[name]
    if isinstance(value, Mapping):
        return float(value.get(key, np.nan))
    return float(value)


def _psnr(mse, data_range):
    if not np.isfinite(mse):
        return np.nan
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def _mse(err, where):
    return float(err[where].mean()) if where.any() else np.nan


def compare(models, X, masks, *, fit_seconds=None, data_range=1.0, progress=False):
    """Score fitted models on ``X`` under each mask: one row per (model, mask).

    Every model sees the entries each mask leaves visible and reconstructs the
    whole row. Errors are taken against ``X``: on the hidden entries, on the
    observed ones and on all of them. NaN entries of ``X`` are never scored.

    Parameters
    ----------
    models : mapping of str to fitted model, or to a mapping of mask key to
        fitted model
        Models by name (see :func:`reconstruct`). A name may map to one model
        per mask, keyed like ``masks``, for models trained with that mask.
    X : array-like of shape (n_samples, n_features)
        Test rows, complete where they are scored.
    masks : mapping of key to array-like of bool
        Masks (True = hidden) of shape (n_features,) or (n_samples,
        n_features), by key (e.g. the hole size); the key fills the ``mask``
        column.
    fit_seconds : mapping or None, default=None
        Training time by model name (a float, or a mapping of mask key to
        float), copied into the ``fit_seconds`` column.
    data_range : float, default=1.0
        Peak-to-peak value range for the PSNR (1 for images in [0, 1]).
    progress : bool, default=False
        Show a progress bar.

    Returns
    -------
    results : pandas.DataFrame
        Columns ``model``, ``mask``, ``missing_fraction``, ``mse_hidden``,
        ``mse_observed``, ``mse_all``, ``psnr_hidden``, ``psnr_all`` (in dB,
        from the MSE and ``data_range``), ``fit_seconds``,
        ``transform_seconds`` and ``n_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.report import MeanFill
    >>> from skautodec.report import compare
    >>> X = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> df = compare({"mean": MeanFill().fit(X)}, X, {"first": [True, False]})
    >>> df[["model", "mask", "mse_hidden", "mse_observed"]]
      model   mask  mse_hidden  mse_observed
    0  mean  first        0.25           0.0
    """
    _check_mapping(models, "models")
    _check_mapping(masks, "masks")
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got {X.shape}.")
    if not data_range > 0:
        raise ValueError(f"data_range must be positive; got {data_range!r}.")
    known = ~np.isnan(X)
    checked = {key: check_mask(m, X.shape) for key, m in masks.items()}
    jobs = [(name, key) for name in models for key in checked]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc="compare")
    rows = []
    for name, key in jobs:
        if progress:
            jobs.set_postfix_str(f"{name} / {key}")
        mask = checked[key]
        model = _model_for(models, name, key)
        start = time.perf_counter()
        X_hat = reconstruct(model, X, mask=mask)
        seconds = time.perf_counter() - start
        if X_hat.shape != X.shape:
            raise ValueError(
                f"Model {name!r} returned shape {X_hat.shape} for X of shape {X.shape}."
            )
        err = (X_hat.astype(np.float64) - np.where(known, X, 0.0)) ** 2
        hidden, observed = mask & known, ~mask & known
        mse_hidden, mse_all = _mse(err, hidden), _mse(err, known)
        rows.append(
            {
                "model": name,
                "mask": key,
                "missing_fraction": float(mask.mean()),
                "mse_hidden": mse_hidden,
                "mse_observed": _mse(err, observed),
                "mse_all": mse_all,
                "psnr_hidden": _psnr(mse_hidden, data_range),
                "psnr_all": _psnr(mse_all, data_range),
                "fit_seconds": _lookup(fit_seconds, name, key),
                "transform_seconds": seconds,
                "n_samples": len(X),
            }
        )
    return pd.DataFrame(rows)


def wide_table(results, values="mse_hidden", index="mask", columns="model"):
    """One metric of :func:`~skautodec.report.compare`'s table, masks down and
    models across.

    Parameters
    ----------
    results : pandas.DataFrame
        As returned by :func:`compare`.
    values : str, default="mse_hidden"
    index : str, default="mask"
    columns : str, default="model"

    Returns
    -------
    table : pandas.DataFrame
        Rows and columns in order of first appearance.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.report import MeanFill, compare, wide_table
    >>> X = np.array([[0.0, 1.0], [1.0, 1.0]])
    >>> masks = {"first": [True, False], "second": [False, True]}
    >>> results = compare({"mean": MeanFill().fit(X)}, X, masks)
    >>> table = wide_table(results, "mse_hidden")
    >>> table.index.tolist(), table.columns.tolist()
    (['first', 'second'], ['mean'])
    >>> table["mean"].tolist()
    [0.25, 0.0]
    """
    for col in (values, index, columns):
        if col not in results.columns:
            raise ValueError(
                f"results has no column {col!r}; it has {list(results.columns)}."
            )
    table = results.pivot(index=index, columns=columns, values=values)
    table = table.reindex(
        index=pd.unique(results[index]), columns=pd.unique(results[columns])
    )
    table.columns.name = None
    return table


def _cell(value, floatfmt):
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        return format(float(value), floatfmt)
    return str(value).replace("|", "\\|")


def to_markdown(table, floatfmt=".4g", index=True):
    """A DataFrame as a GitHub Markdown table (no extra dependency).

    Parameters
    ----------
    table : pandas.DataFrame
    floatfmt : str, default=".4g"
        Format of float cells; NaN cells are left empty.
    index : bool, default=True
        Write the index as the first column.

    Returns
    -------
    markdown : str

    Examples
    --------
    >>> import pandas as pd
    >>> from skautodec.report import to_markdown
    >>> print(to_markdown(pd.DataFrame({"a": [0.123456]}), index=False))
    | a |
    | ---: |
    | 0.1235 |
    """
    header = [_cell(str(c), floatfmt) for c in table.columns]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    rows = [[_cell(v, floatfmt) for v in row] for row in table.itertuples(False)]
    if index:
        header = [_cell(str(table.index.name or ""), floatfmt)] + header
        numeric = [False] + numeric
        rows = [
            [_cell(i, floatfmt)] + row for i, row in zip(table.index, rows, strict=True)
        ]
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---:" if n else "---" for n in numeric) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _slerp(za, zb, alpha):
    na = za / np.maximum(np.linalg.norm(za, axis=-1, keepdims=True), 1e-12)
    nb = zb / np.maximum(np.linalg.norm(zb, axis=-1, keepdims=True), 1e-12)
    omega = np.arccos(np.clip((na * nb).sum(-1, keepdims=True), -1.0, 1.0))
    sin = np.sin(omega)
    linear = sin < 1e-6
    safe = np.where(linear, 1.0, sin)
    wa = np.where(linear, 1.0 - alpha, np.sin((1.0 - alpha) * omega) / safe)
    wb = np.where(linear, alpha, np.sin(alpha * omega) / safe)
    return wa * za + wb * zb


def interpolate(
    estimator, x_a, x_b, alphas=(0.0, 0.25, 0.5, 0.75, 1.0), method="linear"
):
    """Decode points between the codes of two rows.

    Parameters
    ----------
    estimator : fitted AutoDecoder or ConvAutoEncoder
    x_a, x_b : array-like of shape (n_features,) or (n_pairs, n_features)
        End points; their codes are ``estimator.transform``'s.
    alphas : sequence of float, default=(0, .25, .5, .75, 1)
        Positions between the codes, 0 at ``x_a`` and 1 at ``x_b``.
    method : {"linear", "slerp"}, default="linear"
        Straight line, or spherical interpolation (slerp: along the great
        circle between the codes' directions, as for Gaussian codes).

    Returns
    -------
    images : ndarray of shape (len(alphas), n_features) or (n_pairs,
        len(alphas), n_features)
        Decoded rows, in the input's units.

    Examples
    --------
    >>> from skautodec import AutoDecoder
    >>> from skautodec.datasets import make_low_rank
    >>> from skautodec.report import interpolate
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=2, transform_max_iter=5, tol=0,
    ...                  random_state=0).fit(X)
    >>> interpolate(ad, X[0], X[1], alphas=[0.0, 0.5, 1.0]).shape
    (3, 6)
    >>> interpolate(ad, X[:4], X[4:8], method="slerp").shape
    (4, 5, 6)
    """
    if method not in ("linear", "slerp"):
        raise ValueError(f"method must be 'linear' or 'slerp'; got {method!r}.")
    xa, xb = np.asarray(x_a, dtype=np.float32), np.asarray(x_b, dtype=np.float32)
    if xa.shape != xb.shape or xa.ndim not in (1, 2):
        raise ValueError(
            "x_a and x_b must have the same shape, (n_features,) or (n_pairs, "
            f"n_features); got {xa.shape} and {xb.shape}."
        )
    single = xa.ndim == 1
    xa, xb = np.atleast_2d(xa), np.atleast_2d(xb)
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    if alphas.size == 0 or not np.isfinite(alphas).all():
        raise ValueError(f"alphas must be finite numbers; got {alphas!r}.")
    if not (
        hasattr(estimator, "transform") and hasattr(estimator, "inverse_transform")
    ):
        raise TypeError(
            f"{type(estimator).__name__} has no transform/inverse_transform to "
            "interpolate codes with."
        )
    Z = np.asarray(estimator.transform(np.vstack([xa, xb])), dtype=np.float64)
    za, zb = Z[: len(xa), None, :], Z[len(xa) :, None, :]  # (n, 1, d)
    a = alphas[None, :, None]
    if method == "linear":
        codes = (1.0 - a) * za + a * zb
    else:
        codes = _slerp(za, zb, a)
    n, k, d = codes.shape
    images = np.asarray(
        estimator.inverse_transform(codes.reshape(n * k, d).astype(np.float32))
    ).reshape(n, k, -1)
    return images[0] if single else images


def fit_study(
    X,
    masks,
    *,
    autoencoder,
    autodecoder,
    refine_max_iter=100,
    baselines=True,
    progress=False,
):
    """Fit the reference study's models on training rows ``X``.

    The study's experiments, each a model of :data:`STUDY_MODELS`:

    1. ``"autoencoder"``: a ConvAutoEncoder trained on complete rows; at test
       time it is fed the masked rows.
    2. ``"autoencoder (mask in fit)"``: one ConvAutoEncoder per mask, trained
       with that mask (``fit(X, mask=m)``): the encoder sees the hole and the
       loss covers the observed entries only.
    3. ``"autodecoder"``: an AutoDecoder trained on complete rows whose
       ``transform`` fits codes to the observed entries.

    Also ``"autoencoder + refinement"``, experiment 1's model with codes
    refined on the observed entries (:func:`with_refinement`), and baselines.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training rows.
    masks : mapping of key to array-like of bool
        Masks of experiment 2, keyed as for :func:`compare`.
    autoencoder : ConvAutoEncoder
        Settings of the autoencoders (cloned; not fitted in place).
    autodecoder : AutoDecoder
        Settings of the autodecoder (cloned; its callbacks are cloned too: read
        their state from the fitted model's ``net_.callbacks_``).
    refine_max_iter : int, default=100
        Refinement steps; 0 leaves out ``"autoencoder + refinement"``.
    baselines : bool or mapping of str to estimator, default=True
        True adds mean-image, ``KNNImputer`` (5 neighbours) and PCA (rank:
        the fitted autodecoder's code size) fills; a mapping gives other baselines by
        name (fitted on ``X``); False adds none.
    progress : bool, default=False
        Show progress bars over the models and the epochs.

    Returns
    -------
    study : :class:`~sklearn.utils.Bunch`
        ``models`` (name -> fitted model, or mask key -> fitted model for
        experiment 2) and ``fit_seconds`` (the same shape), both ready for
        :func:`compare`.

    Examples
    --------
    >>> from skautodec import AutoDecoder, ConvAutoEncoder
    >>> from skautodec.datasets import make_low_rank
    >>> from skautodec.report import fit_study
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> settings = {"latent_dim": 2, "max_epochs": 2, "random_state": 0}
    >>> study = fit_study(
    ...     X,
    ...     {"last half": [False] * 3 + [True] * 3},
    ...     autoencoder=ConvAutoEncoder(**settings),
    ...     autodecoder=AutoDecoder(transform_max_iter=5, **settings),
    ...     refine_max_iter=5,
    ... )
    >>> list(study.models)
    ['autoencoder', 'autoencoder (mask in fit)', 'autoencoder + refinement', \
'autodecoder', 'mean image', 'KNN imputer', 'PCA fill']
    """
    _check_mapping(masks, "masks")
    X = np.asarray(X, dtype=np.float32)
    default_baselines = baselines is True
    if default_baselines:
        baselines = {
            "mean image": MeanFill(),
            "KNN imputer": KNNFill(n_neighbors=5),
            "PCA fill": PCAFill(random_state=autodecoder.random_state),
        }
    elif baselines is False or baselines is None:
        baselines = {}
    else:
        _check_mapping(baselines, "baselines")
    plan = [("autoencoder", autoencoder, None)]
    plan += [("autoencoder (mask in fit)", autoencoder, key) for key in masks]
    plan += [("autodecoder", autodecoder, None)]
    plan += [(name, est, None) for name, est in baselines.items()]
    steps = plan
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(plan, desc="fit")
    models, seconds = {}, {}
    for name, template, key in steps:
        label = name if key is None else f"{name} [{key}]"
        if progress:
            steps.set_postfix_str(label)
        est = clone(template)
        if default_baselines and name == "PCA fill":
            # the autodecoder's code size, resolved in its fit ("auto")
            est.set_params(n_components=models["autodecoder"].latents_.shape[1])
        bar = progress and "callbacks" in est.get_params(deep=False)
        if bar:
            from .callbacks import _EpochProgress

            callbacks = est.callbacks
            est.set_params(callbacks=[*(callbacks or []), _EpochProgress(label)])
        start = time.perf_counter()
        if key is None:
            est.fit(X)
        else:
            est.fit(X, mask=check_mask(masks[key], X.shape))
        elapsed = time.perf_counter() - start
        if bar:
            est.set_params(callbacks=callbacks)
        if key is None:
            models[name], seconds[name] = est, elapsed
        else:
            models.setdefault(name, {})[key] = est
            seconds.setdefault(name, {})[key] = elapsed
    if refine_max_iter:
        models["autoencoder + refinement"] = with_refinement(
            models["autoencoder"], transform_max_iter=refine_max_iter
        )
        seconds["autoencoder + refinement"] = seconds["autoencoder"]
    order = [n for n in STUDY_MODELS if n in models]
    order += [n for n in models if n not in order]
    return Bunch(
        models={n: models[n] for n in order},
        fit_seconds={n: seconds[n] for n in order},
    )
