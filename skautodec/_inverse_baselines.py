"""Classical baselines for linear inverse problems on flattened images.

Used by the inverse-problem study (``skautodec compare --inverse`` and
``benchmarks/bench_inverse.py``), never by the estimators.

Rows are images of shape ``image_shape = (C, H, W)`` flattened in C-order;
measurements are ``Y = X @ A.T + noise`` with a dense operator ``A`` of shape
(m, n_features). Every solver returns ``X_hat`` of shape (n_images, n_features)
and treats all images at once where it can.
"""

import warnings

import numpy as np
import torch
from scipy.fft import fft2, idctn, ifft2, ifftshift
from scipy.linalg import cho_factor, cho_solve
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.utils import check_random_state


def gaussian_matrix(m, n_features, random_state=None):
    """Compressed-sensing matrix with i.i.d. N(0, 1/m) entries, shape (m, n)."""
    rng = check_random_state(random_state)
    return rng.normal(0.0, 1.0 / np.sqrt(m), size=(m, n_features))


def measure(A, X, noise_std, random_state=None):
    """``X @ A.T`` plus Gaussian noise of std ``noise_std`` (seeded)."""
    rng = check_random_state(random_state)
    Y = X @ A.T
    return Y + noise_std * rng.normal(size=Y.shape)


def _choose(solve, A, X_val, grid, noise_std, random_state):
    """Score ``solve(Y_val, value)`` over ``grid``; (best value, {value: mse})."""
    Y_val = measure(A, X_val, noise_std, random_state)
    table = {v: float(np.mean((solve(Y_val, v) - X_val) ** 2)) for v in grid}
    return min(table, key=table.get), table


def dct_basis(image_shape):
    """Orthonormal 2-D DCT-II basis, shape (n_features, n_features).

    Columns are basis images (per channel, over H and W), so ``x = B @ c``
    and ``c = B.T @ x = dctn(x, norm="ortho")``.
    """
    n = int(np.prod(image_shape))
    eye = np.eye(n).reshape(n, *image_shape)
    return idctn(eye, axes=(-2, -1), norm="ortho").reshape(n, n).T


def dct_scales(X_train, image_shape, mean=None):
    """Std of each DCT coefficient of ``X_train - mean``, rescaled to mean 1."""
    mean = np.mean(X_train, axis=0) if mean is None else mean
    B = dct_basis(image_shape)
    scale = np.maximum(((np.asarray(X_train) - mean) @ B).std(axis=0), 1e-6)
    return scale / scale.mean()


def _lasso_problem(A, Y, image_shape, mean, scale):
    B = dct_basis(image_shape)
    mean = np.zeros(B.shape[0]) if mean is None else np.asarray(mean, float)
    if scale is not None:
        B = B * scale
    return B, mean, A @ B, np.asarray(Y, float) - mean @ A.T


