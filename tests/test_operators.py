"""Inverse problems: codes fitted to measurements through an operator."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.ndimage import gaussian_filter
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.masks import center_mask
from skautodec.metrics import inverse_problem_scorer
from skautodec.operators import (
    Downsample,
    Function,
    GaussianBlur,
    Linear,
    Mask,
    as_operator,
)

FAST = dict(latent_dim=8, channels=4, max_epochs=15, random_state=0)
# a model good enough that fitting codes to measurements pays
GOOD = dict(max_epochs=30, random_state=0)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target


@pytest.fixture(scope="module")
def ad(digits):
    X, _ = digits
    return AutoDecoder(**GOOD).fit(X[:1000])


def _gaussian(m, n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(m, n)) / np.sqrt(m)).astype(np.float32)


# ------------------------------------------------------------- operators
def test_linear_dense_and_sparse_measure_alike():
    A = _gaussian(5, 12)
    X = np.random.default_rng(1).random((4, 12)).astype(np.float32)
    np.testing.assert_allclose(Linear(A).measure(X), X @ A.T, rtol=1e-5)
    sparse = sp.random(5, 12, density=0.3, random_state=0, format="csr")
    np.testing.assert_allclose(
        as_operator(sparse).measure(X), X @ sparse.toarray().T, rtol=1e-5, atol=1e-6
    )
    assert repr(Linear(A)) == "Linear(matrix=<array 5x12>)"
    assert repr(as_operator(sparse)) == "Linear(matrix=<sparse 5x12>)"


def test_row_norms_of_a_linear_operator_follow_its_matrix():
    A = _gaussian(4, 9)
    scale = np.linspace(0.5, 2.0, 9)
    expected = ((A * scale) ** 2).sum(axis=1)
    np.testing.assert_allclose(Linear(A).row_norms_sq(0, scale), expected, rtol=1e-5)
    # the generic Jacobian rule agrees with the closed form
    generic = Function(lambda X: X @ torch.as_tensor(A).T, 4)
    np.testing.assert_allclose(
        generic.row_norms_sq(np.zeros(9), scale), expected, rtol=1e-5
    )


def test_downsample_is_a_block_average():
    X = np.random.default_rng(0).random((3, 64)).astype(np.float32)
    low = Downsample(4).measure(X, image_shape=(1, 8, 8))
    blocks = X.reshape(3, 2, 4, 2, 4).mean(axis=(2, 4)).reshape(3, 4)
    np.testing.assert_allclose(low, blocks, rtol=1e-6)
    # a side that is no multiple of the factor: the edge blocks average what
    # is there
    odd = Downsample(2).measure(np.ones((1, 25)), image_shape=(1, 5, 5))
    np.testing.assert_allclose(odd, 1.0)
    assert odd.shape == (1, 9)


def test_gaussian_blur_matches_scipy_with_zero_padding():
    X = np.random.default_rng(0).random((2, 2 * 10 * 12)).astype(np.float32)
    out = GaussianBlur(1.5).measure(X, image_shape=(2, 10, 12))
    expected = np.stack(
        [
            gaussian_filter(
                img, sigma=(0, 1.5, 1.5), mode="constant", cval=0.0, truncate=4.0
            )
            for img in X.reshape(2, 2, 10, 12)
        ]
    ).reshape(2, -1)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_function_and_mask_measure():
    X = np.arange(6.0).reshape(2, 3)
    mask = np.array([True, False, False])
    np.testing.assert_array_equal(Mask(mask).measure(X), X[:, 1:])

    def squares(Z):
        return Z**2

    np.testing.assert_allclose(Function(squares, 3).measure(X), X**2)
    assert repr(Function(squares, 3)) == "Function(fn=squares, n_outputs=3)"
    assert repr(Mask(mask, noise_std=0.1)) == "Mask(<2 of 3 observed>, noise_std=0.1)"
    assert (
        repr(GaussianBlur(2, noise_std=0.5)) == "GaussianBlur(sigma=2.0, noise_std=0.5)"
    )


def test_measure_adds_seeded_noise():
    op = Downsample(2, noise_std=0.1)
    X = np.zeros((4, 64))
    clean = op.measure(X)
    np.testing.assert_array_equal(clean, 0.0)
    noisy = op.measure(X, random_state=0)
    np.testing.assert_array_equal(noisy, op.measure(X, random_state=0))
    assert 0.05 < noisy.std() < 0.15


# ------------------------------------------------------------- estimators
def test_mask_operator_equals_the_mask(ad, digits):
    X = digits[0][1500:1530]
    m = center_mask((8, 8), 4)
    np.testing.assert_array_equal(
        ad.reconstruct(X[:, ~m], operator=Mask(m)), ad.reconstruct(X, mask=m)
    )
    np.testing.assert_array_equal(
        ad.transform(X[:, ~m], operator=Mask(m)), ad.transform(X, mask=m)
    )


def test_compressed_sensing_beats_the_mean_image_and_least_norm(ad, digits):
    X_train, X = digits[0][:1000], digits[0][1500:1560]
    A = _gaussian(32, 64)
    op = Linear(A, noise_std=0.01)
    Y = op.measure(X, random_state=0)
    recon = ad.reconstruct(Y, operator=op)
    assert recon.shape == X.shape and recon.dtype == np.float32
    err = ((recon - X) ** 2).mean()
    mean_err = ((X_train.mean(axis=0) - X) ** 2).mean()
    least_norm = Y @ np.linalg.pinv(A).T
    assert err < 0.25 * mean_err  # measured: 0.07
    assert err < 0.5 * ((least_norm - X) ** 2).mean()
    # the fit pays over its starts (the decodes alone, uncorrected)
    ad.set_params(transform_residual=None)
    try:
        fitted = ((ad.reconstruct(Y, operator=op) - X) ** 2).mean()
        starts = ad.set_params(transform_max_iter=0).reconstruct(Y, operator=op)
    finally:
        ad.set_params(transform_max_iter="auto", transform_residual="gaussian")
    assert fitted < 0.6 * ((starts - X) ** 2).mean()  # measured: 0.30
    assert err < fitted  # the decodes' error corrected
    Z = ad.transform(Y, operator=op)
    assert Z.shape == (60, 64)
    # the operator budget, less where a row's data term reached its expected
    # value (the Gaussian prior's term left out: with it, no row stopped)
    assert ad.transform_n_iter_.max() == 100 and (ad.transform_n_iter_ < 100).any()


def test_gaussian_code_prior_under_an_operator(ad, digits):
    # "auto" under an operator (images) is "gaussian": the Gaussian of the
    # training codes, weighed as the MAP reading says; None: latent_penalty
    # times the squared norm (the earlier "auto"); masks keep latent_penalty
    X = digits[0][1500:1560]
    op = Linear(_gaussian(16, 64), noise_std=0.01)
    Y = op.measure(X, random_state=0)
    observation = ad._observe_rows(Y, None, op)[2]
    m = center_mask((8, 8), 4)
    masked_rows = ad._observe_rows(X, m)[2]
    masked = ad.reconstruct(X, mask=m)
    settings, errors = {}, {}
    for penalty in ("auto", "gaussian", None):
        ad.set_params(transform_penalty=penalty)
        try:
            settings[penalty] = ad._test_time(observation)
            errors[penalty] = ((ad.reconstruct(Y, operator=op) - X) ** 2).mean()
            if penalty == "gaussian":
                assert ad._test_time(masked_rows).prior
                gaussian_masked = ad.reconstruct(X, mask=m)
        finally:
            ad.set_params(transform_penalty="auto")
    assert settings["auto"] == settings["gaussian"]
    assert errors["auto"] == errors["gaussian"]
    assert settings["auto"].prior
    assert settings["auto"].penalty == pytest.approx(ad.noise_var_ / 64)
    assert not settings[None].prior and settings[None].penalty == ad.latent_penalty
    assert errors["auto"] < errors[None]  # measured: 0.0158 against 0.0179
    assert not ad._test_time(masked_rows).prior
    assert np.abs(gaussian_masked - masked).max() > 1e-4
    np.testing.assert_array_equal(ad.reconstruct(X, mask=m), masked)


def test_tables_keep_their_chosen_penalty_under_an_operator():
    # the Gaussian prior of "auto" is measured on images only
    table = AutoDecoder(latent_dim=2, max_epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table.fit(np.random.default_rng(0).random((30, 6)))
    observation = table._observe_rows(np.zeros((2, 3)), None, np.ones((3, 6)))[2]
    settings = table._test_time(observation)
    assert not settings.prior and settings.penalty == table.transform_penalty_


@pytest.mark.parametrize(
    "op, ratio",
    [
        (Linear(_gaussian(48, 64), noise_std=0.01), 0.9),
        (Downsample(2, noise_std=0.01), 1.0),
        (GaussianBlur(1.0, noise_std=0.01), 0.9),
    ],
    ids=["CS m=48", "SR 2x", "blur"],
)
def test_residual_correction_rebuilds_closer(ad, digits, op, ratio):
    # "gaussian" (the default) adds the posterior mean of the decode's error
    X = digits[0][1500:1560]
    Y = op.measure(X, random_state=0)
    corrected = ad.reconstruct(Y, operator=op)
    ad.set_params(transform_residual=None)
    try:
        decoded = ad.reconstruct(Y, operator=op)
    finally:
        ad.set_params(transform_residual="gaussian")
    err, before = ((corrected - X) ** 2).mean(), ((decoded - X) ** 2).mean()
    # measured: 0.0012 / 0.0175 / 0.0063 against 0.0021 / 0.0182 / 0.0075
    assert err < ratio * before, (err, before)
    # within the training rows' range of each entry (data units)
    rows = ad.offset_ + ad.scale_ * ad._training_rows
    assert (corrected >= rows.min(axis=0) - 1e-5).all()
    assert (corrected <= rows.max(axis=0) + 1e-5).all()


def test_residual_step_is_the_gaussian_posterior_mean():
    from skautodec._observation import Measurements
    from skautodec._residual import residual_fill

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, 6)).astype(np.float32)
    decodes = (0.5 * rows + 0.1).astype(np.float32)
    A = rng.normal(size=(3, 6)).astype(np.float32)
    offset, scale = np.full(6, 2.0, np.float32), np.full(6, 0.5, np.float32)
    op = Linear(A, noise_std=0.1)
    d = rng.normal(size=(4, 6)).astype(np.float32)
    Y = rng.normal(size=(4, 3)).astype(np.float32)
    obs = Measurements(Y, None, op, offset, scale, None)
    got = residual_fill(obs, d, rows * 10, decodes * 10)  # wide bounds
    errors = (rows - decodes).astype(np.float64) * 10
    mean, cov = errors.mean(axis=0), np.cov(errors, rowvar=False)
    As = A * scale  # A on scaled rows
    C = As @ cov @ As.T + 0.01 * np.eye(3)
    left = Y - (offset + scale * d) @ A.T - mean @ As.T
    expected = d + mean + left @ np.linalg.solve(C, As @ cov)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
    # kept within the training rows' range of each entry
    tight = residual_fill(obs, d, rows, decodes)
    assert (tight <= rows.max(axis=0) + 1e-6).all()
    assert (tight >= rows.min(axis=0) - 1e-6).all()


def test_no_residual_step_for_masks_and_nonlinear_operators(ad, digits):
    X = digits[0][1500:1520]
    m = center_mask((8, 8), 4)
    op = Function(lambda x: torch.tanh(x[:, :32]), 32)
    Y = op.measure(X)
    out = {}
    for value in ("gaussian", None):
        ad.set_params(transform_residual=value)
        out[value] = (ad.reconstruct(X, mask=m), ad.reconstruct(Y, operator=op))
    ad.set_params(transform_residual="gaussian")
    for a, b in zip(out["gaussian"], out[None], strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="transform_residual"):
        AutoDecoder(transform_residual="laplace").fit(X)


@pytest.mark.parametrize(
    "op", [Downsample(2), GaussianBlur(1.0, noise_std=0.01)], ids=repr
)
def test_image_operators_rebuild_better_than_their_input(ad, digits, op):
    X = digits[0][1500:1560]
    Y = op.measure(X, random_state=0)
    recon = ad.reconstruct(Y, operator=op)
    if isinstance(op, Downsample):
        naive = np.kron(Y.reshape(-1, 4, 4), np.ones((2, 2))).reshape(len(X), -1)
    else:
        naive = Y
    assert ((recon - X) ** 2).mean() < ((naive - X) ** 2).mean()


def test_noise_std_weighs_measurements_against_the_prior(ad):
    from skautodec.operators import _observation

    A = _gaussian(6, 64)
    Y = np.zeros((2, 6), dtype=np.float32)
    args = (Y, ad.offset_, ad.scale_, ad.noise_var_, 64, ad.image_shape_)
    clean = _observation(Linear(A), *args).weight
    noisy = _observation(Linear(A, noise_std=0.5), *args).weight
    r = Linear(A).row_norms_sq(ad.offset_, ad.scale_)
    np.testing.assert_allclose(clean[0], 1.0 / r, rtol=1e-5)
    np.testing.assert_allclose(
        noisy[0], ad.noise_var_ / (ad.noise_var_ * r + 0.25), rtol=1e-5
    )


def test_conv_autoencoder_decoder_as_the_generator(digits):
    X = digits[0]
    ae = ConvAutoEncoder(**FAST).fit(X[:400])
    assert ae.latents_.shape == (400, 8) and ae.noise_var_ > 0
    op = Linear(_gaussian(16, 64), noise_std=0.01)
    Y = op.measure(X[1500:1540], random_state=0)
    recon = ae.reconstruct(Y, operator=op)
    mean_err = ((X[:400].mean(axis=0) - X[1500:1540]) ** 2).mean()
    assert ((recon - X[1500:1540]) ** 2).mean() < mean_err
    m = center_mask((8, 8), 4)
    assert ae.score(X[1500:1540], operator=Mask(m)) < 0


@pytest.mark.parametrize(
    "op", [Linear(_gaussian(48, 64), noise_std=0.01), Downsample(2, noise_std=0.01)]
)
def test_conv_autoencoder_residual_step(digits, op):
    # as the autodecoder's: the posterior mean of the decode's error is added
    X = digits[0]
    ae = ConvAutoEncoder(**FAST).fit(X[:400])
    Y = op.measure(X[1500:1540], random_state=0)
    corrected = ae.reconstruct(Y, operator=op)
    ae.set_params(transform_residual=None)
    decoded = ae.reconstruct(Y, operator=op)
    np.testing.assert_array_equal(
        decoded, ae.inverse_transform(ae.transform(Y, operator=op))
    )
    err, before = (((r - X[1500:1540]) ** 2).mean() for r in (corrected, decoded))
    assert err < 0.9 * before, (err, before)
    # masks are not corrected
    m = center_mask((8, 8), 4)
    np.testing.assert_array_equal(
        ae.reconstruct(X[:5], mask=m),
        ae.set_params(transform_residual="gaussian").reconstruct(X[:5], mask=m),
    )
    with pytest.raises(ValueError, match="transform_residual"):
        ConvAutoEncoder(transform_residual="laplace").fit(X[:20])


def test_score_and_scorer_in_grid_search(digits):
    X = digits[0][:240]
    op = Downsample(2, noise_std=0.01)
    search = GridSearchCV(
        AutoDecoder(**{**FAST, "max_epochs": 5}),
        {"transform_max_iter": [0, 20]},
        cv=2,
        scoring=inverse_problem_scorer(op),
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and (scores < 0).all()
    assert scores[1] > scores[0]  # fitting the codes beats the closest start
    ad = search.best_estimator_
    assert ad.score(X[:20], operator=op) == pytest.approx(
        -float(((ad.reconstruct(op.measure(X[:20]), operator=op) - X[:20]) ** 2).mean())
    )
    with config_context(enable_metadata_routing=True):
        routed = GridSearchCV(
            AutoDecoder(**{**FAST, "max_epochs": 5}).set_score_request(operator=True),
            {"latent_penalty": [1e-4]},
            cv=2,
        ).fit(X, operator=op)
        assert routed.best_score_ < 0


def test_pipeline_classifies_from_random_projections(digits):
    X, y = digits
    A = _gaussian(20, 64)
    with config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            AutoDecoder(
                latent_dim=16, max_epochs=30, random_state=0
            ).set_transform_request(operator=True),
            LogisticRegression(max_iter=500),
        ).fit(X[:400], y[:400])
        Y = Linear(A).measure(X[1500:1600])
        accuracy = pipe.score(Y, y[1500:1600], operator=Linear(A))
    assert accuracy > 0.5  # 10 classes, from 20 numbers per image


def test_estimator_pickles_after_an_operator_call(ad, digits):
    X = digits[0][1500:1510]
    op = Linear(_gaussian(12, 64))
    Y = op.measure(X)
    before = ad.reconstruct(Y, operator=op)
    loaded = pickle.loads(pickle.dumps(ad))
    np.testing.assert_allclose(loaded.reconstruct(Y, operator=op), before, atol=1e-6)
    op_loaded = pickle.loads(pickle.dumps(op))
    np.testing.assert_array_equal(op_loaded.measure(X), Y)


# ------------------------------------------------------------- bad input
def _numpy_sum(X):
    return torch.as_tensor(np.asarray(X.detach()).sum(axis=1, keepdims=True))


@pytest.mark.parametrize(
    "operator, Y, error, match",
    [
        (Linear(np.ones((5, 64))), np.zeros((3, 4)), ValueError,
         r"Y has 4 columns, but Linear\(.*\) makes 5 measurements"),
        (Linear(np.ones((5, 60))), np.zeros((3, 5)), ValueError,
         "matrix has 60 columns, but the rows have 64 features"),
        (Downsample(2, image_shape=(1, 4, 16)), np.zeros((3, 16)), ValueError,
         r"built for images of shape \(1, 4, 16\), but the estimator's are"),
        (Mask(np.zeros(10, bool)), np.zeros((3, 10)), ValueError,
         "Mask has 10 entries, but the rows have 64 features"),
        (Function(_numpy_sum, 1), np.zeros((3, 1)), ValueError,
         "is not differentiable"),
        (Function(lambda X: X[:, :2], 3), np.zeros((3, 3)), ValueError,
         r"to \(2, 2\); expected \(2, 3\)"),
        (Linear(np.ones((5, 64))), np.full((3, 5), np.nan), ValueError,
         "NaN or infinite"),
        ("not an operator", np.zeros((3, 5)), TypeError, "operator must be"),
    ],
)  # fmt: skip
def test_bad_operator_calls_are_clear_errors(ad, operator, Y, error, match):
    for method in ("transform", "reconstruct"):
        with pytest.raises(error, match=match):
            getattr(ad, method)(Y, operator=operator)


def test_more_bad_input(ad, digits):
    X = digits[0][:5]
    m = center_mask((8, 8), 4)
    with pytest.raises(ValueError, match="mask= or operator="):
        ad.transform(X, mask=m, operator=Mask(m))
    with pytest.raises(ValueError, match="must be complete"):
        ad.score(np.where(m, np.nan, X), operator=Downsample(2))
    with pytest.raises(ValueError, match="noise_std"):
        Downsample(2, noise_std=-1.0)
    with pytest.raises(ValueError, match="factor"):
        Downsample(0)
    with pytest.raises(ValueError, match="sigma"):
        GaussianBlur(0)
    with pytest.raises(ValueError, match="one boolean mask"):
        Mask(np.zeros((2, 64), bool))
    with pytest.raises(TypeError, match="callable"):
        Function(3, 1)
    table = AutoDecoder(latent_dim=2, max_epochs=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table.fit(np.random.default_rng(0).random((30, 6)))
    with pytest.raises(ValueError, match="works on images, but rows of 6"):
        table.reconstruct(np.zeros((2, 6)), operator=GaussianBlur(1.0))
    # a table takes linear operators and functions
    assert table.reconstruct(np.zeros((2, 3)), operator=np.ones((3, 6))).shape == (2, 6)


def test_expected_loss_is_the_mean_loss_at_the_truth():
    # rows = decodes + errors of variance entry_var, measured with noise: the
    # loss of the decodes averages what expected_loss says
    from skautodec.operators import _observation

    rng = np.random.default_rng(0)
    n, F, m, model_var, entry_var = 20_000, 64, 16, 0.04, 0.01
    op = Linear(_gaussian(m, F), noise_std=0.5)  # noise about half the loss
    offset, scale = np.full(F, 0.5, np.float32), np.full(F, 2.0, np.float32)
    decodes = rng.normal(size=(n, F)).astype(np.float32)
    truth = decodes + np.sqrt(entry_var) * rng.normal(size=(n, F)).astype(np.float32)
    Y = op.measure(offset + scale * truth, random_state=1)
    obs = _observation(op, Y, offset, scale, model_var, F, None)
    expected = obs.expected_loss(entry_var, model_var, F)
    loss = obs.to("cpu").loss(torch.as_tensor(decodes)).numpy()
    np.testing.assert_allclose(loss.mean(), expected.mean(), rtol=0.02)
    # missing entries: entry_var for each observed one
    from skautodec._observation import MissingEntries

    observed = (rng.random((n, F)) < 0.3).astype(np.float32)

    holes = MissingEntries(truth * observed, observed)
    np.testing.assert_allclose(
        holes.to("cpu").loss(torch.as_tensor(decodes)).numpy().mean(),
        holes.expected_loss(entry_var, model_var, F).mean(),
        rtol=0.02,
    )


def test_discrepancy_stop_ends_fits_at_the_expected_loss(ad, digits):
    from skautodec._inference import discrepancy_floor

    X = digits[0][1500:1540]
    op = Linear(_gaussian(16, 64), noise_std=0.05)
    Y = op.measure(X, random_state=0)
    model = pickle.loads(pickle.dumps(ad)).set_params(transform_penalty=None)
    assert model.get_params()["transform_discrepancy"] == "auto"
    full = model.set_params(transform_discrepancy=None).transform(Y, operator=op)
    assert (model.transform_n_iter_ == 100).all()
    # a loose floor: most rows stop early, each with its data term (the
    # loss without the prior) at or below its floor
    model.set_params(transform_discrepancy=20.0)
    stopped = model.transform(Y, operator=op)
    steps = model.transform_n_iter_
    assert (steps < 100).mean() > 0.5 and not np.allclose(stopped, full)
    _, _, observation = model._observe_rows(Y, None, op)
    floor = discrepancy_floor(model, observation, 20.0, 100, model.latent_penalty)
    z = torch.as_tensor(stopped)
    with torch.no_grad():
        loss = observation.to("cpu").loss(model._get_decoder()(z))
    early = steps < 100
    assert (loss.numpy()[early] <= floor[early] * (1 + 1e-4)).all()
    # "auto" leaves masks as they were
    m = center_mask((8, 8), 4)
    auto = model.set_params(transform_discrepancy="auto").reconstruct(X, mask=m)
    np.testing.assert_array_equal(
        auto, model.set_params(transform_discrepancy=None).reconstruct(X, mask=m)
    )
    # and a given value applies to them too
    model.set_params(transform_discrepancy=20.0).reconstruct(X[:10], mask=m)
    assert model.transform_n_iter_.mean() < 20


def test_discrepancy_stop_of_the_autoencoder_and_bad_values(digits):
    X = digits[0]
    ae = ConvAutoEncoder(**FAST).fit(X[:400])
    op = Downsample(2, noise_std=0.01)
    Y = op.measure(X[1500:1520], random_state=0)
    ae.reconstruct(Y, operator=op)
    assert (ae.transform_n_iter_ == 100).all()  # None by default
    ae.set_params(transform_discrepancy=20.0).reconstruct(Y, operator=op)
    assert ae.transform_n_iter_.mean() < 100
    for bad in (0, -1.0, "always"):
        with pytest.raises(ValueError, match="transform_discrepancy"):
            AutoDecoder(transform_discrepancy=bad).fit(X[:20])
