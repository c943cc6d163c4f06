"""Test-time latent optimization shared by both estimators."""

import contextlib
import math
import warnings
from typing import NamedTuple

import numpy as np
import torch
from scipy.linalg import solve_triangular
from torch import nn

from ._observation import MissingEntries, per_row_objective

__all__ = [
    "CodePrior",
    "LatentFit",
    "code_covariance",
    "code_prior",
    "fit_encoder",
    "frozen",
    "optimize_latents",
    "sample_latents",
]


def code_covariance(latents):
    """Covariance of the training codes, float64, with a small ridge (so
    that it is positive definite; zero spread from a single code)."""
    latents = np.asarray(latents, dtype=np.float64)
    if len(latents) < 2:
        cov = np.zeros((latents.shape[1], latents.shape[1]))
    else:
        cov = np.atleast_2d(np.cov(latents, rowvar=False))
    ridge = 1e-6 * max(float(np.trace(cov)) / len(cov), 1e-12)
    return cov + ridge * np.eye(len(cov))


class CodePrior(NamedTuple):
    """A Gaussian over codes: its ``mean`` and ``factor``, the lower Cholesky
    factor of its covariance."""

    mean: np.ndarray
    factor: np.ndarray


def code_prior(latents):
    """The Gaussian of the training codes (their mean and covariance)."""
    latents = np.asarray(latents, dtype=np.float64)
    return CodePrior(latents.mean(axis=0), np.linalg.cholesky(code_covariance(latents)))


class _Whitened(nn.Module):
    """``decoder`` of the codes ``mean + u @ factor.T``: codes written in a
    Gaussian prior's whitened coordinates ``u``."""

    def __init__(self, decoder, prior, device):
        super().__init__()
        self.decoder = decoder
        self.register_buffer("mean", torch.tensor(prior.mean, dtype=torch.float32))
        self.register_buffer("factor", torch.tensor(prior.factor, dtype=torch.float32))
        self.to(device)

    def forward(self, u):
        return self.decoder(torch.addmm(self.mean, u, self.factor.T))


@contextlib.contextmanager
def frozen(module):
    """Put ``module`` in eval mode without gradients; restore both afterwards."""
    was_training = module.training
    flags = [p.requires_grad for p in module.parameters()]
    module.eval()
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)
        module.train(was_training)


