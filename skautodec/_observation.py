"""What of a row is observed, and how a decode is compared with it.

An :class:`Observation` holds, for a batch of rows, what is known of each row
in the model's scaled units, and says how a decode of the row is compared
with it. Everything that compares decodes with data goes through it: the
training loss, the test-time fit of the codes, the search for the training
rows that best explain a row, the encoder's loss, the held-out errors that
choose the test-time settings, and the Gauss-Newton weights of the posterior
draws.

The comparison is a weighted squared error between what is measured of a
decode (:meth:`Observation.measure`) and the measurements (``target``),
summed over the measurements and divided by the decode's width (the scale of
the training loss). :class:`MissingEntries`, the mask, measures the decode
itself and weighs the observed entries by 1 and the missing ones by 0. A new
kind of observation is a subclass: another ``measure`` (any differentiable
map of decoded rows, the same for every row), other weights, or another
``errors`` (a per-column loss).

This module knows nothing of scikit-learn.
"""

import copy

import numpy as np
import torch
from torch import nn

__all__ = [
    "Measurements",
    "MissingEntries",
    "Observation",
    "ObservationLoss",
    "TableEntries",
]


class Observation:
    """Measurements of a batch of rows and how decodes are compared with them.

    Parameters
    ----------
    target : ndarray or tensor of shape (n_rows, n_measurements)
        What is measured of each row (scaled units; finite).
    weight : ndarray or tensor of shape (n_rows, n_measurements) or None
        Weight of each measurement in the squared error; None weighs all by 1.

    Notes
    -----
    The row-aligned arrays are named in ``_rows``: :meth:`take` selects rows
    of all of them and :meth:`to` moves them to a torch device, so a subclass
    only adds its own names there.
    """

    _rows = ("target", "weight")

    def __init__(self, target, weight=None):
        self.target = target
        self.weight = weight

    def __len__(self):
        return len(self.target)

    def take(self, rows):
        """The observation of ``rows`` (an index, slice or mask) only."""
        out = copy.copy(self)
        for name in self._rows:
            value = getattr(self, name)
            if value is not None:
                setattr(out, name, value[rows])
        return out

    def to(self, device, repeat=1):
        """The observation as tensors on ``device``, each row ``repeat`` times
        in a row (one per start of the test-time fit)."""
        out = copy.copy(self)
        for name in self._rows:
            value = getattr(self, name)
            if value is not None:
                value = torch.as_tensor(value, device=device)
                if repeat > 1:
                    value = value.repeat_interleave(repeat, dim=0)
                setattr(out, name, value)
        return out

    def measure(self, recon):
        """What is measured of decoded rows ``(n, n_features)``: the rows
        themselves here; the same map for every row."""
        return recon

    def empty_rows(self):
        """Boolean ``(n,)``: rows of which nothing is observed (they get the
        prior's code)."""
        return np.zeros(len(self), dtype=bool)

    def unobserved(self):
        """Boolean ``(n, n_features)`` of the decoded entries the observation
        does not see, where a fill may blend in other estimates; None where
        it sees every entry."""
        return None

    def errors(self, recon):
        """Weighted squared error of each measurement, ``(n, n_measurements)``
        (numpy arrays or tensors, as given)."""
        err = (self.measure(recon) - self.target) ** 2
        return err if self.weight is None else err * self.weight

    def loss(self, recon):
        """Per-row data term (tensors): the errors summed over the row, divided
        by the decode's width, as in the training loss."""
        return self.errors(recon).sum(dim=1) / recon.shape[1]

    def fill_errors(self, fill):
        """Errors of fills (numpy), as :meth:`errors` of decodes: the two
        differ where a decode is not what a fill shows (logits and
        probabilities of a categorical column)."""
        return self.errors(fill)

    def count(self):
        """How many entries (cells) are measured: what errors average over."""
        if self.weight is None:
            return int(np.prod(self.target.shape))
        return int((self.weight > 0).sum())

    def distances(self, measured, measured_sq):
        """Summed errors of reference rows, ``(n_rows, n_references)``, less a
        per-row constant (enough to rank them).

        ``measured`` is :meth:`measure` of the reference decodes (tensors on
        this observation's device) and ``measured_sq`` its square.
        """
        weight = self.weight
        if weight is None:
            weight = torch.ones_like(self.target)
        # sum_j w (y - r)^2, dropping sum_j w y^2, which does not depend on r
        return weight @ measured_sq.T - 2.0 * (weight * self.target) @ measured.T

    def precision(self, jacobian, inv_noise):
        """Gauss-Newton precision ``J' diag(w / noise) J`` of each row's code,
        ``(n, dim, dim)``, from the decoder's Jacobian ``(n, n_features,
        dim)`` and the inverse noise variance of each measurement."""
        J = self.measure_jacobian(jacobian)
        weight = inv_noise.expand(len(J), -1)
        if self.weight is not None:
            weight = weight * self.weight
        return J.mT @ (weight[:, :, None] * J)

    def measure_jacobian(self, jacobian):
        """Jacobian of the measurements from that of the decode (identity
        here; a linear ``measure`` applies to each of its columns)."""
        return jacobian

    def expected_loss(self, entry_var, model_var, n_features):
        """Per-row data term ``(n,)`` (numpy) expected at the truth when a
        decode's error has variance ``entry_var`` per scaled entry and the
        weights were set for ``model_var`` (the discrepancy principle's
        level). Here every observed entry adds ``entry_var``."""
        if self.weight is None:
            return np.full(len(self), entry_var * self.target.shape[1] / n_features)
        return entry_var * np.asarray(self.weight).sum(axis=1) / n_features


