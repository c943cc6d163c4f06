"""The skorch nets inside the estimators, and the decoder they train.

The estimators build these nets in ``fit`` (skorch inside, not above). Both
follow skorch's grain: the decoder is ``module`` (a class built from its
``module__*`` arguments, or an instance), the loss is ``criterion_``
(:class:`~skautodec._observation.ObservationLoss`, fed the batch's
observation) and the optimizer is built from ``optimizer__*`` and
``optimizer__param_groups`` by skorch's ``get_params_for_optimizer``.
"""

import contextlib
import copy
import inspect
import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from skorch.utils import to_tensor
from torch import nn

from ._latent import frozen
from ._modules import make_decoder

__all__ = ["BATCHED", "check_decoder", "check_device", "decoder_spec"]

# Prefixes of the parameters routed to skorch, as skorch routes them.
_ROUTED = ("module__", "optimizer__")
# What the built-in decoders are given; a user's decoder class gets those of
# these names its __init__ takes.
_DECODER_ARGS = ("latent_dim", "n_features", "image_shape", "channels")
# Devices with Adam's fused kernel in every supported torch.
_FUSED_DEVICES = ("cpu", "cuda")


def check_device(device):
    """``device`` as a string torch understands, or a ValueError saying why not
    (an unknown name, or CUDA / MPS not available here)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device.") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested, but CUDA is not available "
                "on this machine; use device='cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested, but only "
                f"{torch.cuda.device_count()} CUDA device(s) are available."
            )
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device={device!r} was requested, but MPS is not available "
                "on this machine; use device='cpu'."
            )
    elif dev.type != "cpu":
        raise ValueError(f"device={device!r} is not supported; use 'cpu' or 'cuda'.")
    return str(dev)


class _Batched(Dataset):
    """skorch's Dataset of tensors (or a dict of them), fetched a batch at a
    time: torch's DataLoader hands ``__getitems__`` the batch's indices, so
    each tensor is indexed once per batch instead of once per row (the same
    batches, the same values)."""

    def __getitems__(self, indices):
        i = torch.as_tensor(indices)
        Xi = _take(self.X, i)
        return Xi, torch.zeros(len(i)) if self.y is None else _take(self.y, i)


def _take(data, i):
    if isinstance(data, dict):
        return {key: value[i] for key, value in data.items()}
    return data[i]


def _whole_batch(batch):
    """The DataLoader's collate for :class:`_Batched`: already a batch."""
    return batch


#: skorch arguments of the nets: datasets fetched a batch at a time.
BATCHED = {
    "dataset": _Batched,
    "iterator_train__collate_fn": _whole_batch,
    "iterator_valid__collate_fn": _whole_batch,
}


@contextlib.contextmanager
def _seeded(seed, device):
    """Seed torch with ``seed`` without touching the global RNG state."""
    dev = torch.device(device)
    devices = []
    if dev.type == "cuda":
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class _StopOnDivergence(Callback):
    """Stop training with a clear error when the training loss is not finite."""

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"Training diverged: the loss became {loss} at epoch "
                f"{len(net.history)}. Lower `lr` (now {net.lr})."
            )


