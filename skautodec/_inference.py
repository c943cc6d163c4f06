"""Test-time inference of a fitted AutoDecoder: starts, codes and fills.

Each function takes the fitted ``model`` (an :class:`~skautodec.AutoDecoder`),
an :class:`~skautodec._observation.Observation` of the rows in scaled units
and the call's :class:`~skautodec._resolve.TestTime` settings, so that
``reconstruct``, ``sample`` and the selection on held-out entries share them
and never change the model's parameters.

Two tables name the strategies: :data:`STARTS`, the starting codes of the
test-time fit (``transform_init``), and :data:`NEIGHBOR_SOURCES`, the rows
that the neighbour blend of ``reconstruct`` averages (``neighbor_source``). A
new strategy is one function and one entry.
"""

import copy
import warnings
from collections.abc import Callable, Set
from typing import NamedTuple

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._latent import fit_encoder
from ._modules import PartialEncoder
from ._nets import _seeded
from ._observation import Measurements, MissingEntries
from ._residual import residual_fill

__all__ = [
    "NEIGHBOR_SOURCES",
    "STARTS",
    "corrected_fill",
    "discrepancy_floor",
    "fit_codes",
    "fitted_fill",
    "measured_linearly",
    "nearest_training_rows",
    "neighbour_fill",
    "reconstruct_scaled",
]

# Query rows compared with all training rows at once in the neighbour search:
# at least 256, and as many as keep the distances under 2**24 entries.
_SEARCH_BATCH = 256
_SEARCH_ENTRIES = 2**24
# Training rows of a table searched for neighbours: all, or SEARCH_MAX_ROWS
# of them evenly spaced (the search is quadratic in the rows; beyond this,
# more candidates change the closest ones' average little). Images: all.
SEARCH_MAX_ROWS = 10_000
# Training rows refitted to measure a decode's error on rows it was not
# fitted for (the discrepancy principle's level).
REFIT_ROWS = 64


def search_rows(n_rows, images=False):
    """The training rows searched for neighbours, or None for all."""
    if images or n_rows <= SEARCH_MAX_ROWS:
        return None
    return evenly_spaced(n_rows, SEARCH_MAX_ROWS)


def evenly_spaced(n_rows, k):
    """``min(k, n_rows)`` distinct row indices from first to last, evenly
    spaced."""
    return np.linspace(0, n_rows - 1, min(k, n_rows)).round().astype(np.int64)


