"""Data-parallel training through Hugging Face accelerate.

The nets add skorch's ``AccelerateMixin`` to the estimators' nets. Every
process runs the same ``fit`` on all rows; accelerate's data loader gives each
process its own share of every global batch, and DistributedDataParallel
averages the gradients over the processes.

The AutoDecoder's code table (``latents_``) is a module of the net, so it is
wrapped like the decoder: a code gets a gradient only on the process whose
batch holds its row, the all-reduce gives every process that gradient divided
by the number of processes, and each process's mean loss was over
``1 / num_processes`` of the global batch, so the step equals the one a
single process takes on the whole global batch. Adam then applies identical
updates everywhere, and ``latents_`` ends the same table in every process.
The price: the table's whole gradient (``n_samples * latent_dim`` floats) is
reduced at every step.
"""

import torch
from skorch.callbacks import LRScheduler
from skorch.hf import AccelerateMixin

from ._nets import _AutoDecoderNet, _AutoEncoderNet


class _AccelerateNetMixin(AccelerateMixin):
    """``AccelerateMixin`` with a shared shuffle order, a global training
    loss, inference on the accelerator's device and warm starts."""

    def _prepare_modules(self):
        """Wrap the modules and criteria that have weights to train (a
        distributed wrapper refuses a module without any)."""
        for kind, names in (("criterion", self._criteria), ("module", self._modules)):
            with self._current_init_context(kind):
                for name in names:
                    module = getattr(self, name + "_")
                    if isinstance(module, torch.nn.Module) and any(
                        p.requires_grad for p in module.parameters()
                    ):
                        setattr(self, name + "_", self.accelerator.prepare(module))

    def _initialize_accelerator(self):
        if self._wrapped_with_accelerator:
            return self
        self._prepare_modules()
        with self._current_init_context("optimizer"):
            for name in self._optimizers:
                optimizer = getattr(self, name + "_")
                if isinstance(optimizer, torch.optim.Optimizer):
                    setattr(self, name + "_", self.accelerator.prepare(optimizer))
        for _, callback in self.callbacks_:
            if isinstance(callback, LRScheduler):
                callback.policy_ = self.accelerator.prepare(callback.policy_)
        self._wrapped_with_accelerator = True
        return self

    def get_iterator(self, dataset, training=False):
        if not training:
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for("iterator_train")
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs.get("shuffle") and kwargs.get("generator") is None:
            # One generator for the whole fit, drawn from the (seeded) global
            # RNG: accelerate keeps it in step across processes, and one
            # process draws the same orders.
            seed = int(torch.randint(2**62, (), dtype=torch.int64))
            kwargs["generator"] = torch.Generator().manual_seed(seed)
        iterator = self.iterator_train(dataset, **kwargs)
        return self.accelerator.prepare(iterator)

    def train_step(self, batch, **fit_params):
        step = super().train_step(batch, **fit_params)
        if self.accelerator.num_processes > 1:
            # history holds the loss of the global batch, in every process
            loss = self.accelerator.reduce(step["loss"].detach(), reduction="mean")
            step = {**step, "loss": loss}
        return step

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if not self._wrapped_with_accelerator:
            # warm start after unwrapping: wrap the modules again (the
            # optimizer is still prepared)
            self._prepare_modules()
            self._wrapped_with_accelerator = True

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        # transform and inverse_transform put their tensors on net.device
        device = torch.device(self.accelerator.device)
        self.device = "cpu" if device.type == "cpu" else str(device)


class _AccelerateAutoDecoderNet(_AccelerateNetMixin, _AutoDecoderNet):
    """``_AutoDecoderNet`` trained through accelerate."""


class _AccelerateAutoEncoderNet(_AccelerateNetMixin, _AutoEncoderNet):
    """``_AutoEncoderNet`` trained through accelerate."""


_ACCELERATED = {
    _AutoDecoderNet: _AccelerateAutoDecoderNet,
    _AutoEncoderNet: _AccelerateAutoEncoderNet,
}


def make_net(net_class, accelerator, **kwargs):
    """``net_class(**kwargs)``, or its accelerate variant when ``accelerator``
    is given (accelerate then places the modules: ``device`` is dropped; the
    epoch log is printed by the main process only)."""
    if accelerator is None:
        return net_class(**kwargs)
    try:
        from accelerate import Accelerator
    except ImportError as exc:
        raise ImportError(
            "accelerator= needs Hugging Face accelerate: "
            "pip install 'skautodec[accelerate]'."
        ) from exc
    if not isinstance(accelerator, Accelerator):
        raise TypeError(
            "accelerator must be an accelerate.Accelerator or None; got "
            f"{type(accelerator).__name__}."
        )
    kwargs["device"] = None
    if not kwargs.get("verbose"):
        # skorch's PrintLog honours verbose=0 only when its sink is print
        kwargs["callbacks__print_log__sink"] = print
    return _ACCELERATED[net_class](accelerator=accelerator, **kwargs)
