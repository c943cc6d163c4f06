"""Scorers: how well an estimator fills in entries hidden from it."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.metadata_routing import MetadataRequest, _routing_enabled

from ._reconstruct import reconstruct_rows, with_nan
from .masks import (
    _chw,
    block_mask,
    center_mask,
    check_mask,
    image_shape_of,
    random_mask,
)
from .operators import as_operator

__all__ = ["inverse_problem_scorer", "masked_reconstruction_scorer"]

_PATTERNS = ("random", "center", "block")


@validate_params(
    {
        "missing_fraction": [Interval(Real, 0, 1, closed="right")],
        "pattern": [StrOptions(set(_PATTERNS))],
        "image_shape": [tuple, list, None],
        "size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def masked_reconstruction_scorer(
    missing_fraction=0.25,
    pattern="random",
    *,
    image_shape=None,
    size=None,
    random_state=0,
):
    """A scorer that hides entries of ``X`` and scores how well they are filled in.

    The scorer hides entries of each set it is called on (a validation fold
    in ``GridSearchCV`` or ``cross_val_score``), gives the estimator ``X`` with
    those entries set to NaN, and returns the negative mean squared error of
    the estimator's reconstruction on the hidden entries: higher is better, so
    a grid search picks the parameters that inpaint best.

    Entries that are already missing (NaN, or in a ``mask`` routed to the
    scorer) are never hidden and never scored, since their true values are
    unknown. The estimator never sees the hidden values.

    The reconstruction is ``reconstruct(X)`` for estimators that have it
    (:class:`~skautodec.AutoDecoder`, :class:`~skautodec.ConvAutoEncoder`:
    the score is then their ``score(X, mask=hidden)``), also at the end of a
    ``Pipeline`` of invertible steps that pass NaN through (such as
    ``StandardScaler``); ``transform(X)`` when it keeps every visible entry
    unchanged, as imputers do (:class:`~skautodec.LatentImputer`,
    ``KNNImputer``, ``SimpleImputer``); and ``inverse_transform(transform(X))``
    otherwise.

    Parameters
    ----------
    missing_fraction : float in (0, 1], default=0.25
        Share of the entries to hide. With ``pattern="random"``, each entry
        is hidden with this probability; with ``"center"`` and ``"block"``,
        it sets the side of the hidden square when ``size`` is None:
        ``round(sqrt(missing_fraction) * min(H, W))``, at least 1.
    pattern : {"random", "center", "block"}, default="random"
        ``"random"``: entries hidden independently (any data).
        ``"center"``: the same square at the center of every image.
        ``"block"``: one square at a random place in each image.
    image_shape : tuple of int (C, H, W) or (H, W), or None, default=None
        Image shape for ``"center"`` and ``"block"``. None infers
        ``(1, s, s)`` when ``n_features`` is a perfect square ``s * s`` with
        ``s >= 8``, as the estimators do.
    size : int or None, default=None
        Side of the hidden square for ``"center"`` and ``"block"``; None
        derives it from ``missing_fraction``.
    random_state : int, RandomState instance or None, default=0
        Seeds ``"random"`` and ``"block"``. With an int, every call on data
        of the same shape hides the same entries, so all candidates of a
        grid search are scored on the same hidden entries.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None, mask=None)`` returns a float. ``mask``
        (True = missing) marks entries that are already missing; with
        metadata routing enabled, ``scorer.set_score_request(mask=True)``
        has ``GridSearchCV`` pass each validation fold's part of it.

    See Also
    --------
    skautodec.masks : The masks behind the patterns.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skautodec import AutoDecoder
    >>> from skautodec.datasets import make_low_rank
    >>> from skautodec.metrics import masked_reconstruction_scorer
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=5, transform_max_iter=10,
    ...                  random_state=0)
    >>> scorer = masked_reconstruction_scorer(missing_fraction=0.3)
    >>> scores = cross_val_score(ad, X, cv=2, scoring=scorer)
    >>> bool((scores < 0).all())
    True
    """
    if image_shape is not None:
        image_shape = _chw(image_shape)
    return _MaskedReconstructionScorer(
        missing_fraction=missing_fraction,
        pattern=pattern,
        image_shape=image_shape,
        size=size,
        random_state=random_state,
    )


class _MaskedReconstructionScorer:
    """Callable made by :func:`masked_reconstruction_scorer`."""

    def __init__(self, missing_fraction, pattern, image_shape, size, random_state):
        self.missing_fraction = missing_fraction
        self.pattern = pattern
        self.image_shape = image_shape
        self.size = size
        self.random_state = random_state
        self._request_mask = None

    def __repr__(self):
        args = [
            f"missing_fraction={self.missing_fraction!r}",
            f"pattern={self.pattern!r}",
        ]
        if self.image_shape is not None:
            args.append(f"image_shape={self.image_shape!r}")
        if self.size is not None:
            args.append(f"size={self.size!r}")
        args.append(f"random_state={self.random_state!r}")
        return f"masked_reconstruction_scorer({', '.join(args)})"

    # ------------------------------------------------------------- routing
    def set_score_request(self, *, mask=None):
        """Request ``mask`` (entries already missing) from metadata routing.

        Parameters
        ----------
        mask : bool, str or None, default=None
            True to receive ``mask``, False not to, or an alias.

        Returns
        -------
        self
        """
        if not _routing_enabled():
            raise RuntimeError(
                "set_score_request is only available when metadata routing is "
                "enabled: use sklearn.config_context(enable_metadata_routing=True)."
            )
        self._request_mask = mask
        return self

    def get_metadata_routing(self):
        """The scorer's metadata request (``mask`` for ``score`` if set)."""
        request = MetadataRequest(owner=self)
        if self._request_mask is not None:
            request.score.add_request(param="mask", alias=self._request_mask)
        return request

    # ------------------------------------------------------------- scoring
    def _hidden(self, n_samples, n_features):
        if self.pattern == "random":
            return random_mask(
                n_samples,
                n_features,
                self.missing_fraction,
                random_state=check_random_state(self.random_state),
            )
        shape = image_shape_of(n_features, self.image_shape, required=True)
        size = self.size
        if size is None:
            size = max(1, round(math.sqrt(self.missing_fraction) * min(shape[1:])))
        if self.pattern == "center":
            return np.broadcast_to(center_mask(shape, size), (n_samples, n_features))
        return block_mask(
            n_samples, shape, size, random_state=check_random_state(self.random_state)
        )

    def __call__(self, estimator, X, y=None, mask=None):
        """Negative MSE of ``estimator``'s reconstruction on hidden entries.

        Parameters
        ----------
        estimator : fitted estimator
        X : array-like of shape (n_samples, n_features)
            Complete or incomplete rows (NaN = missing).
        y : None
            Ignored.
        mask : array-like of bool, shape (n_samples, n_features) or \
(n_features,), default=None
            True where an entry is already missing; such entries are
            neither hidden nor scored.

        Returns
        -------
        score : float
        """
        values = _as_float_array(X)
        if values.ndim != 2:
            raise ValueError(
                f"X must be 2-dimensional; got an array of shape {values.shape}."
            )
        known = ~np.isnan(values) & ~check_mask(mask, values.shape)
        hidden = self._hidden(*values.shape) & known
        if not hidden.any():
            raise ValueError(
                "masked_reconstruction_scorer hid no entry with a known value: "
                "raise missing_fraction or size, or check that X has observed "
                "entries."
            )
        recon = _reconstruct(estimator, X, ~known | hidden)
        if not np.isfinite(recon[hidden]).all():
            raise ValueError(
                f"{type(estimator).__name__} returned non-finite values at the "
                "hidden entries."
            )
        return -float(np.mean((recon[hidden] - values[hidden]) ** 2))


