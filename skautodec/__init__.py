"""Autodecoders and autoencoders as scikit-learn estimators."""

from ._autodecoder import AutoDecoder
from ._autoencoder import ConvAutoEncoder
from ._imputer import LatentImputer
from .metrics import masked_reconstruction_scorer

__all__ = [
    "AutoDecoder",
    "ConvAutoEncoder",
    "LatentImputer",
    "masked_reconstruction_scorer",
]
