"""AutoDecoder: training codes, loss, frozen-decoder transform, scoring."""

import copy
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from torch import nn

from skautodec import AutoDecoder
from skautodec.datasets import make_low_rank

FAST = dict(latent_dim=2, channels=4, max_epochs=3, transform_max_iter=20)


@pytest.fixture(scope="module")
def ad(X_tab):
    return AutoDecoder(**FAST, random_state=0).fit(X_tab)


@pytest.fixture(scope="module")
def digits():
    X = (load_digits().data / 16.0).astype(np.float32)
    return X[:150], X[1000:1040]


def scaled(est, X):
    return (X - est.offset_) / est.scale_


def test_one_code_per_training_row(ad, X_tab):
    assert isinstance(ad.net_.latents_, nn.Embedding)
    assert ad.net_.latents_.num_embeddings == len(X_tab)
    assert ad.latents_.shape == (len(X_tab), 2)
    np.testing.assert_array_equal(ad.latents_, ad.net_.latents_.weight.detach().numpy())
    # a copy: later changes to the net do not leak into latents_
    assert not np.shares_memory(ad.latents_, ad.net_.latents_.weight.detach().numpy())
    assert ad.n_iter_ == 3 == len(ad.history_)
    assert np.isfinite(ad.history_[:, "train_loss"]).all()


def test_training_loss_formula(X_tab):
    est = AutoDecoder(**FAST, latent_penalty=0.7, random_state=0).fit(X_tab)
    net = est.net_
    idx = np.arange(len(X_tab))
    with torch.no_grad():
        recon, z = net.infer({"idx": idx})
        loss = net.get_loss((recon, z), scaled(est, X_tab), X={"idx": idx})
    target = torch.from_numpy(scaled(est, X_tab))
    expected = (((recon - target) ** 2).mean(1) + 0.7 * (z**2).sum(1)).mean()
    torch.testing.assert_close(loss, expected)


def test_larger_latent_penalty_gives_smaller_codes(X_tab):
    common = dict(FAST, max_epochs=5, batch_size=8, latent_lr=0.05, random_state=0)
    free = AutoDecoder(**common, latent_penalty=0.0).fit(X_tab)
    tight = AutoDecoder(**common, latent_penalty=10.0).fit(X_tab)
    free_norm = np.linalg.norm(free.latents_, axis=1).mean()
    tight_norm = np.linalg.norm(tight.latents_, axis=1).mean()
    assert tight_norm < 0.5 * free_norm


def test_weight_decay_on_decoder_group_only(X_tab):
    est = AutoDecoder(
        **FAST, weight_decay=0.123, lr=2e-3, latent_lr=0.07, random_state=0
    ).fit(X_tab)
    decoder_group, code_group = est.net_.optimizer_.param_groups
    decoder_params = {id(p) for p in est.net_.module_.parameters()}
    assert {id(p) for p in decoder_group["params"]} == decoder_params
    assert decoder_group["weight_decay"] == 0.123
    assert decoder_group["lr"] == 2e-3
    assert [id(p) for p in code_group["params"]] == [id(est.net_.latents_.weight)]
    assert code_group["weight_decay"] == 0.0
    assert code_group["lr"] == 0.07


def test_latent_lr_defaults_to_ten_times_lr(ad):
    assert ad.net_.optimizer_.param_groups[1]["lr"] == pytest.approx(10 * ad.lr)


def test_transform_keeps_decoder_frozen(ad, X_tab):
    decoder = ad.decoder_
    before = {k: v.clone() for k, v in decoder.state_dict().items()}
    flags = [p.requires_grad for p in decoder.parameters()]
    training = decoder.training
    ad.transform(X_tab[:5])
    for k, v in decoder.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert [p.requires_grad for p in decoder.parameters()] == flags
    assert all(flags)
    assert decoder.training == training


def test_transform_rows_solved_independently(ad, X_tab):
    batch = ad.transform(X_tab[:8])
    for i in [0, 5]:
        alone = ad.transform(X_tab[i : i + 1])
        np.testing.assert_allclose(alone[0], batch[i], atol=1e-4)


def test_transform_and_inverse_shapes_and_dtypes(ad, X_tab):
    Z = ad.transform(X_tab[:7].astype(np.float64))
    assert Z.shape == (7, 2) and Z.dtype == np.float32
    X_hat = ad.inverse_transform(Z)
    assert X_hat.shape == (7, 6) and X_hat.dtype == np.float32
    assert ad.inverse_transform(Z.astype(np.float64)).dtype == np.float32


