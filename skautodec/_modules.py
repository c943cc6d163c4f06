"""PyTorch modules: decoders and encoders for images and tabular rows."""

import math

import torch
from torch import nn

__all__ = [
    "CoordConcat",
    "ConvDecoder",
    "ConvEncoder",
    "MLPDecoder",
    "MLPEncoder",
    "PartialEncoder",
    "StackedMLP",
    "AutoEncoderModule",
    "make_decoder",
    "make_encoder",
    "n_upsamplings",
]


def n_upsamplings(height, width):
    """Number of 2x upsamplings from a grid of side >= 4 (none for tiny images)."""
    side = min(height, width)
    return max(0, int(math.floor(math.log2(side / 4)))) if side >= 4 else 0


class CoordConcat(nn.Module):
    """Concatenate two normalized coordinate channels (y, x in [-1, 1])."""

    def forward(self, x):
        n, _, h, w = x.shape
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"))
        return torch.cat([x, grid.expand(n, 2, h, w)], dim=1)


def _conv_widths(channels, n_up):
    # Widest at the coarse grid, halving at each upsampling, capped at 4x.
    return [channels * 2 ** min(n_up - k, 2) for k in range(n_up + 1)]


class ConvDecoder(nn.Module):
    """Latent code -> image with transposed convolutions and coordinate channels.

    A linear layer maps the code to a small grid; each stage concatenates the
    normalized (y, x) coordinates, then upsamples 2x with a transposed
    convolution and leaky ReLU. The output is linear and flattened in
    ``(C, H, W)`` order.
    """

    def __init__(self, latent_dim, image_shape, channels=32, negative_slope=0.2):
        super().__init__()
        c_out, height, width = (int(s) for s in image_shape)
        self.image_shape = (c_out, height, width)
        n_up = n_upsamplings(height, width)
        self.grid = (math.ceil(height / 2**n_up), math.ceil(width / 2**n_up))
        widths = _conv_widths(channels, n_up)
        self.fc = nn.Linear(latent_dim, widths[0] * self.grid[0] * self.grid[1])
        self.act = nn.LeakyReLU(negative_slope)
        layers = []
        for c_in, c_next in zip(widths[:-1], widths[1:], strict=True):
            layers += [
                CoordConcat(),
                nn.ConvTranspose2d(c_in + 2, c_next, 4, stride=2, padding=1),
                nn.LeakyReLU(negative_slope),
            ]
        last = widths[-1]
        layers += [
            CoordConcat(),
            nn.Conv2d(last + 2, last, 3, padding=1),
            nn.LeakyReLU(negative_slope),
            CoordConcat(),
            nn.Conv2d(last + 2, c_out, 3, padding=1),
        ]
        self.convs = nn.Sequential(*layers)
        self.widths = widths

    def forward(self, z):
        h = self.act(self.fc(z)).view(-1, self.widths[0], *self.grid)
        out = self.convs(h)
        c, height, width = self.image_shape
        return out[:, :, :height, :width].reshape(len(z), c * height * width)


class ConvEncoder(nn.Module):
    """Image -> latent code with strided convolutions and ReLU."""

    def __init__(self, latent_dim, image_shape, channels=32):
        super().__init__()
        c_in, height, width = (int(s) for s in image_shape)
        self.image_shape = (c_in, height, width)
        n_down = n_upsamplings(height, width)
        widths = _conv_widths(channels, n_down)[::-1]
        layers = [nn.Conv2d(c_in, widths[0], 3, padding=1), nn.ReLU()]
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv2d(a, b, 4, stride=2, padding=1), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            n_flat = self.convs(torch.zeros(1, c_in, height, width)).numel()
        self.fc = nn.Linear(n_flat, latent_dim)

    def forward(self, x):
        h = self.convs(x.view(len(x), *self.image_shape))
        return self.fc(h.flatten(1))


class MLPDecoder(nn.Module):
    """Latent code -> tabular row with a leaky-ReLU MLP.

    ``linear=True`` adds a linear path, ``mlp(z) + linear(z)``, so that the
    family contains the linear (PCA-like) model. Off by default: on
    breast_cancer it changed the imputation error by less than the spread
    between seeds (``docs/imputation.md``).
    """

    def __init__(
        self, latent_dim, n_features, hidden=256, negative_slope=0.2, linear=False
    ):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(negative_slope),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(negative_slope),
            nn.Linear(hidden, n_features),
        )
        self.linear = nn.Linear(latent_dim, n_features) if linear else None

    def forward(self, z):
        out = self.net(z)
        if self.linear is not None:
            out = out + self.linear(z)
        return out