class MissingEntries(Observation):
    """The mask: some entries of each row observed, the others missing.

    Parameters
    ----------
    values : ndarray or tensor of shape (n_rows, n_features)
        Rows in scaled units; missing entries may hold any finite value
        (zero by convention).
    observed : ndarray or tensor of shape (n_rows, n_features) or None
        1 where an entry is observed, 0 where it is missing; None: all
        observed.
    """

    def __init__(self, values, observed=None):
        super().__init__(values, observed)

    @property
    def values(self):
        return self.target

    @property
    def observed(self):
        return self.weight

    def empty_rows(self):
        if self.weight is None:
            return super().empty_rows()
        return (self.weight == 0).all(axis=1)

    def unobserved(self):
        return None if self.weight is None else self.weight == 0


class TableEntries(MissingEntries):
    """Missing entries of a table with categorical columns.

    ``groups`` are the slices of the encoded row that hold the categorical
    columns (one-hot values; the decoder gives one logit per category). A
    numeric cell costs its squared error; an observed categorical cell its
    cross-entropy divided by ``entropy`` (of the column's categories in the
    training data), so that guessing from those frequencies costs 1, as a
    numeric cell predicted by its mean does. Fills (probabilities) are
    compared by the Brier score divided by ``brier`` (its value for that
    guess). Rows are divided by ``n_columns``, the table's columns.

    Parameters
    ----------
    values, observed : ndarray or tensor of shape (n_rows, width)
    groups : list of slice
    entropy, brier : sequence of float, one per group
    n_columns : int
    """

    def __init__(self, values, observed, groups, entropy, brier, n_columns):
        super().__init__(values, observed)
        self.groups = list(groups)
        self.entropy = [float(e) for e in entropy]
        self.brier = [float(b) for b in brier]
        self.n_columns = int(n_columns)

    def _numeric(self, recon, xp):
        keep = np.ones(recon.shape[1], dtype=bool)
        for s in self.groups:
            keep[s] = False
        err = (recon - self.target) ** 2
        if self.weight is not None:
            err = err * self.weight
        if xp is torch:
            return err * torch.as_tensor(keep, device=recon.device, dtype=err.dtype)
        return err * keep

    def _place(self, err, cells, xp):
        """``err`` with each group's per-cell error in its first column."""
        place = np.zeros((len(self.groups), err.shape[1]), dtype=np.float32)
        for g, s in enumerate(self.groups):
            place[g, s.start] = 1.0
        if xp is torch:
            place = torch.as_tensor(place, device=err.device, dtype=err.dtype)
            return err + torch.stack(cells, dim=1) @ place
        return err + np.stack(cells, axis=1) @ place

    def _cell_weight(self, s):
        return 1.0 if self.weight is None else self.weight[:, s.start]

    def errors(self, recon):
        err = self._numeric(recon, torch)
        cells = []
        for s, h in zip(self.groups, self.entropy, strict=True):
            logp = torch.log_softmax(recon[:, s], dim=1)
            ce = -(self.target[:, s] * logp).sum(dim=1) / h
            cells.append(ce * self._cell_weight(s))
        return self._place(err, cells, torch)

    def fill_errors(self, fill):
        fill = np.asarray(fill)
        err = self._numeric(fill, np)
        cells = []
        for s, b in zip(self.groups, self.brier, strict=True):
            brier = ((fill[:, s] - self.target[:, s]) ** 2).sum(axis=1) / b
            cells.append(brier * self._cell_weight(s))
        return self._place(err, cells, np)

    def loss(self, recon):
        return self.errors(recon).sum(dim=1) / self.n_columns

    def count(self):
        n = super().count()
        for s in self.groups:  # a categorical cell is one entry
            seen = self.weight[:, s] > 0 if self.weight is not None else None
            width = s.stop - s.start
            n -= (width - 1) * (len(self) if seen is None else int(seen[:, 0].sum()))
        return n

    def distances(self, measured, measured_sq):
        # categorical indicators count as their column's Brier score does
        scale = torch.ones(measured.shape[1], device=measured.device)
        for s, b in zip(self.groups, self.brier, strict=True):
            scale[s] = 1.0 / b
        weight = self.weight
        if weight is None:
            weight = torch.ones_like(self.target)
        weight = weight * scale
        return weight @ measured_sq.T - 2.0 * (weight * self.target) @ measured.T

    def precision(self, jacobian, inv_noise):
        # categorical cells are drawn from their probabilities, not here
        keep = torch.ones(jacobian.shape[1], device=jacobian.device)
        for s in self.groups:
            keep[s] = 0.0
        return super().precision(jacobian, inv_noise * keep)