def test_score_is_negative_mse(ad, X_tab):
    one = copy.deepcopy(ad).set_params(n_init=1)
    recon = one.inverse_transform(one.transform(X_tab))
    expected = -np.mean((recon.astype(np.float64) - X_tab) ** 2)
    assert one.score(X_tab) == pytest.approx(expected, rel=1e-5)
    assert one.score(X_tab) < 0
    # with several starts, score uses reconstruct (their decodes averaged)
    recon = ad.reconstruct(X_tab)
    expected = -np.mean((recon.astype(np.float64) - X_tab) ** 2)
    assert ad.score(X_tab) == pytest.approx(expected, rel=1e-5)


def test_score_with_mask_scores_hidden_entries(ad, X_tab):
    one = copy.deepcopy(ad).set_params(n_init=1, neighbor_weight=0.0)
    mask = np.zeros(X_tab.shape, dtype=bool)
    mask[:, :2] = True
    recon = one.inverse_transform(one.transform(X_tab, mask=mask))
    expected = -np.mean((recon[mask].astype(np.float64) - X_tab[mask]) ** 2)
    assert one.score(X_tab, mask=mask) == pytest.approx(expected, rel=1e-5)


def test_masked_values_have_no_influence(ad, X_tab):
    mask = np.zeros(X_tab.shape, dtype=bool)
    mask[::2, 1] = True
    mask[1::3, 4] = True
    garbage = X_tab.copy()
    garbage[mask] = 1e6
    original = garbage.copy()
    Z = ad.transform(garbage, mask=mask)
    np.testing.assert_array_equal(garbage, original)  # not modified in place
    np.testing.assert_array_equal(Z, ad.transform(X_tab, mask=mask))
    with_nan = X_tab.copy()
    with_nan[mask] = np.nan
    np.testing.assert_array_equal(Z, ad.transform(with_nan))


@pytest.mark.parametrize("transform_init", ["zeros", "nearest", "encoder"])
def test_transform_init_options(X_tab, transform_init):
    est = AutoDecoder(**FAST, transform_init=transform_init, random_state=0)
    Z = est.fit(X_tab).transform(X_tab[:4])
    assert Z.shape == (4, 2) and np.isfinite(Z).all()


def test_n_init_averages_reconstructions_only(ad, X_tab):
    one = copy.deepcopy(ad).set_params(n_init=1)
    three = copy.deepcopy(ad).set_params(n_init=3)
    # transform starts from the closest training code only
    np.testing.assert_array_equal(three.transform(X_tab), one.transform(X_tab))
    np.testing.assert_allclose(
        one.reconstruct(X_tab),
        one.inverse_transform(one.transform(X_tab)),
        rtol=1e-5,
        atol=1e-6,
    )
    # reconstruct averages the decodes of three fitted starts
    assert not np.allclose(three.reconstruct(X_tab), one.reconstruct(X_tab))


def test_random_state_repeatable(X_tab):
    a = AutoDecoder(**FAST, random_state=3).fit(X_tab)
    b = AutoDecoder(**FAST, random_state=3).fit(X_tab)
    np.testing.assert_array_equal(a.latents_, b.latents_)
    np.testing.assert_array_equal(a.transform(X_tab), b.transform(X_tab))
    c = AutoDecoder(**FAST, random_state=4).fit(X_tab)
    assert not np.array_equal(a.latents_, c.latents_)


def test_random_state_leaves_global_rng_alone(X_tab):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    AutoDecoder(**FAST, random_state=0).fit(X_tab)
    torch.testing.assert_close(torch.rand(3), expected)


def test_verbose_prints_epoch_log(X_tab, capsys):
    AutoDecoder(**FAST, verbose=1, random_state=0).fit(X_tab)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out
    AutoDecoder(**FAST, verbose=0, random_state=0).fit(X_tab)
    assert capsys.readouterr().out == ""


def test_verbose_progress_bar_on_long_transform(ad, capsys):
    X = np.random.default_rng(0).normal(size=(100, 6)).astype(np.float32)
    est = AutoDecoder(**dict(FAST, transform_max_iter=100), verbose=1, random_state=0)
    est.fit(X[:20])
    capsys.readouterr()
    est.transform(X)
    assert "transform" in capsys.readouterr().err
    ad.transform(X)  # verbose=0
    assert capsys.readouterr().err == ""


