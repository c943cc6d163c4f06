"""AutoDecoder: a decoder and one learned code per training sample."""

import functools
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from . import _select
from ._base import _BaseLatentModel
from ._inference import (
    STARTS,
    StartNames,
    complete_rows,
    fit_codes,
    measured_linearly,
    reconstruct_scaled,
)
from ._nets import _AutoDecoderNet, decoder_spec
from ._observation import MissingEntries
from ._resolve import selection_grid, test_time
from ._sampling import draw_completions
from ._together import FitPlan, training_loss
from .operators import _check_positive_int

_AUTO = StrOptions({"auto"})
_POSITIVE = Interval(Real, 0, None, closed="neither")
_PENALTY = StrOptions({"auto", "gaussian"})
# What test_time reads: the "auto" settings as fit resolves them, and the
# noise of the MAP reading (for transform_penalty="gaussian").
_TEST_TIME = (
    "transform_init",
    "n_init",
    "transform_max_iter",
    "transform_penalty",
    "neighbor_weight",
    "n_neighbors",
    "neighbor_source",
    "noise_var",
)


def _initial_codes(Xn, latent_dim, seed):
    """Starting training codes: PCA scores of the scaled rows (missing
    entries at the mean), divided by sqrt(n_features) so that a code's
    squared norm is the share of the row's energy it explains; unused
    dimensions start near zero."""
    n, n_features = Xn.shape
    codes = np.zeros((n, latent_dim), dtype=np.float32)
    k = min(latent_dim, n - 1, n_features)
    if k >= 1:
        pca = PCA(n_components=k, random_state=seed)
        # constant data: PCA's explained-variance ratios divide 0 by 0
        with np.errstate(divide="ignore", invalid="ignore"):
            codes[:, :k] = pca.fit_transform(Xn) / np.sqrt(n_features)
    noise = check_random_state(seed).normal(scale=1e-3, size=codes.shape)
    return (codes + noise).astype(np.float32)


def _training_net(model, observation, seed, device):
    """The untrained skorch net of ``model.fit``: the decoder, the codes
    started from ``observation`` and the training loss."""
    module, module_params = decoder_spec(
        model.module, model._routed("module__"), model._decoder_sizes()
    )
    return model._net(
        _AutoDecoderNet,
        module,
        device,
        **module_params,
        latents__init=_initial_codes(observation.values, model.latent_dim_, seed),
        **training_loss(model),
    )


