"""What a measurement of a row sees: operators for inverse problems.

The estimators' test-time loss is theirs to choose: given measurements
``Y = A(X) + noise`` of unseen rows through a known operator ``A``,
``transform(Y, operator=A)`` fits the code whose decode best explains them
and ``reconstruct(Y, operator=A)`` returns whole rows, in the data's units
(compressed sensing with a generative prior, super-resolution, deblurring).
``A`` acts on whole rows in the data's units and is differentiable:

- a plain array or scipy sparse matrix of shape ``(m, n_features)`` is a
  linear operator (:class:`Linear`), as ``scipy.sparse.linalg.aslinearoperator``
  takes one;
- :class:`Downsample`: block averages of images (super-resolution);
- :class:`GaussianBlur`: a Gaussian blur of images (deblurring);
- :class:`Mask`: the observed entries themselves (the missing-entry mask as
  an operator);
- :class:`Function`: any differentiable torch function.

``noise_std`` is the standard deviation of the measurements' noise (data
units); the prior weighs more where it is larger, as the MAP reading of the
loss says (:doc:`/inverse_problems`). Each operator is checked against the
estimator's ``n_features_in_`` and image shape. ``op.measure(X)`` measures
rows with numpy in and out.
"""

import inspect
import math

import numpy as np
import torch
import torch.nn.functional as F

from .masks import image_shape_of

__all__ = [
    "Downsample",
    "Function",
    "GaussianBlur",
    "Linear",
    "Mask",
    "Operator",
    "as_operator",
]


def _check_noise(noise_std):
    if (
        not isinstance(noise_std, int | float | np.number)
        or isinstance(noise_std, bool)
        or not math.isfinite(noise_std)
        or noise_std < 0
    ):
        raise ValueError(f"noise_std must be a non-negative number; got {noise_std!r}.")
    return float(noise_std)


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


class Operator:
    """Base class: a known map of rows ``(n, n_features)`` (data units) to
    measurements ``(n, m)``, differentiable in torch.

    Subclasses set ``_params`` (the names their ``repr`` shows), ``linear =
    True`` where :meth:`apply` is linear in the rows, and write
    :meth:`n_measurements` (which checks the rows' shape) and :meth:`apply`.

    Parameters
    ----------
    noise_std : float, default=0.0
        Standard deviation of the measurements' noise, in the data's units.
    """

    _params = ("noise_std",)
    #: ``apply`` is linear in the rows (``AutoDecoder``'s
    #: ``transform_residual`` corrects the decodes' error through it)
    linear = False

    def __init__(self, noise_std=0.0):
        self.noise_std = _check_noise(noise_std)

    def __repr__(self):
        defaults = {
            name: p.default
            for name, p in inspect.signature(type(self)).parameters.items()
        }
        args = []
        for name in self._params:
            value = getattr(self, name)
            if name in defaults and _same(value, defaults[name]):
                continue
            args.append(f"{name}={_short(value)}")
        return f"{type(self).__name__}({', '.join(args)})"

    def n_measurements(self, n_features, image_shape=None):
        """Number of measurements of a row of ``n_features`` (of
        ``image_shape``, for image operators); a ValueError where the operator
        does not fit such rows."""
        raise NotImplementedError

    def apply(self, X, image_shape=None):
        """Measurements ``(n, m)`` of rows ``X`` (a float tensor ``(n,
        n_features)``, data units), differentiable."""
        raise NotImplementedError

    def measure(self, X, image_shape=None, *, random_state=None):
        """Measure rows with numpy: ``A(X)``, plus Gaussian noise of
        ``noise_std`` when ``random_state`` is given.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        image_shape : tuple or None, default=None
            The rows' image shape; None infers it as the estimators do.
        random_state : int, RandomState instance or None, default=None
            None measures without noise.

        Returns
        -------
        Y : ndarray of shape (n_samples, m), float32
        """
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got {X.shape}.")
        if image_shape is None:
            image_shape = image_shape_of(X.shape[1])
        self.n_measurements(X.shape[1], image_shape)
        with torch.no_grad():
            Y = self.apply(torch.as_tensor(X), image_shape).numpy()
        if random_state is not None and self.noise_std > 0:
            from sklearn.utils import check_random_state

            noise = check_random_state(random_state).normal(size=Y.shape)
            Y = Y + (self.noise_std * noise).astype(np.float32)
        return Y.astype(np.float32)

    def row_norms_sq(self, offset, scale, image_shape=None):
        """``sum_f (dA_j / dx_f * scale_f)^2`` for each measurement ``j``: how
        much an error of one scaled unit in every entry moves it (the
        Jacobian at ``offset``; exact for a linear operator)."""
        x = torch.as_tensor(np.asarray(offset, dtype=np.float32))
        J = torch.func.jacrev(lambda r: self.apply(r[None], image_shape)[0])(x)
        s = torch.as_tensor(np.broadcast_to(scale, x.shape).astype(np.float32))
        return ((J * s) ** 2).sum(dim=1).detach().numpy()


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _short(value):
    if isinstance(value, np.ndarray) or hasattr(value, "tocsr"):
        kind = "sparse" if hasattr(value, "tocsr") else "array"
        return f"<{kind} {value.shape[0]}x{value.shape[1]}>"
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", type(value).__name__)
    return repr(value)


