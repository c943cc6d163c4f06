"""One rule for reading a reconstruction from any fitted model.

The scorer, the imputer, the study's tables and the figures all ask a
fitted model for whole rows rebuilt from the entries it may see; they ask
through :func:`reconstruct_rows`.
"""

import numpy as np

from .masks import check_mask

__all__ = ["reconstruct_rows", "with_nan"]


def with_nan(X, hidden):
    """A float copy of ``X`` (an array or a pandas DataFrame, whose columns
    are kept) with NaN where ``hidden``."""
    if hasattr(X, "where") and hasattr(X, "columns"):  # pandas DataFrame
        return X.astype(np.float64).where(~hidden)
    out = np.array(X, dtype=np.float64, copy=True)
    out[hidden] = np.nan
    return out


def reconstruct_rows(estimator, X, mask=None):
    """Whole rows of ``X`` rebuilt by a fitted model from the entries that
    neither NaN nor ``mask`` (True = missing) hides.

    In order: ``estimator.reconstruct(X, mask=mask)``; the same through a
    ``Pipeline`` of invertible steps that pass NaN through and end with such
    an estimator; ``estimator.transform(X)`` when it returns every visible
    entry unchanged (an imputer: ``LatentImputer``, ``KNNImputer``); and
    ``inverse_transform(transform(X))`` otherwise. Hidden entries reach
    models without ``reconstruct`` as NaN.

    Parameters
    ----------
    estimator : fitted estimator
    X : array-like of shape (n_samples, n_features)
    mask : array-like of bool, shape (n_samples, n_features) or (n_features,)

    Returns
    -------
    X_hat : ndarray or DataFrame of shape (n_samples, n_features)
    """
    if hasattr(estimator, "reconstruct"):
        return estimator.reconstruct(X, mask=mask)
    if mask is not None:
        X = with_nan(X, check_mask(mask, np.shape(X)))
    steps = getattr(estimator, "steps", None)
    if steps and hasattr(steps[-1][1], "reconstruct"):
        last = steps[-1][1]
        if len(steps) == 1:
            return last.reconstruct(X)
        head = estimator[:-1]
        if hasattr(head, "inverse_transform"):
            return head.inverse_transform(last.reconstruct(head.transform(X)))
    name = type(estimator).__name__
    if not hasattr(estimator, "transform"):
        raise TypeError(
            f"{name} has neither reconstruct(X, mask) nor transform(X): no "
            "reconstruction can be read from it."
        )
    Z = estimator.transform(X)
    seen = np.asarray(X, dtype=np.float64)
    out = np.asarray(Z, dtype=np.float64)
    visible = ~np.isnan(seen)
    imputed = out.shape == seen.shape and np.array_equal(out[visible], seen[visible])
    if imputed and (visible.any() or not hasattr(estimator, "inverse_transform")):
        return Z  # an imputation: visible entries are returned unchanged
    if not hasattr(estimator, "inverse_transform"):
        raise TypeError(
            f"{name}.transform does not return the visible entries unchanged "
            "and there is no inverse_transform: no reconstruction can be read "
            "from it."
        )
    return estimator.inverse_transform(Z)