class StackedMLP(nn.Module):
    """Several :class:`MLPDecoder` of one width as one module: codes
    ``(k, n, d)`` -> rows ``(k, n, n_features)`` through batched matrix
    products, decoder ``i`` decoding ``z[i]``.

    Built from the decoders (their current weights); codes narrower than the
    widest are zero-padded, and the padded rows of their first weight start
    at zero and get zero gradients, so each decoder trains as it would alone.
    :meth:`unstack` writes decoder ``i``'s weights back into a decoder.
    """

    def __init__(self, decoders):
        super().__init__()
        for dec in decoders:
            if type(dec) is not MLPDecoder or dec.linear is not None:
                raise TypeError("StackedMLP stacks MLPDecoder(linear=False) only.")
        layers = [_linears(dec) for dec in decoders]
        self.latent_dims = [first.in_features for first, *_ in layers]
        self.negative_slope = decoders[0].net[1].negative_slope
        width = max(self.latent_dims)
        weights, biases = [], []
        for depth in range(len(layers[0])):
            w = [layer[depth].weight.detach().T for layer in layers]
            if depth == 0:
                w = [nn.functional.pad(t, (0, 0, 0, width - len(t))) for t in w]
            weights.append(nn.Parameter(torch.stack(w)))
            b = [layer[depth].bias.detach()[None] for layer in layers]
            biases.append(nn.Parameter(torch.stack(b)))
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList(biases)

    def forward(self, z):
        h = z
        last = len(self.weights) - 1
        for depth, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if depth < last:
                h = nn.functional.leaky_relu(h, self.negative_slope)
        return h

    def member_views(self, i, decoder):
        """Pairs ``(parameter of decoder, stacked parameter, view)``, where
        ``view`` maps a tensor shaped as the stacked parameter (the weight, or
        an optimizer's state of it) to decoder ``i``'s part, shaped as the
        decoder's parameter."""
        dim = self.latent_dims[i]
        pairs = []
        for depth, layer in enumerate(_linears(decoder)):
            rows = dim if depth == 0 else None
            pairs.append(
                (layer.weight, self.weights[depth], lambda t, r=rows: t[i, :r].T)
            )
            pairs.append((layer.bias, self.biases[depth], lambda t: t[i, 0]))
        return pairs

    @torch.no_grad()
    def unstack(self, i, decoder):
        """Copy decoder ``i``'s weights into ``decoder`` (an MLPDecoder of
        its sizes); returns ``decoder``."""
        for param, stacked, view in self.member_views(i, decoder):
            param.copy_(view(stacked))
        return decoder


def _linears(decoder):
    return [m for m in decoder.net if isinstance(m, nn.Linear)]


class MLPEncoder(nn.Module):
    """Tabular row -> latent code with a ReLU MLP."""

    def __init__(self, latent_dim, n_features, hidden=256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, latent_dim),
        )

    def forward(self, x):
        return self.net(x)


def make_decoder(latent_dim, n_features, image_shape=None, channels=32):
    """The decoder for rows of ``n_features``: convolutional when
    ``image_shape`` is given, else a multilayer perceptron."""
    if image_shape is None:
        return MLPDecoder(latent_dim, n_features, hidden=8 * channels)
    return ConvDecoder(latent_dim, image_shape, channels=channels)


def make_encoder(latent_dim, n_features, image_shape=None, channels=32):
    """The encoder matching :func:`make_decoder`."""
    if image_shape is None:
        return MLPEncoder(latent_dim, n_features, hidden=8 * channels)
    return ConvEncoder(latent_dim, image_shape, channels=channels)


class PartialEncoder(nn.Module):
    """Partly observed row -> code, for the starts of a test-time fit.

    The input is the row with its missing entries zeroed beside its observed
    indicator (two channels for images), so that the network knows which
    zeros are missing; ``observed=None`` means all observed.
    """

    def __init__(self, latent_dim, n_features, image_shape=None, channels=16):
        super().__init__()
        if image_shape is not None:
            c, height, width = (int(s) for s in image_shape)
            image_shape = (2 * c, height, width)
        self.net = make_encoder(latent_dim, 2 * n_features, image_shape, channels)

    def forward(self, x, observed=None):
        if observed is None:
            observed = torch.ones_like(x)
        return self.net(torch.cat([x * observed, observed], dim=1))


class AutoEncoderModule(nn.Module):
    """Encoder followed by decoder; ``forward`` returns ``(reconstruction, code)``.

    ``decoder`` None builds the decoder matching the encoder
    (:func:`make_decoder`); a module class is built with
    ``decoder_kwargs``; a module instance is used as it is.
    """

    def __init__(
        self,
        latent_dim,
        n_features,
        image_shape=None,
        channels=32,
        decoder=None,
        decoder_kwargs=None,
    ):
        super().__init__()
        self.encoder = make_encoder(latent_dim, n_features, image_shape, channels)
        if decoder is None:
            decoder = make_decoder(latent_dim, n_features, image_shape, channels)
        elif not isinstance(decoder, nn.Module):
            decoder = decoder(**(decoder_kwargs or {}))
        self.decoder = decoder

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z
