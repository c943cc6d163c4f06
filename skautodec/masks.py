"""Boolean masks (True = missing) for flattened images and tabular rows.

Image masks take ``image_shape`` as ``(C, H, W)`` or ``(H, W)`` and cover
every channel; they are flattened in ``(C, H, W)`` order like the rows the
estimators take.
"""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_array, check_random_state

__all__ = [
    "center_mask",
    "random_mask",
    "half_mask",
    "block_mask",
    "mar_mask",
    "looks_like_pixels",
]

# Smallest side of a square image inferred from n_features (8x8: the digits);
# smaller squares (4, 9, ..., 49 features) are far likelier tables.
MIN_INFERRED_SIDE = 8
# Values read as pixels when inferring images: none negative, and the
# features' median range (of those not constant) at least 1/PIXEL_RANGE_RATIO
# of the largest (one intensity scale, not columns in different units).
PIXEL_RANGE_RATIO = 20


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_count(value, name):
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}.")


def _check_fraction(value, name, low=0.0, high=1.0):
    if (
        not isinstance(value, Real)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}]; got {value!r}.")
    return float(value)


def _chw(image_shape):
    shape = tuple(image_shape) if np.iterable(image_shape) else ()
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or not all(_is_int(s) and s >= 1 for s in shape):
        raise ValueError(
            f"image_shape must be (C, H, W) or (H, W) of positive integers; "
            f"got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)


def looks_like_pixels(X, missing=None):
    """Whether the observed values of ``X`` read as pixel intensities: none
    negative, and on one scale (the median range of the features that vary
    at least ``1 / PIXEL_RANGE_RATIO`` of the largest). A table whose
    columns have different units does not."""
    X = np.asarray(X)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    hidden = ~np.isfinite(X)
    if missing is not None:
        hidden |= missing
    if hidden.all():
        return True
    low = np.where(hidden, np.inf, X).min(axis=0)
    if low.min() < 0:
        return False
    high = np.where(hidden, -np.inf, X).max(axis=0)
    ranges = (high - low)[np.isfinite(low)]
    ranges = ranges[ranges > 0]  # constant pixels (an image's border) aside
    return not ranges.size or np.median(ranges) * PIXEL_RANGE_RATIO >= ranges.max()


def image_shape_of(
    n_features, image_shape=None, *, required=False, X=None, missing=None
):
    """How rows of ``n_features`` are images: the one rule of the package.

    ``image_shape`` ((C, H, W) or (H, W)) is checked against ``n_features``;
    None infers ``(1, s, s)`` when ``n_features == s * s`` with
    ``s >= MIN_INFERRED_SIDE`` (and, where the data ``X`` is given, its values
    off ``missing`` :func:`looks_like_pixels`), and otherwise returns None
    (tabular rows) or, with ``required``, raises a ValueError asking for
    ``image_shape``.
    """
    if image_shape is not None:
        shape = _chw(image_shape)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={shape} has {math.prod(shape)} entries, but X has "
                f"{n_features} features."
            )
        return shape
    side = math.isqrt(n_features)
    square = side * side == n_features and side >= MIN_INFERRED_SIDE
    if square and (X is None or looks_like_pixels(X, missing)):
        return (1, side, side)
    if required:
        raise ValueError(
            f"Rows of {n_features} features are not inferred to be images (a "
            f"square of side {MIN_INFERRED_SIDE} or more): pass "
            "image_shape=(C, H, W)."
        )
    return None


def check_mask(mask, shape):
    """Validate ``mask`` (True = missing) against data of ``shape``.

    Returns a boolean array of ``shape`` (a new array; the input is not
    modified). A mask of shape ``(n_features,)`` is shared by all rows; 0 and
    1 are taken as False and True.
    """
    if mask is None:
        return np.zeros(shape, dtype=bool)
    if hasattr(mask, "toarray") or hasattr(mask, "tocsr"):
        raise TypeError("mask must be a dense array; got a sparse matrix.")
    mask = np.asarray(mask)
    if mask.dtype != bool:
        if mask.dtype.kind not in "iuf":
            raise TypeError(
                f"mask must be boolean (True = missing); got dtype {mask.dtype}."
            )
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(
                "mask must be boolean (True = missing); got values other than 0 and 1."
            )
        mask = mask.astype(bool)
    n_samples, n_features = shape
    if mask.shape == (n_features,):
        return np.broadcast_to(mask, shape).copy()
    if mask.shape != (n_samples, n_features):
        raise ValueError(
            f"mask has shape {mask.shape}, but X has shape {shape}; expected "
            f"({n_samples}, {n_features}) or ({n_features},)."
        )
    return mask.copy()