class _RoutedParamsMixin:
    """skorch's routing of ``module__*`` and ``optimizer__*`` parameters:
    taken by ``__init__`` and ``set_params``, listed by ``get_params`` (so
    ``clone`` and ``GridSearchCV`` see them) and passed to the net."""

    def _set_routed(self, kwargs):
        """Store ``module__*`` and ``optimizer__*`` keyword arguments (skorch's
        routing); anything else is a TypeError, as for any ``__init__``."""
        for key, value in kwargs.items():
            if not key.startswith(_ROUTED):
                raise TypeError(
                    f"{type(self).__name__}.__init__() got an unexpected keyword "
                    f"argument {key!r}; only module__* and optimizer__* are "
                    "passed on."
                )
            setattr(self, key, value)

    def _routed(self, prefix):
        """The ``prefix`` parameters (``"module__"``...), prefix removed."""
        return {
            key[len(prefix) :]: value
            for key, value in vars(self).items()
            if key.startswith(prefix)
        }

    def get_params(self, deep=True):
        """Parameters of this estimator, ``module__*`` and ``optimizer__*``
        included.

        Parameters
        ----------
        deep : bool, default=True
            Also the parameters of contained estimators.

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep)
        params.update((k, v) for k, v in vars(self).items() if k.startswith(_ROUTED))
        return params

    def set_params(self, **params):
        """Set parameters; ``module__*`` and ``optimizer__*`` are kept for the
        next ``fit`` (skorch's routing).

        Parameters
        ----------
        **params : dict

        Returns
        -------
        self
        """
        for key in [k for k in params if k.startswith(_ROUTED)]:
            setattr(self, key, params.pop(key))
        return super().set_params(**params)

    def _optimizer_params(self, device):
        """``optimizer__*`` arguments of the net on ``device`` (None where
        accelerate places it): the user's, then the estimator's own (``lr``
        and ``weight_decay`` are parameters)."""
        user = self._routed("optimizer__")
        taken = {"lr", "weight_decay", "param_groups"} & set(user)
        if taken:
            raise ValueError(
                f"optimizer__{sorted(taken)[0]} is set by the estimator: use its "
                "lr, weight_decay (and latent_lr) parameters."
            )
        return {
            f"optimizer__{k}": v for k, v in _adam_kernel(device, user).items()
        } | {"optimizer__weight_decay": self.weight_decay}


def _adam_kernel(device, user):
    """``user``'s optimizer arguments, with Adam's fused kernel (one call per
    parameter group and step) where ``device`` has it and the user chose no
    kernel; else (``device`` None: accelerate places the modules) its
    ``foreach`` kernels. The same update, up to rounding."""
    if {"foreach", "fused"} & set(user):
        return dict(user)
    fused = device is not None and torch.device(device).type in _FUSED_DEVICES
    return ({"fused": True} if fused else {"foreach": True}) | user


def _batch_observation(net, X, y_true):
    """The observation of a training batch, as the criterion compares it:
    the scaled rows ``y_true`` and, where given, ``X["observed"]``."""
    observed = None
    if isinstance(X, dict) and "observed" in X:
        observed = to_tensor(X["observed"], device=net.device)
    return net.criterion_.observation(to_tensor(y_true, device=net.device), observed)


class _AutoDecoderNet(NeuralNet):
    """skorch net whose inputs are row indices into a table of learned codes.

    ``X`` is a dict with ``idx`` (row numbers) and optionally ``observed``
    (1 = observed entry); ``y`` holds the scaled rows to reconstruct. The
    code table ``latents_`` (an ``nn.Embedding`` started from
    ``latents__init``) is made in ``initialize_module``; its parameters are
    named ``latents.*`` and the decoder's ``module.*`` for
    ``optimizer__param_groups``.
    """

    def initialize_module(self):
        super().initialize_module()
        weight = torch.as_tensor(self.get_params_for("latents")["init"])
        self.latents_ = nn.Embedding.from_pretrained(weight.clone(), freeze=False)
        return self

    def get_all_learnable_params(self):
        for name, param in self.module_.named_parameters():
            yield f"module.{name}", param
        for name, param in self.latents_.named_parameters():
            yield f"latents.{name}", param

    def infer(self, x, **fit_params):
        idx = to_tensor(x["idx"], device=self.device)
        z = self.latents_(idx)
        return self.module_(z), z

    def get_loss(self, y_pred, y_true, X=None, training=False):
        recon, z = y_pred
        return self.criterion_(recon, _batch_observation(self, X, y_true), z)


class _AutoEncoderNet(NeuralNet):
    """skorch net reconstructing ``X["x"]``; ``X["observed"]`` masks the loss."""

    def infer(self, x, **fit_params):
        return self.module_(to_tensor(x["x"], device=self.device))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        recon, _ = y_pred
        return self.criterion_(recon, _batch_observation(self, X, y_true))


def decoder_spec(module, module_params, sizes):
    """skorch's ``module`` and ``module__*`` arguments for a decoder.

    Parameters
    ----------
    module : type, torch.nn.Module instance or None
        None builds the built-in decoder (:func:`make_decoder`) from
        ``sizes``. A class is given the ``sizes`` its ``__init__`` takes
        (by name, or all with ``**kwargs``), then ``module_params``. An
        instance is copied (the estimator's parameter is never trained).
    module_params : dict
        The estimator's ``module__*`` parameters, without the prefix.
    sizes : dict
        ``latent_dim``, ``n_features``, ``image_shape`` and ``channels``.

    Returns
    -------
    module, kwargs : the module (class, callable or instance) and its
        ``module__*`` arguments, prefix included.
    """
    if module is None:
        if module_params:
            raise ValueError(
                f"module__{sorted(module_params)[0]} is an argument of a decoder "
                "class given as module; the built-in decoder takes none (its "
                "width is channels)."
            )
        module, kwargs = make_decoder, dict(sizes)
    elif isinstance(module, nn.Module):
        if module_params:
            raise ValueError(
                "module__* parameters build a decoder from its class, but module "
                f"is an instance of {type(module).__name__}; pass the class, or "
                "leave out module__*."
            )
        module, kwargs = copy.deepcopy(module), {}
    else:
        kwargs = {k: v for k, v in sizes.items() if _takes(module, k)}
        kwargs.update(module_params)
    return module, {f"module__{k}": v for k, v in kwargs.items()}


def _takes(cls, name):
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )


def check_decoder(decoder, latent_dim, n_features, device):
    """A clear error unless ``decoder`` maps ``(n, latent_dim)`` codes to
    ``(n, n_features)`` finite rows."""
    name = type(decoder).__name__
    if not isinstance(decoder, nn.Module):
        raise TypeError(f"The decoder must be a torch.nn.Module; got {name}.")
    z = torch.zeros(2, latent_dim, device=device)
    try:
        with frozen(decoder), torch.no_grad():
            out = decoder(z)
    except Exception as exc:
        raise ValueError(
            f"The decoder {name} failed on codes of shape (2, {latent_dim}) "
            f"(latent_dim_={latent_dim}): {exc}"
        ) from exc
    shape = tuple(getattr(out, "shape", ()))
    if not isinstance(out, torch.Tensor) or shape != (2, n_features):
        raise ValueError(
            f"The decoder {name} maps codes of shape (2, {latent_dim}) to "
            f"{shape or type(out).__name__}; it must return rows of shape "
            f"(2, {n_features}), one per code, with n_features={n_features}."
        )
