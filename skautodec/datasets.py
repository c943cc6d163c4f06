"""Datasets: image loaders (digits, MNIST, Fashion-MNIST) and generators."""

import gzip
import math
import os
from numbers import Integral

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "get_data_home",
    "load_digits_images",
    "load_fashion_mnist",
    "load_mnist",
    "make_low_rank",
]


def make_low_rank(
    n_samples=100, n_features=16, *, rank=2, noise=0.05, random_state=None
):
    """Rows near a ``rank``-dimensional nonlinear manifold, float32.

    Each row is ``tanh(A @ t) + noise`` for a random ``t`` of size ``rank``
    and a fixed random ``A``: a small dataset an autodecoder with
    ``latent_dim >= rank`` can reconstruct well.

    Parameters
    ----------
    n_samples : int, default=100
    n_features : int, default=16
    rank : int, default=2
        Dimension of the underlying factors.
    noise : float, default=0.05
        Standard deviation of the Gaussian noise added to every entry.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32

    Examples
    --------
    >>> from skautodec.datasets import make_low_rank
    >>> make_low_rank(n_samples=5, n_features=3, random_state=0).shape
    (5, 3)
    """
    generator = check_random_state(random_state)
    factors = generator.normal(size=(n_samples, rank))
    loadings = generator.normal(size=(rank, n_features))
    X = np.tanh(factors @ loadings) + noise * generator.normal(
        size=(n_samples, n_features)
    )
    return X.astype(np.float32)


# --------------------------------------------------------------------- loaders

_ENV_DATA_HOME = "SKAUTODEC_DATA"
_DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def get_data_home(data_home=None):
    """Folder where the loaders look for (and download) data sets.

    In order: ``data_home`` when given, else the environment variable
    ``SKAUTODEC_DATA``, else ``~/skautodec_data``. ``~`` is expanded. The folder
    is not created here.

    Parameters
    ----------
    data_home : str, path-like or None, default=None

    Returns
    -------
    data_home : str

    Examples
    --------
    >>> from skautodec.datasets import get_data_home
    >>> get_data_home("/tmp/data")
    '/tmp/data'
    """
    if data_home is None:
        data_home = os.environ.get(_ENV_DATA_HOME) or os.path.join(
            "~", "skautodec_data"
        )
    return os.path.expanduser(os.fspath(data_home))


def _check_pad(pad):
    if isinstance(pad, bool) or not isinstance(pad, Integral) or pad < 0:
        raise ValueError(f"pad must be a non-negative integer; got {pad!r}.")
    return int(pad)


def _check_n_samples(n_samples, n_available):
    if n_samples is None:
        return n_available
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, Integral)
        or not 1 <= n_samples <= n_available
    ):
        raise ValueError(
            f"n_samples must be None or an integer in [1, {n_available}]; "
            f"got {n_samples!r}."
        )
    return int(n_samples)


def _images_bunch(images, target, pad, n_samples, descr, return_X_y):
    """uint8 (n, H, W) -> Bunch of flattened float32 rows in [0, 1]."""
    n = _check_n_samples(n_samples, len(images))
    images = np.asarray(images[:n])
    if pad:
        images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    _, height, width = images.shape
    data = (images.reshape(n, -1) / np.float32(255.0)).astype(np.float32)
    target = np.asarray(target[:n], dtype=np.int64)
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, image_shape=(1, height, width), DESCR=descr)


