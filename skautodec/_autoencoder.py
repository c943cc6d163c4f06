"""ConvAutoEncoder: the reference study's baseline, an encoder before the decoder."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._base import _BaseLatentModel
from ._inference import (
    complete_rows,
    corrected_fill,
    discrepancy_floor,
    measured_linearly,
    nearest_training_rows,
)
from ._modules import AutoEncoderModule
from ._nets import _AutoEncoderNet, decoder_spec
from ._observation import ObservationLoss
from ._resolve import GAUSSIAN, OPERATOR_N_INIT, OPERATOR_STEPS


class ConvAutoEncoder(_BaseLatentModel):
    """Convolutional autoencoder with the AutoDecoder's decoder.

    The encoder is strided convolutions with ReLU (a multilayer perceptron for
    tabular rows); the decoder is the same family as ``AutoDecoder``'s, so a
    comparison of the two isolates the encoder. Missing entries (``mask`` or
    NaN) are replaced by ``fill_value`` before encoding and are left out of the
    training loss. With ``transform_max_iter > 0``, ``transform`` refines the
    encoder's code on the observed entries with the AutoDecoder's test-time
    optimizer (an encoder warm start).

    Parameters
    ----------
    latent_dim : int, default=64
        Size of the codes.
    image_shape : tuple of int (C, H, W) or (H, W), or None, default=None
        How a row is an image. None infers ``(1, s, s)`` when ``n_features`` is
        a perfect square ``s * s`` with ``s >= 8`` (64 features or more) and
        the values look like pixels (none negative, on one scale; not for
        DataFrames: :func:`skautodec.masks.looks_like_pixels`); otherwise
        rows are tabular. Pass it for other images.
    module : torch.nn.Module class or instance, or None, default=None
        The decoder, as for :class:`AutoDecoder` (``module__*`` parameters
        are its arguments); None is the AutoDecoder's built-in decoder. The
        encoder is always the built-in one.
    channels : int, default=32
        Width of the networks: convolution channels at full resolution (up to
        four times more at coarser scales); tabular networks have
        ``8 * channels`` hidden units.
    fill_value : float, default=0.0
        Value, in the input's units, given to missing entries before encoding.
    weight_decay : float, default=1e-5
        L2 penalty on the weights.
    lr : float, default=1e-3
        Adam learning rate.
    max_epochs : int, default=100
        Training epochs.
    batch_size : int, default=64
        Training rows per step.
    transform_max_iter : int, default=0
        Adam steps refining the encoder's code on the observed entries in
        ``transform``; 0 returns the encoder's output.
    transform_lr : float, default=0.05
        Adam learning rate of that refinement.
    tol : float, default=0.0
        Relative tolerance of the refinement: a row's code stops being
        updated once its loss improved by less than ``tol`` times that loss
        over the last 20 steps, and rows that reach ``transform_max_iter``
        first raise a ``ConvergenceWarning``. 0 runs every row for
        ``transform_max_iter`` steps. The steps each row ran are in
        ``transform_n_iter_`` after the call.
    transform_penalty : float, default=0.0
        Weight of the squared norm of the code in that refinement.
    transform_residual : "gaussian" or None, default="gaussian"
        Measurements through a linear operator: ``reconstruct`` adds to the
        fitted decode the posterior mean of its error, the Gaussian of the
        training rows' errors as its prior, as ``AutoDecoder`` does
        (``docs/inverse_problems.md``). None: the decode alone. Masks are
        not corrected.
    transform_discrepancy : float or None, default=None
        Measurements through an operator: stop each row's code fit once its
        loss is at most this many times the loss expected at the truth, as
        ``AutoDecoder``'s "auto" does (1). None, the default, runs every
        step: this decoder's codes do not overfit few measurements as the
        autodecoder's do, and the stop makes its errors higher
        (``docs/inverse_problems.md``).
    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks for the skorch net.
    warm_start : bool, default=False
        When True and already fitted, ``fit`` continues training (weights and
        optimizer state) for ``max_epochs`` more epochs.
    device : str, default="cpu"
        Torch device, e.g. "cuda".
    accelerator : accelerate.Accelerator or None, default=None
        Train data-parallel through Hugging Face accelerate: run the same
        script in every process (``torchrun`` or ``accelerate launch``), each
        process calling ``fit`` on all the rows; each trains on its share of
        every batch, and all end with the same weights.
        ``batch_size`` is then per process, and ``device`` is ignored
        (accelerate places the model). See the "Scaling out" docs page.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization and the batch order.
    verbose : int, default=0
        1 prints skorch's per-epoch log and shows a progress bar for long
        refinements.
    **kwargs
        ``module__*`` (arguments of the decoder class) and ``optimizer__*``
        (of ``torch.optim.Adam``), as in skorch. Adam runs its fused kernel
        on the CPU and CUDA unless ``optimizer__foreach`` or
        ``optimizer__fused`` is given.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_.encoder`` and ``net_.module_.decoder``.
    decoder_ : torch.nn.Module
        The fitted decoder.
    latent_dim_, channels_, max_epochs_ : int
        The sizes used (the parameters).
    image_shape_ : tuple or None
        The image shape used, None for tabular rows.
    latents_ : ndarray of shape (n_samples, latent_dim)
        The encoder's codes of the training rows (where fits to measurements
        through an operator start).
    noise_var_ : float
        Mean squared reconstruction error of the training rows (scaled
        units): the noise level that weighs measurements.
    history_ : skorch.History
        Per-epoch training log.
    n_iter_ : int
        Epochs trained.
    offset_ : ndarray of shape (n_features,)
        Per-feature mean subtracted before training.
    scale_ : float or ndarray of shape (n_features,)
        What the centered data are divided by: for tabular rows, each
        feature's standard deviation (so that features in any units weigh
        the same); for images, one global scale.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    See Also
    --------
    AutoDecoder : The same decoder without an encoder.

    Examples
    --------
    >>> from skautodec import ConvAutoEncoder
    >>> from skautodec.datasets import make_low_rank
    >>> X = make_low_rank(n_samples=20, n_features=6, random_state=0)
    >>> ae = ConvAutoEncoder(latent_dim=2, max_epochs=5, random_state=0).fit(X)
    >>> ae.transform(X[:3]).shape
    (3, 2)
    """

    _empty_row_code = "the encoder's code of a row of fill_value"

    _parameter_constraints: dict = {
        **_BaseLatentModel._parameter_constraints,
        "module": [type, torch.nn.Module, callable, None],
        "accelerator": [HasMethods(["prepare", "backward"]), None],
        "fill_value": [Interval(Real, None, None, closed="neither")],
        "transform_penalty": [Interval(Real, 0, None, closed="left")],
        "transform_residual": [StrOptions({GAUSSIAN}), None],
        "transform_discrepancy": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        latent_dim=64,
        *,
        image_shape=None,
        module=None,
        channels=32,
        fill_value=0.0,
        weight_decay=1e-5,
        lr=1e-3,
        max_epochs=100,
        batch_size=64,
        transform_max_iter=0,
        transform_lr=0.05,
        tol=0.0,
        transform_penalty=0.0,
        transform_residual="gaussian",
        transform_discrepancy=None,
        callbacks=None,
        warm_start=False,
        device="cpu",
        accelerator=None,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.module = module
        self.channels = channels
        self.fill_value = fill_value
        self.weight_decay = weight_decay
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.transform_max_iter = transform_max_iter
        self.transform_lr = transform_lr
        self.tol = tol
        self.transform_penalty = transform_penalty
        self.transform_residual = transform_residual
        self.transform_discrepancy = transform_discrepancy
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.device = device
        self.accelerator = accelerator
        self.random_state = random_state
        self.verbose = verbose
        self._set_routed(kwargs)

    def _encoder_input(self, X, missing):
        """Scaled input of the encoder: missing entries get ``fill_value``."""
        filled = np.where(missing, np.float32(self.fill_value), X)
        return ((filled - self.offset_) / self.scale_).astype(np.float32)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, mask=None):
        """Train the encoder and decoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows; NaN marks a missing entry.
        y : None
            Ignored.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing: the encoder sees ``fill_value``
            there and the loss leaves it out.

        Returns
        -------
        self : ConvAutoEncoder
        """
        X, missing, _, device = self._start_fit(X, mask)
        observation = self._observe(X, missing)
        X_dict = {"x": self._encoder_input(X, missing)}
        if observation.observed is not None:
            X_dict["observed"] = observation.observed

        def build_net():
            sizes = self._decoder_sizes()
            decoder, decoder_kwargs = None, None  # None: built beside the encoder
            if self.module is not None:
                decoder, params = decoder_spec(
                    self.module, self._routed("module__"), sizes
                )
                decoder_kwargs = {k[len("module__") :]: v for k, v in params.items()}
            return self._net(
                _AutoEncoderNet,
                AutoEncoderModule,
                device,
                **{f"module__{k}": v for k, v in sizes.items()},
                module__decoder=decoder,
                module__decoder_kwargs=decoder_kwargs,
                criterion=ObservationLoss,
            )

        self._train(build_net, X_dict, observation.values, self._draw_seed(), device)
        # the encoder's codes of the training rows: where test-time fits to
        # measurements through an operator start
        self.latents_ = self._encode(X_dict["x"])
        self._set_noise_var(observation)
        # the rows whose errors are the residual step's prior
        self._training_rows = complete_rows(self, observation, missing)
        return self

    def _decoder_of(self, module):
        return module.decoder

    def _get_decoder(self):
        return self.net_.module_.decoder

    def _encode(self, Xe):
        return self._apply(self.net_.module_.encoder, Xe, self.latent_dim_)

    def transform(self, X, mask=None, operator=None):
        """Encode ``X``; missing entries are filled with ``fill_value`` first.

        With ``transform_max_iter > 0`` the encoder's code is then refined by
        gradient descent on the observed entries, the decoder frozen. With
        ``operator``, ``X`` holds measurements and the decoder is the
        generator: codes start from the ``3`` training codes whose decodes
        explain them best and are fitted for ``transform_max_iter`` steps
        (100 where it is 0), the best start kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, m)
            Rows to encode; NaN marks a missing entry. With ``operator``, the
            measurements of each row.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing.
        operator : skautodec.operators operator, array or sparse matrix, \
