"""Test-time latent optimization on decoders whose optimum is known."""

import numpy as np
import pytest
import torch
from torch import nn

from skautodec._latent import code_prior, frozen, optimize_latents
from skautodec._modules import MLPDecoder
from skautodec._observation import MissingEntries, per_row_objective

N_FEATURES, DIM = 6, 2


@pytest.fixture
def linear():
    """Decoder z -> W z with a well-conditioned W, and rows to fit."""
    decoder = nn.Linear(DIM, N_FEATURES, bias=False)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(N_FEATURES, DIM)).astype(np.float32)
    with torch.no_grad():
        decoder.weight.copy_(torch.from_numpy(W))
    X = rng.normal(size=(5, N_FEATURES)).astype(np.float32)
    return decoder, W, X


def row_loss(recon, target, observed, z=None, penalty=0.0):
    return per_row_objective(recon, MissingEntries(target, observed), z, penalty)


def fit(decoder, X, observed=None, init=None, **kwargs):
    if init is None:
        init = np.zeros((len(X), DIM), dtype=np.float32)
    kwargs = {"max_iter": 400, "lr": 0.05, **kwargs}
    return optimize_latents(decoder, MissingEntries(X, observed), init, **kwargs)[:2]


def test_observation_loss_matches_formula():
    rng = np.random.default_rng(0)
    recon, target = torch.randn(3, 4), torch.randn(3, 4)
    obs = torch.from_numpy(rng.integers(0, 2, size=(3, 4)).astype(np.float32))
    z = torch.randn(3, 2)
    expected = ((recon - target) ** 2 * obs).sum(1) / 4 + 0.5 * (z**2).sum(1)
    torch.testing.assert_close(row_loss(recon, target, obs, z, 0.5), expected)
    torch.testing.assert_close(
        row_loss(recon, target, None), ((recon - target) ** 2).mean(1)
    )


def test_least_squares_without_penalty(linear):
    decoder, W, X = linear
    codes, loss = fit(decoder, X)
    expected = np.linalg.lstsq(W, X.T, rcond=None)[0].T
    np.testing.assert_allclose(codes, expected, atol=1e-3)
    residual = ((codes @ W.T - X) ** 2).mean(axis=1)
    np.testing.assert_allclose(loss, residual, rtol=1e-4, atol=1e-6)
    assert codes.dtype == np.float32 and codes.shape == (5, DIM)


def test_penalty_gives_ridge_solution(linear):
    decoder, W, X = linear
    penalty = 0.3
    codes, _ = fit(decoder, X, penalty=penalty)
    # minimizes |W z - x|^2 / F + penalty |z|^2
    A = W.T @ W / N_FEATURES + penalty * np.eye(DIM)
    expected = np.linalg.solve(A, W.T @ X.T / N_FEATURES).T
    np.testing.assert_allclose(codes, expected, atol=1e-3)
    unpenalized = np.linalg.lstsq(W, X.T, rcond=None)[0].T
    assert np.linalg.norm(codes) < np.linalg.norm(unpenalized)


def test_gaussian_prior_gives_its_map_solution(linear):
    decoder, W, X = linear
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(200, DIM)) * [2.0, 0.2] + [1.0, -0.5]
    prior = code_prior(latents)
    np.testing.assert_allclose(prior.mean, latents.mean(axis=0))
    cov = prior.factor @ prior.factor.T
    np.testing.assert_allclose(cov, np.cov(latents, rowvar=False), rtol=1e-4)
    penalty = 0.3
    codes, loss = fit(decoder, X, penalty=penalty, prior=prior, max_iter=1500)
    # minimizes |W z - x|^2 / F + penalty (z - mean)' cov^-1 (z - mean)
    P = np.linalg.inv(cov)
    A = W.T @ W / N_FEATURES + penalty * P
    b = W.T @ X.T / N_FEATURES + penalty * (P @ prior.mean)[:, None]
    expected = np.linalg.solve(A, b).T
    np.testing.assert_allclose(codes, expected, atol=2e-3)
    d = expected - prior.mean
    objective = ((expected @ W.T - X) ** 2).mean(axis=1)
    objective += penalty * np.einsum("ij,jk,ik->i", d, P, d)
    np.testing.assert_allclose(loss, objective, rtol=1e-3)
    # an isotropic penalty gives another solution
    ridge, _ = fit(decoder, X, penalty=penalty)
    assert np.abs(ridge - expected).max() > 0.05


def test_gaussian_prior_of_a_single_code_keeps_the_codes_there(linear):
    decoder, _, X = linear
    prior = code_prior([[0.5, -1.0]])  # no spread: no NaN, codes stay put
    assert np.isfinite(prior.factor).all()
    init = np.tile(np.float32([0.5, -1.0]), (len(X), 1))
    codes, _ = fit(decoder, X, init=init, penalty=0.1, prior=prior)
    np.testing.assert_allclose(codes, init, atol=1e-5)