def _image(shape, n_features, name):
    """The (C, H, W) an image operator works on."""
    shape = image_shape_of(n_features, shape)
    if shape is None:
        raise ValueError(
            f"{name} works on images, but rows of {n_features} features are "
            "tabular; fit the estimator with image_shape=(C, H, W)."
        )
    return shape


class _ImageOperator(Operator):
    """An operator on images: ``image_shape`` None takes the estimator's; a
    given one must be the estimator's."""

    def _shape(self, n_features, image_shape):
        if self.image_shape is not None and image_shape is not None:
            mine = image_shape_of(n_features, self.image_shape)
            if tuple(mine) != tuple(image_shape):
                raise ValueError(
                    f"{self!r} was built for images of shape {mine}, but the "
                    f"estimator's are {tuple(image_shape)}."
                )
        return _image(self.image_shape or image_shape, n_features, type(self).__name__)


class Linear(Operator):
    """A matrix ``A`` of shape ``(m, n_features)``: ``y = A x``.

    Parameters
    ----------
    matrix : ndarray or scipy sparse matrix of shape (m, n_features)
    noise_std : float, default=0.0

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.operators import Linear
    >>> A = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    >>> Linear(A)
    Linear(matrix=<array 2x3>)
    >>> Linear(A).measure([[1.0, 2.0, 3.0]])
    array([[3., 6.]], dtype=float32)
    """

    _params = ("matrix", "noise_std")
    linear = True

    def __init__(self, matrix, noise_std=0.0):
        super().__init__(noise_std)
        if hasattr(matrix, "tocsr"):
            matrix = matrix.tocsr().astype(np.float32)
            values = matrix.data
        else:
            matrix = np.asarray(matrix, dtype=np.float32)
            values = matrix
        if matrix.ndim != 2 or 0 in matrix.shape:
            raise ValueError(
                f"A linear operator is a 2-D matrix (m, n_features); got shape "
                f"{matrix.shape}."
            )
        if not np.isfinite(values).all():
            raise ValueError("The operator's matrix has non-finite entries.")
        self.matrix = matrix
        self._tensors = {}

    def _tensor(self, device):
        key = str(device)
        if key not in self._tensors:
            A = self.matrix
            if hasattr(A, "tocsr"):
                coo = A.tocoo()
                indices = torch.as_tensor(
                    np.vstack([coo.row, coo.col]), dtype=torch.long
                )
                values = torch.as_tensor(coo.data)
                t = torch.sparse_coo_tensor(
                    indices, values, A.shape, check_invariants=True
                ).coalesce()
            else:
                t = torch.as_tensor(A)
            self._tensors[key] = t.to(device)
        return self._tensors[key]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tensors"] = {}
        return state

    def n_measurements(self, n_features, image_shape=None):
        m, width = self.matrix.shape
        if width != n_features:
            raise ValueError(
                f"The operator's matrix has {width} columns, but the rows have "
                f"{n_features} features."
            )
        return m

    def apply(self, X, image_shape=None):
        A = self._tensor(X.device)
        if A.is_sparse:
            return torch.sparse.mm(A, X.T).T
        return X @ A.T

    def row_norms_sq(self, offset, scale, image_shape=None):
        s = np.broadcast_to(
            np.asarray(scale, dtype=np.float64), (self.matrix.shape[1],)
        )
        A = self.matrix
        if hasattr(A, "tocsr"):
            return np.asarray(A.multiply(A).dot(s**2)).ravel()
        return (A.astype(np.float64) ** 2) @ (s**2)