def test_reconstructions_do_not_collapse(digits):
    X_train, X_test = digits
    est = AutoDecoder(
        latent_dim=8,
        channels=8,
        lr=1e-2,
        max_epochs=5,
        batch_size=16,
        transform_max_iter=30,
        random_state=0,
    ).fit(X_train)
    recon = est.inverse_transform(est.transform(X_test))
    mean_mse = np.mean((X_train.mean(axis=0) - X_test) ** 2)
    assert np.mean((recon - X_test) ** 2) < 0.75 * mean_mse
    # rows differ from each other as the digits do, not one blurred image
    assert recon.std(axis=0).mean() > 0.3 * X_test.std(axis=0).mean()


def test_warm_start_continues_training(X_tab):
    est = AutoDecoder(**FAST, warm_start=True, random_state=0).fit(X_tab)
    net = est.net_
    est.fit(X_tab)
    assert est.net_ is net
    assert est.n_iter_ == 6
    with pytest.raises(ValueError, match="rows"):
        est.fit(X_tab[:10])


def test_errors(ad, X_tab):
    with pytest.raises(NotFittedError):
        AutoDecoder().transform(X_tab)
    with pytest.raises(NotFittedError):
        AutoDecoder().inverse_transform(np.zeros((2, 64)))
    with pytest.raises(ValueError, match="features"):
        ad.transform(X_tab[:, :4])
    with pytest.raises(ValueError, match="latent_dim"):
        ad.inverse_transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="2-D"):
        AutoDecoder(**FAST).fit(np.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match="mask"):
        ad.transform(X_tab, mask=np.zeros((3, 6), dtype=bool))
    with pytest.raises(TypeError, match="mask"):
        ad.transform(X_tab, mask=np.full(6, "a"))
    with pytest.raises(ValueError, match="latent_penalty"):
        AutoDecoder(latent_penalty=-1.0).fit(X_tab)
    with pytest.raises(ValueError, match="transform_init"):
        AutoDecoder(transform_init="pca").fit(X_tab)
    with pytest.raises(ValueError, match="device"):
        AutoDecoder(**FAST, device="tpu").fit(X_tab)


def _center_hole(X, width=2):
    mask = np.zeros(X.shape, dtype=bool)
    mask[:, 2 : 2 + width] = True
    return mask


def test_neighbor_blend_fills_missing_entries_only(ad, X_tab):
    mask = _center_hole(X_tab)
    mask[3] = False  # a row with nothing missing
    at = {w: copy.deepcopy(ad).set_params(neighbor_weight=w) for w in (0.0, 0.3, 1.0)}
    recon = {w: est.reconstruct(X_tab, mask=mask) for w, est in at.items()}
    assert not np.allclose(recon[0.0][mask], recon[1.0][mask])
    np.testing.assert_allclose(
        recon[0.3][mask], 0.7 * recon[0.0][mask] + 0.3 * recon[1.0][mask], atol=1e-5
    )
    for w in (0.3, 1.0):  # observed entries come from the fitted codes
        np.testing.assert_array_equal(recon[w][~mask], recon[0.0][~mask])
    # without missing entries the weight changes nothing
    np.testing.assert_array_equal(
        at[1.0].reconstruct(X_tab), at[0.0].reconstruct(X_tab)
    )


def _with_holes(X, seed=1, share=0.2):
    mask = np.random.RandomState(seed).random_sample(X.shape) < share
    mask[mask.all(axis=1), 0] = False
    return np.where(mask, np.nan, X)


def test_auto_test_time_settings_follow_the_table():
    # a clean low-rank table is best filled by its fitted codes, pure noise
    # by the neighbours' average: "auto" finds both on held-out entries
    clean = make_low_rank(n_samples=120, n_features=8, random_state=0)
    noise = np.random.RandomState(0).normal(size=(120, 8)).astype(np.float32)
    chosen = {}
    for name, X in (("clean", clean), ("noise", noise)):
        X_missing = _with_holes(X)
        before = X_missing.copy()
        est = AutoDecoder(max_epochs=20, random_state=0).fit(X_missing)
        np.testing.assert_array_equal(X_missing, before)  # input unchanged
        assert est.neighbor_weight == "auto" and est.transform_penalty == "auto"
        assert est.neighbor_weight_ in np.linspace(0, 1, 11)
        assert est.transform_penalty_ in (1e-4, 1e-2, 1e-1)
        assert est.neighbor_source_ in ("data", "decodes")
        chosen[name] = est.neighbor_weight_
        # "auto" reconstructs with the resolved values
        fixed = copy.deepcopy(est).set_params(
            neighbor_weight=est.neighbor_weight_,
            transform_penalty=est.transform_penalty_,
            neighbor_source=est.neighbor_source_,
        )
        np.testing.assert_array_equal(
            est.reconstruct(X_missing), fixed.reconstruct(X_missing)
        )
    assert chosen["clean"] <= 0.3 < 0.7 <= chosen["noise"]


