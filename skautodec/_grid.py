"""Image grids for the figures (``skautodec.plotting``): rows to RGB tiles.

matplotlib is imported only when a figure is drawn.
"""

import numpy as np

from .masks import image_shape_of

__all__ = ["image_grid"]

_HIDDEN_COLOR = (0.85, 0.25, 0.2)


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skautodec.plotting needs matplotlib; install it with "
            "`pip install matplotlib` or `pip install skautodec[plot]`."
        ) from exc
    return plt


def _resolve_shape(image_shape, n_features):
    return image_shape_of(n_features, image_shape, required=True)


def _to_rgb(images, image_shape):
    """Rows (n, F) -> float tensor (n, 3, H, W) clipped to [0, 1]."""
    import torch

    c, h, w = image_shape
    x = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0).reshape(-1, c, h, w)
    if c == 1:
        x = np.repeat(x, 3, axis=1)
    elif c != 3:
        x = np.repeat(x[:, :1], 3, axis=1)
    return torch.as_tensor(x)


def _grid_tensor(rgb, nrow, padding, pad_value):
    from torchvision.utils import make_grid

    grid = make_grid(rgb, nrow=nrow, padding=padding, pad_value=pad_value)
    return grid.permute(1, 2, 0).numpy()


def image_grid(images, image_shape=None, *, nrow=8, padding=1, pad_value=1.0):
    """Tile rows into one RGB picture with ``torchvision.utils.make_grid``.

    Parameters
    ----------
    images : array-like of shape (n_images, n_features)
    image_shape : tuple of int (C, H, W) or (H, W), or None, default=None
        None infers ``(1, s, s)`` from rows of ``s * s`` features, ``s >= 8``.
    nrow : int, default=8
        Images per row of the grid.
    padding : int, default=1
    pad_value : float, default=1.0
        Colour of the padding (1 = white).

    Returns
    -------
    grid : ndarray of shape (height, width, 3), float32 in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.plotting import image_grid
    >>> image_grid(np.zeros((6, 16)), (4, 4), nrow=3, padding=1).shape
    (11, 16, 3)
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 2 or len(images) == 0:
        raise ValueError(
            f"images must be 2-D (n_images, n_features); got {images.shape}."
        )
    shape = _resolve_shape(image_shape, images.shape[1])
    return _grid_tensor(_to_rgb(images, shape), nrow, padding, pad_value)


def _show(ax, grid, title=None):
    if grid is not None:
        ax.imshow(grid, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=9)


def _observed_rgb(X, hidden, image_shape):
    """Rows as RGB images with the hidden pixels painted in the hidden colour.

    A pixel is hidden when its first channel is (masks cover all channels).
    """
    import torch

    rgb = _to_rgb(np.where(hidden, 0.0, X), image_shape)
    hidden_px = torch.as_tensor(hidden.reshape(len(X), *image_shape)[:, 0])
    for ch, value in enumerate(_HIDDEN_COLOR):
        rgb[:, ch][hidden_px] = value
    return rgb


def _spread_grid(std, image_shape, nrow):
    """Per-pixel std rows (n, F) -> one 2-D grid, NaN in the padding.

    Channels are pooled as the root mean of their variances.
    """
    import torch

    c, h, w = image_shape
    std = np.asarray(std, dtype=np.float32).reshape(-1, c, h, w)
    pixel = np.sqrt((std**2).mean(axis=1, keepdims=True))
    return _grid_tensor(torch.as_tensor(pixel), nrow, 1, float("nan"))[..., 0]
