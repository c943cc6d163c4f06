"""Inpainting baselines with the interface ``skautodec.report`` uses.

Each has ``fit(X, y=None, mask=None)`` and ``reconstruct(X, mask=None)``; the
reconstruction keeps the observed entries and fills the missing ones
(``mask`` True or NaN).
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.decomposition import PCA
from sklearn.impute import KNNImputer
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .masks import check_mask

__all__ = ["MeanFill", "KNNFill", "PCAFill"]


class _FillBase(BaseEstimator):
    _parameter_constraints: dict = {}

    def _validate(self, X, mask, reset):
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
        )
        X = np.array(X, dtype=np.float32, copy=True)
        missing = check_mask(mask, X.shape) | np.isnan(X)
        return X, missing

    def reconstruct(self, X, mask=None):
        """Rows of ``X`` with the missing entries filled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing; NaN is missing too.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features), float32
        """
        check_is_fitted(self)
        X, missing = self._validate(X, mask, reset=False)
        X[missing] = 0.0
        filled = self._fill(X, missing)
        return np.where(missing, filled, X).astype(np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class MeanFill(_FillBase):
    """Fill missing entries with the per-feature mean of the training rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.report import MeanFill
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> MeanFill().fit(X).reconstruct(X, mask=[True, False])
    array([[1., 1.],
           [1., 3.]], dtype=float32)
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, mask=None):
        """Store the per-feature mean of the observed entries of ``X``."""
        X, missing = self._validate(X, mask, reset=True)
        counts = (~missing).sum(axis=0)
        sums = np.where(missing, 0.0, X).sum(axis=0, dtype=np.float64)
        self.mean_ = np.divide(
            sums, counts, out=np.zeros(X.shape[1]), where=counts > 0
        ).astype(np.float32)
        return self

    def _fill(self, X, missing):
        return np.broadcast_to(self.mean_, X.shape)


class KNNFill(_FillBase):
    """Fill missing entries from the nearest training rows (``KNNImputer``).

    Parameters
    ----------
    n_neighbors : int, default=5

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.report import KNNFill
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [10.0, 10.0]])
    >>> KNNFill(n_neighbors=1).fit(X).reconstruct([[0.9, 0.0]], mask=[False, True])
    array([[0.9, 1. ]], dtype=float32)
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, mask=None):
        """Keep the training rows (missing entries as NaN) for the imputer."""
        X, missing = self._validate(X, mask, reset=True)
        X[missing] = np.nan
        self.imputer_ = KNNImputer(
            n_neighbors=self.n_neighbors, keep_empty_features=True
        ).fit(X)
        return self

    def _fill(self, X, missing):
        X = X.copy()
        X[missing] = np.nan
        return self.imputer_.transform(X)


class PCAFill(_FillBase):
    """Low-rank fill: the probabilistic-PCA posterior mean given the observed
    entries.

    For each row, the code minimizes the squared error on the observed
    entries plus the PCA prior (``noise_variance_ / explained_variance_``
    per component), and the missing entries are read from ``mean + code @
    components``.

    Parameters
    ----------
    n_components : int, default=16
        Rank of the fill (at most ``min(n_samples, n_features)``).
    random_state : int, RandomState instance or None, default=None
        Passed to ``PCA``.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec.report import PCAFill
    >>> t = np.linspace(0, 1, 20)[:, None]
    >>> X = np.hstack([t, 2 * t, 3 * t])  # rank one
    >>> fill = PCAFill(n_components=1).fit(X)
    >>> np.round(fill.reconstruct([[0.5, 1.0, 0.0]], mask=[False, False, True]), 3)
    array([[0.5, 1. , 1.5]], dtype=float32)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=16, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, mask=None):
        """Fit PCA to ``X``, missing entries set to the feature means."""
        X, missing = self._validate(X, mask, reset=True)
        means = MeanFill().fit(X, mask=missing).mean_
        X = np.where(missing, means, X)
        k = min(self.n_components, *X.shape)
        self.pca_ = PCA(n_components=k, random_state=self.random_state).fit(X)
        return self

    def _fill(self, X, missing):
        W = self.pca_.components_.astype(np.float64)  # (k, F)
        mean = self.pca_.mean_
        noise = max(float(self.pca_.noise_variance_), 1e-6)
        prior = np.diag(noise / np.maximum(self.pca_.explained_variance_, 1e-12))
        out = np.empty(X.shape, dtype=np.float64)
        patterns, inverse = np.unique(missing, axis=0, return_inverse=True)
        for p, pattern in enumerate(patterns):
            rows = np.flatnonzero(inverse.ravel() == p)
            obs = ~pattern
            Wo = W[:, obs]
            centered = X[np.ix_(rows, obs)] - mean[obs]
            codes = np.linalg.solve(Wo @ Wo.T + prior, Wo @ centered.T).T
            out[rows] = mean + codes @ W
        return out