def test_auto_code_size_of_tables_follows_their_rank():
    from skautodec._resolve import table_code_sizes

    assert table_code_sizes(8) == [4, 6, 7]
    assert table_code_sizes(3) == [2] and table_code_sizes(200) == [64]
    chosen = {}
    for rank in (2, 6):
        X = make_low_rank(
            n_samples=150, n_features=8, rank=rank, noise=0.01, random_state=0
        )
        est = AutoDecoder(max_epochs=30, random_state=0).fit(_with_holes(X))
        assert est.get_params()["latent_dim"] == "auto"
        chosen[rank] = est.latents_.shape[1]
        assert est.latent_dim_ == chosen[rank]
        assert est.held_out_error_ > 0
        assert est.transform(X[:2]).shape == (2, chosen[rank])
    assert chosen[2] <= 6 and chosen[6] >= 6
    # an explicit size is kept
    est = AutoDecoder(**FAST, random_state=0).fit(_with_holes(X))
    assert est.latents_.shape[1] == 2


def test_explicit_test_time_settings_are_kept(X_tab):
    est = AutoDecoder(
        **FAST, neighbor_weight=0.3, transform_penalty=None, random_state=0
    ).fit(_with_holes(X_tab))
    assert est.neighbor_weight_ == 0.3
    assert est.transform_penalty_ == est.latent_penalty
    assert est.neighbor_source_ in ("data", "decodes")  # still "auto"
    est = AutoDecoder(
        **FAST, neighbor_weight=0.3, transform_penalty=None, neighbor_source="decodes"
    ).fit(_with_holes(X_tab))
    assert (est.neighbor_weight_, est.neighbor_source_) == (0.3, "decodes")
    est = AutoDecoder(**FAST, transform_penalty=0.05, random_state=0).fit(X_tab)
    assert est.transform_penalty_ == 0.05
    assert est.neighbor_weight_ in np.linspace(0, 1, 11)


def test_gaussian_code_prior_on_a_table(X_tab):
    from sklearn.utils._param_validation import InvalidParameterError

    from skautodec._resolve import selection_grid

    X = _with_holes(X_tab)
    est = AutoDecoder(**FAST, transform_penalty="gaussian", random_state=0).fit(X)
    assert est.transform_penalty_ == "gaussian"
    settings = est._test_time()
    assert settings.prior
    assert settings.penalty == pytest.approx(est.noise_var_ / X.shape[1])
    filled = est.reconstruct(X)
    assert np.isfinite(filled).all()
    isotropic = est.set_params(transform_penalty=None).reconstruct(X)
    assert not est._test_time().prior
    assert np.abs(filled - isotropic)[np.isnan(X)].max() > 1e-4
    # an explicit "gaussian" is kept through the held-out selection
    params = est.set_params(transform_penalty="gaussian").get_params(deep=False)
    grid = selection_grid(params, vars(est), 6, None)["transform_penalty"]
    assert grid == ["gaussian"]
    with pytest.raises(InvalidParameterError, match="transform_penalty"):
        AutoDecoder(transform_penalty="gauss").fit(X_tab)


def test_auto_blend_on_images_is_chosen_on_held_out_blocks(digits):
    X, X_test = digits
    est = AutoDecoder(**FAST, random_state=0).fit(X)
    assert est.transform_penalty_ == est.latent_penalty  # no probe for images
    assert est.neighbor_weight_ in np.linspace(0, 1, 11)
    assert est.n_neighbors_ in (5, 10, 20)
    assert est.neighbor_source_ in ("data", "decodes")
    mask = np.zeros(X_test.shape, dtype=bool)
    mask[:, 27:29] = True
    fixed = copy.deepcopy(est).set_params(
        neighbor_weight=est.neighbor_weight_,
        n_neighbors=est.n_neighbors_,
        neighbor_source=est.neighbor_source_,
        transform_penalty=None,
    )
    np.testing.assert_array_equal(
        est.reconstruct(X_test, mask=mask), fixed.reconstruct(X_test, mask=mask)
    )
    # explicit values skip the held-out blocks: one plain training run
    plain = AutoDecoder(
        **FAST,
        neighbor_weight=0.5,
        n_neighbors=20,
        neighbor_source="decodes",
        random_state=0,
    ).fit(X)
    assert (plain.neighbor_weight_, plain.n_neighbors_) == (0.5, 20)
    assert plain.neighbor_source_ == "decodes"