class Downsample(_ImageOperator):
    """Block averages of images by an integer ``factor`` (super-resolution).

    Each measurement is the mean of a ``factor x factor`` block of one
    channel; blocks at the right and bottom edges of images whose side is not
    a multiple of ``factor`` average the pixels there. Measurements are
    low-resolution images ``(C, ceil(H / factor), ceil(W / factor))``,
    flattened.

    Parameters
    ----------
    factor : int >= 1
    image_shape : tuple (C, H, W) or (H, W), or None, default=None
        None takes the estimator's image shape.
    noise_std : float, default=0.0

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.operators import Downsample
    >>> Downsample(2)
    Downsample(factor=2)
    >>> Downsample(2).measure(np.arange(64.0)[None], image_shape=(1, 8, 8)).shape
    (1, 16)
    """

    _params = ("factor", "image_shape", "noise_std")
    linear = True

    def __init__(self, factor, image_shape=None, noise_std=0.0):
        super().__init__(noise_std)
        self.factor = _check_positive_int(factor, "factor")
        self.image_shape = image_shape

    def n_measurements(self, n_features, image_shape=None):
        c, h, w = self._shape(n_features, image_shape)
        if self.factor > min(h, w):
            raise ValueError(
                f"Downsample(factor={self.factor}) is larger than the images' "
                f"side {min(h, w)}."
            )
        return c * math.ceil(h / self.factor) * math.ceil(w / self.factor)

    def apply(self, X, image_shape=None):
        c, h, w = self._shape(X.shape[1], image_shape)
        low = F.avg_pool2d(X.reshape(-1, c, h, w), self.factor, ceil_mode=True)
        return low.reshape(len(X), -1)


class GaussianBlur(_ImageOperator):
    """A Gaussian blur of each channel (deblurring): the kernel's standard
    deviation is ``sigma`` pixels, it is cut at ``truncate * sigma`` and
    normalized to sum 1, and the borders are padded with zeros. Measurements
    are the blurred images, of the images' shape.

    Parameters
    ----------
    sigma : float > 0
    image_shape : tuple (C, H, W) or (H, W), or None, default=None
        None takes the estimator's image shape.
    noise_std : float, default=0.0
    truncate : float, default=4.0

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.operators import GaussianBlur
    >>> blur = GaussianBlur(1.5, noise_std=0.01)
    >>> blur
    GaussianBlur(sigma=1.5, noise_std=0.01)
    >>> X = np.zeros((1, 64)); X[0, 27] = 1.0
    >>> Y = blur.measure(X, image_shape=(1, 8, 8))
    >>> Y.shape, round(float(Y.sum()), 2)  # the zero padding takes the rest
    ((1, 64), 0.98)
    """

    _params = ("sigma", "image_shape", "noise_std", "truncate")
    linear = True

    def __init__(self, sigma, image_shape=None, noise_std=0.0, truncate=4.0):
        super().__init__(noise_std)
        for name, value in (("sigma", sigma), ("truncate", truncate)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float | np.number)
                or not value > 0
                or not math.isfinite(value)
            ):
                raise ValueError(f"{name} must be a positive number; got {value!r}.")
        self.sigma = float(sigma)
        self.truncate = float(truncate)
        self.image_shape = image_shape

    def kernel(self):
        """The 1-D kernel, normalized to sum 1 (the blur is separable)."""
        radius = max(1, int(self.truncate * self.sigma + 0.5))
        t = torch.arange(-radius, radius + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / self.sigma) ** 2)
        return k / k.sum()

    def n_measurements(self, n_features, image_shape=None):
        return math.prod(self._shape(n_features, image_shape))

    def apply(self, X, image_shape=None):
        c, h, w = self._shape(X.shape[1], image_shape)
        k = self.kernel().to(device=X.device, dtype=X.dtype)
        r = len(k) // 2
        images = X.reshape(-1, 1, h, w)  # channels blurred alike
        images = F.conv2d(images, k.view(1, 1, -1, 1), padding=(r, 0))
        images = F.conv2d(images, k.view(1, 1, 1, -1), padding=(0, r))
        return images.reshape(len(X), -1)


