"""LatentImputer: fill missing entries with a latent model's reconstruction."""

import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_is_fitted,
    validate_data,
)

from . import _together
from ._reconstruct import reconstruct_rows, with_nan
from ._resolve import ensemble_size
from ._sampling import _one_hot_draw
from ._table import as_frame, cell_mask, has_categories, table_layout

# the imputer says what it does with features empty in fit (dropped or 0)
_EMPTY_FEATURES = r".*feature\(s\) had no observed entry in fit"


def _with_nan(X, missing):
    """A copy of ``X``, in its dtype, with NaN at the missing entries."""
    return with_nan(X, missing).astype(X.dtype, copy=False)


def _member_layout(estimator):
    """The table layout of a fitted clone (the columns it was fitted on)."""
    layout = _last(estimator).__dict__.get("_layout")
    if layout is None or not hasattr(_last(estimator), "_fill_space"):
        raise TypeError(
            "Tables with categorical columns need an AutoDecoder as the "
            f"estimator; got {type(estimator).__name__}."
        )
    return layout


def _is_nan(value):
    return isinstance(value, Real) and math.isnan(value)


def _member_seed(value, k, default=None):
    """The ``random_state`` of the ``k``-th member: the given one (or, for
    None, ``default``) for the first, one derived from it for the others
    (None stays None)."""
    if value is None:
        value = default
    if k == 0 or value is None:
        return value
    if isinstance(value, np.random.RandomState):
        draws = copy.deepcopy(value).randint(np.iinfo(np.int32).max, size=k)
        return int(draws[-1])
    return int(np.random.SeedSequence(int(value), spawn_key=(k,)).generate_state(1)[0])


def _seeds(estimator):
    """The ``random_state`` parameters of ``estimator``, nested ones included."""
    return {
        key: value
        for key, value in estimator.get_params(deep=True).items()
        if key == "random_state" or key.endswith("__random_state")
    }


def _reseeded(estimator, k, default=None):
    """A clone of ``estimator`` whose every ``random_state`` is member ``k``'s
    (those that are None start from ``default``)."""
    member = clone(estimator)
    seeds = {
        key: _member_seed(value, k, default) for key, value in _seeds(member).items()
    }
    return member.set_params(**seeds) if seeds else member


def _last(estimator):
    return estimator[-1] if hasattr(estimator, "steps") else estimator


def _shared_choice(first):
    """What the first member chose on held-out entries, as parameters for the
    others (an AutoDecoder's ``chosen_params_``; through a Pipeline, prefixed
    with its last step's name): they train without choosing again."""
    chosen = getattr(_last(first), "chosen_params_", None) or {}
    if hasattr(first, "steps"):
        return {f"{first.steps[-1][0]}__{k}": v for k, v in chosen.items()}
    return dict(chosen)


def _share_floor(member, first):
    """The first member's held-out error per feature, the floor of the noise
    of ``sample``, for a member that chose nothing itself."""
    source = _last(first).__dict__.get("_held_out_mse")
    target = _last(member)
    if source is not None and target.__dict__.get("_held_out_mse") is None:
        target._held_out_mse = source
    return member


