"""Test-time latent optimization shared by both estimators."""

import contextlib

import numpy as np
import torch

__all__ = ["optimize_latents", "row_loss"]


def row_loss(recon, target, observed, z=None, penalty=0.0):
    """Per-row loss: squared error on observed entries over all features.

    Dividing by the number of features rather than by the number of observed
    entries keeps the prior's weight per observed entry the same in training
    and at test time, so the prior counts more when less is observed.
    """
    err = (recon - target) ** 2
    if observed is not None:
        err = err * observed
    loss = err.sum(dim=1) / recon.shape[1]
    if z is not None and penalty:
        loss = loss + penalty * (z**2).sum(dim=1)
    return loss


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
    X,
    observed,
    init,
    *,
    penalty=0.0,
    max_iter=100,
    lr=0.05,
    batch_size=1024,
    device="cpu",
    verbose=0,
    return_all=False,
):
    """Fit one code per row to a frozen decoder by gradient descent (Adam).

    The loss is summed over rows, so each row is solved independently of the
    others in its batch; rows are processed in vectorized batches.

    Parameters
    ----------
    decoder : torch.nn.Module
        Maps codes ``(n, latent_dim)`` to rows ``(n, n_features)``.
    X : ndarray of shape (n_samples, n_features)
        Targets, finite (missing entries may hold any finite value).
    observed : ndarray of shape (n_samples, n_features) or None
        1 where an entry is observed, 0 where it is missing; None: all observed.
    init : ndarray of shape (n_samples, latent_dim) or (n_samples, n_init, latent_dim)
        Starting codes. With several starts per row, each is optimized and the
        one with the lowest final loss is kept.
    penalty : float
        Weight of the squared norm of the code (the prior).
    max_iter : int
        Adam steps per row.
    lr : float
        Adam learning rate.

    return_all : bool, default=False
        Return every start's code and loss instead of the best one.

    Returns
    -------
    codes : ndarray of shape (n_samples, latent_dim), float32
        Or (n_samples, n_init, latent_dim) with ``return_all``.
    loss : ndarray of shape (n_samples,), the final per-row loss
        Or (n_samples, n_init) with ``return_all``.
    """
    init = np.asarray(init, dtype=np.float32)
    if init.ndim == 2:
        init = init[:, None, :]
    n, n_init, dim = init.shape
    codes = np.empty((n, n_init, dim), dtype=np.float32)
    losses = np.empty((n, n_init), dtype=np.float32)
    rows_per_batch = max(1, batch_size // n_init)
    batches = range(0, n, rows_per_batch)
    progress = None
    if verbose and n * max_iter * n_init >= 10_000:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(batches) * max(max_iter, 1), desc="transform")
    with frozen(decoder):
        for start in batches:
            stop = min(start + rows_per_batch, n)
            x = torch.as_tensor(X[start:stop], device=device)
            x = x.repeat_interleave(n_init, dim=0)
            obs = None
            if observed is not None:
                obs = torch.as_tensor(observed[start:stop], device=device)
                obs = obs.repeat_interleave(n_init, dim=0)
            z0 = torch.as_tensor(init[start:stop].reshape(-1, dim), device=device)
            z, loss = _descend(decoder, x, obs, z0, penalty, max_iter, lr, progress)
            codes[start:stop] = z.view(-1, n_init, dim).cpu().numpy()
            losses[start:stop] = loss.view(-1, n_init).cpu().numpy()
    if progress is not None:
        progress.close()
    if return_all:
        return codes, losses
    best = losses.argmin(axis=1)
    rows = np.arange(n)
    return codes[rows, best], losses[rows, best]


def _descend(decoder, x, obs, z0, penalty, max_iter, lr, progress):
    """Adam on the codes; returns the best finite code seen for each row."""
    z = z0.clone().requires_grad_(True)
    best_z = z0.clone()
    with torch.no_grad():
        best_loss = row_loss(decoder(z0), x, obs, z0, penalty)
    if not torch.isfinite(best_loss).all():
        raise FloatingPointError(
            "The decoder returns non-finite values for the starting codes; "
            "the model has diverged. Refit it with a lower `lr`."
        )
    optimizer = torch.optim.Adam([z], lr=lr)
    for _ in range(max_iter):
        optimizer.zero_grad(set_to_none=True)
        loss = row_loss(decoder(z), x, obs, z, penalty)
        loss.sum().backward()
        with torch.no_grad():
            better = torch.isfinite(loss) & (loss < best_loss)
            best_loss = torch.where(better, loss, best_loss)
            best_z[better] = z[better]
        optimizer.step()
        if progress is not None:
            progress.update(1)
    with torch.no_grad():
        loss = row_loss(decoder(z), x, obs, z, penalty)
        better = torch.isfinite(loss) & (loss < best_loss)
        best_loss = torch.where(better, loss, best_loss)
        best_z[better] = z[better]
    return best_z.detach(), best_loss.detach()