def test_held_out_blocks_are_squares_of_observed_pixels():
    from skautodec._select import held_out_blocks as _held_out_blocks

    missing = np.zeros((400, 64), dtype=bool)
    missing[:, 0] = True
    held = _held_out_blocks(missing, (1, 8, 8), seed=0)
    rows = held.any(axis=1)
    assert rows.sum() == 100  # a quarter of the images
    assert not (held & missing).any()
    for image in held[rows].reshape(-1, 8, 8):
        r, c = np.nonzero(image)
        # a 3x3 block (0.375 * 8), less the always-missing pixel
        assert r.max() - r.min() == 2 and c.max() - c.min() == 2
        assert image.sum() in (8, 9)
    assert _held_out_blocks(missing[:10], (1, 8, 8), seed=0) is None


@pytest.mark.parametrize("transform_init", ["nearest", "zeros"])
@pytest.mark.parametrize("source", ["decodes", "data"])
def test_neighbor_average_is_closest_training_rows(ad, X_tab, transform_init, source):
    est = copy.deepcopy(ad).set_params(
        neighbor_weight=1.0,
        n_neighbors=4,
        transform_init=transform_init,
        neighbor_source=source,
    )
    mask = _center_hole(X_tab)
    recon = est.reconstruct(X_tab[:20] + 0.1, mask=mask[:20])
    rows = est.inverse_transform(est.latents_) if source == "decodes" else X_tab
    for i in (0, 7, 19):
        seen = ~mask[i]
        scale = np.broadcast_to(est.scale_, seen.shape)[seen]  # per feature
        dist = (((rows[:, seen] - X_tab[i, seen] - 0.1) / scale) ** 2).sum(axis=1)
        closest = np.argsort(dist, kind="stable")[:4]
        np.testing.assert_allclose(
            recon[i, mask[i]], rows[closest][:, mask[i]].mean(axis=0), atol=1e-4
        )


def test_data_neighbours_fill_missing_training_entries_with_decodes(X_tab):
    import pickle

    X_missing = _with_holes(X_tab)
    est = AutoDecoder(
        **FAST, neighbor_weight=1.0, neighbor_source="data", random_state=0
    ).fit(X_missing)
    assert est.neighbor_source_ == "data"
    decodes = est.inverse_transform(est.latents_)
    rows = est._training_rows * est.scale_ + est.offset_
    missing = np.isnan(X_missing)
    np.testing.assert_allclose(rows[~missing], X_tab[~missing], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rows[missing], decodes[missing], rtol=1e-5, atol=1e-5)
    # kept with the model: a loaded copy reconstructs the same
    loaded = pickle.loads(pickle.dumps(est))
    mask = _center_hole(X_tab)
    np.testing.assert_array_equal(
        loaded.reconstruct(X_tab, mask=mask), est.reconstruct(X_tab, mask=mask)
    )


def test_neighbor_blend_edge_cases(ad, X_tab):
    mask = _center_hole(X_tab)
    mask[5] = True  # nothing observed: the prior code's decode, no neighbours
    est = copy.deepcopy(ad).set_params(
        neighbor_weight=1.0, n_neighbors=10_000, neighbor_source="decodes"
    )
    with pytest.warns(UserWarning, match="1 row"):
        recon = est.reconstruct(X_tab, mask=mask)
    prior = est.inverse_transform(np.zeros((1, est.latent_dim)))[0]
    np.testing.assert_allclose(recon[5], prior, atol=1e-6)
    # more neighbours than training rows: the average of every training decode
    everything = est.inverse_transform(est.latents_).mean(axis=0)
    np.testing.assert_allclose(recon[0, mask[0]], everything[mask[0]], atol=1e-5)
    # or of every training row
    est.set_params(neighbor_source="data")
    with pytest.warns(UserWarning, match="1 row"):
        recon = est.reconstruct(X_tab, mask=mask)
    np.testing.assert_allclose(recon[5], prior, atol=1e-6)
    np.testing.assert_allclose(
        recon[0, mask[0]], X_tab.mean(axis=0)[mask[0]], rtol=1e-4, atol=1e-4
    )


