"""Boolean masks (True = missing) for flattened images and tabular rows.

Image masks take ``image_shape`` as ``(C, H, W)`` or ``(H, W)`` and cover
every channel; they are flattened in ``(C, H, W)`` order like the rows the
estimators take.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["center_mask", "random_mask", "half_mask", "block_mask"]


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_count(value, name):
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}.")


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

    Returns
    -------
    mask : ndarray of bool, shape (C * H * W,)
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

    Works for images and tabular rows alike.

    Returns
    -------
    mask : ndarray of bool, shape (n_samples, n_features)
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

    Returns
    -------
    mask : ndarray of bool, shape (n_samples, C * H * W)
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
