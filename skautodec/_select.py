"""Choosing test-time settings on entries held out of training.

One named step of ``AutoDecoder.fit``, as ``RidgeCV`` chooses ``alpha_``
from a public grid: the candidates come from
:func:`~skautodec._resolve.selection_grid`, the entries held out follow the
constants below, and the result is a dict of fitted attributes; the
estimator's parameters are never changed.

- Tables (:func:`select_for_table`): ``TABLE_SHARE`` of the observed entries
  of at most ``TABLE_MAX_ROWS`` rows are hidden, a model is trained without
  them for each candidate code size, and the blend, prior weight and code
  size that fill them best are kept.
- Images (:func:`held_out_blocks`, :func:`select_for_images`): a square
  block of side ``BLOCK_SIDE`` times the image's in ``BLOCK_SHARE`` of the
  images (at most ``BLOCK_MAX_ROWS``) is left out of the one training run;
  after it, the blocks are filled as new images would be (their own
  training rows left out) and the blend that fills them best is kept.
"""

import warnings

import numpy as np

from . import _together
from ._inference import (
    NEIGHBOR_SOURCES,
    fitted_fill,
    nearest_training_rows,
    neighbour_average,
    neighbour_fill,
)
from ._observation import MissingEntries
from ._resolve import probe_n_init
from ._table import whole_cells

__all__ = [
    "held_out_blocks",
    "held_out_entries",
    "select_for_images",
    "select_for_table",
]

# What the selection may choose (fitted attributes, less the underscore).
CHOSEN = (
    "latent_dim",
    "transform_penalty",
    "neighbor_weight",
    "n_neighbors",
    "neighbor_source",
)
TABLE_SHARE = 0.1
TABLE_MAX_ROWS = 2000
# The probes of a table train on at most this many rows: the rows with
# held-out entries, and others drawn at random.
PROBE_MAX_ROWS = 2000
BLOCK_SIDE = 0.375
BLOCK_SHARE = 0.25
BLOCK_MAX_ROWS = 500
# Fewer held-out entries (tables) or images (blocks) choose nothing.
MIN_HELD_OUT = 20
# The per-feature held-out error that bounds the noise of ``sample`` is
# shrunk to its mean over features with the weight of this many entries.
SHRINK_ENTRIES = 10


def random_observed(missing, rng, share, groups=()):
    """A ``share`` of the observed entries, drawn with ``rng``; none in a
    row where they would be all of its observed entries; categorical cells
    (``groups``) whole."""
    held = ~missing & (rng.random_sample(missing.shape) < share)
    return keep_one_observed(whole_cells(held, groups), missing)


def keep_one_observed(held, missing):
    """``held`` with the rows where it covers every observed entry cleared."""
    held[held.sum(axis=1) >= (~missing).sum(axis=1)] = False
    return held


def held_out_entries(
    missing, seed, share=TABLE_SHARE, max_rows=TABLE_MAX_ROWS, groups=()
):
    """Observed entries to hold out of a table: a ``share`` of those of at
    most ``max_rows`` rows, each row keeping one observed entry, categorical
    cells (``groups``) whole; None when fewer than ``MIN_HELD_OUT`` would be
    held out."""
    rng = np.random.RandomState(seed)
    rows = np.arange(len(missing))
    if len(rows) > max_rows:
        rows = rng.choice(rows, max_rows, replace=False)
    held = np.zeros(missing.shape, dtype=bool)
    held[rows] = random_observed(missing[rows], rng, share, groups)
    return held if held.sum() >= MIN_HELD_OUT else None


def held_out_blocks(missing, image_shape, seed, side=BLOCK_SIDE):
    """Square blocks (``side`` times the image's shorter side) at random
    places in ``BLOCK_SHARE`` of the images (at most ``BLOCK_MAX_ROWS``),
    observed pixels only; None for fewer than ``MIN_HELD_OUT`` images."""
    n = len(missing)
    if n < MIN_HELD_OUT:
        return None
    rng = np.random.RandomState(seed)
    _, height, width = image_shape
    b = max(1, int(round(side * min(height, width))))
    rows = rng.choice(n, min(BLOCK_MAX_ROWS, int(n * BLOCK_SHARE)), replace=False)
    block = np.zeros((len(rows), *image_shape), dtype=bool)
    for i, (top, left) in enumerate(
        zip(
            rng.randint(0, height - b + 1, len(rows)),
            rng.randint(0, width - b + 1, len(rows)),
            strict=True,
        )
    ):
        block[i, :, top : top + b, left : left + b] = True
    held = np.zeros(missing.shape, dtype=bool)
    held[rows] = block.reshape(len(rows), -1) & ~missing[rows]
    held = keep_one_observed(held, missing)
    return held if held.any() else None


def best_blend(candidates, truth, held, weights, observe=MissingEntries):
    """The blend ``(1 - w) * fitted + w * near`` with the lowest mean error
    on the ``held`` entries of ``truth`` (scaled units, NaN where unknown;
    ``observe(values, observed)`` compares fills with it), over
    ``candidates`` of (key, fitted, near) and ``weights``: (error, key, w,
    per-feature sums of errors)."""
    observation = observe(np.where(held, truth, 0.0), held)
    count = observation.count()
    best = (np.inf, None, None, None)
    for key, fitted, near in candidates:
        for w in weights:
            sq = observation.fill_errors((1 - w) * fitted + w * near)
            err = float(sq.sum() / count)
            if err < best[0]:
                best = (err, key, float(w), sq.sum(axis=0))
    return best


def _shrunk(sq, held):
    count = held.sum(axis=0)
    mean = sq.sum() / count.sum()
    return (sq + SHRINK_ENTRIES * mean) / (count + SHRINK_ENTRIES)