def _read_idx(path):
    """Read an IDX file of unsigned bytes (plain or gzipped) into an array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = raw[0] * 256 + raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code != 0x08 or not 1 <= ndim <= 3:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes.")
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(shape):
        raise ValueError(
            f"{path} holds {data.size} values, but its header says {shape}."
        )
    return data.reshape(shape)


def _idx_names(train):
    prefix = "train" if train else "t10k"
    return (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")


def _load_torchvision(name, train, data_home, download):
    """Images and labels through ``torchvision.datasets.<name>``, or None when
    the files are missing and ``download`` is False."""
    from torchvision import datasets

    raw = os.path.join(data_home, name, "raw")
    present = all(os.path.isfile(os.path.join(raw, f)) for f in _idx_names(train))
    if not present and not download:
        return None
    dataset = getattr(datasets, name)(root=data_home, train=train, download=download)
    return dataset.data.numpy(), dataset.targets.numpy()


def _missing_data_error(title, looked_in, loader, extra=""):
    places = "\n".join(f"  {p}" for p in looked_in)
    return FileNotFoundError(
        f"{loader}: no {title} files found. Looked in:\n{places}\n"
        f"Pass download=True to download them with torchvision, or put the four "
        f"IDX files (train-images-idx3-ubyte, ...) in <data_home>/{title}/raw/; "
        f"data_home defaults to ${_ENV_DATA_HOME} or ~/skautodec_data.{extra}"
    )


_MNIST_DESCR = (
    "MNIST handwritten digits (LeCun, Cortes and Burges): 60,000 training and "
    "10,000 test images of 28x28 pixels, labels 0-9."
)
_FASHION_DESCR = (
    "Fashion-MNIST (Xiao, Rasul and Vollgraf; Zalando): 60,000 training and "
    "10,000 test images of 28x28 pixels of clothing, labels 0-9."
)


def load_digits_images(*, return_X_y=False):
    """sklearn's bundled 8x8 digits as images in [0, 1]; needs no download.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``, ndarray of shape (1797, 64), float32 in [0, 1] (rows are
        images flattened in (C, H, W) order); ``target``, ndarray of shape
        (1797,), the digit; ``image_shape``, ``(1, 8, 8)``; ``DESCR``.

    Examples
    --------
    >>> from skautodec.datasets import load_digits_images
    >>> digits = load_digits_images()
    >>> digits.data.shape, digits.image_shape, float(digits.data.max())
    ((1797, 64), (1, 8, 8), 1.0)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    data = (digits.data / 16.0).astype(np.float32)
    target = digits.target.astype(np.int64)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        image_shape=(1, 8, 8),
        DESCR="sklearn's 8x8 handwritten digits (UCI), scaled to [0, 1].",
    )


def load_mnist(
    *,
    train=True,
    n_samples=None,
    pad=2,
    data_home=None,
    download=False,
    return_X_y=False,
):
    """MNIST digits through ``torchvision.datasets.MNIST``, as flattened rows.

    Reads the IDX files in ``<data_home>/MNIST/raw/`` (torchvision's layout);
    with ``download=True`` torchvision fetches them first when they are missing.

    Parameters
    ----------
    train : bool, default=True
        The official training split (60,000 images) or the test split (10,000).
    n_samples : int or None, default=None
        Keep the first ``n_samples`` images of the split; None keeps all.
    pad : int, default=2
        Zero pixels added on each side: the default makes 32x32 images.
    data_home : str, path-like or None, default=None
        See :func:`get_data_home`.
    download : bool, default=False
        Download the files with torchvision when they are missing.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data``, ndarray of shape (n_samples, (28 + 2 * pad) ** 2), float32
        in [0, 1]; ``target``, ndarray of int64 labels; ``image_shape``,
        ``(1, 28 + 2 * pad, 28 + 2 * pad)``; ``DESCR``.

    Raises
    ------
    FileNotFoundError
        When the files are missing and ``download`` is False.

    Examples
    --------
    With the four files in ``~/skautodec_data/MNIST/raw/`` (or with
    ``download=True``), the first 1,000 training images, padded to 32x32:

    >>> from skautodec.datasets import load_mnist
    >>> mnist = load_mnist(n_samples=1000)  # doctest: +SKIP
    >>> mnist.data.shape, mnist.image_shape  # doctest: +SKIP
    ((1000, 1024), (1, 32, 32))

    Without them, the error says where the loader looked:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as home:
    ...     load_mnist(data_home=home)
    Traceback (most recent call last):
    ...
    FileNotFoundError: load_mnist: no MNIST files found. Looked in:...
    """
    pad = _check_pad(pad)
    home = get_data_home(data_home)
    loaded = _load_torchvision("MNIST", train, home, download)
    if loaded is None:
        raise _missing_data_error(
            "MNIST", [os.path.join(home, "MNIST", "raw")], "load_mnist"
        )
    return _images_bunch(*loaded, pad, n_samples, _MNIST_DESCR, return_X_y)


