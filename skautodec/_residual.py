"""The decoder's error as a Gaussian, corrected from linear measurements.

No code makes the decoder reproduce a row exactly. Over the training rows,
that error (each row less the decode of its code, scaled units; missing
entries count as decoded) has a mean and a covariance. Taken as the prior of
a new row's error ``r``, measurements ``y = A(offset + scale * (d + r)) +
noise`` through a linear operator, with ``d`` the decode fitted to them,
give its posterior mean::

    r = mean + P C^-1 (y - A(d) - A(mean)),   P = Cov(r) A',
                                              C = A Cov(r) A' + noise_std^2

(``A`` on scaled rows). ``P`` and ``C`` are taken from the centred training
errors measured through the operator, without forming ``Cov(r)``. What the
decoder cannot represent (the fine detail of an image, say) is then filled
where the measurements determine it; where they say little, ``r`` stays near
its mean. Corrected rows are kept within the training rows' range of each
entry.

This module knows nothing of scikit-learn.
"""

import torch

__all__ = ["residual_fill"]

# Added to C's diagonal, relative to its mean diagonal entry: noiseless
# measurements of errors that span fewer directions than there are
# measurements leave C singular.
JITTER = 1e-6


def residual_fill(observation, decodes, rows, training_decodes):
    """``decodes`` (scaled, ``(n, n_features)``) plus the posterior mean of
    their error given ``observation`` (a linear
    :class:`~skautodec._observation.Measurements`), the error's prior taken
    from the training ``rows`` and their ``training_decodes``."""
    if len(rows) < 2:
        return decodes
    with torch.no_grad():
        rows = torch.as_tensor(rows, dtype=torch.float32)
        errors = rows - torch.as_tensor(training_decodes, dtype=torch.float32)
        mean = errors.mean(dim=0, keepdim=True)
        centred = (errors - mean) / (len(errors) - 1) ** 0.5
        zero = observation.measure(torch.zeros_like(mean))
        measured = observation.measure(centred) - zero
        P = (centred.T @ measured).double()
        C = (measured.T @ measured).double()
        noise = float(observation.operator.noise_std) ** 2
        ridge = noise + JITTER * float(C.diagonal().mean())
        C.diagonal().add_(max(ridge, 1e-12))
        d = torch.as_tensor(decodes, dtype=torch.float32)
        target = torch.as_tensor(observation.target, dtype=torch.float32)
        left = target - observation.measure(d) - (observation.measure(mean) - zero)
        out = d + mean + (P @ torch.linalg.solve(C, left.double().T)).T.float()
        low, high = rows.min(dim=0).values, rows.max(dim=0).values
        return torch.minimum(torch.maximum(out, low), high).numpy()
