"""Tables with categorical columns: the columns' kinds and their encoding.

A pandas ``category``, ``object`` (strings), ``string`` or ``bool`` column is
categorical: the model sees it as one indicator per category (one-hot; all
missing where the cell is), its decoder gives one logit per category, and
the loss is a cross-entropy (``_observation.TableEntries``). Numeric columns
stay as they are (scaled per feature). Going back, each categorical cell is
the most probable category, in the column's own dtype.

Missing cells may be ``NaN``, ``None`` or ``pd.NA``.
"""

import warnings
from numbers import Number

import numpy as np
import pandas as pd

from ._observation import make_observation
from .masks import check_mask, image_shape_of

__all__ = ["TableLayout", "table_layout"]

# A categorical column with more categories than this is refused: as many
# values as rows is an identifier, not something to learn.
MAX_CATEGORIES = 100


def _is_categorical(series):
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _categories(name, series):
    """The categories of a categorical column, or None where an object
    column holds numbers only (it is numeric)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return list(series.cat.categories)
    if pd.api.types.is_bool_dtype(series.dtype):
        return [False, True]
    values = series[series.notna()]
    odd = values.map(lambda v: not isinstance(v, str | bool | np.bool_ | Number))
    if odd.any():
        raise TypeError(
            f"Column {name!r} holds {type(values[odd].iloc[0]).__name__} values: "
            "each cell's argument must be a string or a number."
        )
    flags = values.map(lambda v: isinstance(v, bool | np.bool_))
    if len(values) and flags.all():
        return [False, True]
    numbers = pd.to_numeric(values.where(~flags), errors="coerce")
    if len(values) and numbers.notna().all():
        return None
    if numbers.notna().any() or flags.any():
        kinds = sorted({type(v).__name__ for v in values})
        raise ValueError(
            f"Column {name!r} mixes numbers and other values ({', '.join(kinds)}): "
            "give it one type (numbers, or strings for categories)."
        )
    return sorted(pd.unique(values), key=str)


class TableLayout:
    """How the columns of a table map to the columns the model sees.

    Parameters
    ----------
    columns : list
        The table's column names.
    categories : list
        Per column, its categories (a categorical column) or None (numeric).
    dtypes : list
        Per column, its dtype, restored on the way back.
    """

    def __init__(self, columns, categories, dtypes):
        self.columns = list(columns)
        self.categories = list(categories)
        self.dtypes = list(dtypes)
        self.slices, start = [], 0
        for cats in self.categories:
            width = 1 if cats is None else len(cats)
            self.slices.append(slice(start, start + width))
            start += width
        self.width = start

    @property
    def groups(self):
        """Encoded slices of the categorical columns."""
        return [s for s, c in zip(self.slices, self.categories, strict=True) if c]

    @property
    def categorical(self):
        """Boolean (width,): the encoded columns of categorical cells."""
        out = np.zeros(self.width, dtype=bool)
        for s in self.groups:
            out[s] = True
        return out

    def encode(self, X, handle_unknown="error"):
        """The table as float32 rows (n, width): numbers as they are, one-hot
        categories, NaN at missing cells (every indicator of a categorical
        one). Unseen categories are an error, or missing with
        ``handle_unknown="missing"``."""
        X = as_frame(X, self.columns)
        out = np.full((len(X), self.width), np.nan, dtype=np.float32)
        for name, cats, s in zip(
            self.columns, self.categories, self.slices, strict=True
        ):
            column = X[name]
            if cats is None:
                values = pd.to_numeric(column, errors="coerce")
                bad = values.isna() & column.notna()
                if bad.any():
                    raise ValueError(
                        f"Column {name!r} is numeric in the data fit on, but holds "
                        f"{column[bad].iloc[0]!r}."
                    )
                out[:, s.start] = values.to_numpy(dtype=np.float64, na_value=np.nan)
                continue
            codes = pd.Categorical(column, categories=cats).codes
            unknown = (codes < 0) & column.notna().to_numpy()
            if unknown.any() and handle_unknown == "error":
                value = column[unknown].iloc[0]
                raise ValueError(
                    f"Column {name!r} has the category {value!r}, unseen in fit "
                    f"(known: {cats[:10]}{' ...' if len(cats) > 10 else ''}); pass "
                    "handle_unknown='missing' to treat unseen categories as missing."
                )
            seen = codes >= 0
            block = np.zeros((len(X), len(cats)), dtype=np.float32)
            block[np.flatnonzero(seen), codes[seen]] = 1.0
            block[~seen] = np.nan
            out[:, s] = block
        return out

    def decode(self, fill, index=None):
        """A DataFrame of the table's columns and dtypes from rows in the
        model's fill space (numbers, then each categorical column's
        probabilities): each cell gets the most probable category, integer
        columns the rounded fill."""
        data = {}
        for name, cats, dtype, s in zip(
            self.columns, self.categories, self.dtypes, self.slices, strict=True
        ):
            if cats is None:
                values = fill[:, s.start]
                if pd.api.types.is_integer_dtype(dtype):  # whole numbers stay so
                    values = np.rint(values)
                elif not pd.api.types.is_float_dtype(dtype):
                    dtype = np.float64
                data[name] = pd.Series(values, index=index).astype(dtype)
                continue
            picked = np.asarray(cats, dtype=object)[fill[:, s].argmax(axis=1)]
            data[name] = _restore(picked, cats, dtype, index)
        return pd.DataFrame(data, index=index)

    def to_frame(self, encoded):
        """The table of encoded rows (NaN at missing cells), categorical
        columns as ``category`` columns of every known category (so that a
        model fitted on it has this layout)."""
        data = {}
        for name, cats, s in zip(
            self.columns, self.categories, self.slices, strict=True
        ):
            if cats is None:
                data[name] = encoded[:, s.start]
                continue
            block = encoded[:, s]
            codes = np.where(
                np.isnan(block).any(axis=1), -1, np.nan_to_num(block).argmax(axis=1)
            )
            data[name] = pd.Categorical.from_codes(codes, categories=cats)
        return pd.DataFrame(data)

    def probabilities(self, fill, index=None):
        """Each categorical column's probabilities: {column: DataFrame (n,
        categories)}."""
        return {
            name: pd.DataFrame(fill[:, s], columns=cats, index=index)
            for name, cats, s in zip(
                self.columns, self.categories, self.slices, strict=True
            )
            if cats is not None
        }


def _restore(values, categories, dtype, index):
    series = pd.Series(values, index=index, dtype=object)
    if isinstance(dtype, pd.CategoricalDtype):
        return series.astype(dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype(dtype)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return series.astype(dtype)
    return series


def as_frame(X, columns=None):
    """``X`` as a DataFrame; an array's columns are named ``columns`` (or
    ``x0``, ``x1``...)."""
    if isinstance(X, pd.DataFrame):
        return X
    X = np.asarray(X, dtype=object)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
    if columns is None or len(columns) != X.shape[1]:
        columns = [f"x{i}" for i in range(X.shape[1])]
    return pd.DataFrame(X, columns=list(columns))


def has_categories(X):
    """Whether ``X`` (a DataFrame or an array) may have categorical columns:
    a DataFrame with a categorical column, or an object array."""
    if isinstance(X, pd.DataFrame):
        return any(_is_categorical(X[c]) for c in X.columns)
    return getattr(X, "dtype", None) is np.dtype(object)


def table_layout(X):
    """The layout of a table with categorical columns (a DataFrame, or an
    object array whose columns are named ``x0``, ``x1``...), or None when
    every column is numeric."""
    X = as_frame(X)
    categories, dtypes = [], []
    for name in X.columns:
        column = X[name]
        cats = _categories(name, column) if _is_categorical(column) else None
        if cats is not None and len(cats) > MAX_CATEGORIES:
            raise ValueError(
                f"Column {name!r} has {len(cats)} categories, more than "
                f"{MAX_CATEGORIES}: that many values say little each (an "
                "identifier?); drop it, or group its rare values."
            )
        if cats is not None and len(cats) == 0:
            raise ValueError(f"Column {name!r} has no observed category.")
        categories.append(cats)
        numeric = cats is None and pd.api.types.is_numeric_dtype(column.dtype)
        kept = cats is not None or (numeric and not pd.api.types.is_bool_dtype(column))
        dtypes.append(column.dtype if kept else np.dtype(np.float64))
    if all(c is None for c in categories):
        return None
    return TableLayout(X.columns, categories, dtypes)


def expand_mask(layout, mask, n_rows):
    """A cell mask (n_rows, n_columns) or (n_columns,) as a mask of the
    encoded rows (n_rows, width): a categorical cell's indicators alike."""
    cells = check_mask(mask, (n_rows, len(layout.columns)))
    out = np.zeros((n_rows, layout.width), dtype=bool)
    for j, s in enumerate(layout.slices):
        out[:, s] = cells[:, j : j + 1]
    return out