def test_mask_fits_observed_entries_only(linear):
    decoder, W, X = linear
    observed = np.ones_like(X)
    observed[:, [1, 4]] = 0.0
    garbage = X.copy()
    garbage[:, [1, 4]] = 1e3
    codes, _ = fit(decoder, garbage, observed)
    keep = observed[0].astype(bool)
    expected = np.linalg.lstsq(W[keep], X[:, keep].T, rcond=None)[0].T
    np.testing.assert_allclose(codes, expected, atol=1e-3)


def test_rows_are_independent():
    decoder = MLPDecoder(DIM, N_FEATURES, hidden=16)
    X = np.random.default_rng(1).normal(size=(7, N_FEATURES)).astype(np.float32)
    init = np.random.default_rng(2).normal(size=(7, DIM)).astype(np.float32)
    together, loss = fit(decoder, X, init=init, max_iter=50)
    for i in [0, 3, 6]:
        alone, loss_i = fit(decoder, X[i : i + 1], init=init[i : i + 1], max_iter=50)
        np.testing.assert_allclose(alone[0], together[i], atol=1e-4)
        np.testing.assert_allclose(loss_i[0], loss[i], rtol=1e-4, atol=1e-7)
    small_batches, _ = fit(decoder, X, init=init, max_iter=50, batch_size=2)
    np.testing.assert_allclose(small_batches, together, atol=1e-4)


def test_n_init_keeps_lowest_loss_start(linear):
    decoder, W, X = linear
    best = np.linalg.lstsq(W, X.T, rcond=None)[0].T.astype(np.float32)
    far = best + 5.0
    init = np.stack([far, best, far + 1.0], axis=1)  # (n, n_init, dim)
    codes, loss = fit(decoder, X, init=init, max_iter=0)
    np.testing.assert_array_equal(codes, best)
    # with a few steps every start moves, the one nearest the optimum still wins
    codes, loss = fit(decoder, X, init=init, max_iter=3, lr=0.01)
    assert np.abs(codes - best).max() < 0.1
    recon = torch.from_numpy(codes) @ torch.from_numpy(W).T
    np.testing.assert_allclose(
        loss, row_loss(recon, torch.from_numpy(X), None).numpy(), rtol=1e-5
    )


def test_return_all_gives_every_start(linear):
    decoder, _, X = linear
    init = np.random.default_rng(0).normal(size=(len(X), 3, DIM)).astype(np.float32)
    codes, loss = fit(decoder, X, init=init, max_iter=5, return_all=True)
    assert codes.shape == (len(X), 3, DIM) and loss.shape == (len(X), 3)
    best_codes, best_loss = fit(decoder, X, init=init, max_iter=5)
    rows = np.arange(len(X))
    np.testing.assert_array_equal(best_codes, codes[rows, loss.argmin(axis=1)])
    np.testing.assert_array_equal(best_loss, loss.min(axis=1))


def test_decoder_is_frozen_and_restored():
    decoder = MLPDecoder(DIM, N_FEATURES, hidden=16)
    decoder.net[0].weight.requires_grad_(False)  # a mixed starting state
    decoder.train()
    before = {k: v.clone() for k, v in decoder.state_dict().items()}
    flags = [p.requires_grad for p in decoder.parameters()]
    X = np.random.default_rng(0).normal(size=(4, N_FEATURES)).astype(np.float32)
    fit(decoder, X, max_iter=20)
    for k, v in decoder.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert [p.requires_grad for p in decoder.parameters()] == flags
    assert decoder.training
    assert all(p.grad is None for p in decoder.parameters())


def test_frozen_restores_state_on_error():
    module = nn.Linear(2, 2)
    module.train()
    with pytest.raises(RuntimeError, match="boom"), frozen(module):
        assert not module.training
        assert not any(p.requires_grad for p in module.parameters())
        raise RuntimeError("boom")
    assert module.training
    assert all(p.requires_grad for p in module.parameters())


def test_non_finite_decoder_raises(linear):
    decoder, _, X = linear
    with torch.no_grad():
        decoder.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="diverged"):
        fit(decoder, X)


def test_progress_bar_on_long_runs(linear, capsys):
    decoder, _, _ = linear
    X = np.random.default_rng(0).normal(size=(100, N_FEATURES)).astype(np.float32)
    init = np.zeros((100, DIM), dtype=np.float32)
    optimize_latents(decoder, MissingEntries(X, None), init, max_iter=100, verbose=1)
    err = capsys.readouterr().err
    assert "transform" in err and "100/100" in err
    optimize_latents(decoder, MissingEntries(X, None), init, max_iter=100, verbose=0)
    assert capsys.readouterr().err == ""


