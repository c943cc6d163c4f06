"""ConvAutoEncoder: encoder codes, optional refinement, masks, reproducibility."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from skautodec import ConvAutoEncoder
from skautodec._modules import ConvDecoder, ConvEncoder

FAST = dict(latent_dim=3, channels=4, max_epochs=3)


@pytest.fixture(scope="module")
def ae(X_img):
    return ConvAutoEncoder(**FAST, random_state=0).fit(X_img)


def encode(est, X):
    Xn = (X - est.offset_) / est.scale_
    with torch.no_grad():
        return est.net_.module_.encoder(torch.from_numpy(Xn.astype(np.float32)))


def test_fitted_state(ae, X_img):
    assert isinstance(ae.net_.module_.encoder, ConvEncoder)
    assert isinstance(ae.net_.module_.decoder, ConvDecoder)
    assert ae.decoder_ is ae.net_.module_.decoder
    assert ae.n_iter_ == 3 == len(ae.history_)
    assert ae.offset_.shape == (64,)
    np.testing.assert_allclose(ae.offset_, X_img.mean(axis=0), atol=1e-6)
    # the encoder's codes of the training rows (the starts of fits to
    # measurements through an operator)
    np.testing.assert_allclose(ae.latents_, ae.transform(X_img), rtol=1e-5, atol=1e-6)


def test_transform_is_encoder_output(ae, X_img):
    Z = ae.transform(X_img[:9])
    assert Z.shape == (9, 3) and Z.dtype == np.float32
    np.testing.assert_allclose(Z, encode(ae, X_img[:9]).numpy(), rtol=1e-5, atol=1e-6)


def test_weight_decay_reaches_optimizer(X_img):
    est = ConvAutoEncoder(**FAST, weight_decay=0.05, random_state=0).fit(X_img[:10])
    groups = est.net_.optimizer_.param_groups
    assert all(g["weight_decay"] == 0.05 for g in groups)


def test_refinement_lowers_training_error(ae, X_img):
    refined = ConvAutoEncoder(**FAST, transform_max_iter=30, random_state=0)
    refined.fit(X_img)
    raw_codes = ae.transform(X_img)
    np.testing.assert_array_equal(raw_codes, encode(refined, X_img).numpy())
    raw = np.mean((ae.inverse_transform(raw_codes) - X_img) ** 2)
    better = np.mean((refined.inverse_transform(refined.transform(X_img)) - X_img) ** 2)
    assert better < raw


def test_refinement_keeps_decoder_frozen(X_img):
    est = ConvAutoEncoder(**FAST, transform_max_iter=5, random_state=0).fit(X_img)
    before = {k: v.clone() for k, v in est.net_.module_.state_dict().items()}
    est.transform(X_img[:5])
    for k, v in est.net_.module_.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert all(p.requires_grad for p in est.net_.module_.parameters())


def test_missing_entries_get_fill_value(X_img):
    est = ConvAutoEncoder(**FAST, fill_value=0.5, random_state=0).fit(X_img)
    mask = np.zeros(64, dtype=bool)
    mask[27:29] = True
    garbage = X_img[:6].copy()
    garbage[:, mask] = 99.0
    filled = X_img[:6].copy()
    filled[:, mask] = 0.5
    Z = est.transform(garbage, mask=mask)
    np.testing.assert_array_equal(garbage[:, mask], 99.0)  # not modified in place
    np.testing.assert_allclose(Z, est.transform(filled), rtol=1e-6, atol=1e-6)
    with_nan = X_img[:6].copy()
    with_nan[:, mask] = np.nan
    np.testing.assert_array_equal(Z, est.transform(with_nan))


def test_score_is_negative_mse(ae, X_img):
    recon = ae.inverse_transform(ae.transform(X_img))
    expected = -np.mean((recon.astype(np.float64) - X_img) ** 2)
    assert ae.score(X_img) == pytest.approx(expected, rel=1e-5)


def test_random_state_repeatable(ae, X_img):
    again = ConvAutoEncoder(**FAST, random_state=0).fit(X_img)
    np.testing.assert_array_equal(again.transform(X_img), ae.transform(X_img))
    other = ConvAutoEncoder(**FAST, random_state=1).fit(X_img)
    assert not np.array_equal(other.transform(X_img), ae.transform(X_img))


def test_verbose_prints_epoch_log(X_img, capsys):
    ConvAutoEncoder(**FAST, verbose=1, random_state=0).fit(X_img[:10])
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out


def test_reconstructions_do_not_collapse():
    X = (load_digits().data / 16.0).astype(np.float32)
    X_train, X_test = X[:150], X[1000:1040]
    est = ConvAutoEncoder(
        latent_dim=8, channels=8, lr=1e-2, max_epochs=5, batch_size=16, random_state=0
    ).fit(X_train)
    recon = est.inverse_transform(est.transform(X_test))
    mean_mse = np.mean((X_train.mean(axis=0) - X_test) ** 2)
    assert np.mean((recon - X_test) ** 2) < 0.75 * mean_mse
    assert recon.std(axis=0).mean() > 0.3 * X_test.std(axis=0).mean()


def test_errors(ae, X_img):
    with pytest.raises(NotFittedError):
        ConvAutoEncoder().transform(X_img)
    with pytest.raises(ValueError, match="features"):
        ae.transform(X_img[:, :10])
    with pytest.raises(ValueError, match="latent_dim"):
        ae.inverse_transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="image_shape"):
        ConvAutoEncoder(**FAST, image_shape=(1, 4, 4)).fit(X_img)
    with pytest.raises(ValueError, match="mask"):
        ae.transform(X_img, mask=np.zeros(63, dtype=bool))