def test_auto_sizes_resolve_in_fit(X_tab, X_img):
    from skautodec._resolve import auto_epochs

    ad = AutoDecoder(max_epochs=2, transform_max_iter=2, random_state=0)
    assert ad.get_params()["latent_dim"] == "auto"
    ad.fit(X_img[:20])
    assert ad.latents_.shape[1] == 64 and ad.get_params()["latent_dim"] == "auto"
    assert (ad.latent_dim_, ad.channels_, ad.max_epochs_) == (64, 16, 2)
    assert ad.image_shape_ == (1, 8, 8) and ad.latent_lr_ == 10 * ad.lr
    assert ad.transform(X_img[:3]).shape == (3, 64)
    assert ad.get_feature_names_out()[-1] == "autodecoder63"
    # epochs follow the number of rows, clipped to [10, 100]
    assert auto_epochs(20) == 100
    assert auto_epochs(10_000) == 10
    assert auto_epochs(3000) == 33
    tab = AutoDecoder(max_epochs="auto", latent_dim=3, channels=2, random_state=0)
    tab.set_params(transform_max_iter=2).fit(X_tab)
    assert tab.n_iter_ == 100 == tab.max_epochs_ and tab.latents_.shape[1] == 3
    with pytest.raises(ValueError, match="latent_dim"):
        AutoDecoder(latent_dim="big").fit(X_tab)


