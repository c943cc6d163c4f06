"""skorch callbacks for the estimators' nets."""

from numbers import Integral

import numpy as np
import torch
from skorch.callbacks import Callback

from ._latent import frozen

__all__ = ["ProgressiveReconstructions"]


def _check_indices(values, name, minimum):
    values = [values] if isinstance(values, Integral) else list(values)
    if not values or not all(
        isinstance(v, Integral | np.integer)
        and not isinstance(v, bool)
        and v >= minimum
        for v in values
    ):
        raise ValueError(
            f"{name} must be a non-empty list of integers >= {minimum}; got {values!r}."
        )
    return [int(v) for v in values]


class ProgressiveReconstructions(Callback):
    """Snapshot the decoded codes of some training rows while an AutoDecoder
    trains.

    At the end of each chosen epoch, the training codes of ``sample_indices``
    are decoded with the current decoder. Pass the callback with
    ``AutoDecoder(callbacks=[cb])``. The snapshots are in the net's scaled
    units; :meth:`reconstructions` returns them in the input's units given the
    fitted estimator.

    ``sklearn.base.clone`` (and so ``GridSearchCV``) builds new callbacks from
    their parameters: after fitting a clone, read the snapshots from the
    instance in ``estimator.net_.callbacks_`` (see :meth:`from_estimator`).

    Parameters
    ----------
    sample_indices : sequence of int, default=(0, 1, 2, 3, 4, 5, 6, 7)
        Training rows to follow.
    epochs : sequence of int or None, default=None
        Epoch numbers (1 = after the first epoch; 0 = before training) at which
        to take a snapshot; None takes one after every epoch.

    Attributes
    ----------
    epochs_ : list of int
        Epochs at which snapshots were taken.
    snapshots_ : list of ndarray of shape (len(sample_indices), n_features)
        Decoded codes in scaled units, one per entry of ``epochs_``.

    Examples
    --------
    >>> from skautodec import AutoDecoder
    >>> from skautodec.callbacks import ProgressiveReconstructions
    >>> from skautodec.datasets import make_low_rank
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> cb = ProgressiveReconstructions(sample_indices=[0, 1], epochs=[1, 3])
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=3, callbacks=[cb]).fit(X)
    >>> cb.epochs_, cb.reconstructions(ad).shape
    ([1, 3], (2, 2, 6))
    """

    def __init__(self, sample_indices=(0, 1, 2, 3, 4, 5, 6, 7), epochs=None):
        self.sample_indices = sample_indices
        self.epochs = epochs

    def initialize(self):
        self._indices_ = _check_indices(self.sample_indices, "sample_indices", 0)
        self._epoch_set_ = (
            None
            if self.epochs is None
            else set(_check_indices(self.epochs, "epochs", 0))
        )
        self.epochs_ = []
        self.snapshots_ = []
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        table = getattr(net, "latents_", None)
        if table is None:
            raise TypeError(
                "ProgressiveReconstructions needs a net with training codes "
                "(`latents_`), as AutoDecoder's; got "
                f"{type(net).__name__}."
            )
        n_rows = table.num_embeddings
        if max(self._indices_) >= n_rows:
            raise ValueError(
                f"sample_indices has {max(self._indices_)}, but there are only "
                f"{n_rows} training rows."
            )
        if len(net.history) <= 1 and self._wants(0):
            self._snapshot(net, 0)

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if self._wants(epoch):
            self._snapshot(net, epoch)

    def _wants(self, epoch):
        return (self._epoch_set_ is None and epoch > 0) or (
            self._epoch_set_ is not None and epoch in self._epoch_set_
        )

    def _snapshot(self, net, epoch):
        decoder = net.module_
        idx = torch.as_tensor(self._indices_, device=net.device)
        with frozen(decoder), torch.no_grad():
            out = decoder(net.latents_(idx)).cpu().numpy()
        self.epochs_.append(epoch)
        self.snapshots_.append(out.astype(np.float32))

    def reconstructions(self, estimator=None):
        """Snapshots as one array, in the input's units given ``estimator``.

        Parameters
        ----------
        estimator : fitted AutoDecoder or None, default=None
            Its ``scale_`` and ``offset_`` map the snapshots back to the
            input's units; None returns scaled units.

        Returns
        -------
        reconstructions : ndarray of shape (n_snapshots, n_indices, n_features), \
float32
            One snapshot per entry of ``epochs_``, one image per entry of
            ``sample_indices``.
        """
        if not getattr(self, "snapshots_", None):
            raise ValueError(
                "ProgressiveReconstructions has no snapshot: fit the estimator "
                "with this callback first (after sklearn.base.clone, use "
                "ProgressiveReconstructions.from_estimator(fitted_estimator))."
            )
        out = np.stack(self.snapshots_)
        if estimator is not None:
            out = out * np.float32(estimator.scale_) + estimator.offset_
        return out.astype(np.float32)

    @classmethod
    def from_estimator(cls, estimator):
        """The instance of this callback that ran in ``estimator``'s fit.

        Parameters
        ----------
        estimator : fitted AutoDecoder

        Returns
        -------
        callback : ProgressiveReconstructions
        """
        net = getattr(estimator, "net_", None)
        for _, cb in getattr(net, "callbacks_", []):
            if isinstance(cb, cls):
                return cb
        raise ValueError(
            f"{type(estimator).__name__} was not fitted with a {cls.__name__} "
            "callback; pass callbacks=[ProgressiveReconstructions(...)]."
        )


class _EpochProgress(Callback):
    """A tqdm bar over the training epochs."""

    def __init__(self, desc="epochs", leave=False):
        self.desc = desc
        self.leave = leave

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self._bar_ = tqdm(total=net.max_epochs, desc=self.desc, leave=self.leave)

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        self._bar_.set_postfix(loss=f"{loss:.4g}", refresh=False)
        self._bar_.update(1)

    def on_train_end(self, net, **kwargs):
        self._bar_.close()
        self._bar_ = None  # keeps the net picklable