def cell_mask(layout, encoded):
    """An encoded mask (n_rows, width) as a cell mask (n_rows, n_columns):
    a cell is in it where its first encoded column is."""
    return encoded[:, [s.start for s in layout.slices]]


def whole_cells(held, groups):
    """``held`` with every categorical cell held out or kept whole (as its
    first indicator is)."""
    for s in groups:
        held[:, s] = held[:, s.start : s.start + 1]
    return held


def softmax_groups(raw, groups):
    """Decodes (numpy) with each categorical column's logits turned into
    probabilities: the fill space."""
    if not groups:
        return raw
    out = np.array(raw, copy=True)
    for s in groups:
        logits = out[:, s] - out[:, s].max(axis=1, keepdims=True)
        p = np.exp(logits)
        out[:, s] = p / p.sum(axis=1, keepdims=True)
    return out


def table_args(layout, values, observed):
    """The categorical columns' normalizers in the training data (the
    arguments of ``TableEntries`` beyond its values): the entropy and the
    Brier score of guessing from the categories' frequencies."""
    entropy, brier = [], []
    for s in layout.groups:
        seen = observed[:, s.start] > 0 if observed is not None else slice(None)
        p = (
            values[seen][:, s].mean(axis=0)
            if np.any(seen)
            else np.ones(s.stop - s.start)
        )
        p = p / max(p.sum(), 1e-12)
        h = float(-(p[p > 0] * np.log(p[p > 0])).sum())
        b = float(1.0 - (p**2).sum())
        entropy.append(h if h > 1e-3 else 1.0)
        brier.append(b if b > 1e-3 else 1.0)
    return {
        "groups": layout.groups,
        "entropy": entropy,
        "brier": brier,
        "n_columns": len(layout.columns),
    }


