"""The units a model works in: per-feature offsets and scales.

Tabular rows get one scale per feature (the standard deviation of its
observed entries), so that features in different units weigh the same in the
loss; images share one global scale, which keeps the relative contrast of
their pixels.
"""

import math

import numpy as np

__all__ = ["check_range", "fit_scaling"]

# Largest |observed entry - mean| / scale that a test-time call accepts.
MAX_SCALED = 1e15


def fit_scaling(X, missing, per_feature):
    """Offset and scale of rows ``X``, from their observed entries only.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    missing : ndarray of bool, same shape
    per_feature : bool
        One scale per feature (tables); otherwise one for all (images).
        Constant or unobserved features take the global scale.

    Returns
    -------
    offset : ndarray of shape (n_features,), float32
    scale : ndarray of shape (n_features,), float32, or float
    """
    observed = ~missing
    counts = observed.sum(axis=0)
    sums = np.where(observed, X, 0.0).sum(axis=0, dtype=np.float64)
    offset = np.divide(sums, counts, out=np.zeros(X.shape[1]), where=counts > 0)
    centered = np.where(observed, X - offset, 0.0).astype(np.float64)
    sq = (centered**2).sum(axis=0)
    n_obs = counts.sum()
    scale = math.sqrt(sq.sum() / n_obs) if n_obs else 0.0
    if not math.isfinite(scale) or scale < 1e-12:
        scale = 1.0
    if not per_feature:
        return offset.astype(np.float32), float(scale)
    std = np.sqrt(np.divide(sq, counts, out=np.zeros_like(sq), where=counts > 0))
    # constant features (up to float32 rounding of their mean) and
    # unobserved ones take the global scale
    ok = np.isfinite(std) & (std > 0) & (std > 1e-6 * np.abs(offset))
    return offset.astype(np.float32), np.where(ok, std, scale).astype(np.float32)


def check_range(X, missing, offset, scale):
    """Reject observed entries far outside the training data's range, whose
    squared errors would overflow float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        dist = np.abs(np.where(missing, 0.0, X - offset)) / scale
        peak = dist.max(initial=0.0)
    if not peak <= MAX_SCALED:
        scales = np.broadcast_to(scale, X.shape[1:])
        feature = int(np.nan_to_num(dist, nan=np.inf).max(axis=0).argmax())
        raise ValueError(
            f"X has observed entries {peak:.3g} times the training data's "
            f"scale ({float(scales[feature]):.3g} for feature {feature}) away "
            "from its mean; their squared errors would overflow float32. Is "
            "X in the units the model was fitted on?"
        )