def _fits_images(estimator):
    """Whether a fitted model (or the last step of a Pipeline) takes images."""
    return getattr(_last(estimator), "image_shape_", None) is not None


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

    Tables with ``category``, ``object`` (strings) or ``bool`` columns need
    an :class:`~skautodec.AutoDecoder`: each categorical column gets a
    softmax head and a cross-entropy term; missing cells may be ``NaN``,
    ``None`` or ``pd.NA``. Numbers are filled as above, categories with the
    most probable one (``predict_proba`` gives the probabilities), or drawn
    from them with ``sample_posterior=True``. The output keeps the input's
    columns, order and dtypes (a DataFrame with
    ``set_output(transform="pandas")``, an object array otherwise).

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
        keeps the estimator's ``random_state`` (or the imputer's, where the
        estimator's is None); the others get seeds derived from it (``None``
        stays ``None``), so an int ``random_state`` makes the whole ensemble
        reproducible. "auto" resolves in ``fit``: 5 for
        tabular rows, where the mean of models trained from different seeds
        fills better, 2 for tables of more than 5,000 rows (where one model
        already varies little with its seed), and 1 for images (an
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
        It also seeds the clones where the estimator's ``random_state`` is
        None (an int as if the estimator had it), so that
        ``LatentImputer(AutoDecoder(), random_state=0)`` is reproducible; an
        estimator's own ``random_state`` comes first.
    share_settings : bool, default=True
        Whether the other clones take the settings the first chose on entries
        held out of training (an AutoDecoder's ``chosen_params_``) instead of
        choosing their own: 2.5 to 3 times faster to fit, within 1% of the
        error on breast_cancer, wine and diabetes (``docs/imputation.md``).
        False is the earlier behaviour.
    train_together : bool, default=True
        Whether clones of an :class:`~skautodec.AutoDecoder` that train the
        same way (the built-in table decoder, no callbacks, no accelerator)
        train together, as one batched network: each keeps its own initial
        weights and codes, its own order of the rows and its own loss, and
        moves as it would alone, for about the cost of one or two trainings
        instead of ``n_estimators`` (``docs/imputation.md``). The held-out
        probes of the code sizes train together the same way. False trains
        them one after another, the earlier behaviour.
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
        "share_settings": ["boolean"],
        "train_together": ["boolean"],
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
        share_settings=True,
        train_together=True,
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.missing_values = missing_values
        self.sample_posterior = sample_posterior
        self.random_state = random_state
        self.keep_empty_features = keep_empty_features
        self.share_settings = share_settings
        self.train_together = train_together

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
        if self.sample_posterior and not hasattr(self.estimator, "sample"):
            raise ValueError(
                "sample_posterior=True draws from the estimator's posterior, but "
                f"{type(self.estimator).__name__} has no `sample` method; use an "
                "AutoDecoder."
            )
        self.random_state_ = check_random_state(self.random_state)
        self._layout = None
        if has_categories(X):
            X_nan, missing = self._table_input(X, reset=True)
        else:
            X = self._validate_input(X, reset=True)
            missing = self._missing(X)
            X_nan = _with_nan(X, missing)
        self._empty_features = missing.all(axis=0)
        if self._layout is not None:
            X_nan = X_nan.loc[:, ~self._empty_features]
        self._fit_members(X_nan)
        return self

    def _fit_members(self, X_nan):
        """Fit the ensemble: the first clone chooses its settings on held-out
        entries, the others take them; AutoDecoders train together."""
        default = self._default_seed()
        first = _reseeded(self.estimator, 0, default)
        together = self.train_together and hasattr(first, "_prepare_fit")
        if together:
            plans = [_together.prepare(first, X_nan)]
        else:
            first.fit(X_nan)
        n = self.n_estimators
        if n == "auto":
            n = ensemble_size(len(X_nan), _fits_images(first))
        members = [first]
        shared = _shared_choice(first) if self.share_settings else {}
        with warnings.catch_warnings():
            # the first member has said what there is to say about the data
            warnings.simplefilter("ignore", UserWarning)
            for k in range(1, n):
                member = _reseeded(self.estimator, k, default)
                member.set_params(**shared)
                if together:
                    plans.append(_together.prepare(member, X_nan))
                else:
                    member.fit(X_nan)
                members.append(member)
        if together:
            _together.train(members, plans)
        self.estimators_ = [first] + [_share_floor(m, first) for m in members[1:]]
        self.estimator_ = first
        self.n_estimators_ = n

    def _default_seed(self):
        """The seed of the estimator's ``random_state`` parameters that are
        None: the int ``random_state``, or one draw from the generator given
        (None without one, or where none is None)."""
        if self.random_state is None or None not in _seeds(self.estimator).values():
            return None
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(self.random_state_.randint(np.iinfo(np.int32).max))

    def _table_input(self, X, reset):
        """A table with categorical columns as a DataFrame with missing cells
        (``NaN``, ``None``, ``pd.NA``), and its missing cells; the layout of
        its columns is made on ``reset``."""
        _check_feature_names(self, X, reset=reset)
        _check_n_features(self, X, reset=reset)
        frame = as_frame(X, getattr(self, "feature_names_in_", None))
        if reset:
            self._layout = table_layout(frame)
        if not _is_nan(self.missing_values):
            frame = frame.mask(frame == self.missing_values)
        return frame, frame.isna().to_numpy()

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
        if self.__dict__.get("_layout") is not None:
            return self._transform_table(X)
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

    def _transform_table(self, X):
        """``transform`` of a table with categorical columns: numbers filled
        with the mean of the clones' fills, categories with the most probable
        under the mean of their probabilities (or drawn from them with
        ``sample_posterior=True``). A DataFrame of the input's columns and
        dtypes with ``set_output(transform="pandas")``, else an object array."""
        frame, missing = self._table_input(X, reset=False)
        keep = ~self._empty_features
        layout = _member_layout(self.estimator_)
        handle = getattr(_last(self.estimator_), "handle_unknown", "error")
        # every row is encoded: unseen categories raise, or are holes
        encoded = layout.encode(frame.loc[:, keep], handle)
        missing[:, keep] |= np.isnan(cell_mask(layout, encoded))
        out = frame.copy()
        rows = missing[:, keep].any(axis=1)
        if rows.any():
            rows_in = frame.loc[rows, keep]
            fill = self._table_fill(rows_in)
            filled = layout.decode(fill, index=rows_in.index)
            where = np.flatnonzero(rows)
            for column in filled.columns:
                j = frame.columns.get_loc(column)
                hole = missing[rows, j]
                out.iloc[where[hole], j] = filled[column].to_numpy()[hole]
        out = self._empty_features_out(out)
        if _get_output_config("transform", self)["dense"] == "pandas":
            return out
        return out.to_numpy(dtype=object)

    def _table_fill(self, rows):
        """The clones' mean fill of ``rows`` in the fill space (numbers,
        probabilities), or one draw with ``sample_posterior=True``."""
        fills = [est._fill_space(rows) for est in self.estimators_]
        mean = np.mean(fills, axis=0)
        if not self.sample_posterior:
            return mean
        layout = _member_layout(self.estimator_)
        member = self.random_state_.randint(len(self.estimators_))
        seed = self.random_state_.randint(np.iinfo(np.int32).max)
        draw = self.estimators_[member].sample(rows, random_state=seed)[0]
        numeric = [j for j, c in enumerate(layout.categories) if c is None]
        for j in numeric:
            s = layout.slices[j].start
            mean[:, s] += draw[:, j].astype(np.float64) - fills[member][:, s]
        for s in layout.groups:
            mean[:, s] = _one_hot_draw(mean[:, s], self.random_state_)
        return mean

    @available_if(lambda self: self.__dict__.get("_layout") is not None)
    def predict_proba(self, X):
        """The probabilities of each categorical column's categories, as the
        fill uses them (the mean over the clones), for every row; there for an
        imputer fitted on a table with categorical columns.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_features)

        Returns
        -------
        probabilities : dict of column -> DataFrame of shape (n_samples,
            n_categories)
        """
        check_is_fitted(self)
        frame, _ = self._table_input(X, reset=False)
        rows = frame.loc[:, ~self._empty_features]
        fill = np.mean([est._fill_space(rows) for est in self.estimators_], axis=0)
        return _member_layout(self.estimator_).probabilities(fill, index=frame.index)

    def _empty_features_out(self, out):
        """``out`` without the features empty in ``fit`` (warned), or with
        them filled with 0 (``keep_empty_features=True``)."""
        empty = self._empty_features
        if not empty.any():
            return out
        table = hasattr(out, "iloc")
        if self.keep_empty_features:
            if table:  # numbers 0; a categorical column has nothing to fill
                for column in out.columns[empty]:
                    if pd.api.types.is_numeric_dtype(out[column]):
                        out[column] = out[column].fillna(0)
            else:
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
        return out.loc[:, ~empty] if table else out[:, ~empty]

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