class Mask(Operator):
    """The observed entries: ``mask`` (True = missing, as everywhere in
    skautodec) hides the same entries of every row, and the measurements are
    the others, ``X[:, ~mask]``. ``reconstruct(X[:, ~mask],
    operator=Mask(mask))`` equals ``reconstruct(X, mask=mask)``.

    Parameters
    ----------
    mask : array-like of bool of shape (n_features,)
    noise_std : float, default=0.0

    Examples
    --------
    >>> from skautodec.operators import Mask
    >>> Mask([True, False, False]).measure([[1.0, 2.0, 3.0]])
    array([[2., 3.]], dtype=float32)
    """

    _params = ("mask", "noise_std")
    linear = True

    def __init__(self, mask, noise_std=0.0):
        super().__init__(noise_std)
        mask = np.asarray(mask)
        if mask.ndim != 1 or (mask.dtype != bool and not np.isin(mask, (0, 1)).all()):
            raise ValueError(
                "Mask takes one boolean mask of shape (n_features,), True = "
                f"missing, shared by all rows; got shape {mask.shape}, dtype "
                f"{mask.dtype}. Pass per-row masks as mask= instead."
            )
        self.mask = mask.astype(bool)
        if self.mask.all():
            raise ValueError("Mask hides every entry: nothing is measured.")

    def __repr__(self):
        noise = f", noise_std={self.noise_std!r}" if self.noise_std else ""
        return f"Mask(<{int((~self.mask).sum())} of {self.mask.size} observed>{noise})"

    def n_measurements(self, n_features, image_shape=None):
        if self.mask.size != n_features:
            raise ValueError(
                f"Mask has {self.mask.size} entries, but the rows have {n_features} "
                "features."
            )
        return int((~self.mask).sum())

    def apply(self, X, image_shape=None):
        keep = torch.as_tensor(np.flatnonzero(~self.mask), device=X.device)
        return X[:, keep]


