"""Models trained together as one batched network (``_together``)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback

from skautodec import AutoDecoder, LatentImputer, _together
from skautodec.datasets import make_low_rank

# one batch per epoch: the rows' order does not matter, so a model trained
# together moves as it does alone, up to rounding
WHOLE = dict(latent_dim=3, max_epochs=15, batch_size=64, transform_max_iter=10)


@pytest.fixture
def X_missing():
    X = make_low_rank(n_samples=40, n_features=6, random_state=0)
    X[np.random.RandomState(0).rand(*X.shape) < 0.2] = np.nan
    return X


class _Epochs(Callback):
    def initialize(self):
        self.seen_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.seen_ += 1


def _decoder_weights(model):
    return [p.detach().numpy() for p in model.decoder_.parameters()]


def _assert_same_models(a, b):
    np.testing.assert_allclose(a.latents_, b.latents_, rtol=1e-4, atol=1e-5)
    for wa, wb in zip(_decoder_weights(a), _decoder_weights(b), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        a.history_[:, "train_loss"], b.history_[:, "train_loss"], rtol=1e-4
    )


def test_members_trained_together_move_as_they_do_alone(X_missing):
    ad = AutoDecoder(**WHOLE, random_state=0)
    together = LatentImputer(ad).fit(X_missing)
    alone = LatentImputer(ad, train_together=False).fit(X_missing)
    assert together.n_estimators_ == alone.n_estimators_ == 5
    for a, b in zip(together.estimators_, alone.estimators_, strict=True):
        _assert_same_models(a, b)
        assert len(a.history_) == a.n_iter_ == 15
    np.testing.assert_allclose(
        together.transform(X_missing), alone.transform(X_missing), rtol=1e-4, atol=1e-4
    )


def test_members_trained_together_differ_from_each_other(X_missing):
    ad = AutoDecoder(latent_dim=3, max_epochs=5, batch_size=8, random_state=0)
    members = LatentImputer(ad, n_estimators=3).fit(X_missing).estimators_
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert not np.allclose(members[a].latents_, members[b].latents_)
    losses = [m.history_[:, "train_loss"] for m in members]
    assert all(len(loss) == 5 and np.all(np.isfinite(loss)) for loss in losses)
    assert all(loss[-1] < loss[0] for loss in losses)


def test_probes_of_the_code_sizes_train_together(monkeypatch):
    X_missing = make_low_rank(n_samples=120, n_features=8, random_state=0)
    X_missing[np.random.RandomState(0).rand(*X_missing.shape) < 0.2] = np.nan
    ad = AutoDecoder(
        latent_dim="auto", max_epochs=15, batch_size=128, transform_max_iter=10
    )
    calls = []
    stackable = _together._stackable

    def spy(models, plans):
        calls.append([m.latent_dim_ for m in models])
        return stackable(models, plans)

    monkeypatch.setattr(_together, "_stackable", spy)
    together = ad.set_params(random_state=0).fit(X_missing)
    sizes = calls[0]
    assert len(sizes) >= 2 and len(set(sizes)) == len(sizes)  # one per size
    monkeypatch.setattr(_together, "_stackable", lambda models, plans: False)
    alone = AutoDecoder(**ad.get_params()).fit(X_missing)
    assert together.chosen_params_ == alone.chosen_params_
    assert together.held_out_error_ == pytest.approx(alone.held_out_error_, rel=1e-3)
    _assert_same_models(together, alone)


def test_a_table_with_categories_trains_together():
    rng = np.random.RandomState(0)
    n = 40
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n) * 10,
            "kind": pd.Categorical(rng.choice(["x", "y", "z"], size=n)),
            "flag": rng.rand(n) < 0.5,
        }
    )
    frame.loc[::5, "a"] = np.nan
    frame.loc[1::7, "kind"] = np.nan
    ad = AutoDecoder(**WHOLE, random_state=0)
    together = LatentImputer(ad, n_estimators=2).fit(frame)
    alone = LatentImputer(ad, n_estimators=2, train_together=False).fit(frame)
    for a, b in zip(together.estimators_, alone.estimators_, strict=True):
        _assert_same_models(a, b)
    out = together.transform(frame)
    assert not pd.isna(out).any()
    assert (out[:, 2] == alone.transform(frame)[:, 2]).all()


def test_models_that_train_their_own_way_train_one_after_another(X_missing):
    ad = AutoDecoder(**WHOLE, callbacks=[_Epochs()], random_state=0)
    models = [ad, AutoDecoder(**WHOLE, random_state=1)]
    plans = [_together.prepare(m, X_missing) for m in models]
    assert not _together._stackable(models, plans)
    narrow = AutoDecoder(**{**WHOLE, "batch_size": 8}, random_state=2)
    plans = [plans[1], _together.prepare(narrow, X_missing)]
    assert not _together._stackable([models[1], narrow], plans)  # other batches
    other_rows = AutoDecoder(**WHOLE, random_state=3)
    plans = [plans[0], _together.prepare(other_rows, X_missing[:30])]
    assert not _together._stackable([models[1], other_rows], plans)
    # a user's callbacks see their own training
    imputer = LatentImputer(ad, n_estimators=2).fit(X_missing)
    assert imputer.estimators_[0].history_[-1, "epoch"] == 15
    for member in imputer.estimators_:
        (seen,) = [cb for _, cb in member.net_.callbacks_ if isinstance(cb, _Epochs)]
        assert seen.seen_ == 15


def test_a_member_trained_together_pickles_and_trains_on(X_missing):
    imputer = LatentImputer(AutoDecoder(**WHOLE, random_state=0), n_estimators=2)
    member = imputer.fit(X_missing).estimators_[1]
    copy = pickle.loads(pickle.dumps(member))
    np.testing.assert_array_equal(
        copy.transform(X_missing), member.transform(X_missing)
    )
    before = copy.latents_.copy()
    copy.set_params(warm_start=True, max_epochs=3).fit(X_missing)
    assert copy.n_iter_ == 18 and not np.allclose(copy.latents_, before)
    assert torch.isfinite(torch.as_tensor(copy.latents_)).all()


def test_a_member_trained_together_warm_starts_as_it_would_alone(X_missing):
    # its Adam state (moments and step) is its part of the stacked one
    ad = AutoDecoder(**WHOLE, random_state=0)
    members = [
        LatentImputer(ad, n_estimators=2, train_together=together)
        .fit(X_missing)
        .estimators_[1]
        for together in (True, False)
    ]
    for member in members:
        member.set_params(warm_start=True, max_epochs=5).fit(X_missing)
        assert member.n_iter_ == 20
    _assert_same_models(*members)