class Measurements(Observation):
    """Measurements ``y = A(x)`` of whole rows through an operator.

    The decode ``recon`` is in the model's scaled units; the operator acts on
    rows in the data's units, ``offset + scale * recon``.

    Parameters
    ----------
    target : ndarray of shape (n_rows, m)
        The measurements.
    weight : ndarray of shape (n_rows, m)
        Weight of each measurement (its precision relative to the model's
        noise, see ``operators``).
    operator : skautodec.operators.Operator
    offset, scale : ndarray of shape (n_features,), or float
        The model's scaling: data = offset + scale * scaled.
    image_shape : tuple or None
    """

    def __init__(self, target, weight, operator, offset, scale, image_shape):
        super().__init__(target, weight)
        self.operator = operator
        self.offset = np.asarray(offset, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.image_shape = image_shape

    def expected_loss(self, entry_var, model_var, n_features):
        # the weights are model_var / (model_var * r + noise): each
        # measurement expects entry_var + w * noise * (1 - entry_var / model_var)
        weight = np.asarray(self.weight, dtype=np.float64)
        noise = self.operator.noise_std**2 * (1.0 - entry_var / model_var)
        m = weight.shape[1]
        return (m * entry_var + noise * weight.sum(axis=1)) / n_features

    def measure(self, recon):
        offset = torch.as_tensor(self.offset, device=recon.device)
        scale = torch.as_tensor(self.scale, device=recon.device)
        return self.operator.apply(offset + scale * recon, self.image_shape)


class ObservationLoss(nn.Module):
    """The training criterion: the observation's data term plus
    ``latent_penalty`` times the squared norm of each row's code, averaged
    over the rows of the batch.

    Parameters
    ----------
    latent_penalty : float, default=0.0
    table : dict or None, default=None
        For tables with categorical columns, the arguments of
        :class:`TableEntries` beyond the values (``groups``, ``entropy``,
        ``brier``, ``n_columns``).
    """

    def __init__(self, latent_penalty=0.0, table=None):
        super().__init__()
        self.latent_penalty = latent_penalty
        self.table = table

    def observation(self, values, observed=None):
        """How a batch of rows is compared with its decodes."""
        return make_observation(values, observed, self.table)

    def forward(self, recon, observation, z=None):
        return per_row_objective(recon, observation, z, self.latent_penalty).mean()


def per_row_objective(recon, observation, z=None, penalty=0.0):
    """The observation's per-row data term plus ``penalty`` times each
    code's squared norm (the prior): what training and the test-time fit
    minimize."""
    loss = observation.loss(recon)
    if z is not None and penalty:
        loss = loss + penalty * (z**2).sum(dim=1)
    return loss


def make_observation(values, observed=None, table=None):
    """The observation of rows with missing entries: :class:`TableEntries`
    for a table with categorical columns (``table``), else
    :class:`MissingEntries`."""
    if table is None:
        return MissingEntries(values, observed)
    return TableEntries(values, observed, **table)