def validate_table(model, X, reset):
    """``X`` of a table with categorical columns as the model's encoded rows
    (float32, NaN at missing cells) through the model's ``_layout``, feature
    names and counts checked as ``validate_data`` does."""
    from sklearn.utils.validation import _check_feature_names, _check_n_features

    _check_feature_names(model, X, reset=reset)
    _check_n_features(model, X, reset=reset)
    if len(X) == 0:
        raise ValueError(
            "Found array with 0 sample(s) while a minimum of 1 is required."
        )
    handle = getattr(model, "handle_unknown", "error")
    return model._layout.encode(X, handle_unknown=handle)


class _ColumnsMixin:
    """How a model's rows relate to the table's columns: numbers as they
    are, categorical columns one-hot in and softmax out (``_layout``, made
    in ``fit``; None for numeric rows and images)."""

    def _resolve_image_shape(self, X, missing):
        """The image shape (None for tables): given, or inferred from a square
        number of features holding pixel-like values; never for named
        columns (a DataFrame) or categorical ones."""
        named = hasattr(self, "feature_names_in_")
        if self.__dict__.get("_layout") is not None or (
            named and self.image_shape is None
        ):
            return None
        return image_shape_of(X.shape[1], self.image_shape, X=X, missing=missing)

    _takes_categories = False

    def _check_categories_supported(self):
        if self._takes_categories:
            return
        raise TypeError(
            f"{type(self).__name__} takes numeric columns only; tables with "
            "categorical columns go to AutoDecoder (or LatentImputer(AutoDecoder()))."
        )

    def _missing(self, X, mask):
        """Boolean array, True where an entry is missing (``mask`` or NaN);
        for a table with categorical columns, ``mask`` marks its cells."""
        layout = self.__dict__.get("_layout")
        if layout is not None and mask is not None:
            return expand_mask(layout, mask, len(X)) | np.isnan(X)
        return check_mask(mask, X.shape) | np.isnan(X)

    @property
    def _width(self):
        """Width of the rows the decoder gives (categories one-hot)."""
        layout = self.__dict__.get("_layout")
        return self.n_features_in_ if layout is None else layout.width

    @property
    def _groups(self):
        table = self.__dict__.get("_table")
        return [] if table is None else table["groups"]

    def _make_observation(self, values, observed=None):
        """How rows are compared with decodes (``make_observation``)."""
        return make_observation(values, observed, self.__dict__.get("_table"))

    def _output(self, fill):
        """Rows in the data's units as returned: a DataFrame of the table's
        columns and dtypes for a table with categorical columns."""
        layout = self.__dict__.get("_layout")
        return fill if layout is None else layout.decode(fill)

    def _check_observed(self, missing):
        """In fit: at least one observed entry; warn about empty rows; keep
        the features that have no observed entry."""
        if missing.all():
            raise ValueError(
                "X has no observed entry (every entry is NaN or masked): "
                "nothing to fit."
            )
        self._warn_empty_rows(missing)
        layout = self.__dict__.get("_layout")
        cells = missing if layout is None else cell_mask(layout, missing)
        self._empty_features = np.flatnonzero(cells.all(axis=0))

    def _warn_empty_features(self):
        """Warn when features had no observed entry in fit."""
        empty = self.__dict__.get("_empty_features")
        if empty is not None and len(empty):
            shown = ", ".join(str(int(j)) for j in empty[:10])
            more = ", ..." if len(empty) > 10 else ""
            warnings.warn(
                f"{len(empty)} feature(s) had no observed entry in fit "
                f"([{shown}{more}]): their values are the decoder's output, "
                "which nothing trained.",
                UserWarning,
                stacklevel=3,
            )