def load_fashion_mnist(
    *,
    train=True,
    n_samples=None,
    pad=2,
    data_home=None,
    download=False,
    return_X_y=False,
):
    """Fashion-MNIST through ``torchvision.datasets.FashionMNIST``, as rows.

    Looks in ``<data_home>/FashionMNIST/raw/`` (torchvision's layout), then in
    ``/usr/share/datasets/fashion-mnist/``, where Debian's
    ``dataset-fashion-mnist`` package puts the four gzipped IDX files; with
    ``download=True`` torchvision fetches the files when neither has them.

    Parameters
    ----------
    train : bool, default=True
        The official training split (60,000 images) or the test split (10,000).
    n_samples : int or None, default=None
        Keep the first ``n_samples`` images of the split; None keeps all.
    pad : int, default=2
        Zero pixels added on each side: the default makes 32x32 images.
    data_home : str, path-like or None, default=None
        See :func:`get_data_home`.
    download : bool, default=False
        Download the files with torchvision when they are missing.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_mnist`.

    Raises
    ------
    FileNotFoundError
        When no files are found and ``download`` is False.

    Examples
    --------
    The loader reads the four IDX files (torchvision's layout); here three
    blank images per split, written in that format into a temporary
    ``data_home``:

    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> from skautodec.datasets import load_fashion_mnist
    >>> home = tempfile.mkdtemp()
    >>> raw = os.path.join(home, "FashionMNIST", "raw")
    >>> os.makedirs(raw)
    >>> def write_idx(name, array):  # 0, 0, type 8 (bytes), rank, then sizes
    ...     sizes = b"".join(n.to_bytes(4, "big") for n in array.shape)
    ...     with open(os.path.join(raw, name), "wb") as f:
    ...         f.write(bytes([0, 0, 8, array.ndim]) + sizes + array.tobytes())
    >>> for split in ("train", "t10k"):
    ...     write_idx(f"{split}-images-idx3-ubyte", np.zeros((3, 28, 28), "u1"))
    ...     write_idx(f"{split}-labels-idx1-ubyte", np.arange(3, dtype="u1"))
    >>> fashion = load_fashion_mnist(data_home=home)
    >>> fashion.data.shape, fashion.image_shape, fashion.target.tolist()
    ((3, 1024), (1, 32, 32), [0, 1, 2])
    >>> X, y = load_fashion_mnist(data_home=home, pad=0, return_X_y=True)
    >>> X.shape
    (3, 784)
    >>> shutil.rmtree(home)
    """
    pad = _check_pad(pad)
    home = get_data_home(data_home)
    loaded = _load_torchvision("FashionMNIST", train, home, False)
    if loaded is None:
        debian = [
            os.path.join(_DEBIAN_FASHION_MNIST, f + ".gz") for f in _idx_names(train)
        ]
        if all(os.path.isfile(p) for p in debian):
            loaded = tuple(_read_idx(p) for p in debian)
        elif download:
            loaded = _load_torchvision("FashionMNIST", train, home, True)
        else:
            raise _missing_data_error(
                "FashionMNIST",
                [os.path.join(home, "FashionMNIST", "raw"), _DEBIAN_FASHION_MNIST],
                "load_fashion_mnist",
                " On Debian, `apt-get install dataset-fashion-mnist` provides them.",
            )
    return _images_bunch(*loaded, pad, n_samples, _FASHION_DESCR, return_X_y)
