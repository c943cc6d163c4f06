"""Shared base of the estimators: validation, scaling, the net, decoding, scoring."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from ._accelerate import make_net
from ._latent import code_prior, frozen, optimize_latents
from ._nets import (
    BATCHED,
    _RoutedParamsMixin,
    _seeded,
    _StopOnDivergence,
    check_decoder,
    check_device,
)
from ._observation import MissingEntries
from ._resolve import resolve_fit
from ._scaling import check_range, fit_scaling
from ._table import (
    _ColumnsMixin,
    has_categories,
    softmax_groups,
    table_args,
    table_layout,
    validate_table,
)
from .operators import _observation, as_operator

_TRANSFORM_BATCH = 1024
# Codes fitted at once: at most _TRANSFORM_BATCH, and at most this many
# entries (codes x features), which bounds the decoder's activations.
_FIT_ENTRIES = 2**17
# fit warns below max(_MIN_ROWS, 2 * latent_dim) rows: fewer rows than twice
# the code size leave directions of the code space that no row spans.
_MIN_ROWS = 10
# Parameters test-time calls read, besides the transform_* ones.
_TEST_TIME_PARAMS = (
    "tol",
    "n_init",
    "n_neighbors",
    "neighbor_weight",
    "neighbor_source",
)


def _check_test_time_params(estimator):
    """Validate the parameters a test-time call reads: they may have been set
    after ``fit``, which validated them."""
    constraints = estimator._parameter_constraints
    names = [
        k
        for k in constraints
        if k.startswith("transform_") or k in _TEST_TIME_PARAMS
    ]
    validate_parameter_constraints(
        {k: constraints[k] for k in names},
        {k: getattr(estimator, k) for k in names},
        caller_name=type(estimator).__name__,
    )


class _BaseLatentModel(
    _ColumnsMixin,
    _RoutedParamsMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Common code of AutoDecoder and ConvAutoEncoder. Not for direct use."""

    _empty_row_code = "the prior code (zeros)"
    # fitted attributes a warm start keeps (the net keeps its sizes)
    _kept_on_warm_start = ("latent_dim_", "channels_")

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "image_shape": [tuple, list, None],
        "channels": [Interval(Integral, 1, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "transform_max_iter": [Interval(Integral, 0, None, closed="left")],
        "transform_lr": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------ input
    def _check_device(self):
        return check_device(self.device)

    def _validate_X(self, X, reset):
        if reset:
            self._layout = table_layout(X) if has_categories(X) else None
            if self._layout is not None:
                self._check_categories_supported()
                return validate_table(self, X, reset=True)
        elif self.__dict__.get("_layout") is not None:
            return validate_table(self, X, reset=False)
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) > 2:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features); got shape {tuple(shape)}. "
                "Flatten images with X.reshape(len(X), -1) and pass "
                "image_shape=(C, H, W)."
            )
        # Cast before the finiteness check, so that float64 values beyond the
        # float32 range are reported (as infinity) instead of becoming inf.
        with np.errstate(over="ignore", invalid="ignore"):
            X = validate_data(
                self,
                X,
                reset=reset,
                dtype=np.float32,
                ensure_all_finite="allow-nan",
                accept_sparse=False,
            )
        # Always a fresh float32 array: the caller's data is never written to.
        return np.array(X, dtype=np.float32, copy=True)

    def _start_fit(self, X, mask):
        """What both ``fit`` methods do first: validate ``X`` and ``mask``,
        set the scaling and the image shape (kept on warm start) and resolve
        the "auto" settings (:func:`~skautodec._resolve.resolve_fit`) into
        fitted attributes. Returns the validated ``X``, its missing entries,
        whether the fit is warm and the device."""
        warm = self._can_warm_start()
        device = self._check_device()
        X = self._validate_X(X, reset=not warm)
        missing = self._missing(X, mask)
        self._check_observed(missing)
        if not warm:
            self.image_shape_ = self._resolve_image_shape(X, missing)
            self._set_scaling(X, missing)
        resolved = resolve_fit(self.get_params(deep=False), *X.shape, self.image_shape_)
        for name, value in resolved.items():
            if not (warm and name in self._kept_on_warm_start):
                setattr(self, name, value)
        return X, missing, warm, device

    def _warn_untrained(self, n_samples):
        """In fit: warn where training would learn nothing useful."""
        if self.max_epochs_ == 0:
            warnings.warn(
                "max_epochs=0: fit trains nothing, and the decoder keeps its "
                "random initial weights. Set max_epochs to 1 or more.",
                UserWarning,
                stacklevel=6,
            )
        minimum = max(_MIN_ROWS, 2 * self.latent_dim_)
        if n_samples < minimum:
            warnings.warn(
                f"fit got {n_samples} row(s), fewer than {minimum} (at least "
                f"{_MIN_ROWS}, and twice latent_dim={self.latent_dim_}): too few "
                "to learn a decoder from; its reconstructions will say little.",
                UserWarning,
                stacklevel=6,
            )

    def _check_range(self, X, missing):
        check_range(X, missing, self.offset_, self.scale_)

    def _set_scaling(self, X, missing):
        self.offset_, self.scale_ = fit_scaling(
            X, missing, per_feature=self.image_shape_ is None
        )
        self._table = None
        layout = self.__dict__.get("_layout")
        if layout is not None:  # categories stay one-hot
            self.offset_[layout.categorical] = 0.0
            self.scale_[layout.categorical] = 1.0
            self._table = table_args(layout, np.nan_to_num(X), (~missing))

    # ----------------------------------------------------------------- network
    def _callbacks(self):
        return [_StopOnDivergence()] + list(self.callbacks or [])

    def _can_warm_start(self):
        return self.warm_start and hasattr(self, "net_")

    def _draw_seed(self):
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    def _train(self, build_net, X_dict, y, seed, device):
        """Build the net (or reuse it on warm start), check its decoder and
        train it, seeded."""
        # tensors: skorch indexes them without sklearn's array indexing
        X_dict = {key: torch.as_tensor(value) for key, value in X_dict.items()}
        y = torch.as_tensor(y)
        with _seeded(seed, device):
            net = self._start_net(build_net, len(y))
            net.partial_fit(X_dict, y)
        self._set_net(net)

    def _start_net(self, build_net, n_rows):
        """The untrained net of a fit, its decoder checked (warm: the fitted)."""
        self._warn_untrained(n_rows)
        if self._can_warm_start():
            net = self.net_
            net.max_epochs = self.max_epochs_
            return net
        net = build_net()
        net.initialize()
        module = net.module_
        if isinstance(module, torch.nn.parallel.DistributedDataParallel):
            module = module.module  # wrapped by accelerate
        check_decoder(
            self._decoder_of(module), self.latent_dim_, self._width, net.device or "cpu"
        )
        return net

    def _set_net(self, net):
        """Keep the trained ``net`` and what is read from it."""
        self.net_ = net
        self._inference_cache = {}
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        self._n_features_out = self.latent_dim_

    def _decoder_sizes(self):
        """What the built-in decoders are built from."""
        return {
            "latent_dim": self.latent_dim_,
            "n_features": self._width,
            "image_shape": self.image_shape_,
            "channels": self.channels_,
        }

    def _net(self, net_class, module, device, **kwargs):
        """The skorch net of ``fit`` (or its accelerate variant): the
        estimator's shared settings, its ``optimizer__*`` parameters and
        ``kwargs``."""
        return make_net(
            net_class,
            self.accelerator,
            module=module,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            **self._optimizer_params(None if self.accelerator is not None else device),
            max_epochs=self.max_epochs_,
            batch_size=self.batch_size_,
            iterator_train__shuffle=True,
            train_split=None,
            callbacks=self._callbacks(),
            device=device,
            verbose=self.verbose,
            **BATCHED,
            **kwargs,
        )

    def _cache(self):
        """What inference computes from the fitted model and keeps, and the
        last call's diagnostics: a dict made in ``fit``, emptied in pickles."""
        if self.__dict__.get("_inference_cache") is None:
            self._inference_cache = {}
        return self._inference_cache

    def __getstate__(self):
        state = super().__getstate__()
        if "_inference_cache" in state:
            state["_inference_cache"] = {}
        return state

    @property
    def transform_n_iter_(self):
        """ndarray of shape (n_rows,): Adam steps each row's code ran in the
        last ``transform``, ``reconstruct`` or ``score`` call (the most over a
        row's starts)."""
        check_is_fitted(self)
        n_iter = self._cache().get("n_iter")
        if n_iter is None:
            raise AttributeError(
                "transform_n_iter_ is set by the first test-time code fit "
                "(transform, reconstruct or score) after fit."
            )
        return n_iter

    @property
    def _device(self):
        return self.net_.device

    @property
    def decoder_(self):
        """The fitted decoder, a ``torch.nn.Module`` mapping codes to scaled rows."""
        check_is_fitted(self)
        return self._get_decoder()

    def _apply(self, module, A, n_out, B=None):
        """``module`` frozen, applied to the rows of ``A`` (and of ``B``, a
        second input of the same rows, where given) in batches."""
        out = np.empty((len(A), n_out), dtype=np.float32)
        device = self._device
        with frozen(module), torch.no_grad():
            for start in range(0, len(A), _TRANSFORM_BATCH):
                rows = slice(start, start + _TRANSFORM_BATCH)
                args = [torch.as_tensor(A[rows], device=device)]
                if B is not None:
                    args.append(torch.as_tensor(B[rows], device=device))
                out[rows] = module(*args).cpu().numpy()
        return out

    def _decode_scaled(self, Z):
        """Decodes of codes in scaled units, the fill space (probabilities
        for categorical columns)."""
        raw = self._apply(self._get_decoder(), Z, self._width)
        return softmax_groups(raw, self._groups)

    def _observe(self, X, missing):
        """The observation of validated rows: scaled, missing entries zeroed
        (:class:`~skautodec._observation.MissingEntries`; ``observed`` None
        when nothing is missing)."""
        # entries under the mask may overflow here; they are zeroed below
        with np.errstate(over="ignore", invalid="ignore"):
            Xn = (X - self.offset_) / self.scale_
        if not missing.any():
            return self._make_observation(Xn.astype(np.float32))
        Xn[missing] = 0.0
        observed = (~missing).astype(np.float32)
        return self._make_observation(Xn.astype(np.float32), observed)

    def _observe_rows(self, X, mask, operator=None):
        """Validated rows of a test-time call (``check_is_fitted`` first),
        their missing entries and their observation; with an ``operator``,
        ``X`` holds measurements (and missing is None)."""
        check_is_fitted(self)
        _check_test_time_params(self)
        if operator is not None:
            if mask is not None:
                raise ValueError(
                    "Pass mask= or operator=, not both: a mask is an operator "
                    "(skautodec.operators.Mask)."
                )
            observation = _observation(
                operator,
                X,
                self.offset_,
                self.scale_,
                self.noise_var_,
                self.n_features_in_,
                self.image_shape_,
            )
            return observation.target, None, observation
        X = self._validate_X(X, reset=False)
        missing = self._missing(X, mask)
        self._check_range(X, missing)
        self._warn_empty_rows(missing)
        return X, missing, self._observe(X, missing)

    def _training_decodes(self):
        """Decodes of the training codes (scaled units), computed on first
        use after each ``fit`` and kept (not pickled)."""
        cache = self._cache()
        if "decodes" not in cache:
            cache["decodes"] = self._decode_scaled(self.latents_)
        return cache["decodes"]

    def _set_noise_var(self, observation):
        """``noise_var_``: the decodes' mean squared error on the entries
        observed in training (scaled units), the noise of the MAP reading."""
        err = observation.fill_errors(self._training_decodes()).sum(dtype=np.float64)
        self.noise_var_ = max(float(err / max(observation.count(), 1)), 1e-12)

    def _optimize(self, observation, init, penalty, max_iter, **options):
        """Codes fitted to ``observation`` from ``init``; ``options`` are
        ``return_all`` and ``floor`` of :func:`optimize_latents`, and
        ``prior`` (True: the Gaussian of the training codes is the prior).
        Records the steps each row ran in ``transform_n_iter_`` and warns
        when rows reach ``transform_max_iter`` before ``tol``."""
        width = self._width
        gaussian = None
        if options.pop("prior", False):
            cache = self._cache()
            if "prior" not in cache:
                cache["prior"] = code_prior(self.latents_)
            gaussian = cache["prior"]
        fit = optimize_latents(
            self._get_decoder(),
            observation,
            init,
            penalty=penalty,
            max_iter=max_iter,
            lr=self.transform_lr,
            tol=self.tol,
            batch_size=max(1, min(_TRANSFORM_BATCH, _FIT_ENTRIES // width)),
            device=self._device,
            verbose=self.verbose,
            prior=gaussian,
            **options,
        )
        n_iter = fit.n_iter if fit.n_iter.ndim == 1 else fit.n_iter.max(axis=1)
        self._cache()["n_iter"] = n_iter
        stuck = ~fit.converged
        if stuck.any():
            warnings.warn(
                f"{int(stuck.sum())} of {stuck.size} test-time code fits reached "
                f"transform_max_iter={max_iter} before their loss "
                f"stopped improving (tol={self.tol}). Increase transform_max_iter "
                "or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return fit.codes

    def _warn_empty_rows(self, missing):
        empty = missing.all(axis=1)
        if empty.any():
            warnings.warn(
                f"{int(empty.sum())} row(s) have no observed entry; they get "
                f"{self._empty_row_code}.",
                UserWarning,
                stacklevel=3,
            )
        return empty

    # ------------------------------------------------------------------ public
    def fit_transform(self, X, y=None, mask=None):
        """Fit to ``X``, then return codes for ``X`` computed by ``transform``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing.

        Returns
        -------
        Z : ndarray of shape (n_samples, latent_dim), float32
        """
        return self.fit(X, y, mask=mask).transform(X, mask=mask)

    def inverse_transform(self, X):
        """Decode codes into rows in the input's feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, latent_dim)
            Codes, as returned by ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features), float32
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32, input_name="Z", accept_sparse=False)
        if Z.shape[1] != self.latent_dim_:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but {type(self).__name__} has "
                f"latent_dim={self.latent_dim_}."
            )
        return self._output(
            self._decode_scaled(Z) * np.float32(self.scale_) + self.offset_
        )

    def reconstruct(self, X, mask=None, operator=None):
        """Whole rows rebuilt from their observed entries.

        Equal to ``inverse_transform(transform(X, mask=mask))`` unless the
        estimator averages several candidate reconstructions (``AutoDecoder``
        with ``n_init > 1`` or ``neighbor_weight > 0``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows; NaN marks a missing entry.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is missing.
        operator : skautodec.operators operator, array or sparse matrix, \
default=None
            What ``X`` measures of each row (``X`` holds the measurements).

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features), float32
            Every entry, observed or not, as the decoder produces it.
        """
        self._warn_empty_features()
        return self.inverse_transform(self.transform(X, mask=mask, operator=operator))

    def score(self, X, y=None, mask=None, operator=None):
        """Negative mean squared reconstruction error (higher is better).

        Without ``mask``, codes are fitted to every observed entry and the error
        is taken over them. With ``mask``, codes are fitted to the entries the
        mask leaves visible and the error is taken over the hidden entries,
        whose true values are read from ``X``. With ``operator``, ``X`` is
        measured through it (without noise), whole rows are rebuilt from the
        measurements and the error is taken over every known entry. NaN
        entries are never scored.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        mask : array-like of bool, shape (n_samples, n_features) or (n_features,)
            True where an entry is hidden from the model.
        operator : skautodec.operators operator, array or sparse matrix, \
default=None
            What is measured of each row (see :mod:`skautodec.operators`).

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        Xv = self._validate_X(X, reset=False)
        if operator is not None:
            if np.isnan(Xv).any():
                raise ValueError(
                    "score(X, operator=...) measures X through the operator: X "
                    "must be complete (it has NaN)."
                )
            Y = as_operator(operator).measure(Xv, self.image_shape_)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                recon = self.reconstruct(Y, operator=operator)
            return -float(np.mean((recon.astype(np.float64) - Xv) ** 2))
        known = ~np.isnan(Xv)
        if mask is None:
            scored = known
        else:
            scored = self._missing(np.zeros_like(Xv), mask) & known
            if not scored.any():
                raise ValueError(
                    "mask hides no entry with a known value in X: nothing to score."
                )
        if not scored.any():
            raise ValueError("X has no observed entry: nothing to score.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if self.__dict__.get("_layout") is None:
                recon = self.reconstruct(Xv, mask=mask)
                truth = MissingEntries(np.where(scored, Xv, 0.0), scored)
                errors = truth.errors(recon.astype(np.float64))
                return -float(errors.sum() / scored.sum())
            # categorical columns: standardized squared errors and Brier scores
            recon = (self._fill_space(X, mask) - self.offset_) / self.scale_
            values = (np.where(scored, Xv, 0.0) - self.offset_) / self.scale_
            truth = self._make_observation(np.where(scored, values, 0.0), scored)
            return -float(truth.fill_errors(recon).sum() / truth.count())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.target_tags.required = False
        return tags
