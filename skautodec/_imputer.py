"""LatentImputer: fill missing entries with a latent model's reconstruction."""

import math
from numbers import Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted, validate_data

from .metrics import _reconstruct_rows


def _is_nan(value):
    return isinstance(value, Real) and math.isnan(value)


class LatentImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute missing entries with the reconstruction of a latent model.

    Use it where ``KNNImputer`` or ``IterativeImputer`` would go. ``fit``
    trains a clone of ``estimator`` on the incomplete rows, missing entries
    left out of its loss. ``transform`` fits a code to each row from its
    observed entries, decodes it (``reconstruct``, which for an AutoDecoder
    averages the decodes of its ``n_init`` starts and of its ``n_neighbors``
    closest training rows), and fills the missing entries from the decoding;
    observed entries are returned unchanged.

    With ``sample_posterior=True``, each ``transform`` call instead returns
    one draw from an approximate posterior of the missing entries given the
    observed ones (the estimator's ``sample``), so that ``m`` calls give
    ``m`` completed tables for multiple imputation (Rubin's rules), as with
    ``IterativeImputer(sample_posterior=True)``.

    Parameters
    ----------
    estimator : estimator object
        A latent model that takes NaN as missing and has ``transform`` and
        ``inverse_transform``: :class:`~skautodec.AutoDecoder`,
        :class:`~skautodec.ConvAutoEncoder`, or a ``Pipeline`` of steps that
        pass NaN through (such as ``StandardScaler``) ending with one of them.
        It is cloned in ``fit``.
    missing_values : float, default=np.nan
        The placeholder of missing entries. With a value other than NaN, NaN
        in ``X`` is an error, as in ``SimpleImputer``.
    sample_posterior : bool, default=False
        Whether ``transform`` draws the missing entries from their posterior
        (``estimator.sample``; :class:`~skautodec.AutoDecoder` has it)
        instead of filling in the reconstruction. Each call gives a new
        draw.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws with ``sample_posterior=True``: after ``fit``, the
        ``k``-th ``transform`` call gives the same table for the same int.
        Not used otherwise (the estimator has its own ``random_state``).

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator``.
    random_state_ : RandomState instance
        The generator of the draws, made from ``random_state`` in ``fit``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    sklearn.impute.KNNImputer : Imputation from the nearest complete rows.
    sklearn.impute.IterativeImputer : Imputation by regressing each feature on
        the others.

    Notes
    -----
    Unlike scikit-learn's imputers, features that are missing in every
    training row are kept: they are filled with the decoder's output.

    Examples
    --------
    >>> import numpy as np
    >>> from skautodec import AutoDecoder, LatentImputer
    >>> from skautodec.datasets import make_low_rank
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> X_missing = X.copy()
    >>> X_missing[::4, 0] = np.nan
    >>> imputer = LatentImputer(
    ...     AutoDecoder(latent_dim=2, max_epochs=5, transform_max_iter=10,
    ...                 random_state=0))
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> bool(np.isnan(X_filled).any())
    False
    >>> bool((X_filled[1:4] == X[1:4]).all())
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform", "inverse_transform"])],
        "missing_values": [Real],
        "sample_posterior": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        missing_values=np.nan,
        sample_posterior=False,
        random_state=None,
    ):
        self.estimator = estimator
        self.missing_values = missing_values
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    def _validate_input(self, X, reset):
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if _is_nan(self.missing_values) else True,
            accept_sparse=False,
        )

    def _missing(self, X):
        if _is_nan(self.missing_values):
            return np.isnan(X)
        return X == self.missing_values

    @staticmethod
    def _with_nan(X, missing):
        """A copy of ``X`` with NaN at the missing entries."""
        out = np.array(X, copy=True)
        out[missing] = np.nan
        return out

    # The wrapped estimator validates its own parameters in its fit.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of ``estimator`` to the incomplete rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with missing entries marked by ``missing_values``.
        y : None
            Ignored.

        Returns
        -------
        self : LatentImputer
        """
        X = self._validate_input(X, reset=True)
        if self.sample_posterior and not hasattr(self.estimator, "sample"):
            raise ValueError(
                "sample_posterior=True draws from the estimator's posterior, but "
                f"{type(self.estimator).__name__} has no `sample` method; use an "
                "AutoDecoder."
            )
        self.random_state_ = check_random_state(self.random_state)
        estimator = clone(self.estimator)
        estimator.fit(self._with_nan(X, self._missing(X)))
        self.estimator_ = estimator
        return self

    def transform(self, X):
        """Fill the missing entries of ``X``; observed entries are unchanged.

        With ``sample_posterior=True``, the fill is one draw from the
        posterior, different at each call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with missing entries marked by ``missing_values``.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            Same dtype as ``X`` (float32 or float64).
        """
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        missing = self._missing(X)
        out = np.array(X, copy=True)
        rows = missing.any(axis=1)
        if rows.any():
            X_rows = self._with_nan(X[rows], missing[rows])
            if self.sample_posterior:
                seed = self.random_state_.randint(np.iinfo(np.int32).max)
                recon = self.estimator_.sample(X_rows, random_state=seed)[0]
            else:
                recon = _reconstruct_rows(self.estimator_, X_rows)
            if recon is None:
                Z = self.estimator_.transform(X_rows)
                recon = self.estimator_.inverse_transform(Z)
            recon = np.asarray(recon, dtype=X.dtype)
            out[rows] = np.where(missing[rows], recon, X[rows])
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = _is_nan(self.missing_values)
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