def select_for_table(model, X, missing, grid, seed):
    """Choose the code size, ``neighbor_weight``, ``neighbor_source`` and
    ``transform_penalty`` of a table on held-out entries (one model trained
    without them per candidate code size).

    Returns
    -------
    chosen : dict or None
        The fitted attributes chosen (``latent_dim_``, ``neighbor_weight_``,
        ``neighbor_source_``, ``transform_penalty_``), the held-out error
        (``held_out_error_``) and its per-feature profile (``_held_out_mse``,
        the floor of ``sample``'s noise); None when too few entries can be
        held out.
    """
    held = held_out_entries(missing, seed, groups=model._groups)
    if held is None:
        return None
    keep = _probe_rows(held, seed)
    X, missing, kept = X[keep], missing[keep], held[keep]
    train = np.where(missing | kept, np.nan, X)
    layout = model.__dict__.get("_layout")
    if layout is not None:  # the probes see the table, with its categories
        train = layout.to_frame(train)
    probes = [_probe_model(model, size, grid, seed) for size in grid["latent_dim"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _together.train(probes, [_together.prepare(p, train) for p in probes])
    best = (np.inf,)
    for size, probe in zip(grid["latent_dim"], probes, strict=True):
        err, key, weight, sq = _probe_error(probe, X, missing, kept, grid)
        if err < best[0]:
            best = (err, key, weight, sq, size)
    err, (penalty, source), weight, sq, size = best
    return {
        "latent_dim_": size,
        "neighbor_weight_": weight,
        "neighbor_source_": source,
        "transform_penalty_": penalty,
        "held_out_error_": err,
        "_held_out_mse": _shrunk(sq, held),
    }


def _probe_model(model, latent_dim, grid, seed):
    """The unfitted probe of codes of ``latent_dim``: the model's settings
    and test-time steps, its starts (:func:`~skautodec._resolve.probe_n_init`),
    no neighbour blend, the first penalty."""
    params = model.get_params(deep=False)
    params.update(
        latent_dim=latent_dim,
        n_init=probe_n_init(params, model.n_init_),
        transform_max_iter=model.transform_max_iter_,
        neighbor_weight=0.0,
        neighbor_source="decodes",
        transform_penalty=grid["transform_penalty"][0],
        warm_start=False,
        callbacks=None,
        verbose=0,
        random_state=seed,
    )
    return type(model)(**params)


def _probe_error(probe, X, missing, held, grid):
    """How well a probe trained without the ``held`` entries fills them:
    the blend that fills them best (:func:`best_blend`)."""
    rows = held.any(axis=1)
    hidden = missing | held
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        observation = probe._observe(X[rows], hidden[rows])
        settings = probe._test_time()
        k = settings.n_neighbors
        neighbors = nearest_training_rows(probe, observation, max(settings.n_init, k))
        near = {
            source: neighbour_fill(probe, observation, source, k, neighbors)
            for source in grid["neighbor_source"]
        }
        candidates = []
        for penalty in grid["transform_penalty"]:
            chosen = settings.with_penalty(
                penalty, probe.noise_var_, probe.n_features_in_
            )
            fitted, _ = fitted_fill(probe, observation, chosen, neighbors)
            for source, average in near.items():
                candidates.append(((penalty, source), fitted, average))
    truth = (X[rows] - probe.offset_) / probe.scale_
    return best_blend(
        candidates,
        truth,
        held[rows],
        grid["neighbor_weight"],
        probe._make_observation,
    )


def _probe_rows(held, seed):
    """The rows a probe trains on: all, or at most ``PROBE_MAX_ROWS`` of them,
    the rows with held-out entries first."""
    n = len(held)
    if n <= PROBE_MAX_ROWS:
        return np.arange(n)
    with_held = np.flatnonzero(held.any(axis=1))
    others = np.setdiff1d(np.arange(n), with_held)
    rng = np.random.RandomState(seed)
    extra = rng.choice(others, max(0, PROBE_MAX_ROWS - len(with_held)), replace=False)
    return np.sort(np.concatenate([with_held, extra]))


def select_for_images(model, X, missing, held, grid):
    """Choose ``neighbor_weight``, ``n_neighbors`` and ``neighbor_source`` on
    the blocks ``held`` out of training: each such image is filled as a new
    one would be, its own training row left out of its starts and
    neighbours. Returns the chosen fitted attributes, or None."""
    rows = np.flatnonzero(held.any(axis=1))
    hidden = (missing | held)[rows]
    observation = model._observe(X[rows], hidden)
    if observation.unobserved() is None:
        return None
    settings = model._test_time()
    ks = grid["n_neighbors"]
    k_max = min(max(max(ks), settings.n_init) + 1, len(model.latents_))

    def others(reference):
        # the closest training rows but each row's own, in order
        near = nearest_training_rows(model, observation, k_max, reference)
        own = near == rows[:, None]
        keep = np.argsort(own, axis=1, kind="stable")[:, : k_max - 1]
        return np.take_along_axis(near, keep, axis=1)

    starts = others(None)
    fitted, _ = fitted_fill(model, observation, settings, starts)
    candidates = []
    for source in grid["neighbor_source"]:
        reference = NEIGHBOR_SOURCES[source](model)
        near = starts if source == "decodes" else others(reference)
        for k in ks:
            average = neighbour_average(reference, near, k)
            candidates.append(((min(k, near.shape[1]), source), fitted, average))
    truth = (X[rows] - model.offset_) / model.scale_
    err, (k, source), weight, _ = best_blend(
        candidates, truth, held[rows], grid["neighbor_weight"], model._make_observation
    )
    return {
        "neighbor_weight_": weight,
        "n_neighbors_": int(k),
        "neighbor_source_": source,
        "held_out_error_": err,
    }