def test_transform_n_iter_and_convergence_warning(ad, X_tab):
    from sklearn.exceptions import ConvergenceWarning

    fresh = copy.deepcopy(ad)
    fresh._inference_cache = {}
    with pytest.raises(AttributeError, match="transform_n_iter_"):
        _ = fresh.transform_n_iter_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ad.set_params(tol=0.0)
        ad.transform(X_tab[:5])  # a fixed budget never warns
        assert (ad.transform_n_iter_ == ad.transform_max_iter).all()
    est = copy.deepcopy(ad).set_params(tol=1e-3, transform_max_iter=5)
    with pytest.warns(ConvergenceWarning, match="transform_max_iter=5"):
        est.transform(X_tab[:5])
    assert (est.transform_n_iter_ == 5).all()
    est.set_params(tol=0.5, transform_max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.transform(X_tab[:5])
    assert est.transform_n_iter_.shape == (5,)
    assert (est.transform_n_iter_ < 200).all()


def test_test_time_budget_auto_follows_the_data(X_tab, X_img):
    # "auto": 5 starts x 50 steps for tabular rows, 3 x 10 for images (from
    # the encoder's code), 3 x 20 for images from the closest codes
    fixed = dict(channels=4, max_epochs=1, neighbor_weight=0.0, transform_penalty=None)
    tab = AutoDecoder(latent_dim=2, **fixed, random_state=0).fit(X_tab)
    img = AutoDecoder(latent_dim=2, **fixed, n_neighbors=5, random_state=0)
    img.fit(X_img)
    near = AutoDecoder(latent_dim=2, **fixed, n_neighbors=5, random_state=0)
    near.set_params(transform_init="nearest").fit(X_img)
    cases = ((tab, X_tab, 5, 50), (img, X_img, 3, 10), (near, X_img, 3, 20))
    for est, X, starts, steps in cases:
        assert est.n_init == "auto" and est.transform_max_iter == "auto"
        est.reconstruct(X[:4], mask=np.isin(np.arange(X.shape[1]), [0, 1]))
        assert (est.transform_n_iter_ == steps).all()
        assert est._test_time().n_init == est.n_init_ == starts
        assert est.transform_max_iter_ == steps
        est.transform(X[:4])
        assert (est.transform_n_iter_ == steps).all()
    tab.set_params(n_init=2, transform_max_iter=7).transform(X_tab[:4])
    assert (tab.transform_n_iter_ == 7).all() and tab._test_time().n_init == 2


def test_training_decodes_cached_refit_and_not_pickled(X_tab):
    import pickle

    est = AutoDecoder(**FAST, random_state=0).fit(X_tab)
    first = est._training_decodes()
    assert est._training_decodes() is first
    np.testing.assert_allclose(
        first * est.scale_ + est.offset_, est.inverse_transform(est.latents_)
    )
    loaded = pickle.loads(pickle.dumps(est))
    assert "decodes" not in loaded._inference_cache
    np.testing.assert_allclose(loaded._training_decodes(), first)
    est.set_params(random_state=1).fit(X_tab)  # a refit forgets the old decodes
    assert est._training_decodes() is not first
    assert not np.allclose(est._training_decodes(), first)
    est.set_params(warm_start=True).fit(X_tab)
    np.testing.assert_allclose(
        est._training_decodes() * est.scale_ + est.offset_,
        est.inverse_transform(est.latents_),
        atol=1e-5,
    )


def test_old_test_time_defaults_one_set_params_away(ad, X_tab):
    old = dict(
        transform_init="nearest",
        n_init=10,
        transform_max_iter=100,
        transform_lr=0.05,
        tol=0.0,
        n_neighbors=20,
        neighbor_weight=0.5,
    )
    est = copy.deepcopy(ad).set_params(**old)
    mask = np.zeros(X_tab.shape[1], dtype=bool)
    mask[:2] = True
    recon = est.reconstruct(X_tab[:4], mask=mask)
    assert (est.transform_n_iter_ == 100).all()
    assert est.get_params()["n_init"] == 10
    assert np.isfinite(recon).all()


def test_encoder_starts_images_by_default(X_tab, digits):
    X_img = digits[0]
    fixed = dict(latent_dim=3, channels=4, max_epochs=30, batch_size=16)
    img = AutoDecoder(**fixed, n_neighbors=5, random_state=0).fit(X_img)
    tab = AutoDecoder(**FAST, random_state=0).fit(X_tab)
    assert img.transform_init == "auto" and img.transform_init_ == "encoder"
    assert tab.transform_init_ == "nearest" and tab.encoder_ is None
    assert next(img.encoder_.parameters()).device.type == "cpu"
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:6, 2:6] = True
    mask = mask.ravel()
    X = digits[1][:10]  # not trained on
    # no steps: transform returns the encoder's code of the observed pixels
    est = copy.deepcopy(img).set_params(transform_max_iter=0)
    Z = est.transform(X, mask=mask)
    x = torch.as_tensor(scaled(img, np.where(mask, 0.0, X)), dtype=torch.float32)
    obs = torch.as_tensor(np.broadcast_to(~mask, X.shape).astype(np.float32))
    with torch.no_grad():
        expected = img.encoder_(x, obs).numpy()
    np.testing.assert_allclose(Z, expected, rtol=1e-5, atol=1e-6)
    # the trained encoder starts closer to the observed pixels than zeros do
    zeros = copy.deepcopy(est).set_params(transform_init="zeros")
    Z0 = zeros.transform(X, mask=mask)

    def seen_error(codes):
        recon = img.inverse_transform(codes)
        return float(((recon - X)[:, ~mask] ** 2).mean())

    assert seen_error(Z) < 0.8 * seen_error(Z0)  # measured: 0.72
    # reconstruct starts from the encoder's code and the 2 closest codes
    from skautodec._inference import STARTS, nearest_training_rows
    from skautodec._observation import MissingEntries

    observation = MissingEntries(scaled(img, X).astype(np.float32))
    near = nearest_training_rows(img, observation, 2)
    starts = STARTS["encoder"].codes(img, observation, 3, near)
    assert starts.shape == (10, 3, 3)
    np.testing.assert_allclose(starts[:, 0], est.transform(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(starts[:, 1:], img.latents_[near])


def test_previous_image_default_one_set_params_away(X_img):
    fixed = dict(latent_dim=3, channels=4, max_epochs=2, n_neighbors=5)
    img = AutoDecoder(**fixed, random_state=0).fit(X_img)
    mask = np.isin(np.arange(64), [27, 28, 35, 36])
    near = copy.deepcopy(img).set_params(
        transform_init="nearest", transform_max_iter=20
    )
    recon = near.reconstruct(X_img[:5], mask=mask)
    assert (near.transform_n_iter_ == 20).all()
    assert not np.allclose(recon, img.reconstruct(X_img[:5], mask=mask))
    tab = AutoDecoder(**FAST, transform_init="nearest", random_state=0)
    tab.fit(X_img[:, :6])
    with pytest.raises(ValueError, match='transform_init="encoder".*fit it again'):
        tab.set_params(transform_init="encoder").transform(X_img[:2, :6])


def test_small_square_tables_are_not_images(X_img):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 16)) * np.logspace(-3, 3, 16)  # 16 features, raw units
    ad = AutoDecoder(max_epochs=2, transform_max_iter=2, random_state=0).fit(X)
    assert ad.image_shape_ is None
    assert ad.scale_.shape == (16,)
    np.testing.assert_allclose(ad.scale_, X.std(axis=0), rtol=1e-4)
    img = AutoDecoder(max_epochs=1, transform_max_iter=1, random_state=0).fit(X_img)
    assert img.image_shape_ == (1, 8, 8) and np.ndim(img.scale_) == 0
    forced = AutoDecoder(image_shape=(1, 4, 4), max_epochs=1, transform_max_iter=1)
    assert forced.fit(X).image_shape_ == (1, 4, 4)