def optimize_latents(
    decoder,
    observation,
    init,
    *,
    penalty=0.0,
    max_iter=100,
    lr=0.05,
    tol=0.0,
    batch_size=1024,
    device="cpu",
    verbose=0,
    return_all=False,
    prior=None,
    floor=None,
):
    """Fit one code per row to a frozen decoder by gradient descent (Adam).

    The loss is summed over rows, so each row is solved independently of the
    others in its batch; rows are processed in vectorized batches. A row
    stops being updated once its loss has stopped improving (``tol``), and
    the decoder only runs on the rows still being updated.

    Parameters
    ----------
    decoder : torch.nn.Module
        Maps codes ``(n, latent_dim)`` to rows ``(n, n_features)``.
    observation : Observation
        What is known of each row (numpy arrays), and how a decode is
        compared with it: the data term of the loss (e.g.
        :class:`~skautodec._observation.MissingEntries`).
    init : ndarray of shape (n_samples, latent_dim) or (n_samples, n_init, latent_dim)
        Starting codes. With several starts per row, each is optimized and the
        one with the lowest final loss is kept.
    penalty : float
        Weight of the squared norm of the code (the prior), or with
        ``prior``, of its squared Mahalanobis distance to the prior's mean.
    max_iter : int
        Largest number of Adam steps per row.
    lr : float
        Adam learning rate.
    tol : float, default=0.0
        A row (start) converges when its best loss improved by less than
        ``tol`` times that loss over the last 20 steps (checked every 10); it
        is then no longer updated. 0 runs every row for ``max_iter`` steps.
    return_all : bool, default=False
        Return every start's code, loss and steps instead of the best one.
    prior : CodePrior or None, default=None
        A Gaussian prior of the codes (:func:`code_prior`). The codes are
        then fitted in its whitened coordinates, where its penalty is the
        squared norm and Adam's steps follow the codes' spread.
    floor : ndarray of shape (n_samples,) or None, default=None
        A row (start) stops once its data term (its loss without the prior)
        is at or below its ``floor`` (the discrepancy principle: what that
        term is expected to be at the truth); it counts as converged. None:
        no such stop.

    Returns
    -------
    result : LatentFit
        ``codes``, ndarray of shape (n_samples, latent_dim), float32, or
        (n_samples, n_init, latent_dim) with ``return_all``; ``loss``, the
        final per-row loss, shape (n_samples,) or (n_samples, n_init);
        ``n_iter``, the Adam steps each row (start) ran, same shape as
        ``loss``; ``converged``, bool, same shape: False where ``max_iter``
        was reached before ``tol`` was met (always True with ``tol=0``).
    """
    init = np.asarray(init, dtype=np.float32)
    if init.ndim == 2:
        init = init[:, None, :]
    if prior is not None:
        decoder = _Whitened(decoder, prior, device)
        flat = (init.reshape(-1, init.shape[-1]) - prior.mean).T
        u = solve_triangular(prior.factor, flat, lower=True)
        init = u.T.reshape(init.shape).astype(np.float32)
    n, n_init, dim = init.shape
    codes = np.empty((n, n_init, dim), dtype=np.float32)
    losses = np.empty((n, n_init), dtype=np.float32)
    n_iter = np.empty((n, n_init), dtype=np.int64)
    converged = np.empty((n, n_init), dtype=bool)
    rows_per_batch = max(1, batch_size // n_init)
    batches = range(0, n, rows_per_batch)
    progress = None
    if verbose and n * max_iter * n_init >= 10_000:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(batches) * max(max_iter, 1), desc="transform")
    with frozen(decoder), torch.enable_grad():
        for start in batches:
            stop = min(start + rows_per_batch, n)
            obs = observation.take(slice(start, stop)).to(device, repeat=n_init)
            z0 = torch.as_tensor(init[start:stop].reshape(-1, dim), device=device)
            low = None
            if floor is not None:
                low = np.repeat(np.asarray(floor, np.float32)[start:stop], n_init)
                low = torch.as_tensor(low, device=device)
            z, loss, steps, done = _descend(
                decoder, obs, z0, penalty, max_iter, lr, tol, progress, low
            )
            codes[start:stop] = z.view(-1, n_init, dim).cpu().numpy()
            losses[start:stop] = loss.view(-1, n_init).cpu().numpy()
            n_iter[start:stop] = steps.view(-1, n_init).cpu().numpy()
            converged[start:stop] = done.view(-1, n_init).cpu().numpy()
    if progress is not None:
        progress.close()
    if prior is not None:
        codes = (prior.mean + codes @ prior.factor.T).astype(np.float32)
    if return_all:
        return LatentFit(codes, losses, n_iter, converged)
    best = losses.argmin(axis=1)
    rows = np.arange(n)
    return LatentFit(
        codes[rows, best],
        losses[rows, best],
        n_iter[rows, best],
        converged[rows, best],
    )


class LatentFit(NamedTuple):
    """Result of :func:`optimize_latents`."""

    codes: np.ndarray
    loss: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


# A row's improvement over the last 2 * _CHECK steps is compared with ``tol``
# every _CHECK steps.
_CHECK = 10
_BETAS = (0.9, 0.999)
_EPS = 1e-8


def _data_term(loss, z, penalty):
    """The data term of objectives ``loss`` of codes ``z``: what the
    discrepancy principle compares with its floor, the prior left out."""
    return loss - penalty * (z**2).sum(dim=1) if penalty else loss