def _check_size(size, height, width):
    if not _is_int(size) or not 0 <= size <= min(height, width):
        raise ValueError(
            "size must be an integer between 0 and the image's smaller side "
            f"{min(height, width)}; got {size!r}."
        )


def center_mask(image_shape, size):
    """A ``size`` x ``size`` square hidden at the center of the image.

    Parameters
    ----------
    image_shape : tuple of int, (C, H, W) or (H, W)
    size : int
        Side of the hidden square, in pixels.

    Returns
    -------
    mask : ndarray of bool, shape (C * H * W,)

    Examples
    --------
    >>> from skautodec.masks import center_mask
    >>> center_mask((4, 4), 2).reshape(4, 4).astype(int)
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    c, h, w = _chw(image_shape)
    _check_size(size, h, w)
    mask = np.zeros((c, h, w), dtype=bool)
    top, left = (h - size) // 2, (w - size) // 2
    mask[:, top : top + size, left : left + size] = True
    return mask.ravel()


def half_mask(image_shape, side="bottom"):
    """Half of the image hidden: ``"top"``, ``"bottom"``, ``"left"`` or ``"right"``.

    Parameters
    ----------
    image_shape : tuple of int, (C, H, W) or (H, W)
    side : {"top", "bottom", "left", "right"}, default="bottom"
        The hidden half; with an odd side the hidden half is the smaller one.

    Returns
    -------
    mask : ndarray of bool, shape (C * H * W,)

    Examples
    --------
    >>> from skautodec.masks import half_mask
    >>> half_mask((4, 4), "bottom").reshape(4, 4).astype(int)
    array([[0, 0, 0, 0],
           [0, 0, 0, 0],
           [1, 1, 1, 1],
           [1, 1, 1, 1]])
    """
    c, h, w = _chw(image_shape)
    mask = np.zeros((c, h, w), dtype=bool)
    if side == "top":
        mask[:, : h // 2] = True
    elif side == "bottom":
        mask[:, h - h // 2 :] = True
    elif side == "left":
        mask[:, :, : w // 2] = True
    elif side == "right":
        mask[:, :, w - w // 2 :] = True
    else:
        raise ValueError(
            f"side must be 'top', 'bottom', 'left' or 'right'; got {side!r}."
        )
    return mask.ravel()


def random_mask(n_samples, n_features, missing_fraction=0.25, *, random_state=None):
    """Entries hidden independently at random, ``missing_fraction`` on average.

    Works for images and tabular rows alike: missing completely at random
    (MCAR); see :func:`mar_mask` for missingness that depends on other
    columns.

    Parameters
    ----------
    n_samples : int
    n_features : int
    missing_fraction : float in [0, 1], default=0.25
        Probability that an entry is hidden.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    mask : ndarray of bool, shape (n_samples, n_features)

    Examples
    --------
    >>> from skautodec.masks import random_mask
    >>> mask = random_mask(1000, 10, missing_fraction=0.3, random_state=0)
    >>> mask.shape, round(float(mask.mean()), 1)
    ((1000, 10), 0.3)
    """
    _check_count(n_samples, "n_samples")
    _check_count(n_features, "n_features")
    if not 0.0 <= missing_fraction <= 1.0:
        raise ValueError(
            f"missing_fraction must be in [0, 1]; got {missing_fraction!r}."
        )
    generator = check_random_state(random_state)
    return generator.random_sample((n_samples, n_features)) < missing_fraction


def block_mask(n_samples, image_shape, size, *, n_blocks=1, random_state=None):
    """``n_blocks`` squares of side ``size`` hidden at random places per image.

    Parameters
    ----------
    n_samples : int
    image_shape : tuple of int, (C, H, W) or (H, W)
    size : int
        Side of each hidden square, in pixels.
    n_blocks : int, default=1
        Squares per image; they may overlap.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    mask : ndarray of bool, shape (n_samples, C * H * W)

    Examples
    --------
    >>> from skautodec.masks import block_mask
    >>> mask = block_mask(5, (8, 8), 3, random_state=0)
    >>> mask.shape, mask.sum(axis=1).tolist()
    ((5, 64), [9, 9, 9, 9, 9])
    """
    c, h, w = _chw(image_shape)
    _check_size(size, h, w)
    _check_count(n_samples, "n_samples")
    _check_count(n_blocks, "n_blocks")
    generator = check_random_state(random_state)
    mask = np.zeros((n_samples, c, h, w), dtype=bool)
    tops = generator.randint(0, h - size + 1, size=(n_samples, n_blocks))
    lefts = generator.randint(0, w - size + 1, size=(n_samples, n_blocks))
    for b in range(n_blocks):
        rows = tops[:, b, None] + np.arange(size)  # (n, size)
        cols = lefts[:, b, None] + np.arange(size)
        mask[
            np.arange(n_samples)[:, None, None, None],
            np.arange(c)[None, :, None, None],
            rows[:, None, :, None],
            cols[:, None, None, :],
        ] = True
    return mask.reshape(n_samples, -1)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _intercept(score, rate):
    """Intercept ``b`` with ``mean(sigmoid(score + b)) == rate`` (bisection)."""
    low, high = -50.0, 50.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        if _sigmoid(score + mid).mean() < rate:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def mar_mask(X, missing_fraction=0.25, *, observed_fraction=0.3, random_state=None):
    """Entries missing at random (MAR): missingness driven by observed columns.

    A random ``observed_fraction`` of the columns is never hidden. Each other
    column is hidden in a row with probability ``sigmoid(s + b)``, where
    ``s`` is a random linear combination of that row's always-observed
    columns (standardized), scaled to a standard deviation of 2 over the
    rows (a strong dependence: odds ratios of about 7 per standard
    deviation), and the
    intercept ``b`` sets the column's expected share of hidden entries so
    that ``missing_fraction`` of all entries are hidden on average. Whether
    an entry is missing thus depends on values that are observed, never on
    the hidden value itself: missing at random, but not completely at
    random as with :func:`random_mask`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Complete data (no NaN); the always-observed columns drive the mask.
    missing_fraction : float in [0, 1], default=0.25
        Expected share of hidden entries over the whole table. At most the
        share of the columns that may be hidden, ``1 - observed_fraction``
        (rounded to whole columns).
    observed_fraction : float in (0, 1), default=0.3
        Share of the columns that are never hidden and drive the
        missingness of the others; at least one column on each side.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of columns, the weights and the draws.

    Returns
    -------
    mask : ndarray of bool, shape (n_samples, n_features)
        True where an entry is hidden.

    See Also
    --------
    random_mask : Entries missing completely at random (MCAR).

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.masks import mar_mask
    >>> X = np.random.RandomState(0).normal(size=(500, 10))
    >>> mask = mar_mask(X, 0.2, random_state=0)
    >>> mask.shape
    (500, 10)
    >>> bool(abs(mask.mean() - 0.2) < 0.02)
    True
    >>> int((~mask.any(axis=0)).sum())  # columns never hidden
    3
    """
    X = check_array(X, dtype=np.float64, input_name="X")
    missing_fraction = _check_fraction(missing_fraction, "missing_fraction")
    if (
        not isinstance(observed_fraction, Real)
        or isinstance(observed_fraction, bool)
        or not 0.0 < observed_fraction < 1.0
    ):
        raise ValueError(
            f"observed_fraction must be in (0, 1); got {observed_fraction!r}."
        )
    n_samples, n_features = X.shape
    if n_features < 2:
        raise ValueError(
            f"mar_mask needs at least 2 columns (one observed to drive the "
            f"missingness of another); X has {n_features}."
        )
    n_observed = int(np.clip(round(observed_fraction * n_features), 1, n_features - 1))
    n_hidden = n_features - n_observed
    rate = missing_fraction * n_features / n_hidden
    if rate > 1.0 + 1e-12:
        raise ValueError(
            f"missing_fraction={missing_fraction!r} is more than the share of "
            f"columns that may be hidden ({n_hidden}/{n_features} with "
            f"observed_fraction={observed_fraction!r}); lower missing_fraction "
            "or observed_fraction."
        )
    rate = min(rate, 1.0)
    generator = check_random_state(random_state)
    columns = generator.permutation(n_features)
    drivers, hidden = columns[:n_observed], columns[n_observed:]
    Z = X[:, drivers] - X[:, drivers].mean(axis=0)
    std = Z.std(axis=0)
    Z = np.divide(Z, std, out=np.zeros_like(Z), where=std > 0)
    weights = generator.normal(size=(n_observed, n_hidden))
    scores = Z @ weights
    spread = scores.std(axis=0)
    scores = np.divide(
        2.0 * scores, spread, out=np.zeros_like(scores), where=spread > 0
    )
    draws = generator.random_sample((n_samples, n_hidden))
    mask = np.zeros((n_samples, n_features), dtype=bool)
    if rate <= 0.0:
        return mask
    for j, column in enumerate(hidden):
        if rate >= 1.0:
            mask[:, column] = True
            continue
        b = _intercept(scores[:, j], rate)
        mask[:, column] = draws[:, j] < _sigmoid(scores[:, j] + b)
    return mask