def _set_chosen(model, chosen):
    """The attributes chosen on held-out entries, and ``chosen_params_``
    (those whose parameter is "auto", as ``set_params`` takes them)."""
    for name, value in (chosen or {}).items():
        setattr(model, name, value)
    params = model.get_params(deep=False)
    model.chosen_params_ = {
        name[:-1]: value
        for name, value in (chosen or {}).items()
        if name[:-1] in params and params[name[:-1]] == "auto"
    }


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

    Rows are scaled per feature (tables; ``category``, ``object`` and
    ``bool`` columns one-hot with a cross-entropy, returned as DataFrames)
    or globally (images); outputs are in the input's units. Every "auto"
    setting resolves in ``fit`` into the attribute of the same name with a
    trailing underscore (User guide).

    Parameters
    ----------
    latent_dim : int or "auto", default="auto"
        Size of the codes: 64 for images; for tables half, three quarters or
        all but one of the features (2 to 64), chosen on held-out entries.
    image_shape : tuple of int (C, H, W) or (H, W), or None, default=None
        How a row is an image. None infers ``(1, s, s)`` for arrays of ``s *
        s`` pixel-like features (``s >= 8``, ``masks.looks_like_pixels``).
    module : torch.nn.Module class or instance, or None, default=None
        The decoder, mapping codes ``(n, latent_dim_)`` to scaled rows ``(n,
        n_features)``. None: transposed convolutions with coordinate channels
        for images, a multilayer perceptron for tables. A class is built with
        those of ``latent_dim``, ``n_features``, ``image_shape`` and
        ``channels`` its ``__init__`` takes, and the ``module__*`` parameters
        (skorch's routing: ``module__hidden=64``); an instance is copied.
    channels : int or "auto", default="auto"
        Width of the built-in decoder: convolution channels at full resolution
        (up to four times more at coarser scales), or ``8 * channels`` hidden
        units for tables. "auto" is 16.
    latent_penalty : float, default=1e-4
        Weight of each code's squared norm (the prior) in training, relative to
        the per-entry mean squared error of the scaled rows.
    weight_decay : float, default=1e-5
        L2 penalty on the decoder's weights (``optimizer__weight_decay``).
    lr : float, default=1e-3
        Adam learning rate of the decoder.
    latent_lr : float or None, default=None
        Adam learning rate of the training codes; None is ``10 * lr`` (each
        code is updated once per epoch only). The value used is ``latent_lr_``.
    max_epochs : int or "auto", default="auto"
        Training epochs; "auto" is ``100_000 / n_samples`` clipped to [10, 100].
    batch_size : int or "auto", default="auto"
        Training rows per step: 64; tables of over 5,000 rows, ``n / 80``.
    transform_max_iter : int or "auto", default="auto"
        Adam steps of a test-time code fit (the most, with ``tol > 0``):
        10 for images from the encoder (20 from other starts), 50 for tables.
    transform_lr : float, default=0.05
        Adam learning rate of the test-time fit.
    tol : float, default=0.0
        A row's code stops once its loss improved by less than ``tol`` times
        that loss over the last 20 steps; rows that reach
        ``transform_max_iter`` first raise a ``ConvergenceWarning``. 0 runs
        every step. The steps each row ran are in ``transform_n_iter_``.
    transform_penalty : float, None, "gaussian" or "auto", default="auto"
        Weight of the codes' squared norm at test time (None: ``latent_penalty``);
        "gaussian": the training codes' Gaussian is the prior, at its MAP weight.
        "auto": "gaussian" for images measured through an operator, else
        ``latent_penalty`` for images; for tables, chosen on held-out entries.
    transform_residual : "gaussian" or None, default="gaussian"
        Measurements through a linear operator: ``reconstruct`` adds to the
        fitted decode the posterior mean of its error, the Gaussian of the
        training rows' errors as its prior (``docs/inverse_problems.md``).
        None: the decode alone. Masks and tables are not corrected.
    transform_discrepancy : float, None or "auto", default="auto"
        Stop each row's test-time fit once its loss is at most this many
        times the loss expected at the truth (Morozov's discrepancy
        principle): the measurements' noise plus the decoder's error on rows
        it was not fitted for, measured on 64 refitted training rows. It
        keeps few measurements from overfitting the codes, and saves steps.
        "auto" is 1 for measurements through an operator (numeric rows),
        None (run ``transform_max_iter`` steps) for masks.
    transform_init : {"auto", "encoder", "nearest", "zeros"}, default="auto"
        Starting codes of the test-time fit: the code a small encoder trained
        at the end of ``fit`` gives the observed entries, then the closest
        training codes ("encoder"); the codes of the training rows whose
        decodes are closest on the observed entries ("nearest"); or zeros.
        "auto" is "encoder" for images and "nearest" for tables.
    n_init : int or "auto", default="auto"
        Starts per row in ``reconstruct``, whose decodes are averaged;
        ``transform`` keeps the first. "auto" is 3 for images, 5 for tables
        (3 in the probes that choose the settings of a table on held-out
        entries; a given ``n_init`` is theirs too).
    n_neighbors : int or "auto", default="auto"
        Closest training rows averaged (unfitted) into the missing entries of
        ``reconstruct``. "auto" is 20 for tables and chosen on held-out blocks
        from 5, 10 and 20 for images.
    neighbor_weight : float in [0, 1] or "auto", default="auto"
        Weight of that neighbour average in the missing entries; the fitted
        codes' decodes get the rest (observed entries always come from the
        codes). Fitted codes fill small holes best and the unfitted
        neighbours large ones. "auto" is chosen in ``fit`` from 0, 0.1, ...,
        1 on entries held out of training.
    neighbor_source : {"auto", "data", "decodes"}, default="auto"
        Where the neighbours are found and averaged from: the training rows
        (missing entries filled by their decodes) or their decodes. "auto"
        is chosen with ``neighbor_weight``.
    handle_unknown : {"error", "missing"}, default="error"
        A category unseen in ``fit``: an error or a missing cell (filled by
        ``LatentImputer``), as in ``OneHotEncoder``; ``docs/imputation.md``.
    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks for the skorch net (e.g. ``ProgressiveReconstructions``).
    warm_start : bool, default=False
        When already fitted on as many rows, ``fit`` continues training
        (decoder, codes and optimizer state) for ``max_epochs`` more epochs.
    device : str, default="cpu"
        Torch device for training and inference, e.g. "cuda".
    accelerator : accelerate.Accelerator or None, default=None
        Train data-parallel through Hugging Face accelerate: every process
        runs the same script and ``fit`` on all rows (``docs/scaling.md``).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization and the batch order.
    verbose : int, default=0
        1 prints skorch's per-epoch log and shows a progress bar for long
        ``transform`` calls.
    **kwargs
        ``module__*`` (arguments of the decoder class) and ``optimizer__*``
        (of ``torch.optim.Adam``, e.g. ``optimizer__betas``), as in skorch. Adam
        runs its fused kernel on the CPU and CUDA unless ``optimizer__foreach``
        or ``optimizer__fused`` is given.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the decoder, ``net_.latents_``
        the code table.
    decoder_ : torch.nn.Module
        The fitted decoder (``net_.module_``).
    latents_ : ndarray of shape (n_samples, ``latent_dim_``)
        Codes of the training rows.
    latent_dim_, channels_, max_epochs_, latent_lr_ : int, int, int, float
        The sizes of the model, what "auto" and None resolved to.
    image_shape_ : tuple or None
        The image shape used, None for tabular rows.
    transform_init_, n_init_, transform_max_iter_, transform_penalty_, \