def inverse_problem_scorer(operator, *, random_state=0):
    """A scorer that measures ``X`` through ``operator`` and scores how well
    whole rows are rebuilt from the measurements.

    Each validation fold is measured through the operator, with Gaussian noise
    of its ``noise_std`` drawn from ``random_state``; the estimator
    reconstructs the rows from the measurements alone
    (``reconstruct(Y, operator=operator)``), and the score is the negative
    mean squared error against ``X``: higher is better, so that
    ``GridSearchCV`` picks the settings that solve the inverse problem best.

    Parameters
    ----------
    operator : skautodec.operators operator, array or sparse matrix
        What is measured of each row (:mod:`skautodec.operators`).
    random_state : int, RandomState instance or None, default=0
        Seeds the noise: with an int, every candidate of a search sees the
        same measurements.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)`` returns a float.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import cross_val_score
    >>> from skautodec import AutoDecoder
    >>> from skautodec.datasets import make_low_rank
    >>> from skautodec.metrics import inverse_problem_scorer
    >>> X = make_low_rank(n_samples=30, n_features=6, random_state=0)
    >>> A = np.random.default_rng(0).normal(size=(3, 6))
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=5, random_state=0)
    >>> scores = cross_val_score(ad, X, cv=2, scoring=inverse_problem_scorer(A))
    >>> bool((scores < 0).all())
    True
    """
    return _InverseProblemScorer(as_operator(operator), random_state)


class _InverseProblemScorer:
    """Callable made by :func:`inverse_problem_scorer`."""

    def __init__(self, operator, random_state):
        self.operator = operator
        self.random_state = random_state

    def __repr__(self):
        return (
            f"inverse_problem_scorer({self.operator!r}, "
            f"random_state={self.random_state!r})"
        )

    def __call__(self, estimator, X, y=None):
        X = _as_float_array(X)
        if X.ndim != 2 or np.isnan(X).any():
            raise ValueError(
                "inverse_problem_scorer measures X through the operator: X must "
                f"be 2-D and complete; got shape {X.shape}"
                + (" with NaN." if X.ndim == 2 else ".")
            )
        seed = self.random_state
        if not isinstance(seed, np.random.RandomState):
            seed = check_random_state(seed)
        image_shape = getattr(estimator, "image_shape_", None)
        Y = self.operator.measure(X, image_shape, random_state=seed)
        recon = np.asarray(
            estimator.reconstruct(Y, operator=self.operator), dtype=np.float64
        )
        return -float(np.mean((_check_shape(recon, X.shape) - X) ** 2))


def _as_float_array(X):
    try:
        return np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"X must hold numbers to be scored; got {type(X).__name__}."
        ) from exc


def _reconstruct(estimator, X, unseen):
    """The estimator's reconstruction of ``X`` with ``unseen`` entries as NaN."""
    with warnings.catch_warnings():
        # Rows whose known entries are all hidden get the prior code: expected.
        warnings.filterwarnings(
            "ignore", message=".*no observed entry", category=UserWarning
        )
        recon = reconstruct_rows(estimator, with_nan(X, unseen))
    return _check_shape(np.asarray(recon, dtype=np.float64), unseen.shape)


def _check_shape(recon, shape):
    if recon.shape != shape:
        raise ValueError(
            f"The reconstruction has shape {recon.shape}, but X has shape {shape}."
        )
    return recon
