"""Row-parallel inference on dask collections.

Each method of a fitted model is applied to the row blocks of a dask array
(or the partitions of a dask DataFrame) with ``map_blocks`` or
``map_partitions``. The model enters the task graph once, as a single
``dask.delayed`` node that every block task depends on: a distributed
scheduler ships it to each worker once, not once per chunk.

This is exact because the models solve every row's code on its own (the
test-time loss is summed per row), so splitting the rows into blocks does
not change any row's result beyond float rounding. The functions return lazy
dask collections; call ``.compute()`` (or ``persist``) on them, under
whichever scheduler is active (a ``dask.distributed.Client``, threads, or
processes).

dask is an optional dependency (``pip install "skautodec[dask]"``); it is
imported when these functions are called.

``dask_ml.wrappers.ParallelPostFit`` is not used here: it copies the
estimator into every block task, and it takes the output blocks to have as
many columns as the input blocks, which ``transform`` does not.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["impute", "inverse_transform", "reconstruct", "transform"]


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - exercised without dask
        raise ImportError(
            "skautodec.parallel needs dask: pip install 'skautodec[dask]'."
        ) from exc
    return dask, da


def _by_rows(X, name):
    """``X`` as a dask array with one block of columns."""
    _, da = _dask()
    if not isinstance(X, da.Array):
        X = da.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D; got shape {X.shape}.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X


def _check_width(estimator, X, n_expected, name):
    if n_expected is not None and X.shape[1] != n_expected:
        raise ValueError(
            f"{name} has {X.shape[1]} columns, but {type(estimator).__name__} "
            f"expects {n_expected}."
        )


def _mask_like(mask, X):
    """``mask`` as a dask array chunked like ``X``, or a shared 1-D mask."""
    _, da = _dask()
    if mask is None:
        return None
    if not isinstance(mask, da.Array):
        mask = np.asarray(mask)
        if mask.ndim == 1:
            return mask  # one mask for every row: small, passed as is
        if mask.shape != X.shape:
            raise ValueError(f"mask has shape {mask.shape}, but X has shape {X.shape}.")
        return da.from_array(mask, chunks=X.chunks)
    if mask.ndim == 1:
        return mask.compute()
    if mask.shape != X.shape:
        raise ValueError(f"mask has shape {mask.shape}, but X has shape {X.shape}.")
    return mask.rechunk(X.chunks)


def _n_features_out(estimator):
    return len(estimator.get_feature_names_out())


def _map_rows(func, X, estimator, n_out, dtype, mask=None):
    """``func(block, model[, mask_block])`` over the row blocks of ``X``."""
    dask, da = _dask()
    model = dask.delayed(estimator, traverse=False)
    args = [X, model]
    kwargs = {}
    if mask is not None and isinstance(mask, da.Array):
        args.append(mask)
    elif mask is not None:
        kwargs["mask"] = mask
    return da.map_blocks(
        func,
        *args,
        chunks=(X.chunks[0], (n_out,)),
        dtype=dtype,
        meta=np.empty((0, n_out), dtype=dtype),
        **kwargs,
    )


def _transform_block(block, model, mask=None):
    return np.asarray(model.transform(block, mask=mask), dtype=np.float32)


def _transform_block_nomask(block, model):
    return np.asarray(model.transform(block), dtype=np.float32)


def _inverse_block(block, model):
    return np.asarray(model.inverse_transform(block), dtype=np.float32)


def _reconstruct_block(block, model, mask=None):
    return np.asarray(model.reconstruct(block, mask=mask), dtype=np.float32)


def _impute_block(block, model):
    return model.transform(block)


def _impute_partition(part, model):
    import pandas as pd

    out = model.transform(part)
    if isinstance(out, pd.DataFrame):
        return out.set_axis(part.index, axis=0)
    return pd.DataFrame(out, index=part.index, columns=part.columns)


def transform(estimator, X, mask=None):
    """Codes of the rows of a dask array, block by block.

    Parameters
    ----------
    estimator : fitted estimator
        :class:`~skautodec.AutoDecoder`, :class:`~skautodec.ConvAutoEncoder`,
        or any fitted transformer with ``get_feature_names_out`` (a
        ``Pipeline`` ending with one of them); ``mask`` needs a ``transform``
        that takes it.
    X : dask.array.Array of shape (n_samples, n_features)
        Rows, chunked along the rows; blocks of columns are merged. Other
        array-likes are wrapped in one block.
    mask : dask.array.Array or array-like of bool, default=None
        True where an entry is missing: shape (n_samples, n_features),
        rechunked like ``X``, or (n_features,) for every row.

    Returns
    -------
    Z : dask.array.Array of shape (n_samples, n_features_out), float32
        Lazy; chunked along the rows like ``X``.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skautodec import AutoDecoder, parallel
    >>> from skautodec.datasets import make_low_rank
    >>> X = make_low_rank(n_samples=40, n_features=6, random_state=0)
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=2, transform_max_iter=5, tol=0,
    ...                  random_state=0).fit(X)
    >>> Z = parallel.transform(ad, da.from_array(X, chunks=10))
    >>> Z.chunks[0]  # lazy: one block per 10 rows
    (10, 10, 10, 10)
    >>> bool(np.allclose(Z.compute(), ad.transform(X), atol=1e-5))
    True
    """
    check_is_fitted(estimator)
    X = _by_rows(X, "X")
    _check_width(estimator, X, getattr(estimator, "n_features_in_", None), "X")
    mask = _mask_like(mask, X)
    func = _transform_block_nomask if mask is None else _transform_block
    return _map_rows(func, X, estimator, _n_features_out(estimator), np.float32, mask)


def inverse_transform(estimator, Z):
    """Decode the codes of a dask array, block by block.

    Parameters
    ----------
    estimator : fitted estimator
        An estimator with ``inverse_transform`` and ``n_features_in_``.
    Z : dask.array.Array of shape (n_samples, n_codes)
        Codes, chunked along the rows.

    Returns
    -------
    X_original : dask.array.Array of shape (n_samples, n_features), float32
        Lazy; chunked along the rows like ``Z``; ``n_features`` is the
        estimator's ``n_features_in_``.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skautodec import AutoDecoder, parallel
    >>> from skautodec.datasets import make_low_rank
    >>> X = make_low_rank(n_samples=40, n_features=6, random_state=0)
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=2, transform_max_iter=5, tol=0,
    ...                  random_state=0).fit(X)
    >>> Z = da.from_array(ad.transform(X), chunks=10)
    >>> parallel.inverse_transform(ad, Z).compute().shape
    (40, 6)
    """
    check_is_fitted(estimator)
    Z = _by_rows(Z, "Z")
    _check_width(estimator, Z, _n_features_out(estimator), "Z")
    return _map_rows(_inverse_block, Z, estimator, estimator.n_features_in_, np.float32)


def reconstruct(estimator, X, mask=None):
    """Whole rows rebuilt from their observed entries, block by block.

    Parameters
    ----------
    estimator : AutoDecoder or ConvAutoEncoder
        Fitted.
    X : dask.array.Array of shape (n_samples, n_features)
        Rows, chunked along the rows; NaN marks a missing entry.
    mask : dask.array.Array or array-like of bool, default=None
        True where an entry is missing: shape (n_samples, n_features),
        rechunked like ``X``, or (n_features,) for every row.

    Returns
    -------
    X_hat : dask.array.Array of shape (n_samples, n_features), float32
        Lazy; equal to ``estimator.reconstruct(X.compute(), mask)``.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skautodec import AutoDecoder, parallel
    >>> from skautodec.datasets import make_low_rank
    >>> X = make_low_rank(n_samples=40, n_features=6, random_state=0)
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=2, transform_max_iter=5, tol=0,
    ...                  random_state=0).fit(X)
    >>> hidden = np.array([False, False, False, False, True, True])
    >>> X_hat = parallel.reconstruct(ad, da.from_array(X, chunks=10), mask=hidden)
    >>> bool(np.allclose(X_hat.compute(), ad.reconstruct(X, mask=hidden), atol=1e-5))
    True
    """
    check_is_fitted(estimator)
    if not hasattr(estimator, "reconstruct"):
        raise TypeError(f"{type(estimator).__name__} has no reconstruct method.")
    X = _by_rows(X, "X")
    n_features = estimator.n_features_in_
    _check_width(estimator, X, n_features, "X")
    mask = _mask_like(mask, X)
    return _map_rows(_reconstruct_block, X, estimator, n_features, np.float32, mask)


def impute(imputer, X):
    """Fill the missing entries of a dask array or DataFrame, block by block.

    Parameters
    ----------
    imputer : fitted imputer
        :class:`~skautodec.LatentImputer` (or any fitted imputer whose
        ``transform`` keeps the shape).
    X : dask.array.Array or dask.dataframe.DataFrame of shape \
            (n_samples, n_features)
        Rows with missing entries, chunked (partitioned) along the rows.

    Returns
    -------
    X_imputed : dask.array.Array or dask.dataframe.DataFrame
        Lazy, of the type of ``X``; a DataFrame keeps its index and columns.
        float32 when ``X`` is float32 (every column), float64 otherwise.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skautodec import AutoDecoder, LatentImputer, parallel
    >>> from skautodec.datasets import make_low_rank
    >>> X = make_low_rank(n_samples=40, n_features=6, random_state=0)
    >>> X[::3, 0] = np.nan
    >>> imputer = LatentImputer(AutoDecoder(latent_dim=2, max_epochs=2,
    ...                                     transform_max_iter=5, tol=0,
    ...                                     random_state=0)).fit(X)
    >>> X_filled = parallel.impute(imputer, da.from_array(X, chunks=10)).compute()
    >>> bool(np.isnan(X_filled).any()), X_filled.dtype
    (False, dtype('float32'))
    """
    check_is_fitted(imputer)
    dask, _ = _dask()
    n_features = getattr(imputer, "n_features_in_", None)
    if hasattr(X, "map_partitions"):  # dask DataFrame
        _check_width(imputer, X, n_features, "X")
        model = dask.delayed(imputer, traverse=False)
        single = all(dtype == np.float32 for dtype in X.dtypes)
        meta = X._meta.astype(np.float32 if single else np.float64)
        return X.map_partitions(_impute_partition, model, meta=meta)
    X = _by_rows(X, "X")
    _check_width(imputer, X, n_features, "X")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    return _map_rows(_impute_block, X, imputer, X.shape[1], dtype)