neighbor_weight_, n_neighbors_, neighbor_source_
        The test-time settings "auto" resolved to (a parameter set after
        ``fit`` takes their place).
    noise_var_ : float
        Mean squared error of the training decodes on the observed training
        entries (scaled units): the noise level that weighs measurements
        through an operator.
    held_out_error_ : float or None
        Mean squared error (scaled units) of the chosen settings on the
        entries held out in ``fit``; None when nothing was chosen there.
    chosen_params_ : dict
        The "auto" parameters chosen there, as ``set_params`` takes them:
        ``clone(ad).set_params(**ad.chosen_params_)`` trains without
        choosing again (``LatentImputer`` does so for its other models).
    encoder_ : torch.nn.Module or None
        With ``transform_init_="encoder"``, the network from a row's observed
        entries and its observed indicator to a starting code, kept on the
        CPU; else None.
    transform_n_iter_ : ndarray of shape (n_rows,)
        Adam steps of each row in the last test-time call.
    history_ : skorch.History
        Per-epoch training log (``history_[:, "train_loss"]``).
    n_iter_ : int
        Epochs trained.
    offset_, scale_ : ndarray of shape (n_features,), float or ndarray
        Per-feature mean subtracted, and what the centered rows are divided
        by (each feature's standard deviation for tables, one for images).
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
    >>> ad.latent_dim_, ad.max_epochs_, ad.n_init_
    (2, 5, 5)
    """

    _takes_categories = True  # one-hot in, softmax out
    _kept_on_warm_start = _BaseLatentModel._kept_on_warm_start + tuple(
        f"{name}_" for name in _select.CHOSEN
    )

    _parameter_constraints: dict = {
        **_BaseLatentModel._parameter_constraints,
        "module": [type, torch.nn.Module, callable, None],
        "accelerator": [HasMethods(["prepare", "backward"]), None],
        "latent_dim": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "channels": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "max_epochs": [_AUTO, Interval(Integral, 0, None, closed="left")],
        "latent_penalty": [Interval(Real, 0, None, closed="left")],
        "latent_lr": [Interval(Real, 0, None, closed="neither"), None],
        "transform_penalty": [_PENALTY, Interval(Real, 0, None, closed="left"), None],
        "transform_residual": [StrOptions({"gaussian"}), None],
        "transform_discrepancy": [_AUTO, _POSITIVE, None],
        "transform_max_iter": [_AUTO, Interval(Integral, 0, None, closed="left")],
        "transform_init": [StrOptions(StartNames())],
        "n_init": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "neighbor_weight": [_AUTO, Interval(Real, 0, 1, closed="both")],
        "neighbor_source": [StrOptions({"auto", "data", "decodes"})],
        "handle_unknown": [StrOptions({"error", "missing"})],
    }

    def __init__(
        self,
        latent_dim="auto",
        *,
        image_shape=None,
        module=None,
        channels="auto",
        latent_penalty=1e-4,
        weight_decay=1e-5,
        lr=1e-3,
        latent_lr=None,
        max_epochs="auto",
        batch_size="auto",
        transform_max_iter="auto",
        transform_lr=0.05,
        tol=0.0,
        transform_penalty="auto",
        transform_residual="gaussian",
        transform_discrepancy="auto",
        transform_init="auto",
        n_init="auto",
        n_neighbors="auto",
        neighbor_weight="auto",
        neighbor_source="auto",
        handle_unknown="error",
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
        self.latent_penalty = latent_penalty
        self.weight_decay = weight_decay
        self.lr = lr
        self.latent_lr = latent_lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.transform_max_iter = transform_max_iter
        self.transform_lr = transform_lr
        self.tol = tol
        self.transform_penalty = transform_penalty
        self.transform_residual = transform_residual
        self.transform_discrepancy = transform_discrepancy
        self.transform_init = transform_init
        self.n_init = n_init
        self.n_neighbors = n_neighbors
        self.neighbor_weight = neighbor_weight
        self.neighbor_source = neighbor_source
        self.handle_unknown = handle_unknown
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.device = device
        self.accelerator = accelerator
        self.random_state = random_state
        self.verbose = verbose
        self._set_routed(kwargs)

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
        plan = self._prepare_fit(X, mask)
        plan.train_alone(self)
        return self._finish_fit(plan)

    def _prepare_fit(self, X, mask=None):
        """``fit`` up to the training (validation, "auto" settings, held-out
        choice): a :class:`~skautodec._together.FitPlan`."""
        X, missing, warm, device = self._start_fit(X, mask)
        if warm and len(X) != len(self.latents_):
            raise ValueError(
                f"warm_start=True continues training the codes of {len(self.latents_)} "
                f"rows, but X has {len(X)} rows."
            )
        seed = self._draw_seed()
        held = self._select_before_training(X, missing, seed, warm)
        # images: blocks of a few rows are held out of training to choose
        # the neighbour blend afterwards
        observation = self._observe(X, missing if held is None else missing | held)
        X_dict = {"idx": np.arange(len(X), dtype=np.int64)}
        if observation.observed is not None:
            X_dict["observed"] = observation.observed

        build_net = functools.partial(_training_net, self, observation, seed, device)
        return FitPlan(X, missing, held, observation, X_dict, seed, device, build_net)

    def _finish_fit(self, plan):
        """``fit`` after the training: codes, what inference reads, images'
        held-out choice."""
        X, missing, held = plan.X, plan.missing, plan.held
        self.latents_ = self.net_.latents_.weight.detach().cpu().numpy().copy()
        self._training_rows = complete_rows(self, self._observe(X, missing), missing)
        self._set_noise_var(plan.observation)
        train = STARTS[self.transform_init_].fit
        self.encoder_ = train and train(self, plan.observation, plan.seed, plan.device)
        if held is not None:
            grid = selection_grid(
                self.get_params(deep=False), vars(self), X.shape[1], self.image_shape_
            )
            _set_chosen(self, _select.select_for_images(self, X, missing, held, grid))
        return self

    def _select_before_training(self, X, missing, seed, warm):
        """The held-out step before training: tables choose their settings
        here (:func:`~skautodec._select.select_for_table`); images get the
        blocks to leave out of training (returned), or None."""
        if warm:
            return None
        self.held_out_error_ = None
        self.chosen_params_ = {}
        self._held_out_mse = None
        grid = selection_grid(
            self.get_params(deep=False), vars(self), X.shape[1], self.image_shape_
        )
        if grid is None:
            return None
        if self.image_shape_ is not None:
            return _select.held_out_blocks(missing, self.image_shape_, seed)
        _set_chosen(self, _select.select_for_table(self, X, missing, grid, seed))
        return None

    def _decoder_of(self, module):
        return module

    def _get_decoder(self):
        return self.net_.module_

    def _test_time(self, observation=None):
        """The settings of a test-time call (:func:`~skautodec._resolve.test_time`);
        measurements through an operator have their own "auto" budget."""
        fitted = {f"{k}_": getattr(self, f"{k}_") for k in _TEST_TIME}
        fitted.update(n_features=self.n_features_in_, categorical=bool(self._groups))
        fitted["image"] = self.image_shape_ is not None
        measured = not isinstance(observation, MissingEntries | None)
        linear = measured_linearly(self, observation)
        settings = test_time(self.get_params(deep=False), fitted, measured, linear)
        if settings.init == "encoder" and self.encoder_ is None and not measured:
            raise ValueError(
                'transform_init="encoder" starts from an encoder trained in fit, but '
                f"this model was fitted with transform_init={self.transform_init_!r}; "
                "fit it again."
            )
        return settings

    def transform(self, X, mask=None, operator=None):
        """Fit a code to each row of ``X`` with the decoder frozen.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, m)
            Rows to encode; NaN marks a missing entry. With ``operator``, the
            measurements of each row.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing. Missing entries have no influence
            on the codes.
        operator : skautodec.operators operator, array or sparse matrix, \
