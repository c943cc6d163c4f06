"""Autodecoders and autoencoders as scikit-learn estimators."""

from ._autodecoder import AutoDecoder
from ._autoencoder import ConvAutoEncoder

__all__ = ["AutoDecoder", "ConvAutoEncoder"]