def lasso_dct(A, Y, image_shape, alpha, mean=None, scale=None, max_iter=2000, tol=1e-4):
    """Sparse DCT coefficients: min ||A B c - y||^2 / (2m) + alpha ||c||_1.

    Parameters
    ----------
    A : ndarray of shape (m, n_features)
    Y : ndarray of shape (n_images, m)
    image_shape : tuple (C, H, W)
    alpha : float
        L1 weight, sklearn's ``Lasso`` scaling: the useful range scales like
        ``max|B^T A^T y| / m`` (about ``1/m`` for N(0, 1/m) entries); see
        :func:`lasso_alpha_max`.
    mean : ndarray of shape (n_features,) or None
        Image subtracted before (``y - A mean``) and added back after.
    scale : ndarray of shape (n_features,) or None
        Weighted L1: penalty ``alpha * sum_k |c_k| / scale_k``, e.g.
        :func:`dct_scales` of training images. None: plain L1.
    max_iter, tol : passed to ``sklearn.linear_model.Lasso``.

    Returns
    -------
    X_hat : ndarray of shape (n_images, n_features)
    """
    B, mean, AB, T = _lasso_problem(A, Y, image_shape, mean, scale)
    model = Lasso(alpha=alpha, fit_intercept=False, max_iter=max_iter, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(AB, T.T)
    return model.coef_.reshape(T.shape[0], -1) @ B.T + mean


def lasso_alpha_max(A, Y, image_shape, mean=None, scale=None):
    """Median over images of the smallest alpha giving ``c = 0``."""
    _, _, AB, T = _lasso_problem(A, Y, image_shape, mean, scale)
    return float(np.median(np.abs(T @ AB).max(axis=1)) / A.shape[0])


def choose_lasso_alpha(
    A, X_val, image_shape, alphas, noise_std, random_state=None, mean=None, **kw
):
    """Alpha of :func:`lasso_dct` with the lowest per-pixel MSE on ``X_val``.

    ``alphas=None`` uses ``lasso_alpha_max * logspace(-5, 0, 11)`` on the
    validation measurements; ``kw`` goes to :func:`lasso_dct`.

    Returns
    -------
    best_alpha : float
    table : dict alpha -> MSE
    """
    if alphas is None:
        Y_val = measure(A, X_val, noise_std, random_state)
        top = lasso_alpha_max(A, Y_val, image_shape, mean, kw.get("scale"))
        alphas = top * np.logspace(-5, 0, 11)

    def solve(Y, alpha):
        return lasso_dct(A, Y, image_shape, alpha, mean=mean, **kw)

    return _choose(solve, A, X_val, alphas, noise_std, random_state)


def _pca(X_train, n_components):
    pca = PCA(n_components=n_components, svd_solver="full").fit(X_train)
    return pca.mean_, pca.components_, pca.explained_variance_


def _pca_solve(A, Y, mean, V, var, ridge):
    M = A @ V.T
    T = np.asarray(Y, float) - mean @ A.T
    if ridge > 0:
        G = M.T @ M + np.diag(ridge / np.maximum(var, 1e-12))
        C = cho_solve(cho_factor(G), M.T @ T.T).T
    else:
        C = np.linalg.lstsq(M, T.T, rcond=None)[0].T
    return mean + C @ V


def pca_least_squares(A, Y, X_train, n_components, ridge=0.0):
    """Least squares on a PCA subspace: x = mean + V^T c.

    With ``ridge=0`` ``c`` minimizes ``||A (mean + V^T c) - y||^2``
    (``np.linalg.lstsq``, minimum norm when ``n_components > m``). With
    ``ridge > 0`` it adds ``ridge * sum_j c_j^2 / var_j`` (``var_j`` the PCA
    variances): with ``ridge = noise_std**2`` this is the MAP/posterior mean
    under a Gaussian prior fitted to ``X_train``.

    Returns
    -------
    X_hat : ndarray of shape (n_images, n_features)
    """
    mean, V, var = _pca(X_train, n_components)
    return _pca_solve(A, Y, mean, V, var, ridge)


def choose_pca_components(
    A, X_train, X_val, grid, noise_std, random_state=None, ridge=0.0
):
    """``n_components`` of :func:`pca_least_squares` with lowest MSE on ``X_val``.

    PCA is fitted once with ``max(grid)`` components and truncated.

    Returns
    -------
    best_n_components : int
    table : dict n_components -> MSE
    """
    mean, V, var = _pca(X_train, max(grid))

    def solve(Y, k):
        return _pca_solve(A, Y, mean, V[:k], var[:k], ridge)

    return _choose(solve, A, X_val, grid, noise_std, random_state)


def nearest_training_image(A, Y, X_train, batch=512):
    """For each ``y`` the training image minimizing ``||A x_k - y||^2``.

    ``A X_train^T`` is computed once; distances go ``batch`` rows at a time.

    Returns
    -------
    X_hat : ndarray of shape (n_images, n_features)
    """
    P = np.asarray(X_train, float) @ A.T
    p2 = np.einsum("ij,ij->i", P, P)
    Y = np.asarray(Y, float)
    index = np.empty(len(Y), dtype=np.intp)
    for s in range(0, len(Y), batch):
        index[s : s + batch] = np.argmin(p2 - 2.0 * Y[s : s + batch] @ P.T, axis=1)
    return np.asarray(X_train)[index]


def bicubic_upsample(Y_low, image_shape, factor):
    """Bicubic upsampling (``align_corners=False``) of (C, H/f, W/f) rows.

    Returns
    -------
    X_hat : ndarray of shape (n_images, C*H*W)
    """
    c, h, w = image_shape
    low = torch.as_tensor(np.asarray(Y_low, float)).reshape(
        -1, c, h // factor, w // factor
    )
    up = torch.nn.functional.interpolate(
        low, size=(h, w), mode="bicubic", align_corners=False
    )
    return up.reshape(len(low), -1).numpy()


def tikhonov_deconvolution(A, Y, lam, mean=None):
    """x = argmin ||A x - y||^2 + lam ||x - mean||^2, one Cholesky for all.

    ``mean`` (n_features,) defaults to zero; ``A`` is any (m, n) operator.

    Returns
    -------
    X_hat : ndarray of shape (n_images, n_features)
    """
    n = A.shape[1]
    mean = np.zeros(n) if mean is None else np.asarray(mean, float)
    G = A.T @ A + lam * np.eye(n)
    rhs = np.asarray(Y, float) @ A + lam * mean
    return cho_solve(cho_factor(G), rhs.T).T


def choose_tikhonov_lambda(A, X_val, grid, noise_std, random_state=None, mean=None):
    """``lam`` of :func:`tikhonov_deconvolution` with lowest MSE on ``X_val``.

    Returns
    -------
    best_lambda : float
    table : dict lambda -> MSE
    """

    def solve(Y, lam):
        return tikhonov_deconvolution(A, Y, lam, mean=mean)

    return _choose(solve, A, X_val, grid, noise_std, random_state)


def power_spectrum(X, image_shape):
    """Mean ``|fft2(x, norm="ortho")|**2`` over rows, shape (C, H, W)."""
    F = fft2(np.asarray(X, float).reshape(-1, *image_shape), norm="ortho")
    return np.mean(np.abs(F) ** 2, axis=0)


def wiener_deconvolution(Y, image_shape, kernel, noise_std, signal_power=None):
    """Fourier-domain Wiener filter for a blur (circular model).

    ``Y`` (n_images, n_features) are the blurred images; ``kernel`` is the
    blur of a unit pixel at the centre ``(H // 2, W // 2)`` of one channel,
    shape (H, W) (its zero padding is taken as circular: fine for images with
    dark borders). ``signal_power`` is ``E|fft2(x, norm="ortho")|^2``, a float
    or an array (C, H, W), e.g. :func:`power_spectrum` of training images;
    None: flat ``mean(Y**2)``.

    Returns
    -------
    X_hat : ndarray of shape (n_images, n_features)
    """
    c, h, w = image_shape
    H = fft2(ifftshift(np.asarray(kernel, float).reshape(h, w)))
    F = fft2(np.asarray(Y, float).reshape(-1, c, h, w), norm="ortho")
    S = np.mean(np.square(Y)) if signal_power is None else signal_power
    noise = noise_std**2
    X = ifft2(np.conj(H) * S / (np.abs(H) ** 2 * S + noise) * F, norm="ortho")
    return X.real.reshape(len(F), -1)
