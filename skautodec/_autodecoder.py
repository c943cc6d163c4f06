"""AutoDecoder: a decoder and one learned code per training sample."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch import nn

from ._base import _BaseLatentModel
from ._latent import row_loss
from ._modules import make_decoder


class _AutoDecoderNet(NeuralNet):
    """skorch net whose inputs are row indices into a table of learned codes.

    ``X`` is a dict with ``idx`` (row numbers) and optionally ``observed``
    (1 = observed entry); ``y`` holds the scaled rows to reconstruct.
    """

    def __init__(
        self, *args, latent_penalty=0.0, latent_lr=None, weight_decay=0.0, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.latent_penalty = latent_penalty
        self.latent_lr = latent_lr
        self.weight_decay = weight_decay

    def initialize_module(self):
        super().initialize_module()
        weight = torch.as_tensor(self.get_params_for("latents")["init"])
        self.latents_ = nn.Embedding.from_pretrained(weight.clone(), freeze=False)
        return self

    def initialize_optimizer(self, *args, **kwargs):
        groups = [
            {
                "params": list(self.module_.parameters()),
                "weight_decay": self.weight_decay,
            },
            {
                "params": list(self.latents_.parameters()),
                "weight_decay": 0.0,
                "lr": self.latent_lr if self.latent_lr is not None else self.lr,
            },
        ]
        self.optimizer_ = self.optimizer(groups, lr=self.lr)
        return self

    def infer(self, x, **fit_params):
        idx = to_tensor(x["idx"], device=self.device)
        z = self.latents_(idx)
        return self.module_(z), z

    def get_loss(self, y_pred, y_true, X=None, training=False):
        recon, z = y_pred
        target = to_tensor(y_true, device=self.device)
        observed = None
        if isinstance(X, dict) and "observed" in X:
            observed = to_tensor(X["observed"], device=self.device)
        return row_loss(recon, target, observed, z, self.latent_penalty).mean()


class AutoDecoder(_BaseLatentModel):
    """Autodecoder: a decoder trained jointly with one latent code per sample.

    There is no encoder. Training learns a code for every training row together
    with the decoder, minimizing the reconstruction error plus
    ``latent_penalty`` times the squared norm of the codes plus
    ``weight_decay`` on the decoder's weights (as in DeepSDF and GLO).
    ``transform`` freezes the decoder and fits a fresh code to each new row by
    gradient descent on the observed entries only, so rows with missing
    entries (``mask`` or NaN) are encoded from what is there. ``reconstruct``
    fills the missing entries with a blend of the decodes of several fitted
    codes and of the closest training rows.

    Images use a decoder of transposed convolutions with two normalized
    coordinate channels concatenated before each convolution and leaky ReLU;
    other rows use a multilayer perceptron. Data are centered per feature and
    divided by one global scale before training; outputs are in the input's
    units.

    Parameters
    ----------
    latent_dim : int, default=64
        Size of the codes.
    image_shape : tuple of int (C, H, W) or None, default=None
        How a row is an image. None infers ``(1, s, s)`` when ``n_features`` is
        a perfect square ``s * s``; otherwise rows are tabular.
    channels : int, default=32
        Width of the decoder: convolution channels at full resolution (up to
        four times more at coarser scales); a tabular decoder has
        ``8 * channels`` hidden units.
    latent_penalty : float, default=1e-4
        Weight of the squared norm of each code (the prior), in training. The
        reconstruction term is the per-entry mean squared error of the scaled
        data, so this weight is relative to a row's total variance.
    weight_decay : float, default=1e-5
        L2 penalty on the decoder's weights.
    lr : float, default=1e-3
        Adam learning rate of the decoder.
    latent_lr : float or None, default=None
        Adam learning rate of the training codes; None uses ``10 * lr``
        (each code is updated once per epoch only).
    max_epochs : int, default=100
        Training epochs.
    batch_size : int, default=64
        Training rows per step.
    transform_max_iter : int, default=100
        Adam steps when fitting a new row's code in ``transform``.
    transform_lr : float, default=0.05
        Adam learning rate in ``transform``.
    transform_penalty : float or None, default=None
        Weight of the prior in ``transform``; None uses ``latent_penalty``.
    transform_init : {"zeros", "nearest"}, default="nearest"
        Starting codes of the test-time fit: zeros (the prior's mean), or the
        codes of the training rows whose reconstructions are closest on the
        observed entries (the closest one for ``transform``, the ``n_init``
        closest for ``reconstruct``).
    n_init : int, default=10
        Starts per row in ``reconstruct`` (and so in ``score``) with
        ``transform_init="nearest"``: each is optimized and decoded, and the
        decodes are averaged, which fills missing entries better than any
        single code. ``transform`` uses the closest start only.
    n_neighbors : int, default=20
        Training rows whose decodes, closest on the observed entries, are
        averaged (without fitting) into the missing entries of
        ``reconstruct``; see ``neighbor_weight``.
    neighbor_weight : float in [0, 1], default=0.5
        Weight of that neighbour average in the missing entries of
        ``reconstruct``; the fitted codes' decodes get the rest. Fitted codes
        fill small holes best and the unfitted neighbours large ones (fitting
        the visible part of a row closely says little about a large hidden
        part); the blend does better than either across hole sizes. 0 uses
        the fitted codes only. Observed entries always come from the fitted
        codes, so rows without missing entries are unaffected.
    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks for the skorch net (e.g. ``ProgressiveReconstructions``).
    warm_start : bool, default=False
        When True and already fitted on the same number of rows, ``fit``
        continues training (decoder, codes and optimizer state) for
        ``max_epochs`` more epochs.
    device : str, default="cpu"
        Torch device for training and ``transform``, e.g. "cuda".
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization and the batch order.
    verbose : int, default=0
        1 prints skorch's per-epoch log and shows a progress bar for long
        ``transform`` calls.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the decoder, ``net_.latents_``
        the code table.
    latents_ : ndarray of shape (n_samples, latent_dim)
        Codes of the training rows.
    history_ : skorch.History
        Per-epoch training log (``history_[:, "train_loss"]``).
    n_iter_ : int
        Epochs trained.
    offset_ : ndarray of shape (n_features,)
        Per-feature mean subtracted before training.
    scale_ : float
        Global scale the centered data are divided by.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    ConvAutoEncoder : The same decoder behind a convolutional encoder.
    sklearn.decomposition.PCA : The linear counterpart.

    References
    ----------
    Park et al., "DeepSDF: Learning Continuous Signed Distance Functions for
    Shape Representation", CVPR 2019.
    Bojanowski et al., "Optimizing the Latent Space of Generative Networks",
    ICML 2018.

    Examples
    --------
    >>> from skautodec import AutoDecoder
    >>> from skautodec.datasets import make_low_rank
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> ad = AutoDecoder(latent_dim=2, max_epochs=5, random_state=0).fit(X)
    >>> ad.transform(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints: dict = {
        **_BaseLatentModel._parameter_constraints,
        "latent_penalty": [Interval(Real, 0, None, closed="left")],
        "latent_lr": [Interval(Real, 0, None, closed="neither"), None],
        "transform_penalty": [Interval(Real, 0, None, closed="left"), None],
        "transform_init": [StrOptions({"zeros", "nearest"})],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "neighbor_weight": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        latent_dim=64,
        *,
        image_shape=None,
        channels=32,
        latent_penalty=1e-4,
        weight_decay=1e-5,
        lr=1e-3,
        latent_lr=None,
        max_epochs=100,
        batch_size=64,
        transform_max_iter=100,
        transform_lr=0.05,
        transform_penalty=None,
        transform_init="nearest",
        n_init=10,
        n_neighbors=20,
        neighbor_weight=0.5,
        callbacks=None,
        warm_start=False,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.channels = channels
        self.latent_penalty = latent_penalty
        self.weight_decay = weight_decay
        self.lr = lr
        self.latent_lr = latent_lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.transform_max_iter = transform_max_iter
        self.transform_lr = transform_lr
        self.transform_penalty = transform_penalty
        self.transform_init = transform_init
        self.n_init = n_init
        self.n_neighbors = n_neighbors
        self.neighbor_weight = neighbor_weight
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, mask=None):
        """Learn the decoder and one code per row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows; NaN marks a missing entry.
        y : None
            Ignored.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing; missing entries are left out of
            the reconstruction loss.

        Returns
        -------
        self : AutoDecoder
        """
        warm = self._can_warm_start()
        device = self._check_device()
        X = self._validate_X(X, reset=not warm)
        if warm and len(X) != len(self.latents_):
            raise ValueError(
                f"warm_start=True continues training the codes of {len(self.latents_)} "
                f"rows, but X has {len(X)} rows."
            )
        missing = self._missing(X, mask)
        self._check_observed(missing)
        seed = self._draw_seed()
        if not warm:
            self._image_shape = self._resolve_image_shape(X.shape[1])
            self._set_scaling(X, missing)
        Xn, observed = self._prepare(X, missing)
        X_dict = {"idx": np.arange(len(X), dtype=np.int64)}
        if observed is not None:
            X_dict["observed"] = observed

        def build_net():
            return _AutoDecoderNet(
                module=make_decoder,
                **self._module_params(),
                latents__init=self._initial_training_codes(Xn, seed),
                criterion=nn.MSELoss,
                optimizer=torch.optim.Adam,
                lr=self.lr,
                latent_lr=self.latent_lr
                if self.latent_lr is not None
                else 10 * self.lr,
                latent_penalty=self.latent_penalty,
                weight_decay=self.weight_decay,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                iterator_train__shuffle=True,
                train_split=None,
                callbacks=self._callbacks(),
                device=device,
                verbose=self.verbose,
            )

        self._train(build_net, X_dict, Xn, seed, device)
        self.latents_ = self.net_.latents_.weight.detach().cpu().numpy().copy()
        return self

    def _initial_training_codes(self, Xn, seed):
        """PCA scores of the scaled rows (missing entries at the mean), divided
        by sqrt(n_features) so that a code's squared norm is the share of the
        row's energy it explains; unused dimensions start near zero."""
        n, n_features = Xn.shape
        codes = np.zeros((n, self.latent_dim), dtype=np.float32)
        k = min(self.latent_dim, n - 1, n_features)
        if k >= 1:
            pca = PCA(n_components=k, random_state=seed)
            # constant data: PCA's explained-variance ratios divide 0 by 0
            with np.errstate(divide="ignore", invalid="ignore"):
                codes[:, :k] = pca.fit_transform(Xn) / np.sqrt(n_features)
        noise = check_random_state(seed).normal(scale=1e-3, size=codes.shape)
        return (codes + noise).astype(np.float32)

    def _get_decoder(self):
        return self.net_.module_

    @property
    def _transform_penalty(self):
        if self.transform_penalty is not None:
            return self.transform_penalty
        return self.latent_penalty

    def transform(self, X, mask=None):
        """Fit a code to each row of ``X`` with the decoder frozen.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode; NaN marks a missing entry.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing. Missing entries have no influence
            on the codes.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim), float32
        """
        return self._fit_codes(*self._prepare_rows(X, mask), n_starts=1)[:, 0]

    def reconstruct(self, X, mask=None):
        """Whole rows rebuilt from their observed entries.

        Codes are fitted from the ``n_init`` closest training codes and their
        decodes averaged. Missing entries then take the weighted average
        (``neighbor_weight``) of that and of the unfitted decodes of the
        ``n_neighbors`` closest training rows: where the visible part of a
        row is ambiguous this gives a lower error than any single code.
        With ``n_init=1`` and ``neighbor_weight=0`` it equals
        ``inverse_transform(transform(X, mask=mask))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows; NaN marks a missing entry.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features), float32
        """
        Xn, observed, empty = self._prepare_rows(X, mask)
        blend = observed is not None and self.neighbor_weight > 0
        decodes = neighbors = None
        if blend or self.transform_init == "nearest":
            decodes = self._decode_scaled(self.latents_)
            k = max(self.n_init, self.n_neighbors if blend else 0)
            neighbors = self._nearest_training_rows(Xn, observed, k, decodes)
        codes = self._fit_codes(Xn, observed, empty, self.n_init, neighbors)
        # means accumulated one start (neighbour) at a time: memory (n, F)
        out = sum(self._decode_scaled(codes[:, j]) for j in range(codes.shape[1]))
        out /= codes.shape[1]
        if blend:
            k = min(self.n_neighbors, neighbors.shape[1])
            near = sum(decodes[neighbors[:, j]] for j in range(k)) / k
            near[empty] = out[empty]
            w = np.float32(self.neighbor_weight)
            missing = observed == 0
            out[missing] = (1 - w) * out[missing] + w * near[missing]
        return out * np.float32(self.scale_) + self.offset_

    def _prepare_rows(self, X, mask):
        """Validated, scaled rows, their observed entries and empty rows."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        missing = self._missing(X, mask)
        self._check_range(X, missing)
        empty = self._warn_empty_rows(missing)
        Xn, observed = self._prepare(X, missing)
        return Xn, observed, empty

    def _fit_codes(self, Xn, observed, empty, n_starts, neighbors=None):
        """Codes fitted to the observed entries of prepared rows from
        ``n_starts`` starts per row, shape (n, n_starts, dim) (one start with
        zeros init). ``neighbors``: closest training rows, if already found."""
        if neighbors is None and self.transform_init == "nearest":
            neighbors = self._nearest_training_rows(Xn, observed, n_starts)
        init = self._initial_codes(empty, n_starts, neighbors)
        return self._optimize(
            Xn, observed, init, self._transform_penalty, return_all=True
        )

    def _initial_codes(self, empty, n_starts, neighbors):
        """Starting codes (n, n_starts, dim): the closest training codes
        (``neighbors``, sorted closest first), or zeros."""
        if self.transform_init == "zeros":
            return np.zeros((len(empty), 1, self.latent_dim), dtype=np.float32)
        init = self.latents_[neighbors[:, :n_starts]]
        init[empty] = 0.0
        return init

    def _nearest_training_rows(self, Xn, observed, k, decodes=None):
        """Indices (n, k) of the training rows whose decodes (scaled units,
        computed unless given) are closest on the observed entries, closest
        first."""
        k = min(k, len(self.latents_))
        device = self._device
        if decodes is None:
            decodes = self._decode_scaled(self.latents_)
        recon = torch.as_tensor(decodes, device=device)
        recon_sq = recon**2
        out = np.empty((len(Xn), k), dtype=np.int64)
        step = 256
        for start in range(0, len(Xn), step):
            x = torch.as_tensor(Xn[start : start + step], device=device)
            if observed is None:
                obs = torch.ones_like(x)
            else:
                obs = torch.as_tensor(observed[start : start + step], device=device)
            # sum_f obs * (x - r)^2, dropping the term that does not depend on r
            dist = obs @ recon_sq.T - 2.0 * (obs * x) @ recon.T
            out[start : start + len(x)] = dist.topk(
                k, dim=1, largest=False
            ).indices.cpu()
        return out
