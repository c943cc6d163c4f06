import pickle

import numpy as np
import pytest
from sklearn.base import clone

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.callbacks import ProgressiveReconstructions, _EpochProgress

TINY = {"latent_dim": 3, "channels": 4, "random_state": 0}


def test_snapshots_on_the_instance_passed(X_img):
    cb = ProgressiveReconstructions(sample_indices=[0, 5], epochs=[0, 1, 3])
    ad = AutoDecoder(max_epochs=3, callbacks=[cb], **TINY).fit(X_img[:20])
    assert cb.epochs_ == [0, 1, 3]
    assert ProgressiveReconstructions.from_estimator(ad) is cb
    scaled = cb.reconstructions()
    pixels = cb.reconstructions(ad)
    assert scaled.shape == pixels.shape == (3, 2, 64)
    np.testing.assert_allclose(pixels, scaled * ad.scale_ + ad.offset_, rtol=1e-5)
    # the last snapshot is the fitted model's decode of the training codes
    np.testing.assert_allclose(
        pixels[-1], ad.inverse_transform(ad.latents_[[0, 5]]), atol=1e-5
    )
    assert not np.allclose(pixels[0], pixels[-1])


def test_every_epoch_by_default_and_warm_start(X_img):
    cb = ProgressiveReconstructions(sample_indices=2)
    ad = AutoDecoder(max_epochs=2, callbacks=[cb], **TINY).fit(X_img[:20])
    assert cb.epochs_ == [1, 2]
    ad.set_params(warm_start=True).fit(X_img[:20])
    assert cb.epochs_ == [1, 2, 3, 4]
    assert cb.reconstructions(ad).shape == (4, 1, 64)


def test_clone_gets_its_own_callback(X_img):
    cb = ProgressiveReconstructions(sample_indices=[1], epochs=[2])
    template = AutoDecoder(max_epochs=2, callbacks=[cb], **TINY)
    ad = clone(template).fit(X_img[:20])
    fitted_cb = ProgressiveReconstructions.from_estimator(ad)
    assert fitted_cb is not cb
    assert fitted_cb.epochs_ == [2]
    with pytest.raises(ValueError, match="from_estimator"):
        cb.reconstructions()
    # the fitted model still pickles with the callback
    assert pickle.loads(pickle.dumps(ad)).latents_.shape == (20, 3)


def test_bad_settings(X_img):
    with pytest.raises(ValueError, match="only 20 training rows"):
        AutoDecoder(
            max_epochs=1,
            callbacks=[ProgressiveReconstructions(sample_indices=[20])],
            **TINY,
        ).fit(X_img[:20])
    with pytest.raises(ValueError, match="sample_indices"):
        AutoDecoder(
            max_epochs=1,
            callbacks=[ProgressiveReconstructions(sample_indices=[-1])],
            **TINY,
        ).fit(X_img[:20])
    with pytest.raises(ValueError, match="epochs"):
        AutoDecoder(
            max_epochs=1, callbacks=[ProgressiveReconstructions(epochs=[])], **TINY
        ).fit(X_img[:20])
    with pytest.raises(TypeError, match="latents_"):
        ConvAutoEncoder(
            max_epochs=1, callbacks=[ProgressiveReconstructions()], **TINY
        ).fit(X_img[:20])
    unfitted = ConvAutoEncoder(max_epochs=1, **TINY).fit(X_img[:20])
    with pytest.raises(
        ValueError, match="not fitted with a ProgressiveReconstructions"
    ):
        ProgressiveReconstructions.from_estimator(unfitted)


def test_epoch_progress_bar(X_img, capsys):
    ae = ConvAutoEncoder(
        max_epochs=2, callbacks=[_EpochProgress("ae", leave=True)], **TINY
    ).fit(X_img[:20])
    assert "ae: 100%" in capsys.readouterr().err
    assert pickle.loads(pickle.dumps(ae)).n_iter_ == 2