class Function(Operator):
    """Any differentiable torch function ``fn(X) -> Y`` of a batch of rows
    ``(n, n_features)`` (data units) to ``(n, n_outputs)`` measurements; it
    must be built of torch operations, so that the codes get gradients.

    Parameters
    ----------
    fn : callable
    n_outputs : int
        Measurements per row.
    noise_std : float, default=0.0

    Examples
    --------
    >>> import torch
    >>> from skautodec.operators import Function
    >>> def row_sums(X):
    ...     return X.sum(dim=1, keepdim=True)
    >>> Function(row_sums, 1)
    Function(fn=row_sums, n_outputs=1)
    >>> Function(row_sums, 1).measure([[1.0, 2.0]])
    array([[3.]], dtype=float32)
    """

    _params = ("fn", "n_outputs", "noise_std")

    def __init__(self, fn, n_outputs, noise_std=0.0):
        super().__init__(noise_std)
        if not callable(fn):
            raise TypeError(f"fn must be callable; got {type(fn).__name__}.")
        self.fn = fn
        self.n_outputs = _check_positive_int(n_outputs, "n_outputs")

    def n_measurements(self, n_features, image_shape=None):
        x = torch.zeros(2, n_features, requires_grad=True)
        name = _short(self.fn)
        try:
            y = self.fn(x)
        except Exception as exc:
            raise ValueError(
                f"Function: {name} failed on a torch tensor of shape (2, "
                f"{n_features}): {exc}. It must take a batch of rows as a tensor."
            ) from exc
        if not isinstance(y, torch.Tensor):
            raise ValueError(
                f"Function: {name} returned {type(y).__name__}, not a torch tensor: "
                "it must be built of torch operations to be differentiable."
            )
        if tuple(y.shape) != (2, self.n_outputs):
            raise ValueError(
                f"Function: {name} maps rows of shape (2, {n_features}) to "
                f"{tuple(y.shape)}; expected (2, {self.n_outputs}) (n_outputs)."
            )
        if not y.requires_grad:
            raise ValueError(
                f"Function: {name} is not differentiable: its output carries no "
                "gradient to the rows (built outside torch, or detached)."
            )
        return self.n_outputs

    def apply(self, X, image_shape=None):
        return self.fn(X)


def as_operator(operator):
    """``operator`` as an :class:`~skautodec.operators.Operator`: itself, or
    a :class:`~skautodec.operators.Linear` of an array or sparse matrix.

    Parameters
    ----------
    operator : Operator, array-like or scipy sparse matrix

    Returns
    -------
    operator : Operator
    """
    if isinstance(operator, Operator):
        return operator
    if hasattr(operator, "tocsr") or isinstance(operator, np.ndarray | list):
        return Linear(operator)
    raise TypeError(
        "operator must be a skautodec.operators operator, an array or a scipy "
        f"sparse matrix of shape (m, n_features); got {type(operator).__name__}."
    )


def _observation(operator, Y, offset, scale, noise_var, n_features, image_shape):
    """The observation of measurements ``Y`` through ``operator`` of rows
    that a model scales as ``(x - offset) / scale``, for its test-time fit.

    Each measurement weighs ``noise_var / (noise_var * r + noise_std**2)``,
    where ``noise_var`` is the model's per-entry error in scaled units and
    ``r`` the operator's :meth:`~Operator.row_norms_sq`: its precision
    relative to an observed entry, as in the MAP reading of the loss. A
    :class:`Mask` gives the missing-entry observation itself.
    """
    from sklearn.utils import check_array

    from ._observation import Measurements, MissingEntries

    operator = as_operator(operator)
    m = operator.n_measurements(n_features, image_shape)
    Y = check_array(Y, dtype=np.float32, ensure_all_finite=False, input_name="Y")
    if Y.shape[1] != m:
        raise ValueError(
            f"Y has {Y.shape[1]} columns, but {operator!r} makes {m} measurements "
            "of each row: Y holds the measurements, one row per row to rebuild."
        )
    if not np.isfinite(Y).all():
        raise ValueError(
            "Y holds measurements, and has NaN or infinite entries: measurements "
            "through an operator must be finite (mask= marks missing entries)."
        )
    noise = operator.noise_std**2
    if isinstance(operator, Mask):
        seen = ~operator.mask
        scale = np.asarray(scale, dtype=np.float32)
        scale_seen = np.broadcast_to(scale, (n_features,))[seen]
        values = np.zeros((len(Y), n_features), dtype=np.float32)
        values[:, seen] = (Y - offset[seen]) / scale_seen
        weight = np.zeros((len(Y), n_features), dtype=np.float32)
        weight[:, seen] = 1.0 / (1.0 + noise / (scale_seen**2 * noise_var))
        return MissingEntries(values, weight)
    r = operator.row_norms_sq(offset, scale, image_shape)
    weight = (noise_var / (noise_var * r + noise)).astype(np.float32)
    weight = np.ascontiguousarray(np.broadcast_to(weight, Y.shape))
    return Measurements(Y, weight, operator, offset, scale, image_shape)