def nearest_training_rows(model, observation, k, reference=None):
    """Indices ``(n, k)`` of the training rows whose ``reference`` rows (the
    training decodes unless given; scaled units) best explain each observed
    row (:meth:`~skautodec._observation.Observation.distances`), best
    first; among :func:`search_rows` of them on large tables."""
    device = model._device
    if reference is None:
        reference = model._training_decodes()
    rows = search_rows(len(reference), model.image_shape_ is not None)
    if rows is not None:
        reference = reference[rows]
    k = min(k, len(reference))
    measured = observation.measure(torch.as_tensor(reference, device=device))
    measured_sq = measured**2
    out = np.empty((len(observation), k), dtype=np.int64)
    step = max(_SEARCH_BATCH, _SEARCH_ENTRIES // max(len(reference), 1))
    for start in range(0, len(observation), step):
        part = observation.take(slice(start, start + step)).to(device)
        dist = part.distances(measured, measured_sq)
        out[start : start + len(part)] = dist.topk(
            k, dim=1, largest=False
        ).indices.cpu()
    return out if rows is None else rows[out]


# ------------------------------------------------------------------- starts
class Start(NamedTuple):
    """A start strategy: ``codes(model, observation, n_starts, neighbors)``
    gives the starting codes ``(n, s, dim)``; ``n_nearest(n_starts)`` how
    many closest training rows it reads from ``neighbors``; ``fit(model,
    observation, seed, device)``, where given, trains what it needs at the end
    of ``fit`` (kept as ``encoder_``); ``kinds``, where given, the kinds of
    observation it can start from (others start from "nearest")."""

    codes: Callable
    n_nearest: Callable
    fit: Callable | None = None
    kinds: tuple = ()


def _zeros(model, observation, n_starts, neighbors):
    return np.zeros((len(observation), 1, model.latent_dim_), dtype=np.float32)


def _nearest(model, observation, n_starts, neighbors):
    return model.latents_[neighbors[:, :n_starts]]


def _encoder(model, observation, n_starts, neighbors):
    init = encode(model, observation)[:, None]
    if n_starts > 1:
        near = model.latents_[neighbors[:, : n_starts - 1]]
        init = np.concatenate([init, near], axis=1)
    return init


def train_encoder(model, observation, seed, device):
    """The encoder of a row's observed entries to its starting code, trained
    for half the decoder's epochs (at least one) with the decoder frozen,
    on the training rows' observation; kept on the CPU (see
    :func:`~skautodec._latent.fit_encoder`)."""
    with _seeded(seed, device):
        encoder = PartialEncoder(
            model.latent_dim_,
            model._width,
            model.image_shape_,
            model.channels_,
        ).to(device)
        fit_encoder(
            encoder,
            model._get_decoder(),
            observation.values,
            observation.observed,
            model.latents_,
            image_shape=model.image_shape_,
            max_epochs=max(1, round(model.max_epochs_ / 2)),
            batch_size=model.batch_size_,
            seed=seed,
            device=device,
            observe=model._make_observation,
        )
    return encoder.cpu()


def encode(model, observation):
    """The encoder's codes of observed rows, ``(n, latent_dim_)``."""
    cache = model._cache()
    if "encoder" not in cache:
        # a copy on the device: encoder_ stays on the CPU for pickles
        on_cpu = torch.device(model._device).type == "cpu"
        encoder = model.encoder_ if on_cpu else copy.deepcopy(model.encoder_)
        cache["encoder"] = encoder.to(model._device)
    return model._apply(
        cache["encoder"], observation.values, model.latent_dim_, observation.observed
    )


#: Start strategies by ``transform_init`` name: "zeros" (the prior's mean,
#: one start), "nearest" (the codes of the training rows that best explain
#: each row) and "encoder" (the encoder's code, then the closest codes).
STARTS = {
    "zeros": Start(_zeros, lambda n_starts: 0),
    "nearest": Start(_nearest, lambda n_starts: n_starts),
    "encoder": Start(
        _encoder, lambda n_starts: n_starts - 1, train_encoder, (MissingEntries,)
    ),
}


class StartNames(Set):
    """The names ``transform_init`` takes: "auto" and every entry of
    :data:`STARTS`, read when a parameter is checked (so that a strategy
    added to the table is accepted)."""

    def __contains__(self, name):
        return name == "auto" or name in STARTS

    def __iter__(self):
        return iter(("auto", *STARTS))

    def __len__(self):
        return 1 + len(STARTS)

    @classmethod
    def _from_iterable(cls, iterable):
        return set(iterable)


def refit_error(model, max_iter, penalty, prior=False):
    """Mean squared error per scaled entry of decodes of fresh codes fitted
    to ``REFIT_ROWS`` whole training rows (from their training codes, with
    the call's steps and prior): how well the decoder can explain a row,
    below the training codes' ``noise_var_``. Kept until the next ``fit``."""
    key = ("refit_error", max_iter, penalty, prior)
    cache = model._cache()
    if key not in cache:
        rows = evenly_spaced(len(model.latents_), REFIT_ROWS)
        values = model._training_rows[rows]
        with warnings.catch_warnings():
            # the call's own fit reports its convergence
            warnings.simplefilter("ignore", ConvergenceWarning)
            codes = model._optimize(
                MissingEntries(values),
                model.latents_[rows],
                penalty,
                max_iter,
                prior=prior,
            )
        err = np.mean((model._decode_scaled(codes) - values) ** 2, dtype=np.float64)
        cache[key] = max(float(err), 1e-12)
    return cache[key]


def discrepancy_floor(model, observation, discrepancy, max_iter, penalty, prior=False):
    """Per-row loss at which a test-time fit stops (the discrepancy
    principle): ``discrepancy`` times the data term expected at the truth,
    a decode's error there being :func:`refit_error`; None for no stop."""
    if discrepancy is None or max_iter == 0:
        return None
    if model._groups:
        raise ValueError(
            "transform_discrepancy stops a fit at the loss expected at the "
            "truth, which is known for numeric columns only; this table has "
            "categorical columns. Set transform_discrepancy=None."
        )
    entry_var = min(refit_error(model, max_iter, penalty, prior), model.noise_var_)
    expected = observation.expected_loss(
        entry_var, model.noise_var_, model.n_features_in_
    )
    return (discrepancy * expected).astype(np.float32)


def fit_codes(model, observation, settings, n_starts, neighbors=None):
    """Codes fitted to ``observation`` from ``n_starts`` starts per row,
    ``(n, s, dim)``, best start first; ``neighbors`` are the closest
    training rows where already found."""
    if settings.init == "zeros" and settings.max_iter == 0:
        warnings.warn(
            'transform_max_iter=0 with transform_init="zeros": no code is '
            "fitted, every row gets the prior's mean (zeros). Set "
            "transform_max_iter to 1 or more.",
            UserWarning,
            stacklevel=4,
        )
    start = STARTS[settings.init]
    if start.kinds and not isinstance(observation, start.kinds):
        start = STARTS["nearest"]
    near = start.n_nearest(n_starts)
    if neighbors is None and near > 0:
        neighbors = nearest_training_rows(model, observation, near)
    init = start.codes(model, observation, n_starts, neighbors)
    init[observation.empty_rows()] = 0.0
    floor = discrepancy_floor(
        model,
        observation,
        settings.discrepancy,
        settings.max_iter,
        settings.penalty,
        settings.prior,
    )
    return model._optimize(
        observation,
        init,
        settings.penalty,
        settings.max_iter,
        return_all=True,
        prior=settings.prior,
        floor=floor,
    )


# -------------------------------------------------------------------- fills
def fitted_fill(model, observation, settings, neighbors=None):
    """Mean decode of the codes fitted from the ``n_init`` starts, in scaled
    units, and the codes ``(n, s, dim)``."""
    codes = fit_codes(model, observation, settings, settings.n_init, neighbors)
    # means accumulated one start at a time: memory (n, F)
    out = sum(model._decode_scaled(codes[:, j]) for j in range(codes.shape[1]))
    return out / codes.shape[1], codes


def complete_rows(model, observation, missing):
    """Training rows in scaled units, missing entries filled by their decodes
    (what "data" neighbours are found in and averaged from)."""
    values = observation.values
    return np.where(missing, model._training_decodes(), values).astype(np.float32)


#: Rows the neighbour blend averages, by ``neighbor_source`` name: the
#: training rows with their missing entries filled by their decodes
#: ("data") or the decodes of the training codes ("decodes"); scaled units.
NEIGHBOR_SOURCES = {
    "data": lambda model: model._training_rows,
    "decodes": lambda model: model._training_decodes(),
}


def neighbour_average(reference, neighbors, k):
    """Mean of the ``reference`` rows of each row's first ``k`` neighbours."""
    k = min(k, neighbors.shape[1])
    return sum(reference[neighbors[:, j]] for j in range(k)) / k


def neighbour_fill(model, observation, source, k, neighbors=None):
    """Mean of the ``source`` rows of the ``k`` training rows that best
    explain each row; the closest decodes' ``neighbors`` are reused for
    "decodes" where given, "data" is searched in the data rows."""
    reference = NEIGHBOR_SOURCES[source](model)
    if neighbors is None or source != "decodes":
        search = None if source == "decodes" else reference
        neighbors = nearest_training_rows(model, observation, k, search)
    return neighbour_average(reference, neighbors, k)


def blend(fitted, near, weight, observation):
    """``fitted`` with the entries the observation does not see replaced by
    ``(1 - weight) * fitted + weight * near``."""
    near[observation.empty_rows()] = fitted[observation.empty_rows()]
    unseen = observation.unobserved()
    return np.where(unseen, (1 - weight) * fitted + weight * near, fitted)


def measured_linearly(model, observation):
    """Whether ``observation`` measures numeric rows through a linear
    operator: where ``transform_residual`` corrects a decode's error."""
    return (
        isinstance(observation, Measurements)
        and observation.operator.linear
        and not model._groups
    )


def corrected_fill(model, observation, decodes):
    """``decodes`` (scaled) plus the posterior mean of their error given the
    linear ``observation``, its prior the training rows' errors
    (:func:`~skautodec._residual.residual_fill`)."""
    rows = model._training_rows
    return residual_fill(observation, decodes, rows, model._training_decodes())


def reconstruct_scaled(model, observation, settings):
    """``reconstruct`` in scaled units, and the fitted codes ``(n, s, dim)``
    (best start first): the fitted fill, its error corrected from linear
    measurements (``settings.residual``), blended with the neighbour fill
    where the observation leaves entries unseen and the weight is above 0."""
    weight = None
    if observation.unobserved() is not None and settings.neighbor_weight > 0:
        weight = np.float32(settings.neighbor_weight)
    neighbors = None
    source, k = settings.neighbor_source, settings.n_neighbors
    if weight is not None and source == "decodes":
        # one search for the starts and the neighbour average
        neighbors = nearest_training_rows(
            model, observation, max(settings.n_init, k)
        )
    out, codes = fitted_fill(model, observation, settings, neighbors)
    if settings.residual:
        out = corrected_fill(model, observation, out)
    if weight is not None:
        near = neighbour_fill(model, observation, source, k, neighbors)
        out = blend(out, near, weight, observation)
    return out, codes
