"""LatentImputer: fill missing entries with a latent model's reconstruction."""

import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._reconstruct import reconstruct_rows, with_nan

# the imputer says what it does with features empty in fit (dropped or 0)
_EMPTY_FEATURES = r".*feature\(s\) had no observed entry in fit"


def _with_nan(X, missing):
    """A copy of ``X``, in its dtype, with NaN at the missing entries."""
    return with_nan(X, missing).astype(X.dtype, copy=False)


def _is_nan(value):
    return isinstance(value, Real) and math.isnan(value)


def _member_seed(value, k):
    """The ``random_state`` of the ``k``-th member: the given one for the
    first, one derived from it for the others (None stays None)."""
    if k == 0 or value is None:
        return value
    if isinstance(value, np.random.RandomState):
        draws = copy.deepcopy(value).randint(np.iinfo(np.int32).max, size=k)
        return int(draws[-1])
    return int(np.random.SeedSequence(int(value), spawn_key=(k,)).generate_state(1)[0])


def _reseeded(estimator, k):
    """A clone of ``estimator`` whose every ``random_state`` is member ``k``'s."""
    member = clone(estimator)
    params = member.get_params(deep=True)
    seeds = {
        key: _member_seed(value, k)
        for key, value in params.items()
        if key == "random_state" or key.endswith("__random_state")
    }
    return member.set_params(**seeds) if seeds else member


def _fits_images(estimator):
    """Whether a fitted model (or the last step of a Pipeline) takes images."""
    last = estimator[-1] if hasattr(estimator, "steps") else estimator
    return getattr(last, "image_shape_", None) is not None


def _fill(estimator, X):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _EMPTY_FEATURES, UserWarning)
        return np.asarray(reconstruct_rows(estimator, X), dtype=np.float64)


class LatentImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute missing entries with the reconstruction of a latent model.

    Use it where ``KNNImputer`` or ``IterativeImputer`` would go. ``fit``
    trains ``n_estimators`` clones of ``estimator`` on the incomplete rows,
    missing entries left out of their loss, each with its own
    ``random_state``. ``transform`` fits a code to each row from its
    observed entries, decodes it (``reconstruct``, which for an AutoDecoder
    averages the decodes of its ``n_init`` starts and of its ``n_neighbors``
    closest training rows), and fills the missing entries from the mean of
    the clones' decodings; observed entries are returned unchanged.

    With ``sample_posterior=True``, each ``transform`` call instead returns
    one draw from an approximate posterior of the missing entries given the
    observed ones (the estimator's ``sample``), so that ``m`` calls give
    ``m`` completed tables for multiple imputation (Rubin's rules), as with
    ``IterativeImputer(sample_posterior=True)``. Each call takes the
    deviation of one clone's draw (the clone picked at random) from that
    clone's fill, and adds it to the mean fill of all clones.

    Parameters
    ----------
    estimator : estimator object
        A latent model that takes NaN as missing and has ``transform`` and
        ``inverse_transform``: :class:`~skautodec.AutoDecoder`,
        :class:`~skautodec.ConvAutoEncoder`, or a ``Pipeline`` of steps that
        pass NaN through (such as ``StandardScaler``) ending with one of them.
        It is cloned in ``fit``.
    n_estimators : int >= 1 or "auto", default="auto"
        How many clones of ``estimator`` are fitted and averaged. The first
        keeps the estimator's ``random_state``; the others get seeds derived
        from it (``None`` stays ``None``), so an int ``random_state`` makes
        the whole ensemble reproducible. "auto" resolves in ``fit``: 5 for
        tabular rows, where the mean of models trained from different seeds
        fills better (``fit`` and ``transform`` cost five times those of one
        model: seconds on tables of hundreds of rows), and 1 for images (an
        estimator fitted with an ``image_shape``, given or inferred), where
        a training costs minutes. ``n_estimators=1`` is the earlier
        behaviour.
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
    keep_empty_features : bool, default=False
        What happens to features with no observed entry in ``fit``, as in
        ``SimpleImputer``: by default ``transform`` drops them, with a
        warning; True keeps them, filled with 0 (``SimpleImputer``'s fill
        for them), since nothing was learned of them.

    Attributes
    ----------
    estimator_ : estimator object
        The first fitted clone of ``estimator`` (the only one with
        ``n_estimators=1``).
    estimators_ : list of estimator objects
        All fitted clones, ``estimators_[0]`` being ``estimator_``.
    n_estimators_ : int
        The number of clones, what ``n_estimators="auto"`` resolved to.
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
    >>> bool(np.isnan(X_filled).any()), imputer.n_estimators_
    (False, 5)
    >>> bool((X_filled[1:4] == X[1:4]).all())
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform", "inverse_transform"])],
        "n_estimators": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "missing_values": [Real],
        "sample_posterior": ["boolean"],
        "random_state": ["random_state"],
        "keep_empty_features": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        n_estimators="auto",
        missing_values=np.nan,
        sample_posterior=False,
        random_state=None,
        keep_empty_features=False,
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.missing_values = missing_values
        self.sample_posterior = sample_posterior
        self.random_state = random_state
        self.keep_empty_features = keep_empty_features

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

    # The wrapped estimator validates its own parameters in its fit.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit ``n_estimators`` clones of ``estimator`` to the incomplete rows.

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
        missing = self._missing(X)
        self._empty_features = missing.all(axis=0)
        X_nan = _with_nan(X, missing)
        first = clone(self.estimator).fit(X_nan)
        n = self.n_estimators
        if n == "auto":
            n = 1 if _fits_images(first) else 5
        members = [first]
        with warnings.catch_warnings():
            # the first member has said what there is to say about the data
            warnings.simplefilter("ignore", UserWarning)
            for k in range(1, n):
                members.append(_reseeded(self.estimator, k).fit(X_nan))
        self.estimators_ = members
        self.estimator_ = first
        self.n_estimators_ = n
        return self

    def transform(self, X):
        """Fill the missing entries of ``X``; observed entries are unchanged.

        The fill is the mean of the clones' reconstructions. With
        ``sample_posterior=True``, it is one draw from the posterior (see
        above), different at each call.

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
            X_rows = _with_nan(X[rows], missing[rows])
            if self.sample_posterior:
                recon = self._draw(X_rows)
            else:
                recon = np.mean(
                    [_fill(est, X_rows) for est in self.estimators_], axis=0
                )
            recon = recon.astype(X.dtype, copy=False)
            out[rows] = np.where(missing[rows], recon, X[rows])
        return self._empty_features_out(out)

    def _empty_features_out(self, out):
        """``out`` without the features empty in ``fit`` (warned), or with
        them filled with 0 (``keep_empty_features=True``)."""
        empty = self._empty_features
        if not empty.any():
            return out
        if self.keep_empty_features:
            out[:, empty] = 0
            return out
        names = np.flatnonzero(empty)
        if hasattr(self, "feature_names_in_"):
            names = self.feature_names_in_[empty]
        warnings.warn(
            f"Skipping features without any observed values in fit: {names}. "
            "Pass keep_empty_features=True to keep them (filled with 0).",
            UserWarning,
            stacklevel=3,
        )
        return out[:, ~empty]

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: the input's, less the features
        dropped for having no observed entry in ``fit``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        names = super().get_feature_names_out(input_features)
        if self.keep_empty_features:
            return names
        return names[~self._empty_features]

    def _draw(self, X_rows):
        """One posterior draw of the rows: a clone picked at random gives
        the deviation of its draw from its own fill, added to the mean fill
        of all clones."""
        member = self.random_state_.randint(len(self.estimators_))
        seed = self.random_state_.randint(np.iinfo(np.int32).max)
        draw = self.estimators_[member].sample(X_rows, random_state=seed)[0]
        if len(self.estimators_) == 1:
            return draw
        fills = [_fill(est, X_rows) for est in self.estimators_]
        return np.mean(fills, axis=0) + (draw - fills[member])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = _is_nan(self.missing_values)
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
