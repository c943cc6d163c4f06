"""AutoDecoder: a decoder and one learned code per training sample."""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch import nn

from ._base import _BaseLatentModel, _seeded
from ._latent import fit_encoder, row_loss, sample_latents
from ._modules import PartialEncoder, make_decoder

_AUTO = StrOptions({"auto"})


def _pick(value, auto):
    return auto if isinstance(value, str) else value


def _auto_epochs(n_samples):
    """``100_000 / n_samples`` clipped to [10, 100]."""
    return int(np.clip(round(100_000 / max(n_samples, 1)), 10, 100))


def _image_sizes(n_samples, image_shape, encoder=True):
    """Sizes for ``AutoDecoder(latent_dim="auto", ...)`` on images.

    Epochs follow the number of rows, so that a training run costs about the
    same number of decoder steps whatever the data size (each code is only
    updated once per epoch, so small sets need more epochs). Test-time fits
    of 3 starts x 10 steps from the encoder's code and the 2 closest
    training codes, or of 3 x 20 from the 3 closest: more steps fill holes
    worse (see ``docs/performance.md``).
    """
    return {
        "latent_dim": 64,
        "channels": 16,
        "max_epochs": _auto_epochs(n_samples),
        "n_init": 3,
        "transform_max_iter": 10 if encoder else 20,
    }


def _tabular_sizes(n_samples, n_features):
    """Sizes for ``AutoDecoder(latent_dim="auto", ...)`` on tabular rows.

    Codes of half the number of features (2 to 64) where none is chosen on
    held-out entries (see :func:`_tabular_code_sizes`): a code as wide as
    the row fits the observed entries of a new row exactly and says little
    about the missing ones. A decoder of 128 hidden units (``channels=16``),
    and epochs as for images, so that training costs about the same number
    of steps whatever the number of rows. Test-time fits of 5 starts x 50
    steps, cheap on tables. Measured on breast_cancer, wine and diabetes
    (``benchmarks/bench_imputation.py``).
    """
    latent_dim = int(np.clip(round(n_features / 2), 2, 64))
    return {
        "latent_dim": latent_dim,
        "channels": 16,
        "max_epochs": _auto_epochs(n_samples),
        "n_init": 5,
        "transform_max_iter": 50,
    }


def _tabular_code_sizes(n_features):
    """Code sizes that ``fit`` chooses from for tables with
    ``latent_dim="auto"``: a half, three quarters and all but one of the
    number of features, each clipped to [2, 64]."""
    sizes = (n_features / 2, 3 * n_features / 4, n_features - 1)
    return sorted({int(np.clip(round(s), 2, 64)) for s in sizes})


def _held_out_entries(missing, seed, share=0.1, max_rows=2000):
    """Observed entries to hold out when choosing test-time settings: a
    ``share`` of those of at most ``max_rows`` rows, each row keeping one
    observed entry; None when fewer than 20 entries would be held out."""
    rng = np.random.RandomState(seed)
    rows = np.arange(len(missing))
    if len(rows) > max_rows:
        rows = rng.choice(rows, max_rows, replace=False)
    held = np.zeros(missing.shape, dtype=bool)
    held[rows] = _random_observed(missing[rows], rng, share)
    return held if held.sum() >= 20 else None


def _random_observed(missing, rng, share):
    """A ``share`` of the observed entries, drawn with ``rng``; none in a
    row where they would be all of its observed entries."""
    held = ~missing & (rng.random_sample(missing.shape) < share)
    return _keep_one_observed(held, missing)


def _keep_one_observed(held, missing):
    """``held`` with the rows where it covers every observed entry cleared."""
    held[held.sum(axis=1) >= (~missing).sum(axis=1)] = False
    return held