def test_held_out_entries_keep_an_observed_entry_per_row():
    from skautodec._select import held_out_entries as _held_out_entries

    missing = np.random.RandomState(0).random_sample((300, 4)) < 0.5
    held = _held_out_entries(missing, seed=0, share=0.5, max_rows=100)
    assert not (held & missing).any()  # only observed entries are held out
    assert ((~missing & ~held).sum(axis=1) >= 1)[(~missing).any(axis=1)].all()
    assert held.any(axis=1).sum() <= 100  # at most max_rows rows
    assert _held_out_entries(missing[:5], seed=0) is None  # too few entries


@pytest.mark.parametrize("n_init, probe_starts", [("auto", 3), (5, 5), (2, 2)])
def test_probes_of_a_table_fill_from_at_most_three_auto_starts(
    monkeypatch, n_init, probe_starts
):
    from skautodec import _select

    starts = []
    real = _select.fitted_fill

    def fitted_fill(model, observation, settings, neighbors=None):
        starts.append(settings.n_init)
        return real(model, observation, settings, neighbors)

    monkeypatch.setattr(_select, "fitted_fill", fitted_fill)
    X = make_low_rank(n_samples=80, n_features=6, random_state=0)
    X[np.random.RandomState(0).random_sample(X.shape) < 0.2] = np.nan
    ad = AutoDecoder(
        n_init=n_init, max_epochs=2, transform_max_iter=2, random_state=0
    ).fit(X)
    assert starts and set(starts) == {probe_starts}  # the probes' fills
    assert ad.n_init_ == (5 if n_init == "auto" else n_init)  # the model's own


def test_large_tables_get_larger_batches_and_a_shorter_fit():
    from skautodec._resolve import resolve_fit

    params = AutoDecoder().get_params(deep=False)
    small = resolve_fit(params, 2000, 10, None)
    large = resolve_fit(params, 20_000, 10, None)
    huge = resolve_fit(params, 1_000_000, 10, None)
    assert small["batch_size_"] == 64 and (
        small["n_init_"],
        small["transform_max_iter_"],
    ) == (5, 50)
    assert large["batch_size_"] == 250 and (
        large["n_init_"],
        large["transform_max_iter_"],
    ) == (3, 30)
    assert huge["batch_size_"] == 1024
    images = resolve_fit(params, 60_000, 1024, (1, 32, 32))
    assert images["batch_size_"] == 64 and images["n_init_"] == 3
    # given values are kept
    given = resolve_fit({**params, "batch_size": 32, "n_init": 7}, 20_000, 10, None)
    assert given["batch_size_"] == 32 and given["n_init_"] == 7


def test_large_tables_search_neighbours_among_spaced_rows(monkeypatch):
    from skautodec import _inference

    X = make_low_rank(n_samples=120, n_features=6, random_state=0)
    ad = AutoDecoder(latent_dim=2, max_epochs=2, random_state=0).fit(X)
    observation = ad._observe(X[:10], np.zeros((10, 6), dtype=bool))
    every = _inference.nearest_training_rows(ad, observation, 3)
    assert every.shape == (10, 3) and not np.isin(every, np.arange(40)).all()
    monkeypatch.setattr(_inference, "SEARCH_MAX_ROWS", 40)
    rows = _inference.search_rows(120)
    assert len(rows) == 40 and rows[0] == 0 and rows[-1] == 119
    assert _inference.search_rows(120, images=True) is None
    spaced = _inference.nearest_training_rows(ad, observation, 3)
    assert spaced.shape == (10, 3) and np.isin(spaced, rows).all()
    assert ad.reconstruct(X[:10]).shape == (10, 6)
