"""A user's own decoder, passed as ``module=`` (skorch's routing)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from torch import nn

from skautodec import AutoDecoder, ConvAutoEncoder, LatentImputer
from skautodec.metrics import masked_reconstruction_scorer

FAST = dict(latent_dim=3, max_epochs=3, transform_max_iter=10, random_state=0)


class Decoder(nn.Module):
    """A small residual MLP; takes the code size and row width by name."""

    def __init__(self, latent_dim, n_features, hidden=16):
        super().__init__()
        self.hidden = hidden
        self.inner = nn.Sequential(nn.Linear(latent_dim, hidden), nn.Tanh())
        self.out = nn.Linear(hidden, n_features)
        self.skip = nn.Linear(latent_dim, n_features)

    def forward(self, z):
        return self.out(self.inner(z)) + self.skip(z)


class Flexible(nn.Module):
    """Takes whatever the estimator offers (``**kwargs``)."""

    def __init__(self, **sizes):
        super().__init__()
        self.sizes = sizes
        self.net = nn.Linear(sizes["latent_dim"], sizes["n_features"])

    def forward(self, z):
        return self.net(z)


@pytest.mark.parametrize("Estimator", [AutoDecoder, ConvAutoEncoder])
def test_decoder_class_with_module_params(Estimator, X_tab):
    est = Estimator(module=Decoder, module__hidden=7, **FAST).fit(X_tab)
    assert isinstance(est.decoder_, Decoder) and est.decoder_.hidden == 7
    assert est.decoder_.skip.in_features == 3 == est.latent_dim_
    assert est.get_params()["module__hidden"] == 7
    Z = est.transform(X_tab[:5])
    assert Z.shape == (5, 3)
    mask = np.zeros(X_tab.shape[1], dtype=bool)
    mask[:2] = True
    recon = est.reconstruct(X_tab[:5], mask=mask)
    assert recon.shape == (5, 6) and np.isfinite(recon).all()
    assert est.score(X_tab, mask=mask) < 0
    # trained: the decoder's weights moved from their initial values
    fresh = Estimator(module=Decoder, module__hidden=7, **{**FAST, "max_epochs": 0})
    with pytest.warns(UserWarning, match="max_epochs=0"):
        fresh.fit(X_tab)
    assert not torch.equal(fresh.decoder_.out.weight, est.decoder_.out.weight)


def test_decoder_gets_the_sizes_its_init_takes(X_tab):
    est = AutoDecoder(module=Flexible, **FAST).fit(X_tab)
    sizes = est.decoder_.sizes
    assert sizes == {"latent_dim": 3, "n_features": 6, "image_shape": None,
                     "channels": 16}  # fmt: skip


def test_decoder_instance_is_copied_not_trained(X_tab):
    decoder = Decoder(3, 6, hidden=5)
    before = {k: v.clone() for k, v in decoder.state_dict().items()}
    est = AutoDecoder(module=decoder, **FAST).fit(X_tab)
    assert est.decoder_ is not decoder
    for key, value in decoder.state_dict().items():
        assert torch.equal(value, before[key])  # the parameter is untouched
    assert est.transform(X_tab[:2]).shape == (2, 3)
    with pytest.raises(ValueError, match="module__.* instance of Decoder"):
        AutoDecoder(module=decoder, module__hidden=3, **FAST).fit(X_tab)


def test_pickle_and_clone(X_tab):
    est = AutoDecoder(module=Decoder, module__hidden=6, **FAST).fit(X_tab)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(
        loaded.transform(X_tab[:4]), est.transform(X_tab[:4]), rtol=1e-5, atol=1e-6
    )
    copy = clone(est)
    assert copy.get_params()["module__hidden"] == 6 and copy.module is Decoder
    assert not hasattr(copy, "net_")


def test_grid_search_over_module_params(X_tab):
    search = GridSearchCV(
        AutoDecoder(module=Decoder, **FAST),
        {"module__hidden": [2, 12]},
        cv=2,
        scoring=masked_reconstruction_scorer(missing_fraction=0.3),
    ).fit(X_tab)
    assert search.best_params_["module__hidden"] in (2, 12)
    assert search.best_estimator_.decoder_.hidden == search.best_params_[
        "module__hidden"
    ]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_latent_imputer_with_a_custom_decoder(X_tab):
    X = X_tab.astype(np.float64).copy()
    X[::3, 1] = np.nan
    imputer = LatentImputer(AutoDecoder(module=Decoder, **FAST), n_estimators=2)
    out = imputer.fit_transform(X)
    assert not np.isnan(out).any()
    assert all(isinstance(e.decoder_, Decoder) for e in imputer.estimators_)


def test_optimizer_params_reach_the_optimizer(X_tab):
    for Estimator in (AutoDecoder, ConvAutoEncoder):
        est = Estimator(**FAST, optimizer__betas=(0.5, 0.9), weight_decay=0.01)
        est.fit(X_tab)
        for group in est.net_.optimizer_.param_groups:
            assert group["betas"] == (0.5, 0.9)
        assert est.net_.optimizer_.param_groups[0]["weight_decay"] == 0.01
    with pytest.raises(ValueError, match="optimizer__lr is set by the estimator"):
        AutoDecoder(**FAST, optimizer__lr=0.1).fit(X_tab)


def test_adam_runs_its_fused_kernel_unless_the_user_picks_one(X_tab):
    from skautodec._nets import _adam_kernel

    fused = AutoDecoder(**FAST).fit(X_tab).net_.optimizer_
    assert all(g["fused"] and not g["foreach"] for g in fused.param_groups)
    chosen = AutoDecoder(**FAST, optimizer__foreach=True).fit(X_tab).net_.optimizer_
    assert all(g["foreach"] and not g["fused"] for g in chosen.param_groups)
    assert _adam_kernel("cpu", {"betas": (0.5, 0.9)}) == {
        "fused": True,
        "betas": (0.5, 0.9),
    }
    assert _adam_kernel("mps", {}) == _adam_kernel(None, {}) == {"foreach": True}


def test_criterion_is_the_training_loss(X_tab):
    from skautodec._observation import ObservationLoss

    est = AutoDecoder(**FAST, latent_penalty=0.3).fit(X_tab)
    assert isinstance(est.net_.criterion_, ObservationLoss)
    assert est.net_.criterion_.latent_penalty == 0.3
    ae = ConvAutoEncoder(**FAST).fit(X_tab)
    assert isinstance(ae.net_.criterion_, ObservationLoss)


def test_training_batches_are_fetched_whole(X_tab):
    # one indexing per tensor and batch, the rows per-row fetching gives
    est = AutoDecoder(**FAST).fit(X_tab)
    n = len(X_tab)
    X = {"idx": torch.arange(n), "observed": torch.rand(n, X_tab.shape[1])}
    dataset = est.net_.get_dataset(X, torch.rand(n, X_tab.shape[1]))
    rows = [4, 0, 7]
    Xb, yb = dataset.__getitems__(rows)
    for j, i in enumerate(rows):
        Xi, yi = dataset[i]
        assert torch.equal(Xb["idx"][j], Xi["idx"])
        assert torch.equal(Xb["observed"][j], Xi["observed"]) and torch.equal(yb[j], yi)
    batch_X, batch_y = next(iter(est.net_.get_iterator(dataset, training=True)))
    assert len(batch_X["idx"]) == len(batch_y) == min(est.batch_size_, n)
    torch.testing.assert_close(batch_y, dataset.y[batch_X["idx"]])


@pytest.mark.parametrize(
    "module, match",
    [
        (lambda latent_dim, n_features: nn.Linear(latent_dim, n_features + 1),
         r"maps codes of shape \(2, 3\) to \(2, 7\).*\(2, 6\)"),
        (lambda latent_dim, n_features: nn.Linear(latent_dim + 1, n_features),
         r"failed on codes of shape \(2, 3\)"),
    ],
)  # fmt: skip
def test_decoder_of_the_wrong_shape_is_a_clear_error(module, match, X_tab):
    with pytest.raises(ValueError, match=match):
        AutoDecoder(module=module, **FAST).fit(X_tab)


def test_unknown_keywords_and_builtin_module_params(X_tab):
    with pytest.raises(TypeError, match="unexpected keyword argument 'latnet_dim'"):
        AutoDecoder(latnet_dim=3)
    with pytest.raises(ValueError, match="module__hidden is an argument of a decoder"):
        AutoDecoder(module__hidden=3, **FAST).fit(X_tab)
    est = AutoDecoder(**FAST).set_params(module=Decoder, module__hidden=4)
    assert est.fit(X_tab).decoder_.hidden == 4
