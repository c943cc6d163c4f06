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

__all__ = ["Measurements", "MissingEntries", "Observation", "ObservationLoss"]


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
    """

    def __init__(self, latent_penalty=0.0):
        super().__init__()
        self.latent_penalty = latent_penalty

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