def _torch_adam(decoder, X, init, steps, lr):
    """Reference: torch.optim.Adam on the summed row losses, best code kept."""
    z = torch.tensor(init, requires_grad=True)
    x = torch.as_tensor(X)
    opt = torch.optim.Adam([z], lr=lr)
    best_z, best = z.detach().clone(), torch.full((len(X),), float("inf"))
    for _ in range(steps):
        opt.zero_grad()
        loss = row_loss(decoder(z), x, None)
        loss.sum().backward()
        with torch.no_grad():
            better = loss < best
            best[better], best_z[better] = loss[better], z[better]
        opt.step()
    with torch.no_grad():
        loss = row_loss(decoder(z), x, None)
        better = loss < best
        best[better], best_z[better] = loss[better], z[better]
    return best_z.numpy(), best.numpy()


def test_tol_zero_matches_torch_adam():
    torch.manual_seed(0)
    decoder = MLPDecoder(DIM, N_FEATURES, hidden=8)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, N_FEATURES)).astype(np.float32)
    init = rng.normal(size=(7, DIM)).astype(np.float32)
    fit_ = optimize_latents(
        decoder, MissingEntries(X, None), init, max_iter=30, lr=0.05, tol=0
    )
    codes, loss = _torch_adam(decoder, X, init, 30, 0.05)
    np.testing.assert_allclose(fit_.codes, codes, atol=1e-5)
    np.testing.assert_allclose(fit_.loss, loss, rtol=1e-5)
    assert (fit_.n_iter == 30).all() and fit_.converged.all()


def test_tol_stops_rows_that_stopped_improving(linear):
    decoder, W, X = linear
    init = np.zeros((len(X), DIM), dtype=np.float32)
    full = optimize_latents(decoder, MissingEntries(X, None), init, max_iter=400, tol=0)
    early = optimize_latents(
        decoder, MissingEntries(X, None), init, max_iter=400, tol=1e-6
    )
    assert early.converged.all()
    assert (early.n_iter < 400).all() and (early.n_iter % 10 == 0).all()
    # a tight tol stops close to the optimum of this convex problem
    assert (early.loss <= full.loss * 1.01 + 1e-6).all()
    loose = optimize_latents(
        decoder, MissingEntries(X, None), init, max_iter=400, tol=1e-2
    )
    assert (loose.n_iter <= early.n_iter).all() and loose.n_iter.sum() < 400


def test_rows_that_hit_max_iter_are_not_converged(linear):
    decoder, _, X = linear
    init = np.zeros((len(X), DIM), dtype=np.float32)
    fit_ = optimize_latents(
        decoder, MissingEntries(X, None), init, max_iter=5, lr=1e-3, tol=1e-4
    )
    assert not fit_.converged.any()
    assert (fit_.n_iter == 5).all()


def test_rows_are_independent_with_tol():
    torch.manual_seed(0)
    decoder = MLPDecoder(DIM, N_FEATURES, hidden=8)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, N_FEATURES)).astype(np.float32)
    init = rng.normal(size=(6, 3, DIM)).astype(np.float32)
    kw = dict(max_iter=60, lr=0.05, tol=1e-3, return_all=True)
    together = optimize_latents(decoder, MissingEntries(X, None), init, **kw)
    assert len(np.unique(together.n_iter)) > 1  # rows stop at different steps
    for i in range(len(X)):
        alone = optimize_latents(
            decoder, MissingEntries(X[i : i + 1], None), init[i : i + 1], **kw
        )
        np.testing.assert_allclose(alone.codes[0], together.codes[i], atol=1e-5)
        np.testing.assert_array_equal(alone.n_iter[0], together.n_iter[i])


def test_floor_stops_each_row_once_its_loss_reaches_it(linear):
    decoder, _, X = linear
    init = np.zeros((len(X), DIM), dtype=np.float32)
    obs = MissingEntries(X, None)
    full = optimize_latents(decoder, obs, init, max_iter=200)
    start = optimize_latents(decoder, obs, init, max_iter=0).loss
    # row 0 is below its floor from the start, row 1 never reaches it, the
    # others stop halfway between their start and their optimum
    floor = (start + full.loss) / 2
    floor[0], floor[1] = start[0] + 1.0, -1.0
    early = optimize_latents(decoder, obs, init, max_iter=200, floor=floor)
    assert early.n_iter[0] == 0 and early.n_iter[1] == 200
    np.testing.assert_array_equal(early.codes[0], init[0])
    np.testing.assert_allclose(early.codes[1], full.codes[1], rtol=1e-5)
    assert (early.loss[2:] <= floor[2:]).all()
    assert (early.loss[2:] > full.loss[2:]).all()
    assert (0 < early.n_iter[2:]).all() and (early.n_iter[2:] < 200).all()
    assert early.converged.all()
    # with several starts, each start stops at its row's floor
    starts = np.stack([init, init + 1.0], axis=1)
    both = optimize_latents(
        decoder, obs, starts, max_iter=200, floor=floor, return_all=True
    )
    assert (both.loss[2:] <= floor[2:, None]).all()
