"""The torch modules: shapes for any image size, and their layer structure."""

import numpy as np
import pytest
import torch
from torch import nn

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec._modules import (
    AutoEncoderModule,
    ConvDecoder,
    ConvEncoder,
    CoordConcat,
    MLPDecoder,
    MLPEncoder,
    StackedMLP,
    make_decoder,
    make_encoder,
)

IMAGE_SHAPES = [(1, 8, 8), (1, 28, 28), (1, 32, 32), (3, 32, 32), (1, 6, 10), (1, 3, 5)]


def test_coord_concat_adds_two_normalized_channels():
    x = torch.randn(2, 3, 4, 6)
    out = CoordConcat()(x)
    assert out.shape == (2, 5, 4, 6)
    torch.testing.assert_close(out[:, :3], x)
    ys, xs = out[0, 3], out[0, 4]
    assert ys.min() == -1 and ys.max() == 1 and xs.min() == -1 and xs.max() == 1
    # y varies down the rows only, x along the columns only
    torch.testing.assert_close(ys[:, 0], torch.linspace(-1, 1, 4))
    torch.testing.assert_close(xs[0], torch.linspace(-1, 1, 6))
    assert (ys == ys[:, :1]).all() and (xs == xs[:1]).all()
    torch.testing.assert_close(out[1, 3:], out[0, 3:])


@pytest.mark.parametrize("image_shape", IMAGE_SHAPES)
def test_conv_decoder_output_shape(image_shape):
    decoder = ConvDecoder(latent_dim=5, image_shape=image_shape, channels=4)
    out = decoder(torch.randn(3, 5))
    assert out.shape == (3, int(np.prod(image_shape)))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("image_shape", IMAGE_SHAPES)
def test_conv_encoder_output_shape(image_shape):
    encoder = ConvEncoder(latent_dim=5, image_shape=image_shape, channels=4)
    out = encoder(torch.randn(3, int(np.prod(image_shape))))
    assert out.shape == (3, 5)


@pytest.mark.parametrize("image_shape", IMAGE_SHAPES)
def test_autoencoder_module_round_trip(image_shape):
    n_features = int(np.prod(image_shape))
    module = AutoEncoderModule(3, n_features, image_shape, channels=4)
    assert isinstance(module.encoder, ConvEncoder)
    assert isinstance(module.decoder, ConvDecoder)
    recon, z = module(torch.randn(2, n_features))
    assert recon.shape == (2, n_features)
    assert z.shape == (2, 3)
    torch.testing.assert_close(recon, module.decoder(z))


def test_make_decoder_and_encoder():
    assert isinstance(make_decoder(2, 7), MLPDecoder)
    assert isinstance(make_encoder(2, 7), MLPEncoder)
    assert isinstance(make_decoder(2, 60, (1, 6, 10), channels=4), ConvDecoder)
    assert isinstance(make_encoder(2, 60, (1, 6, 10), channels=4), ConvEncoder)
    module = AutoEncoderModule(2, 7, channels=4)
    recon, z = module(torch.randn(5, 7))
    assert recon.shape == (5, 7) and z.shape == (5, 2)


