"""Posterior draws of missing entries (``AutoDecoder.sample``).

A draw adds two parts to ``reconstruct``'s fill of each missing entry: the
decoded uncertainty of the row's code (a Laplace approximation of its
posterior, :func:`~skautodec._latent.sample_latents`) and the per-feature
error the code does not explain (:func:`residual_variance`, measured on
held-out entries of the rows themselves).
"""

import numpy as np
import torch

from ._inference import reconstruct_scaled
from ._latent import code_covariance, sample_latents
from ._observation import MissingEntries
from ._select import SHRINK_ENTRIES, random_observed

__all__ = ["draw_completions"]

# sample's noise is estimated on this share of the observed entries of at
# most RESIDUAL_MAX_ROWS rows, hidden and filled in
RESIDUAL_SHARE = 0.2
RESIDUAL_MAX_ROWS = 2000
# code draws per row, and bisection steps, of that estimate
RESIDUAL_DRAWS = 16
RESIDUAL_STEPS = 6

_INT32 = np.iinfo(np.int32).max


def prior_precision(latents):
    """Inverse covariance of the training codes (the prior of the draws)."""
    return np.linalg.inv(code_covariance(latents))


def _fill(model, X, missing):
    """``reconstruct`` of validated rows with ``missing`` hidden (scaled
    units), the observation, and the code of the best start."""
    observation = model._observe(X, missing)
    out, codes = reconstruct_scaled(model, observation, model._test_time())
    return out, observation, codes[:, 0]


def _draw_codes(model, codes, observation, noise_var, prior, n_draws, seed):
    return sample_latents(
        model._get_decoder(),
        codes,
        observation,
        noise_var,
        prior,
        n_draws,
        generator=torch.Generator().manual_seed(seed),
        device=model._device,
    )


def residual_variance(model, X, missing, seed, prior):
    """Per-feature variance of the errors not explained by the codes'
    uncertainty, in scaled units, from held-out observed entries of ``X``.

    ``RESIDUAL_SHARE`` of the observed entries of up to
    ``RESIDUAL_MAX_ROWS`` rows (drawn with ``seed``) are hidden and filled
    in. Each feature's variance is a common share of its mean squared error
    there (shrunk towards the mean over features where it has few held-out
    entries), the share chosen so that the variance plus that of the code
    draws matches the held-out error in total. On tables with "auto"
    settings, the error is taken no lower than that on the entries held out
    in ``fit``: rows the model was trained on fill their own entries too
    well.
    """
    rng = np.random.RandomState(seed)
    if len(X) > RESIDUAL_MAX_ROWS:
        keep = rng.choice(len(X), RESIDUAL_MAX_ROWS, replace=False)
        X, missing = X[keep], missing[keep]
    hide = random_observed(missing, rng, RESIDUAL_SHARE)
    for s in model._groups:  # categorical cells are drawn from probabilities
        hide[:, s] = False
    if not hide.any():
        return np.full(X.shape[1], 1e-6)
    hidden = missing | hide
    out, observation, codes = _fill(model, X, hidden)
    truth = (X - model.offset_) / np.asarray(model.scale_, dtype=np.float64)
    err2 = MissingEntries(np.where(hide, truth, 0.0), hide).errors(out)
    count = hide.sum(axis=0)
    total = err2.sum(axis=0)
    floor = model.__dict__.get("_held_out_mse")
    if floor is not None:
        total = np.maximum(total, floor * count)
    # the noise is a share of each feature's held-out error (shrunk to the
    # mean), found by bisection so that noise plus the code draws' spread,
    # which grows with the noise, add up to the held-out error
    mean = total.sum() / count.sum()
    profile = (total + SHRINK_ENTRIES * mean) / (count + SHRINK_ENTRIES)
    profile = np.maximum(profile, 1e-6)
    base = model._decode_scaled(codes)

    def excess(share):
        draws = _draw_codes(
            model, codes, observation, share * profile, prior, RESIDUAL_DRAWS, seed
        )
        spread = np.zeros(X.shape)
        for k in range(draws.shape[1]):
            spread += (model._decode_scaled(draws[:, k]) - base) ** 2
        spread = np.where(hide, spread / draws.shape[1], 0.0).sum()
        return share * (profile * count).sum() + spread - total.sum()

    low, high = 1e-3, 1.0
    for _ in range(RESIDUAL_STEPS):
        mid = np.sqrt(low * high)
        low, high = (low, mid) if excess(mid) > 0 else (mid, high)
    return np.sqrt(low * high) * profile


def draw_completions(model, X, missing, n_samples, generator):
    """``n_samples`` completed copies of validated rows ``X``: observed
    entries kept, ``missing`` ones drawn (see ``AutoDecoder.sample``).

    Returns
    -------
    draws : ndarray of shape (n_samples, n_rows, n_features), float32
    """
    out = np.broadcast_to(X, (n_samples, *X.shape)).copy()
    rows = missing.any(axis=1)
    if not rows.any():
        return out
    X, missing = X[rows], missing[rows]
    scale = np.float32(model.scale_)
    prior = prior_precision(model.latents_)
    noise_var = residual_variance(
        model, X, missing, int(generator.randint(_INT32)), prior
    )
    out_scaled, observation, codes = _fill(model, X, missing)
    point = out_scaled * scale + model.offset_
    draws = _draw_codes(
        model,
        codes,
        observation,
        noise_var,
        prior,
        n_samples,
        int(generator.randint(_INT32)),
    )
    base = model._decode_scaled(codes)
    std = np.sqrt(noise_var).astype(np.float32)
    for k in range(n_samples):
        shift = model._decode_scaled(draws[:, k]) - base
        noise = generator.standard_normal(X.shape).astype(np.float32) * std
        filled = point + (shift + noise) * scale
        for s in model._groups:  # a category drawn from its probabilities
            filled[:, s] = _one_hot_draw(point[:, s], generator)
        out[k, rows] = np.where(missing, filled, X)
    return out


def _one_hot_draw(probabilities, generator):
    """One category per row drawn from ``probabilities`` (n, k), one-hot."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, None)
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    u = generator.random_sample((len(p), 1))
    picked = np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)
    return np.eye(p.shape[1], dtype=np.float32)[picked]
