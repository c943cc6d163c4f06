"""Datasets: generators for tests and examples."""

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["make_low_rank"]


def make_low_rank(
    n_samples=100, n_features=16, *, rank=2, noise=0.05, random_state=None
):
    """Rows near a ``rank``-dimensional nonlinear manifold, float32.

    Each row is ``tanh(A @ t) + noise`` for a random ``t`` of size ``rank``
    and a fixed random ``A``: a small dataset an autodecoder with
    ``latent_dim >= rank`` can reconstruct well.

    Parameters
    ----------
    n_samples : int, default=100
    n_features : int, default=16
    rank : int, default=2
        Dimension of the underlying factors.
    noise : float, default=0.05
        Standard deviation of the Gaussian noise added to every entry.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32

    Examples
    --------
    >>> from skautodec.datasets import make_low_rank
    >>> make_low_rank(n_samples=5, n_features=3, random_state=0).shape
    (5, 3)
    """
    generator = check_random_state(random_state)
    factors = generator.normal(size=(n_samples, rank))
    loadings = generator.normal(size=(rank, n_features))
    X = np.tanh(factors @ loadings) + noise * generator.normal(
        size=(n_samples, n_features)
    )
    return X.astype(np.float32)
