"""Train several AutoDecoders on the same rows as one batched network.

An ensemble's clones, and the held-out probes of the code sizes, train the
same decoder on the same rows from different starts. On small tables a
training step costs mostly its overhead (the optimizer's calls, the autograd
graph, skorch's bookkeeping), so ``k`` decoders stacked into one module
(:class:`~skautodec._modules.StackedMLP`) and trained by one net cost far
less than ``k`` trainings. Each model keeps what it would have alone: its
initial decoder and codes (drawn from its own seed), its rows in an order of
its own, and its loss: the stacked loss is the sum of the models' losses,
and Adam's update is elementwise, so each model's weights move as in its own
training.
"""

import contextlib
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.history import History
from skorch.utils import to_tensor

from ._modules import StackedMLP
from ._nets import _AutoDecoderNet, _seeded
from ._observation import Observation, ObservationLoss, per_row_objective

__all__ = ["FitPlan", "prepare", "train", "training_loss"]


class FitPlan(NamedTuple):
    """What an AutoDecoder's ``fit`` prepared for its training: the validated
    rows, their missing and held-out entries, the training observation and
    inputs, the seed, the device and the net's builder."""

    X: np.ndarray
    missing: np.ndarray
    held: np.ndarray | None
    observation: Observation
    X_dict: dict
    seed: int
    device: str
    build_net: Callable

    @property
    def y(self):
        return self.observation.values

    def train_alone(self, model):
        """Train ``model``'s net on its own (``model._train``)."""
        model._train(self.build_net, self.X_dict, self.y, self.seed, self.device)


def training_loss(model):
    """The net arguments of an AutoDecoder's training loss: the criterion
    and the optimizer's groups (the codes at ``latent_lr_``, no decay)."""
    return {
        "criterion": ObservationLoss,
        "criterion__latent_penalty": model.latent_penalty,
        "criterion__table": model._table,
        "optimizer__param_groups": [
            ("module.*", {}),
            ("latents.*", {"lr": model.latent_lr_, "weight_decay": 0.0}),
        ],
    }


def prepare(model, X):
    """``model.fit(X)`` up to its training (an AutoDecoder's
    ``_prepare_fit``: validation, "auto" settings, held-out choice)."""
    model._validate_params()
    return model._prepare_fit(X)


def train(models, plans):
    """Train prepared models and finish their fits; together as one network
    where they train the same way on the same rows, else one after another.
    Returns ``models``."""
    if _stackable(models, plans):
        _train_stacked(models, plans)
    else:
        for i, (model, plan) in enumerate(zip(models, plans, strict=True)):
            with _quiet(i):
                plan.train_alone(model)
    for model, plan in zip(models, plans, strict=True):
        model._finish_fit(plan)
    return models


@contextlib.contextmanager
def _quiet(i):
    """The training warnings of model ``i`` (the others' repeat the first's)."""
    with warnings.catch_warnings():
        if i:
            warnings.simplefilter("ignore", UserWarning)
        yield


def _training_key(model, plan):
    """What must agree between models trained together; None where a model
    trains its own way (a user's decoder or callbacks, images, accelerate,
    a warm start, held-out blocks, no epochs)."""
    if (
        model.module is not None
        or model.image_shape_ is not None
        or model.callbacks
        or model.accelerator is not None
        or model._can_warm_start()
        or plan.held is not None
        or model.max_epochs_ == 0
    ):
        return None
    optimizer = sorted((k, repr(v)) for k, v in model._routed("optimizer__").items())
    return (
        type(model),
        plan.X.shape,
        model.channels_,
        model.lr,
        model.latent_lr_,
        model.weight_decay,
        model.latent_penalty,
        model.max_epochs_,
        model.batch_size_,
        plan.device,
        tuple(optimizer),
    )


def _stackable(models, plans):
    if len(models) < 2:
        return False
    keys = [_training_key(m, p) for m, p in zip(models, plans, strict=True)]
    if keys[0] is None or any(key != keys[0] for key in keys):
        return False
    X, missing = plans[0].X, plans[0].missing
    return all(
        np.array_equal(p.missing, missing) and np.array_equal(p.X, X, equal_nan=True)
        for p in plans[1:]
    )