def test_conv_decoder_structure():
    decoder = ConvDecoder(latent_dim=4, image_shape=(1, 32, 32), channels=4)
    layers = list(decoder.convs)
    convs = [m for m in layers if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    transposed = [m for m in convs if isinstance(m, nn.ConvTranspose2d)]
    # 4x4 grid -> 32x32: three 2x upsamplings by transposed convolutions
    assert decoder.grid == (4, 4)
    assert len(transposed) == 3
    assert all(m.stride == (2, 2) for m in transposed)
    # coordinate channels right before every convolution
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            assert isinstance(layers[i - 1], CoordConcat)
    # leaky ReLU activations, and a linear output (last layer is a convolution)
    acts = [m for m in decoder.modules() if isinstance(m, nn.LeakyReLU)]
    assert acts and all(m.negative_slope > 0 for m in acts)
    assert not any(isinstance(m, nn.ReLU) for m in decoder.modules())
    assert isinstance(layers[-1], nn.Conv2d)
    assert layers[-1].out_channels == 1


def test_conv_decoder_output_is_not_constant():
    decoder = ConvDecoder(latent_dim=4, image_shape=(1, 8, 8), channels=4)
    out = decoder(torch.randn(6, 4))
    assert out.std(dim=0).mean() > 0  # depends on the code
    assert out.std(dim=1).mean() > 0  # varies across pixels


def test_conv_encoder_structure():
    encoder = ConvEncoder(latent_dim=4, image_shape=(3, 32, 32), channels=4)
    convs = [m for m in encoder.convs if isinstance(m, nn.Conv2d)]
    strided = [m for m in convs if m.stride == (2, 2)]
    assert len(strided) == 3
    assert convs[0].in_channels == 3
    assert any(isinstance(m, nn.ReLU) for m in encoder.convs)
    assert not any(isinstance(m, nn.LeakyReLU) for m in encoder.modules())


def test_mlp_modules_shapes():
    assert MLPDecoder(3, 7, hidden=16)(torch.randn(4, 3)).shape == (4, 7)
    assert MLPEncoder(3, 7, hidden=16)(torch.randn(4, 7)).shape == (4, 3)


# ---- which module the estimators build (one epoch on a few rows) ----------

TINY = dict(latent_dim=2, channels=2, max_epochs=1, transform_max_iter=2)


@pytest.mark.parametrize("Estimator", [AutoDecoder, ConvAutoEncoder])
def test_tabular_rows_use_mlp(Estimator, X_tab):
    est = Estimator(**TINY, random_state=0).fit(X_tab[:10])
    decoder = est.decoder_
    assert isinstance(decoder, MLPDecoder)
    if Estimator is ConvAutoEncoder:
        assert isinstance(est.net_.module_.encoder, MLPEncoder)


@pytest.mark.parametrize("Estimator", [AutoDecoder, ConvAutoEncoder])
def test_square_rows_infer_image_shape(Estimator, X_img):
    est = Estimator(**TINY, random_state=0).fit(X_img[:10])
    assert isinstance(est.decoder_, ConvDecoder)
    assert est.decoder_.image_shape == (1, 8, 8)
    if Estimator is ConvAutoEncoder:
        assert isinstance(est.net_.module_.encoder, ConvEncoder)


@pytest.mark.parametrize("Estimator", [AutoDecoder, ConvAutoEncoder])
def test_non_square_image_shape(Estimator):
    X = np.random.default_rng(0).random((8, 60), dtype=np.float32)
    est = Estimator(**TINY, image_shape=(1, 6, 10), random_state=0).fit(X)
    assert isinstance(est.decoder_, ConvDecoder)
    assert est.decoder_.image_shape == (1, 6, 10)
    Z = est.transform(X[:3])
    assert est.inverse_transform(Z).shape == (3, 60)


@pytest.mark.parametrize("Estimator", [AutoDecoder, ConvAutoEncoder])
@pytest.mark.parametrize(
    "image_shape", [(1, 8, 9), (8, 8, 1, 1), (1, 0, 64), (1.0, 8, 8)]
)
def test_bad_image_shape(Estimator, image_shape, X_img):
    with pytest.raises(ValueError, match="image_shape"):
        Estimator(**TINY, image_shape=image_shape).fit(X_img[:5])


def test_mlp_decoder_linear_path():
    plain = MLPDecoder(3, 5, hidden=8)
    assert plain.linear is None
    both = MLPDecoder(3, 5, hidden=8, linear=True)
    z = torch.randn(4, 3)
    with torch.no_grad():
        np.testing.assert_allclose(
            both(z), both.net(z) + both.linear(z), rtol=1e-6, atol=1e-6
        )


def test_stacked_mlp_decodes_as_its_decoders_and_unstacks():
    torch.manual_seed(0)
    decoders = [MLPDecoder(d, 5, hidden=16) for d in (2, 4, 3)]
    stack = StackedMLP(decoders)
    z = torch.zeros(3, 7, 4)
    for i, dec in enumerate(decoders):
        z[i, :, : dec.net[0].in_features] = torch.randn(7, dec.net[0].in_features)
    out = stack(z)
    assert out.shape == (3, 7, 5)
    for i, dec in enumerate(decoders):
        d = dec.net[0].in_features
        torch.testing.assert_close(out[i], dec(z[i, :, :d]))
    # the padded inputs of the narrow decoders get no gradient
    out.sum().backward()
    first = stack.weights[0].grad
    assert (first[0, 2:] == 0).all() and (first[2, 3:] == 0).all()
    assert (first[1] != 0).any()
    with torch.no_grad():
        stack.weights[2].add_(1.0)
    target = stack.unstack(0, MLPDecoder(2, 5, hidden=16))
    torch.testing.assert_close(stack(z)[0], target(z[0, :, :2]))


def test_stacked_mlp_takes_the_plain_mlp_decoder_only():
    with pytest.raises(TypeError, match="MLPDecoder"):
        StackedMLP([MLPDecoder(2, 5, linear=True)])
    with pytest.raises(TypeError, match="MLPDecoder"):
        StackedMLP([MLPEncoder(2, 5)])