default=None
            What ``X`` measures of each row (:mod:`skautodec.operators`).

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim), float32
        """
        X, missing, observation = self._observe_rows(X, mask, operator)
        if operator is not None:
            return self._fit_measured(observation)
        codes = self._encode(self._encoder_input(X, missing))
        if self.transform_max_iter == 0:
            return codes
        return self._optimize(
            observation, codes, self.transform_penalty, self.transform_max_iter
        )

    def _fit_measured(self, observation):
        """Codes fitted to measurements through an operator, from the
        ``OPERATOR_N_INIT`` training codes whose decodes explain them best."""
        near = nearest_training_rows(self, observation, OPERATOR_N_INIT)
        steps = self.transform_max_iter or OPERATOR_STEPS
        penalty = self.transform_penalty
        floor = discrepancy_floor(
            self, observation, self.transform_discrepancy, steps, penalty
        )
        return self._optimize(
            observation, self.latents_[near], penalty, steps, floor=floor
        )

    def reconstruct(self, X, mask=None, operator=None):
        """Whole rows rebuilt from their observed entries.

        ``inverse_transform(transform(X, mask=mask))``; measurements through
        a linear operator also get the posterior mean of the decode's error
        (``transform_residual``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, m)
            Rows; NaN marks a missing entry. With ``operator``, the
            measurements of each row.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing.
        operator : skautodec.operators operator, array or sparse matrix, \
default=None
            What ``X`` measures of each row (``X`` holds the measurements).

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features), float32
        """
        if operator is None or self.transform_residual is None:
            return super().reconstruct(X, mask=mask, operator=operator)
        self._warn_empty_features()
        _, _, observation = self._observe_rows(X, mask, operator)
        out = self._decode_scaled(self._fit_measured(observation))
        if measured_linearly(self, observation):
            out = corrected_fill(self, observation, out)
        return self._output(out * np.float32(self.scale_) + self.offset_)
