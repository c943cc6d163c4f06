"""Every "auto" setting of the estimators, resolved in one place.

:func:`resolve_fit` turns the parameters and the data's shape into the
settings ``fit`` uses, as ``PCA._fit`` resolves ``svd_solver="auto"``: a
pure function, whose every value becomes a public fitted attribute
(``latent_dim_``, ``max_epochs_``, ...). :func:`selection_grid` lists what
``fit`` then chooses on entries held out of training (``_select.py``), and
:func:`test_time` reads what a test-time call uses, where a parameter set
after ``fit`` overrides what "auto" resolved to. The numbers are measured in
``docs/performance.md`` and ``docs/imputation.md``.
"""

from typing import NamedTuple

import numpy as np

__all__ = ["TestTime", "resolve_fit", "selection_grid", "test_time"]

AUTO = "auto"
#: ``transform_penalty``: the Gaussian of the training codes is the prior.
GAUSSIAN = "gaussian"

# Epochs: EPOCH_ROWS / n_samples clipped to EPOCH_RANGE, so that a training
# run costs about the same number of decoder steps whatever the data size
# (each code is only updated once per epoch, so small sets need more epochs).
EPOCH_ROWS = 100_000
EPOCH_RANGE = (10, 100)

# Images: codes of 64, 16 channels, 3 starts of 10 Adam steps from the
# encoder's code (20 from the closest training codes: more steps fill holes
# worse).
IMAGE_LATENT_DIM = 64
IMAGE_CHANNELS = 16
IMAGE_N_INIT = 3
IMAGE_STEPS = {"encoder": 10, "nearest": 20, "zeros": 20}

# Tables: codes of half the features (2 to 64) unless chosen on held-out
# entries among TABLE_CODE_SHARES of them (the last: all but one), a decoder
# of 8 * 16 hidden units, and 5 starts of 50 steps (cheap on tables).
TABLE_CODE_RANGE = (2, 64)
TABLE_CODE_SHARES = (1 / 2, 3 / 4, None)
TABLE_CHANNELS = 16
TABLE_N_INIT = 5
TABLE_STEPS = 50
# The probes that choose a table's settings fill from at most this many
# starts with n_init="auto" (probe_n_init).
PROBE_N_INIT = 3
# Tables of more than LARGE_TABLE rows: a shorter test-time fit (its cost
# grows with the rows, its gain shrinks), batches of BATCH_STEPS per epoch,
# and fewer models in LatentImputer.
LARGE_TABLE = 5000
LARGE_N_INIT = 3
LARGE_STEPS = 30
BATCH_SIZE = 64
BATCH_STEPS = 80
MAX_BATCH_SIZE = 1024
ENSEMBLE = 5
LARGE_ENSEMBLE = 2

# The training codes learn LATENT_LR_FACTOR times faster than the decoder:
# each code is updated once per epoch only.
LATENT_LR_FACTOR = 10

# Measurements through an operator (inverse problems): starts from the
# training codes whose decodes best explain them, more steps than from the
# encoder (see docs/inverse_problems.md).
OPERATOR_N_INIT = 3
OPERATOR_STEPS = 100
# "auto" transform_discrepancy for measurements through an operator: a row's
# fit stops once its loss is what it is expected to be at the truth, so
# that few measurements do not overfit the codes (see
# docs/inverse_problems.md).
OPERATOR_DISCREPANCY = 1.0

# Defaults of the neighbour blend where nothing is chosen on held-out entries.
NEIGHBOR_WEIGHT = 0.5
N_NEIGHBORS = 20
NEIGHBOR_SOURCE = "data"

# Candidates chosen from on held-out entries.
WEIGHT_GRID = np.linspace(0.0, 1.0, 11)
IMAGE_NEIGHBOR_GRID = (5, 10, 20)
TABLE_PENALTY_GRID = (1e-2, 1e-1)
SOURCE_GRID = ("data", "decodes")


def auto_epochs(n_samples):
    """``EPOCH_ROWS / n_samples`` clipped to ``EPOCH_RANGE``."""
    return int(np.clip(round(EPOCH_ROWS / max(n_samples, 1)), *EPOCH_RANGE))