def _held_out_blocks(missing, image_shape, seed, side=0.375, max_rows=500):
    """Square blocks (``side`` times the image's shorter side) at random
    places in a quarter of the images (at most ``max_rows``), observed
    pixels only, to hold out
    of training when choosing the neighbour blend; None for fewer than 20
    images."""
    n = len(missing)
    if n < 20:
        return None
    rng = np.random.RandomState(seed)
    _, height, width = image_shape
    b = max(1, int(round(side * min(height, width))))
    rows = rng.choice(n, min(max_rows, n // 4), replace=False)
    block = np.zeros((len(rows), *image_shape), dtype=bool)
    for i, (top, left) in enumerate(
        zip(
            rng.randint(0, height - b + 1, len(rows)),
            rng.randint(0, width - b + 1, len(rows)),
            strict=True,
        )
    ):
        block[i, :, top : top + b, left : left + b] = True
    held = np.zeros(missing.shape, dtype=bool)
    held[rows] = block.reshape(len(rows), -1) & ~missing[rows]
    held = _keep_one_observed(held, missing)
    return held if held.any() else None


def _neighbour_average(decodes, neighbors, k):
    """Mean of the decodes of each row's first ``k`` neighbours."""
    k = min(k, neighbors.shape[1])
    return sum(decodes[neighbors[:, j]] for j in range(k)) / k


def _best_blend(candidates, truth, where, weights):
    """The blend ``(1 - w) * fitted + w * near`` with the lowest mean squared
    error on the entries ``where``, over ``candidates`` of (key, fitted,
    near) and ``weights``: (error, key, w, per-feature sums of squares)."""
    best = (np.inf, None, None, None)
    for key, fitted, near in candidates:
        for w in weights:
            sq = np.where(where, (1 - w) * fitted + w * near - truth, 0.0) ** 2
            err = float(sq.sum() / where.sum())
            if err < best[0]:
                best = (err, key, float(w), sq.sum(axis=0))
    return best


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
    divided by one global scale (images) or by each feature's standard
    deviation (tabular rows) before training; outputs are in the input's
    units.

    Parameters
    ----------
    latent_dim : int or "auto", default="auto"
        Size of the codes. "auto" resolves in ``fit`` from the data: 64 for
        images; for tables, half, three quarters or all but one of the
        number of features (2 to 64), whichever fills held-out entries best
        (see ``neighbor_weight`` and Notes). ``latents_.shape[1]`` is the
        size used.
    image_shape : tuple of int (C, H, W) or None, default=None
        How a row is an image. None infers ``(1, s, s)`` when ``n_features`` is
        a perfect square ``s * s`` with ``s >= 8`` (64 features or more);
        otherwise rows are tabular. Pass it for smaller images, and for
        tables of a square number of features that are not images.
    channels : int or "auto", default="auto"
        Width of the decoder: convolution channels at full resolution (up to
        four times more at coarser scales); a tabular decoder has
        ``8 * channels`` hidden units. "auto" resolves in ``fit`` (16 for
        images; see Notes).
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
    max_epochs : int or "auto", default="auto"
        Training epochs. "auto" follows the number of rows: for images,
        ``100_000 / n_samples`` clipped to [10, 100], so that training costs
        about the same number of steps whatever the data size (see Notes).
    batch_size : int, default=64
        Training rows per step.
    transform_max_iter : int or "auto", default="auto"
        Adam steps when fitting a new row's code in ``transform`` (the most,
        with ``tol > 0``). "auto" is 10 for images starting from the
        encoder (20 with ``transform_init="nearest"``: short fits from good
        starts fill holes as well as 100 steps) and 50 for tabular rows
        (see Notes).
    transform_lr : float, default=0.05
        Adam learning rate in ``transform``.
    tol : float, default=0.0
        Relative tolerance of the test-time fit: a row's code stops being
        updated once its loss improved by less than ``tol`` times that loss
        over the last 20 steps, and rows that reach ``transform_max_iter``
        first raise a ``ConvergenceWarning``. 0 runs every row for
        ``transform_max_iter`` steps, an early-stopped fit (see Notes). The
        steps each row ran are in ``transform_n_iter_`` after the call.
    transform_penalty : float, None or "auto", default="auto"
        Weight of the prior in ``transform``; None uses ``latent_penalty``.
        "auto" is ``latent_penalty`` for images and, for tabular rows, is
        chosen in ``fit`` with ``neighbor_weight`` on held-out entries (see
        ``neighbor_weight``); the value used is ``transform_penalty_``.
    transform_init : {"auto", "encoder", "nearest", "zeros"}, default="auto"
        Starting codes of the test-time fit: zeros (the prior's mean); the
        codes of the training rows whose reconstructions are closest on the
        observed entries ("nearest": the closest one for ``transform``, the
        ``n_init`` closest for ``reconstruct``); or ("encoder") the code that
        a small network trained at the end of ``fit`` gives the observed
        entries (for ``transform``), then the ``n_init - 1`` closest codes
        (semi-amortized inference: the encoder's code only needs a few
        steps). "auto" is "encoder" for images and "nearest" for tabular
        rows; the value used is ``transform_init_``.
    n_init : int or "auto", default="auto"
        Starts per row in ``reconstruct`` (and so in ``score``) with
        ``transform_init`` "nearest" or "encoder": each is optimized and
        decoded, and the decodes are averaged, which fills missing entries
        better than any single code. ``transform`` uses the first start only
        (the encoder's code, or the closest training code). "auto" is 3 for
        images and 5 for tabular rows (see Notes).
    n_neighbors : int or "auto", default="auto"
        Training rows, closest on the observed entries, that are averaged
        (without fitting) into the missing entries of ``reconstruct``; see
        ``neighbor_weight`` and ``neighbor_source``. "auto" is 20 for tables
        and, for images, chosen in ``fit`` from 5, 10 and 20 with
        ``neighbor_weight`` (see there); the value used is ``n_neighbors_``.
    neighbor_weight : float in [0, 1] or "auto", default="auto"
        Weight of that neighbour average in the missing entries of
        ``reconstruct``; the fitted codes' decodes get the rest. Fitted codes
        fill small holes best and the unfitted neighbours large ones (fitting
        the visible part of a row closely says little about a large hidden
        part); the blend does better than either across hole sizes. 0 uses
        the fitted codes only. "auto" is chosen in ``fit`` on entries held
        out of training (see Notes): for tabular rows, ``fit`` hides 10% of
        the observed entries, trains once more without them (once per
        candidate code size with ``latent_dim="auto"``), and keeps the
        weight (0, 0.1, ..., 1), the code size and, with
        ``transform_penalty="auto"``, the prior weight (``latent_penalty``,
        0.01 or 0.1) that fill them best;
        for images, a square block in a quarter of the training images (at
        most 500) is left out of the one training run, and the weight and,
        with ``n_neighbors="auto"``, the number of neighbours that fill the
        blocks best are kept. The value used is ``neighbor_weight_``.
        Observed entries always come from the fitted codes, so rows without
        missing entries are unaffected.
    neighbor_source : {"auto", "data", "decodes"}, default="auto"
        What those neighbours are found in and averaged from: "data", the
        training rows themselves (their missing entries filled by their
        decodes; a ``KNNImputer`` on the completed training set); "decodes",
        the decodes of their training codes (smoother). "auto" chooses in
        ``fit``, on the same held-out entries as ``neighbor_weight``, and is
        "data" where nothing is held out. The value used is
        ``neighbor_source_``. The training rows are kept with the model.
    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks for the skorch net (e.g. ``ProgressiveReconstructions``).
    warm_start : bool, default=False
        When True and already fitted on the same number of rows, ``fit``
        continues training (decoder, codes and optimizer state) for
        ``max_epochs`` more epochs.
    device : str, default="cpu"
        Torch device for training and ``transform``, e.g. "cuda".
    accelerator : accelerate.Accelerator or None, default=None
        Train data-parallel through Hugging Face accelerate: run the same
        script in every process (``torchrun`` or ``accelerate launch``), each
        process calling ``fit`` on all the rows; each trains on its share of
        every batch, and all end with the same weights and ``latents_``.
        ``batch_size`` is then per process, and ``device`` is ignored
        (accelerate places the model). See the "Scaling out" docs page.
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
    neighbor_weight_ : float
        The ``neighbor_weight`` that "auto" resolved to in ``fit``.
    transform_penalty_ : float
        The ``transform_penalty`` that "auto" resolved to in ``fit``.
    n_neighbors_ : int
        The ``n_neighbors`` that "auto" resolved to in ``fit``.
    neighbor_source_ : str
        The ``neighbor_source`` that "auto" resolved to in ``fit``.
    n_init_ : int
        The ``n_init`` that "auto" resolved to in ``fit``.
    transform_max_iter_ : int
        The ``transform_max_iter`` that "auto" resolved to in ``fit``.
    transform_init_ : str
        The ``transform_init`` that "auto" resolved to in ``fit``.
    encoder_ : torch.nn.Module or None
        With ``transform_init_="encoder"``, the network from a row's
        observed entries (zeroed where missing) and its observed indicator
        to a starting code, in scaled units, kept on the CPU; else None.
    offset_ : ndarray of shape (n_features,)
        Per-feature mean subtracted before training.
    scale_ : float or ndarray of shape (n_features,)
        What the centered data are divided by: for tabular rows, each
        feature's standard deviation (so that features in any units weigh
        the same); for images, one global scale.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    Notes
    -----
    Sizes resolved by "auto" (in ``fit``; the parameters keep "auto"): for
    images, ``latent_dim=64``, ``channels=16`` and ``max_epochs`` of
    ``100_000 / n_samples`` clipped to [10, 100]; for tabular rows, codes of
    half, three quarters or all but one of the number of features (2 to
    64; chosen on held-out entries: diabetes gets 8 of its 10 features,
    breast_cancer 15 of its 30), ``channels=16`` and the same epochs.
    ``AutoDecoder(latent_dim=64, channels=32, max_epochs=100)`` is the
    earlier default.

    Test-time defaults: for images, ``n_init=3`` starts of
    ``transform_max_iter=10`` Adam steps, the first start from an encoder
    trained at the end of ``fit`` (for half the decoder's epochs, on the
    training images with random blocks and pixels hidden), the others from
    the two closest training codes: 33 times fewer decoder passes than the
    earlier ``n_init=10`` x 100 steps, with a lower hole error on
    MNIST (``docs/performance.md``, ``benchmarks/bench_inference.py``). The
    previous default, 3 closest codes x 20 steps, is
    ``set_params(transform_init="nearest", transform_max_iter=20)``. A
    model trained on more images can use a longer fit:
    ``set_params(n_init=5, transform_max_iter=20)`` (no refit) filled MNIST
    holes 1 to 5% better than 3 x 10 after training on 10,000 images, at
    about twice the time, and 0.4% after 3,000. For
    tabular rows, where a step costs little, 5 starts of 50 steps, which
    fill missing entries a little better (``docs/imputation.md``). The
    codes are not run to convergence: with the training prior, fitting the
    visible entries of an image ever more closely fills large holes worse,
    so the step budget acts as a regularizer and ``tol`` is off by default.
    The earlier behaviour is
    ``set_params(n_init=10, transform_max_iter=100, neighbor_weight=0.5,
    n_neighbors=20, neighbor_source="decodes", transform_penalty=None)``.

    The best blend depends on the data. On breast_cancer the fitted codes
    alone fill best (weight near 0); on small noisy tables (wine, diabetes)
    the fitted codes overfit the few observed entries of a row and the
    neighbours with a stronger prior fill best (weight near 1); on MNIST
    images 0.5 with 10-20 neighbours, on the 8x8 digits 0.7 with 5. The
    training images themselves make better neighbours than their decodes
    on Fashion-MNIST and the digits (sharper), about as good on MNIST.
    The "auto" settings are therefore chosen in ``fit`` on held-out
    entries. Tables pay one more training run per candidate code size (on
    10% fewer entries; the choice is evaluated on at most 2,000 rows).
    Images train once, with a block of side 0.375 times the image's side
    hidden in a quarter of the images (at most 500), and fill those blocks
    as new images (their own codes left out). ``docs/imputation.md`` and
    ``docs/performance.md`` have the measurements. The earlier behaviour is
    ``set_params(neighbor_weight=0.5, n_neighbors=20,
    neighbor_source="decodes", transform_penalty=None)``.

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
        "accelerator": [HasMethods(["prepare", "backward"]), None],
        "latent_dim": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "channels": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "max_epochs": [_AUTO, Interval(Integral, 0, None, closed="left")],
        "latent_penalty": [Interval(Real, 0, None, closed="left")],
        "latent_lr": [Interval(Real, 0, None, closed="neither"), None],
        "transform_penalty": [_AUTO, Interval(Real, 0, None, closed="left"), None],
        "transform_max_iter": [_AUTO, Interval(Integral, 0, None, closed="left")],
        "transform_init": [StrOptions({"auto", "zeros", "nearest", "encoder"})],
        "n_init": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "neighbor_weight": [_AUTO, Interval(Real, 0, 1, closed="both")],
        "neighbor_source": [StrOptions({"auto", "data", "decodes"})],
    }

    def __init__(
        self,
        latent_dim="auto",
        *,
        image_shape=None,
        channels="auto",
        latent_penalty=1e-4,
        weight_decay=1e-5,
        lr=1e-3,
        latent_lr=None,
        max_epochs="auto",
        batch_size=64,
        transform_max_iter="auto",
        transform_lr=0.05,
        tol=0.0,
        transform_penalty="auto",
        transform_init="auto",
        n_init="auto",
        n_neighbors="auto",
        neighbor_weight="auto",
        neighbor_source="auto",
        callbacks=None,
        warm_start=False,
        device="cpu",
        accelerator=None,
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
        self.tol = tol
        self.transform_penalty = transform_penalty
        self.transform_init = transform_init
        self.n_init = n_init
        self.n_neighbors = n_neighbors
        self.neighbor_weight = neighbor_weight
        self.neighbor_source = neighbor_source
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.device = device
        self.accelerator = accelerator
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
        self._resolve_sizes(*X.shape, warm)
        held = None
        if not warm:
            held = self._select_test_time(X, missing, seed)
        # images: blocks of a few rows are held out of training to choose
        # the neighbour blend afterwards
        Xn, observed = self._prepare(X, missing if held is None else missing | held)
        X_dict = {"idx": np.arange(len(X), dtype=np.int64)}
        if observed is not None:
            X_dict["observed"] = observed

        def build_net():
            from ._accelerate import make_net

            return make_net(
                _AutoDecoderNet,
                self.accelerator,
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
                max_epochs=self._max_epochs,
                batch_size=self.batch_size,
                iterator_train__shuffle=True,
                train_split=None,
                callbacks=self._callbacks(),
                device=device,
                verbose=self.verbose,
            )

        self._train(build_net, X_dict, Xn, seed, device)
        self.latents_ = self.net_.latents_.weight.detach().cpu().numpy().copy()
        self._training_rows = self._complete_rows(X, missing)
        self.encoder_ = None
        if self.transform_init_ == "encoder":
            self.encoder_ = self._fit_encoder(Xn, observed, seed, device)
        if held is not None:
            self._select_image_blend(X, missing, held)
        return self

    def _fit_encoder(self, Xn, observed, seed, device):
        """The encoder of a row's observed entries to its starting code,
        trained for half the decoder's epochs (at least one) with the
        decoder frozen; kept on the CPU (see :func:`fit_encoder`)."""
        with _seeded(seed, device):
            encoder = PartialEncoder(
                self._latent_dim,
                self.n_features_in_,
                self._image_shape,
                self._channels,
            ).to(device)
            fit_encoder(
                encoder,
                self._get_decoder(),
                Xn,
                observed,
                self.latents_,
                image_shape=self._image_shape,
                max_epochs=max(1, round(self._max_epochs / 2)),
                batch_size=self.batch_size,
                seed=seed,
                device=device,
            )
        return encoder.cpu()

    def _encode(self, Xn, observed):
        """The encoder's codes of prepared rows, (n, latent_dim)."""
        cache = self._cache()
        if "encoder" not in cache:
            # a copy on the device: encoder_ stays on the CPU for pickles
            on_cpu = torch.device(self._device).type == "cpu"
            encoder = self.encoder_ if on_cpu else copy.deepcopy(self.encoder_)
            cache["encoder"] = encoder.to(self._device)
        return self._apply(cache["encoder"], Xn, self._latent_dim, observed)

    def _training_decodes(self):
        """Decodes of the training codes (scaled units), computed on first
        use after each ``fit`` and kept (not pickled)."""
        cache = self._cache()
        if "decodes" not in cache:
            cache["decodes"] = self._decode_scaled(self.latents_)
        return cache["decodes"]

    def _complete_rows(self, X, missing):
        """Training rows in scaled units, missing entries filled by their
        decodes (what "data" neighbours are found in and averaged from)."""
        Xn, _ = self._prepare(X, missing)
        return np.where(missing, self._training_decodes(), Xn).astype(np.float32)

    def _neighbour_rows(self, source):
        """The rows neighbours come from: "data" or "decodes" (scaled)."""
        if source == "data":
            return self._training_rows
        return self._training_decodes()

    def _resolve_sizes(self, n_samples, n_features, warm):
        """Resolve "auto" sizes from the data: see :func:`_image_sizes` and
        :func:`_tabular_sizes`."""
        init = self.transform_init
        if init == "auto":
            init = "nearest" if self._image_shape is None else "encoder"
        self.transform_init_ = init
        if self._image_shape is not None:
            auto = _image_sizes(n_samples, self._image_shape, init == "encoder")
        else:
            auto = _tabular_sizes(n_samples, n_features)
        if not warm:
            self._latent_dim = _pick(self.latent_dim, auto["latent_dim"])
            self._channels = _pick(self.channels, auto["channels"])
        self._max_epochs = _pick(self.max_epochs, auto["max_epochs"])
        self.n_init_ = _pick(self.n_init, auto["n_init"])
        self.transform_max_iter_ = _pick(
            self.transform_max_iter, auto["transform_max_iter"]
        )

    def _initial_training_codes(self, Xn, seed):
        """PCA scores of the scaled rows (missing entries at the mean), divided
        by sqrt(n_features) so that a code's squared norm is the share of the
        row's energy it explains; unused dimensions start near zero."""
        n, n_features = Xn.shape
        codes = np.zeros((n, self._latent_dim), dtype=np.float32)
        k = min(self._latent_dim, n - 1, n_features)
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
        if self.transform_penalty is None:
            return self.latent_penalty
        if self.transform_penalty == "auto":
            return self.transform_penalty_
        return self.transform_penalty

    def _select_test_time(self, X, missing, seed):
        """Resolve the "auto" test-time settings into ``neighbor_weight_``,
        ``n_neighbors_``, ``neighbor_source_`` and ``transform_penalty_``.
        Tables choose them here,
        on entries held out of a second fit; images get the blocks to hold
        out of their one training run (returned; chosen after training by
        :meth:`_select_image_blend`), or None."""
        auto_w = self.neighbor_weight == "auto"
        auto_k = self.n_neighbors == "auto"
        auto_p = self.transform_penalty == "auto"
        auto_s = self.neighbor_source == "auto"
        given = self.transform_penalty
        self.neighbor_weight_ = 0.5 if auto_w else float(self.neighbor_weight)
        self.n_neighbors_ = 20 if auto_k else self.n_neighbors
        self.neighbor_source_ = "data" if auto_s else self.neighbor_source
        self.transform_penalty_ = float(
            self.latent_penalty if given in (None, "auto") else given
        )
        self._held_out_mse = None
        if self._image_shape is not None:
            if auto_w or auto_k or auto_s:
                return _held_out_blocks(missing, self._image_shape, seed)
            return None
        if auto_w or auto_p or auto_s or self.latent_dim == "auto":
            held = _held_out_entries(missing, seed)
            if held is not None:
                self._select_table_blend(X, missing, held, seed)
        return None

    def _sources(self):
        """The neighbour sources to choose from in ``fit``."""
        if self.neighbor_source == "auto":
            return ["data", "decodes"]
        return [self.neighbor_source_]

    def _select_table_blend(self, X, missing, held, seed):
        """Choose the code size (:func:`_tabular_code_sizes`),
        ``neighbor_weight_`` (0, 0.1, ..., 1), ``neighbor_source_`` and
        ``transform_penalty_`` (``latent_penalty``, 0.01 or 0.1) where "auto",
        with models trained without the entries ``held`` out (one per code
        size), and keep the error on them (``_held_out_mse``)."""
        sizes = [self._latent_dim]
        if self.latent_dim == "auto":
            sizes = _tabular_code_sizes(X.shape[1])
        best = (np.inf,)
        for size in sizes:
            err, key, weight, sq = self._probe_blend(X, missing, held, seed, size)
            if err < best[0]:
                best = (err, key, weight, sq, size)
        _, (penalty, source), self.neighbor_weight_, sq, self._latent_dim = best
        self.transform_penalty_ = float(penalty)
        self.neighbor_source_ = source
        # per-feature held-out error, shrunk to the mean with the weight of
        # 10 entries: an honest floor for sample's noise (see sample)
        count = held.sum(axis=0)
        mean = sq.sum() / count.sum()
        self._held_out_mse = (sq + 10 * mean) / (count + 10)

    def _probe_blend(self, X, missing, held, seed, latent_dim):
        """Train a model with codes of ``latent_dim`` without the entries
        ``held`` out and find the blend that fills them best: see
        :func:`_best_blend`."""
        weights = [self.neighbor_weight_]
        if self.neighbor_weight == "auto":
            weights = np.linspace(0.0, 1.0, 11)
        penalties = [self.transform_penalty_]
        if self.transform_penalty == "auto":
            penalties = sorted({self.latent_penalty, 1e-2, 1e-1})
        params = self.get_params(deep=False)
        params.update(
            latent_dim=latent_dim,
            neighbor_weight=0.0,
            neighbor_source="decodes",
            transform_penalty=penalties[0],
            warm_start=False,
            callbacks=None,
            verbose=0,
            random_state=seed,
        )
        probe = type(self)(**params)
        rows = held.any(axis=1)
        hidden = missing | held
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe.fit(np.where(hidden, np.nan, X))
            Xn, observed = probe._prepare(X[rows], hidden[rows])
            empty = hidden[rows].all(axis=1)
            k = self.n_neighbors_
            neighbors = probe._nearest_training_rows(
                Xn, observed, max(probe._n_init, k), probe._training_decodes()
            )
            near = {}
            for source in self._sources():
                reference = probe._neighbour_rows(source)
                found = neighbors
                if source == "data":
                    found = probe._nearest_training_rows(Xn, observed, k, reference)
                near[source] = _neighbour_average(reference, found, k)
            candidates = []
            for penalty in penalties:
                probe.transform_penalty = penalty
                fitted, _ = probe._fitted_fill(Xn, observed, empty, neighbors)
                for source, average in near.items():
                    candidates.append(((penalty, source), fitted, average))
        truth = (X[rows] - probe.offset_) / probe.scale_
        return _best_blend(candidates, truth, held[rows], weights)

    def _select_image_blend(self, X, missing, held):
        """Choose ``neighbor_weight_`` (0, 0.1, ..., 1), ``n_neighbors_``
        (5, 10, 20) and ``neighbor_source_`` where "auto", on the blocks
        ``held`` out of training: each such row is filled as a new image
        would be, its own training row left out of its starts and
        neighbours."""
        rows = np.flatnonzero(held.any(axis=1))
        hidden = (missing | held)[rows]
        Xn, observed = self._prepare(X[rows], hidden)
        if observed is None:
            return
        ks = [5, 10, 20] if self.n_neighbors == "auto" else [self.n_neighbors_]
        weights = np.linspace(0.0, 1.0, 11)
        if self.neighbor_weight != "auto":
            weights = [self.neighbor_weight_]
        k_max = min(max(max(ks), self._n_init) + 1, len(self.latents_))

        def others(reference):
            # the closest training rows but each row's own, in order
            near = self._nearest_training_rows(Xn, observed, k_max, reference)
            own = near == rows[:, None]
            keep = np.argsort(own, axis=1, kind="stable")[:, : k_max - 1]
            return np.take_along_axis(near, keep, axis=1)

        starts = others(self._training_decodes())
        fitted, _ = self._fitted_fill(Xn, observed, hidden.all(axis=1), starts)
        candidates = []
        for source in self._sources():
            reference = self._neighbour_rows(source)
            near = starts if source == "decodes" else others(reference)
            for k in ks:
                average = _neighbour_average(reference, near, k)
                candidates.append(((min(k, near.shape[1]), source), fitted, average))
        truth = (X[rows] - self.offset_) / self.scale_
        _, (k, source), self.neighbor_weight_, _ = _best_blend(
            candidates, truth, held[rows], weights
        )
        self.n_neighbors_ = int(k)
        self.neighbor_source_ = source

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
        rows = self._prepare_rows(X, mask)
        self._warn_empty_features()
        out, _ = self._reconstruct_scaled(*rows)
        return out * np.float32(self.scale_) + self.offset_

    def _reconstruct_scaled(self, Xn, observed, empty):
        """``reconstruct`` of prepared rows in scaled units, and the fitted
        codes (n, n_starts, dim), closest start first."""
        weight = self._neighbor_weight(observed)
        blend = weight is not None
        source = self._neighbor_source
        neighbors = None
        if blend and source == "decodes":
            # one search for the starts and the neighbour average; otherwise
            # _fit_codes finds the starts itself where it needs them
            k = max(self._n_init, self._n_neighbors)
            neighbors = self._nearest_training_rows(Xn, observed, k)
        out, codes = self._fitted_fill(Xn, observed, empty, neighbors)
        if blend:
            reference = self._neighbour_rows(source)
            if source == "data":
                neighbors = self._nearest_training_rows(
                    Xn, observed, self._n_neighbors, reference
                )
            near = _neighbour_average(reference, neighbors, self._n_neighbors)
            near[empty] = out[empty]
            out = np.where(observed == 0, (1 - weight) * out + weight * near, out)
        return out, codes

    def _fitted_fill(self, Xn, observed, empty, neighbors):
        """Average decode of the codes fitted from the ``n_init`` starts
        (``neighbors``: closest training rows, or None), in scaled units,
        and the codes (n, n_starts, dim)."""
        codes = self._fit_codes(Xn, observed, empty, self._n_init, neighbors)
        # means accumulated one start at a time: memory (n, F)
        out = sum(self._decode_scaled(codes[:, j]) for j in range(codes.shape[1]))
        return out / codes.shape[1], codes

    def _resolved(self, name):
        """Parameter ``name``, or what its "auto" resolved to in ``fit``."""
        value = getattr(self, name)
        return getattr(self, f"{name}_") if value == "auto" else value

    @property
    def _n_init(self):
        return self._resolved("n_init")

    @property
    def _transform_steps(self):
        return self._resolved("transform_max_iter")

    @property
    def _transform_init(self):
        if self.transform_init == "encoder" and self.encoder_ is None:
            raise ValueError(
                'transform_init="encoder" starts from an encoder trained in fit, but '
                f"this model was fitted with transform_init={self.transform_init_!r}; "
                "fit it again."
            )
        return self._resolved("transform_init")

    @property
    def _n_neighbors(self):
        return self._resolved("n_neighbors")

    @property
    def _neighbor_source(self):
        return self._resolved("neighbor_source")

    def _neighbor_weight(self, observed):
        """Weight of the neighbour average in the missing entries, or None
        where nothing is blended."""
        if observed is None:
            return None
        w = self.neighbor_weight
        w = float(self.neighbor_weight_ if w == "auto" else w)
        return np.float32(w) if w > 0 else None

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
        init_from = self._transform_init
        if init_from == "zeros" and self._transform_steps == 0:
            warnings.warn(
                'transform_max_iter=0 with transform_init="zeros": no code is '
                "fitted, every row gets the prior's mean (zeros). Set "
                "transform_max_iter to 1 or more.",
                UserWarning,
                stacklevel=3,
            )
        near = n_starts - (init_from == "encoder")
        if neighbors is None and init_from != "zeros" and near > 0:
            neighbors = self._nearest_training_rows(Xn, observed, near)
        init = self._initial_codes(Xn, observed, empty, n_starts, neighbors)
        return self._optimize(
            Xn, observed, init, self._transform_penalty, return_all=True
        )

    def _initial_codes(self, Xn, observed, empty, n_starts, neighbors):
        """Starting codes (n, n_starts, dim): the encoder's code of each row
        then the closest training codes (``neighbors``, sorted closest
        first), or zeros."""
        if self._transform_init == "zeros":
            return np.zeros((len(empty), 1, self._latent_dim), dtype=np.float32)
        if self._transform_init == "encoder":
            init = self._encode(Xn, observed)[:, None]
            if n_starts > 1:
                near = self.latents_[neighbors[:, : n_starts - 1]]
                init = np.concatenate([init, near], axis=1)
        else:
            init = self.latents_[neighbors[:, :n_starts]]
        init[empty] = 0.0
        return init

    def _nearest_training_rows(self, Xn, observed, k, reference=None):
        """Indices (n, k) of the training rows whose ``reference`` rows
        (scaled units; the training decodes unless given) are closest on the
        observed entries, closest first."""
        k = min(k, len(self.latents_))
        device = self._device
        if reference is None:
            reference = self._training_decodes()
        recon = torch.as_tensor(reference, device=device)
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

    # ------------------------------------------------------------- sampling
    def sample(self, X, mask=None, n_samples=1, random_state=None):
        """Draw completions of the missing entries of ``X`` from their posterior.

        Multiple imputation: each draw is one plausible completed table, for
        Rubin's rules or to see where the model is unsure (the spread of the
        draws). The draws are centred on ``reconstruct(X, mask)``; their
        spread adds two parts, in each missing entry:

        - the uncertainty of the row's code given its observed entries: codes
          are drawn from a Laplace (Gauss-Newton) approximation of the
          posterior at the fitted code, with the training codes' covariance
          as prior, and decoded (wide when little is observed);
        - the per-feature error that the code does not explain, estimated on
          ``X`` itself: a share of its observed entries is hidden, filled in
          as above and compared with the truth (held-out residuals), and
          scaled so that the two parts add up to that error. On tables with
          "auto" settings, the error is taken no lower than that on the
          entries held out in ``fit``: rows the model was trained on fill
          their own entries too well.

        Observed entries are returned unchanged in every draw.

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
            ``X_draws[k]`` is the ``k``-th completed table, so that
            ``for X_complete in ad.sample(X): ...`` goes over the tables.

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
        if (
            not isinstance(n_samples, Integral)
            or isinstance(n_samples, bool)
            or n_samples < 1
        ):
            raise ValueError(
                f"n_samples must be a positive integer; got {n_samples!r}."
            )
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        missing = self._missing(X, mask)
        self._check_range(X, missing)
        self._warn_empty_rows(missing)
        out = np.broadcast_to(X, (n_samples, *X.shape)).copy()
        rows = missing.any(axis=1)
        if not rows.any():
            return out
        X, missing = X[rows], missing[rows]
        generator = check_random_state(random_state)
        scale = np.float32(self.scale_)
        prior = self._prior_precision()
        noise_var = self._residual_variance(
            X, missing, int(generator.randint(np.iinfo(np.int32).max)), prior
        )
        point, codes = self._point_and_codes(X, missing)
        draws = sample_latents(
            self._get_decoder(),
            codes,
            (~missing).astype(np.float32),
            noise_var,
            prior,
            n_samples,
            generator=torch.Generator().manual_seed(
                int(generator.randint(np.iinfo(np.int32).max))
            ),
            device=self._device,
        )
        base = self._decode_scaled(codes)
        std = np.sqrt(noise_var).astype(np.float32)
        for k in range(n_samples):
            shift = self._decode_scaled(draws[:, k]) - base
            noise = generator.standard_normal(X.shape).astype(np.float32) * std
            filled = point + (shift + noise) * scale
            out[k, rows] = np.where(missing, filled, X)
        return out

    def _point_and_codes(self, X, missing):
        """``reconstruct`` of validated rows with ``missing`` hidden, and the
        code of the closest start (the one ``transform`` fits), from one fit."""
        Xn, observed = self._prepare(X, missing)
        out, codes = self._reconstruct_scaled(Xn, observed, missing.all(axis=1))
        return out * np.float32(self.scale_) + self.offset_, codes[:, 0]

    def _prior_precision(self):
        """Inverse covariance of the training codes (the prior of the draws)."""
        cov = np.atleast_2d(np.cov(self.latents_, rowvar=False).astype(np.float64))
        ridge = 1e-6 * max(float(np.trace(cov)) / len(cov), 1e-12)
        return np.linalg.inv(cov + ridge * np.eye(len(cov)))

    def _residual_variance(self, X, missing, seed, prior, held_out=0.2, max_rows=2000):
        """Per-feature variance of the errors not explained by the codes'
        uncertainty, in scaled units, from held-out observed entries of ``X``.

        A ``held_out`` share of the observed entries of up to ``max_rows``
        rows (drawn with ``seed``) is hidden and filled in. Each feature's
        variance is a common share of its mean squared error there (shrunk
        towards the mean over features where it has few held-out entries),
        the share chosen so that the variance plus that of the code draws
        matches the held-out error in total.
        """
        rng = np.random.RandomState(seed)
        if len(X) > max_rows:
            keep = rng.choice(len(X), max_rows, replace=False)
            X, missing = X[keep], missing[keep]
        hide = _random_observed(missing, rng, held_out)
        if not hide.any():
            return np.full(X.shape[1], 1e-6)
        hidden = missing | hide
        point, codes = self._point_and_codes(X, hidden)
        scale = np.asarray(self.scale_, dtype=np.float64)
        err2 = np.where(hide, (point - X) / scale, 0.0) ** 2
        count = hide.sum(axis=0)
        total = err2.sum(axis=0)
        # rows that were trained on can fill their own entries too well
        floor = self.__dict__.get("_held_out_mse")
        if floor is not None:
            total = np.maximum(total, floor * count)
        # the noise is a share of each feature's held-out error (shrunk to the
        # mean with the weight of 10 entries), found by bisection so that noise
        # plus the code draws' spread, which grows with the noise, add up to
        # the held-out error
        mean = total.sum() / count.sum()
        profile = np.maximum((total + 10 * mean) / (count + 10), 1e-6)
        base = self._decode_scaled(codes)

        def excess(share):
            generator = torch.Generator().manual_seed(seed)
            draws = sample_latents(
                self._get_decoder(),
                codes,
                (~hidden).astype(np.float32),
                share * profile,
                prior,
                16,
                generator=generator,
                device=self._device,
            )
            spread = np.zeros(X.shape)
            for k in range(draws.shape[1]):
                spread += (self._decode_scaled(draws[:, k]) - base) ** 2
            spread = np.where(hide, spread / draws.shape[1], 0.0).sum()
            return share * (profile * count).sum() + spread - total.sum()

        low, high = 1e-3, 1.0
        for _ in range(6):
            mid = np.sqrt(low * high)
            low, high = (low, mid) if excess(mid) > 0 else (mid, high)
        return np.sqrt(low * high) * profile