def _descend(decoder, obs, z0, penalty, max_iter, lr, tol, progress, floor=None):
    """Adam on the codes of the rows still improving and whose data term is
    above their ``floor``; returns the best finite code seen for each row,
    its loss, the steps it ran and whether it met ``tol`` or its floor.

    Adam is written out (the same update as ``torch.optim.Adam``) so that rows
    that have converged can leave the batch with their moment estimates.
    """
    n = len(z0)
    best_z = z0.clone()
    with torch.no_grad():
        best_loss = per_row_objective(decoder(z0), obs, z0, penalty)
    if not torch.isfinite(best_loss).all():
        raise FloatingPointError(
            "The decoder returns non-finite values for the starting codes; "
            "the model has diverged. Refit it with a lower `lr`."
        )
    steps = torch.zeros(n, dtype=torch.int64, device=z0.device)
    done = torch.full((n,), tol <= 0, dtype=torch.bool, device=z0.device)
    active = torch.arange(n, device=z0.device)
    if floor is not None:
        reached = _data_term(best_loss, best_z, penalty) <= floor
        done |= reached
        active = active[~reached]
        if len(active) == 0:
            if progress is not None:
                progress.update(max_iter)
            return best_z, best_loss, steps, done
        z0 = z0[active]
    z = z0.clone()
    m = torch.zeros_like(z)
    v = torch.zeros_like(z)
    # best losses _CHECK and 2 * _CHECK steps ago
    ref_loss = best_loss.clone()
    old_loss = best_loss.clone()
    b1, b2 = _BETAS
    for t in range(1, max_iter + 1):
        oa = obs.take(active) if len(active) < n else obs
        z.requires_grad_(True)
        loss = per_row_objective(decoder(z), oa, z, penalty)
        (grad,) = torch.autograd.grad(loss.sum(), z)
        with torch.no_grad():
            z = z.detach()
            _keep_best(best_z, best_loss, active, z, loss)
            m.mul_(b1).add_(grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            denom = (v.sqrt() / math.sqrt(1 - b2**t)).add_(_EPS)
            z = z.addcdiv(m, denom, value=-lr / (1 - b1**t))
            steps[active] += 1
            if progress is not None:
                progress.update(1)
            if floor is not None:
                data = _data_term(best_loss[active], best_z[active], penalty)
                reached = data <= floor[active]
                if reached.any():
                    active, z, m, v = _retire(done, reached, active, z, m, v)
                    if len(active) == 0:
                        break
            if tol > 0 and t % _CHECK == 0:
                cur = best_loss[active]
                stalled = (old_loss[active] - cur) <= tol * cur.abs()
                stalled &= t >= 2 * _CHECK
                old_loss[active] = ref_loss[active]
                ref_loss[active] = cur
                if stalled.any():
                    _final_check(
                        decoder,
                        obs,
                        penalty,
                        best_z,
                        best_loss,
                        active[stalled],
                        z[stalled],
                    )
                    active, z, m, v = _retire(done, stalled, active, z, m, v)
                    if len(active) == 0:
                        break
    if len(active):
        with torch.no_grad():
            _final_check(decoder, obs, penalty, best_z, best_loss, active, z)
    if progress is not None and t < max_iter:
        progress.update(max_iter - t)
    return best_z, best_loss, steps, done


def _retire(done, leaving, active, *state):
    """Mark the ``leaving`` rows of ``active`` done; the rows that stay, and
    their part of each per-row ``state`` tensor."""
    done[active[leaving]] = True
    keep = ~leaving
    return (active[keep], *(s[keep] for s in state))


def _keep_best(best_z, best_loss, rows, z, loss):
    """Record ``z`` for the ``rows`` where ``loss`` beats the best so far."""
    better = torch.isfinite(loss) & (loss < best_loss[rows])
    idx = rows[better]
    best_loss[idx] = loss[better].detach()
    best_z[idx] = z[better]


def _final_check(decoder, obs, penalty, best_z, best_loss, rows, z):
    """Score the codes after the last step of ``rows``."""
    loss = per_row_objective(decoder(z), obs.take(rows), z, penalty)
    _keep_best(best_z, best_loss, rows, z, loss)


def _visible(rng, n, n_features, image_shape):
    """Random entries to show the encoder, (n, n_features) float32: for
    images half the rows lose a square block (1/8 to 3/4 of the side) and
    half random pixels (0 to 75%); table rows lose random entries."""
    drop = rng.random((n, n_features)) < rng.uniform(0.0, 0.75, (n, 1))
    if image_shape is not None:
        c, height, width = image_shape
        blocks = np.zeros((n, c, height, width), dtype=bool)
        side = min(height, width)
        for i in np.flatnonzero(rng.random(n) < 0.5):
            b = int(rng.integers(max(1, side // 8), max(2, 3 * side // 4) + 1))
            top = rng.integers(0, height - min(b, height) + 1)
            left = rng.integers(0, width - min(b, width) + 1)
            blocks[i, :, top : top + b, left : left + b] = True
            drop[i] = False
        drop |= blocks.reshape(n, -1)
    return (~drop).astype(np.float32)


def fit_encoder(
    encoder,
    decoder,
    X,
    observed,
    codes,
    *,
    image_shape=None,
    max_epochs=5,
    batch_size=64,
    lr=1e-3,
    code_weight=0.1,
    seed=0,
    device="cpu",
    observe=MissingEntries,
):
    """Train ``encoder`` to give a partly observed row its code (amortized).

    Each step hides random entries of training rows (square blocks or random
    entries, :func:`_visible`), encodes what is left and decodes it with the
    frozen ``decoder``; the loss is the squared error on every observed
    entry, hidden ones included (so the encoder learns to fill them), plus
    ``code_weight`` times the squared distance to the row's training code
    (which keeps its codes where the decoder was trained).

    Parameters
    ----------
    encoder : PartialEncoder
    decoder : torch.nn.Module
    X : ndarray of shape (n_samples, n_features)
        Training rows, scaled, missing entries zeroed.
    observed : ndarray of shape (n_samples, n_features) or None
        1 where an entry is observed; None: all observed.
    codes : ndarray of shape (n_samples, latent_dim)
        The training codes.
    observe : callable, default=MissingEntries
        ``observe(values, observed)``: how a batch is compared with decodes.

    Returns
    -------
    encoder : PartialEncoder
        Trained, in eval mode.
    """
    rng = np.random.default_rng(seed)
    n, n_features = X.shape
    optimizer = torch.optim.Adam(encoder.parameters(), lr=lr)
    encoder.train()
    with frozen(decoder), torch.enable_grad():
        for _ in range(max_epochs):
            for rows in np.array_split(rng.permutation(n), max(1, n // batch_size)):
                x = torch.as_tensor(X[rows], device=device)
                obs = torch.ones_like(x)
                if observed is not None:
                    obs = torch.as_tensor(observed[rows], device=device)
                shown = _visible(rng, len(rows), n_features, image_shape)
                shown = obs * torch.as_tensor(shown, device=device)
                z = encoder(x, shown)
                known = observe(x, obs).errors(decoder(z))
                err = known.sum() / obs.sum().clamp(min=1)
                target = torch.as_tensor(codes[rows], device=device)
                loss = err + code_weight * ((z - target) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return encoder.eval()


def sample_latents(
    decoder,
    codes,
    observation,
    noise_var,
    prior_precision,
    n_samples,
    *,
    generator,
    batch_size=256,
    device="cpu",
):
    """Draw codes from a Laplace (Gauss-Newton) approximation of their posterior.

    For each row, the posterior of its code given the observed entries is
    approximated by a Gaussian centred at the fitted code ``z`` with
    precision ``J' diag(observed / noise_var) J + prior_precision``, where
    ``J`` is the decoder's Jacobian at ``z``. Rows with few observed entries
    (or observed entries that say little about the code) get wide draws.

    Parameters
    ----------
    decoder : torch.nn.Module
        Maps codes ``(n, latent_dim)`` to rows ``(n, n_features)``; frozen here.
    codes : ndarray of shape (n_samples, latent_dim)
        Fitted codes, the centres of the draws.
    observation : Observation
        What is known of each row: its Gauss-Newton weights
        (:meth:`~skautodec._observation.Observation.precision`).
    noise_var : ndarray of shape (n_measurements,)
        Noise variance of each measurement, in the decoder's units.
    prior_precision : ndarray of shape (latent_dim, latent_dim)
        Precision matrix of the codes' prior.
    n_samples : int
        Draws per row.
    generator : torch.Generator
        Source of the Gaussian draws (on the CPU).

    Returns
    -------
    draws : ndarray of shape (n_samples_rows, n_samples, latent_dim), float32
    """
    codes = np.asarray(codes, dtype=np.float32)
    n, dim = codes.shape
    out = np.empty((n, n_samples, dim), dtype=np.float32)
    inv_noise = torch.as_tensor(1.0 / np.asarray(noise_var), dtype=torch.float32)
    inv_noise = inv_noise.to(device)
    prior = torch.as_tensor(prior_precision, dtype=torch.float32, device=device)

    def one_row(z):
        return decoder(z[None])[0]

    jacobian = torch.func.vmap(torch.func.jacfwd(one_row))
    with frozen(decoder):
        for start in range(0, n, batch_size):
            z = torch.as_tensor(codes[start : start + batch_size], device=device)
            with torch.no_grad(), warnings.catch_warnings():
                # torch's forward-mode AD loads its decompositions through
                # the deprecated torch.jit.script, once per process
                warnings.filterwarnings(
                    "ignore", "`torch.jit.script` is deprecated", FutureWarning
                )
                J = jacobian(z)  # (b, n_features, dim)
            rows = observation.take(slice(start, start + len(z))).to(device)
            H = rows.precision(J, inv_noise) + prior
            L = torch.linalg.cholesky(H.double())
            eps = torch.randn(
                (len(z), dim, n_samples), generator=generator, dtype=torch.float64
            ).to(device)
            # delta = L^-T eps has covariance H^-1
            delta = torch.linalg.solve_triangular(L.mT, eps, upper=True)
            draws = z[:, None, :] + delta.mT.float()
            out[start : start + len(z)] = draws.cpu().numpy()
    return out