def batch_size(n_samples, image_shape):
    """Training rows per step: 64, and for large tables ``n / BATCH_STEPS``
    (at most ``MAX_BATCH_SIZE``) so that an epoch takes ``BATCH_STEPS``."""
    if image_shape is not None or n_samples <= LARGE_TABLE:
        return BATCH_SIZE
    return int(min(MAX_BATCH_SIZE, -(-n_samples // BATCH_STEPS)))


def ensemble_size(n_samples, images):
    """Models of ``LatentImputer(n_estimators="auto")``: one for images, five
    for tables, two for large ones."""
    if images:
        return 1
    return ENSEMBLE if n_samples <= LARGE_TABLE else LARGE_ENSEMBLE


def table_code_size(n_features, share=1 / 2):
    """``share`` of the features (None: all but one), clipped to
    ``TABLE_CODE_RANGE``."""
    size = n_features - 1 if share is None else share * n_features
    return int(np.clip(round(size), *TABLE_CODE_RANGE))


def table_code_sizes(n_features):
    """The code sizes chosen from for tables with ``latent_dim="auto"``."""
    return sorted({table_code_size(n_features, s) for s in TABLE_CODE_SHARES})


def _pick(params, name, auto):
    value = params[name]
    return auto if isinstance(value, str) and value == AUTO else value


def probe_n_init(params, n_init):
    """Starts of a table's probes: a given ``n_init``, else the model's
    resolved ``n_init`` capped at ``PROBE_N_INIT``."""
    return _pick(params, "n_init", min(n_init, PROBE_N_INIT))


def resolve_fit(params, n_samples, n_features, image_shape):
    """The settings of ``fit``, by fitted-attribute name.

    Parameters
    ----------
    params : dict
        The estimator's ``get_params(deep=False)``; settings it lacks are
        left out of the result.
    n_samples, n_features : int
    image_shape : tuple (C, H, W) or None
        None for tabular rows.

    Returns
    -------
    resolved : dict
        ``latent_dim_``, ``channels_``, ``max_epochs_`` and, for an
        AutoDecoder, ``latent_lr_``, ``transform_init_``, ``n_init_``,
        ``transform_max_iter_`` and the defaults of what is chosen on
        held-out entries (``transform_penalty_``, ``neighbor_weight_``,
        ``n_neighbors_``, ``neighbor_source_``).

    Examples
    --------
    >>> from skautodec import AutoDecoder
    >>> from skautodec._resolve import resolve_fit
    >>> params = AutoDecoder().get_params(deep=False)
    >>> resolved = resolve_fit(params, 500, 64, (1, 8, 8))
    >>> resolved["latent_dim_"], resolved["max_epochs_"], resolved["n_init_"]
    (64, 100, 3)
    >>> resolve_fit(params, 5000, 10, None)["latent_dim_"]
    5
    """
    image = image_shape is not None
    out = {
        "latent_dim_": _pick(
            params,
            "latent_dim",
            IMAGE_LATENT_DIM if image else table_code_size(n_features),
        ),
        "channels_": _pick(
            params, "channels", IMAGE_CHANNELS if image else TABLE_CHANNELS
        ),
        "max_epochs_": _pick(params, "max_epochs", auto_epochs(n_samples)),
        "batch_size_": _pick(params, "batch_size", batch_size(n_samples, image_shape)),
    }
    if "transform_init" not in params:
        return out
    init = _pick(params, "transform_init", "encoder" if image else "nearest")
    large = not image and n_samples > LARGE_TABLE
    table_starts = LARGE_N_INIT if large else TABLE_N_INIT
    table_steps = LARGE_STEPS if large else TABLE_STEPS
    latent_lr = params["latent_lr"]
    penalty = params["transform_penalty"]
    out.update(
        latent_lr_=LATENT_LR_FACTOR * params["lr"] if latent_lr is None else latent_lr,
        transform_init_=init,
        n_init_=_pick(params, "n_init", IMAGE_N_INIT if image else table_starts),
        transform_max_iter_=_pick(
            params, "transform_max_iter", IMAGE_STEPS[init] if image else table_steps
        ),
        transform_penalty_=_penalty(
            params["latent_penalty"] if penalty in (None, AUTO) else penalty
        ),
        neighbor_weight_=float(_pick(params, "neighbor_weight", NEIGHBOR_WEIGHT)),
        n_neighbors_=_pick(params, "n_neighbors", N_NEIGHBORS),
        neighbor_source_=_pick(params, "neighbor_source", NEIGHBOR_SOURCE),
    )
    return out


def selection_grid(params, resolved, n_features, image_shape):
    """What ``fit`` chooses on held-out entries: candidates by setting (one
    candidate where the parameter is given), or None when nothing is chosen.

    Images choose ``neighbor_weight``, ``n_neighbors`` and
    ``neighbor_source``; tables ``neighbor_weight``, ``neighbor_source``,
    ``transform_penalty`` and the code size (``latent_dim``). Each is chosen
    where its parameter is "auto".
    """

    def grid(name, candidates):
        if params[name] == AUTO:
            return list(candidates)
        return [resolved[f"{name}_"]]

    auto = [
        "neighbor_weight",
        "neighbor_source",
        "n_neighbors" if image_shape is not None else "transform_penalty",
    ]
    if image_shape is None:
        auto.append("latent_dim")
    if not any(params[name] == AUTO for name in auto):
        return None
    out = {
        "neighbor_weight": grid("neighbor_weight", WEIGHT_GRID),
        "neighbor_source": grid("neighbor_source", SOURCE_GRID),
    }
    if image_shape is not None:
        out["n_neighbors"] = grid("n_neighbors", IMAGE_NEIGHBOR_GRID)
        return out
    penalties = {params["latent_penalty"], *TABLE_PENALTY_GRID}
    out["transform_penalty"] = grid("transform_penalty", sorted(penalties))
    out["latent_dim"] = grid("latent_dim", table_code_sizes(n_features))
    return out


class TestTime(NamedTuple):
    """The settings of a test-time call (``transform``, ``reconstruct``,
    ``score``, ``sample``)."""

    init: str
    n_init: int
    max_iter: int
    penalty: float
    neighbor_weight: float
    n_neighbors: int
    neighbor_source: str
    #: the Gaussian of the training codes is the prior (else ``penalty``
    #: weighs the codes' squared norm)
    prior: bool = False
    #: the decodes get the posterior mean of their error (``_residual``)
    residual: bool = False
    #: a row's fit stops at this multiple of its loss expected at the truth
    #: (``transform_discrepancy``; None: no such stop)
    discrepancy: float | None = None

    def with_penalty(self, penalty, noise_var, n_features):
        """These settings with ``penalty`` (a number, or ``GAUSSIAN``: the
        Gaussian prior, weighed as the MAP reading says, ``noise_var`` over
        the ``n_features`` the data term averages)."""
        if penalty == GAUSSIAN:
            return self._replace(penalty=noise_var / n_features, prior=True)
        return self._replace(penalty=float(penalty), prior=False)


def _penalty(value):
    return value if value == GAUSSIAN else float(value)


def _discrepancy(params, measured, categorical):
    value = params.get("transform_discrepancy")
    if value != AUTO:
        return value
    return OPERATOR_DISCREPANCY if measured and not categorical else None


def test_time(params, fitted, measured=False, linear=False):
    """The settings a test-time call uses: each parameter as it is now, or,
    where it is "auto", what ``fit`` resolved it to (``fitted``, by
    fitted-attribute name); ``transform_penalty=None`` is
    ``latent_penalty``. ``measured``: the rows are measured through an
    operator, whose "auto" starts and steps are ``OPERATOR_N_INIT`` closest
    training codes and ``OPERATOR_STEPS``. ``transform_penalty="gaussian"``
    takes the Gaussian of the training codes as the prior, weighed as the
    MAP reading says (:meth:`TestTime.with_penalty`); "auto" is that prior
    for measurements of images (``fitted["image"]``), ``transform_penalty_``
    otherwise. ``linear``: the operator is linear, where
    ``transform_residual="gaussian"`` corrects the decodes' error (nothing
    else is corrected). "auto"
    ``transform_discrepancy`` is ``OPERATOR_DISCREPANCY`` for measurements
    of numeric rows, None otherwise (``fitted["categorical"]``)."""
    operator = {
        "transform_init_": "nearest",
        "n_init_": OPERATOR_N_INIT,
        "transform_max_iter_": OPERATOR_STEPS,
    }

    def current(name):
        value = params[name]
        if value != AUTO:
            return value
        if measured and f"{name}_" in operator:
            return operator[f"{name}_"]
        return fitted[f"{name}_"]

    penalty = params["transform_penalty"]
    if penalty is None:
        penalty = params["latent_penalty"]
    elif penalty == AUTO and measured and fitted.get("image", False):
        penalty = GAUSSIAN
    elif penalty == AUTO:
        penalty = fitted["transform_penalty_"]
    settings = TestTime(
        init=current("transform_init"),
        n_init=current("n_init"),
        max_iter=current("transform_max_iter"),
        neighbor_weight=float(current("neighbor_weight")),
        n_neighbors=current("n_neighbors"),
        neighbor_source=current("neighbor_source"),
        penalty=0.0,
        residual=linear and params.get("transform_residual") == GAUSSIAN,
        discrepancy=_discrepancy(params, measured, fitted.get("categorical", False)),
    )
    return settings.with_penalty(penalty, fitted["noise_var_"], fitted["n_features"])