default=None
            What ``X`` measures of each row (:mod:`skautodec.operators`): the
            codes are fitted to explain the measurements, starting from the
            training codes that explain them best.

        Returns
        -------
        Z : ndarray of shape (n_samples, ``latent_dim_``), float32
        """
        _, _, observation = self._observe_rows(X, mask, operator)
        settings = self._test_time(observation)
        return fit_codes(self, observation, settings, n_starts=1)[:, 0]

    def reconstruct(self, X, mask=None, operator=None):
        """Whole rows rebuilt from their observed entries.

        Codes are fitted from ``n_init`` starts and their decodes averaged.
        Missing entries then take the weighted average (``neighbor_weight``)
        of that and of the unfitted decodes of the ``n_neighbors`` closest
        training rows. With ``n_init=1`` and ``neighbor_weight=0`` it equals
        ``inverse_transform(transform(X, mask=mask))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, m)
            Rows; NaN marks a missing entry. With ``operator``, the
            measurements of each row.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing.
        operator : skautodec.operators operator, array or sparse matrix, \
default=None
            What ``X`` measures of each row (inverse problems; no neighbour
            blend unless it is a :class:`~skautodec.operators.Mask`).

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features), float32
            Whole rows, in the data's units; for a table with categorical
            columns, a DataFrame of its columns and dtypes.
        """
        return self._output(self._fill_space(X, mask, operator))

    def _fill_space(self, X, mask=None, operator=None):
        """``reconstruct`` in the data's units before a table's categories
        are picked: numbers, and each categorical column's probabilities."""
        _, _, observation = self._observe_rows(X, mask, operator)
        self._warn_empty_features()
        out, _ = reconstruct_scaled(self, observation, self._test_time(observation))
        return out * np.float32(self.scale_) + self.offset_

    def sample(self, X, mask=None, n_samples=1, random_state=None):
        """Draw completions of the missing entries of ``X`` from their posterior.

        Multiple imputation: each draw is one plausible completed table. The
        draws are centred on ``reconstruct(X, mask)``; their spread adds the
        decoded uncertainty of the row's code (a Laplace approximation of its
        posterior) and the per-feature error the code does not explain
        (measured on held-out entries of ``X``); categories are drawn from
        their probabilities. Observed entries are returned unchanged.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows; NaN marks a missing entry.
        mask : array-like of bool, shape (n_rows, n_features) or (n_features,)
            True where an entry is missing.
        n_samples : int, default=1
            Number of completed tables to draw.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws and the choice of held-out entries.

        Returns
        -------
        X_draws : ndarray of shape (n_samples, n_rows, n_features), float32
            ``X_draws[k]`` is the ``k``-th completed table.

        Examples
        --------
        >>> import numpy as np
        >>> from skautodec import AutoDecoder
        >>> from skautodec.datasets import make_low_rank
        >>> X = make_low_rank(n_samples=30, n_features=6, random_state=0)
        >>> ad = AutoDecoder(latent_dim=2, max_epochs=5, random_state=0).fit(X)
        >>> X_missing = X.copy()
        >>> X_missing[:5, 0] = np.nan
        >>> draws = ad.sample(X_missing, n_samples=3, random_state=0)
        >>> draws.shape
        (3, 30, 6)
        >>> bool((draws[:, 5:] == X[5:]).all())  # observed rows unchanged
        True
        """
        _check_positive_int(n_samples, "n_samples")
        X, missing, _ = self._observe_rows(X, mask)
        generator = check_random_state(random_state)
        draws = draw_completions(self, X, missing, n_samples, generator)
        if self.__dict__.get("_layout") is None:
            return draws
        tables = [self._output(d).to_numpy(dtype=object) for d in draws]
        return np.stack(tables)