def _train_stacked(models, plans):
    nets = []
    for i, (model, plan) in enumerate(zip(models, plans, strict=True)):
        with _quiet(i), _seeded(plan.seed, plan.device):
            nets.append(model._start_net(plan.build_net, len(plan.X)))
    first, plan = models[0], plans[0]
    k, n = len(models), len(plan.X)
    dims = [model.latent_dim_ for model in models]
    codes = torch.zeros(k, n, max(dims))
    for i, net in enumerate(nets):
        codes[i, :, : dims[i]] = net.latents_.weight.detach().cpu()
    # each model its own order of the rows: row j of the batch is row
    # order[j, i] for model i
    order = np.stack([check_random_state(p.seed).permutation(n) for p in plans], axis=1)
    X_dict = {"idx": torch.as_tensor(order + n * np.arange(k))}
    if "observed" in plan.X_dict:
        X_dict["observed"] = torch.as_tensor(plan.X_dict["observed"])[order]
    y = torch.as_tensor(plan.y)[order]
    net = first._net(
        _StackedNet,
        StackedMLP([net.module_ for net in nets]),
        plan.device,
        latents__init=codes.reshape(k * n, -1),
        **training_loss(first),
    )
    with _seeded(plan.seed, plan.device):
        net.fit(X_dict, y)
    for i, (model, member) in enumerate(zip(models, nets, strict=True)):
        pairs = net.module_.member_views(i, member.module_)
        codes = _codes(i, n, dims[i])
        pairs.append((member.latents_.weight, net.latents_.weight, codes))
        _unstack(pairs, net.optimizer_.state, member.optimizer_.state)
        member.history = _member_history(net.history, i)
        model._set_net(member)


def _codes(i, n, dim):
    """Model ``i``'s part of the ``(k * n, width)`` code table."""
    return lambda t: t[i * n : (i + 1) * n, :dim]


@torch.no_grad()
def _unstack(pairs, stacked_state, member_state):
    """Each member parameter's weights and optimizer state (Adam's moments
    and step) from its part of the stacked parameter, so that a warm start
    continues as after training alone."""
    for param, stacked, view in pairs:
        param.copy_(view(stacked))
        state = stacked_state.get(stacked, {})
        member_state[param] = {
            key: _part(value, param, stacked, view) for key, value in state.items()
        }


def _part(value, param, stacked, view):
    """A member's part of one entry of a stacked parameter's optimizer state,
    laid out as the member's parameter (in a transposed view's layout, the
    fused Adam's later steps differed from training alone)."""
    if not torch.is_tensor(value):
        return value
    if value.shape == stacked.shape:
        return torch.empty_like(param).copy_(view(value))
    return value.clone()  # Adam's step


def _member_history(history, i):
    """Model ``i``'s part of the stacked net's history: its epochs, its own
    training loss and their durations."""
    out = History()
    for epoch in history:
        out.new_epoch()
        out.record("epoch", epoch["epoch"])
        out.record("train_loss", epoch["member_train_loss"][i])
        out.record("dur", epoch["dur"])
    return out


class _StackedNet(_AutoDecoderNet):
    """skorch net of stacked models: ``X["idx"]`` is ``(batch, k)`` rows of
    the ``(k * n, d)`` code table (model ``i``'s codes from row ``i * n``),
    ``y`` and ``X["observed"]`` are ``(batch, k, width)``. The loss is the
    sum of the models' batch means; each epoch records them as
    ``member_train_loss``."""

    def infer(self, x, **fit_params):
        idx = to_tensor(x["idx"], device=self.device)
        z = self.latents_(idx).transpose(0, 1)
        return self.module_(z), z

    def get_loss(self, y_pred, y_true, X=None, training=False):
        recon, z = y_pred
        k, b = recon.shape[:2]

        def rows(t):
            t = to_tensor(t, device=self.device)
            return t.transpose(0, 1).reshape(k * b, -1)

        observed = rows(X["observed"]) if "observed" in X else None
        observation = self.criterion_.observation(rows(y_true), observed)
        losses = per_row_objective(
            recon.reshape(k * b, -1),
            observation,
            z.reshape(k * b, -1),
            self.criterion_.latent_penalty,
        )
        losses = losses.view(k, b).mean(dim=1)
        if training:
            self._sums = self._sums + losses.detach() * b
            self._rows += b
        return losses.sum()

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self._sums, self._rows = 0.0, 0

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        losses = (self._sums / max(self._rows, 1)).tolist()
        self.history.record("member_train_loss", losses)
