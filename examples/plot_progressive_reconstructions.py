"""
===================================
Watching an autodecoder learn codes
===================================

An AutoDecoder learns one code per training image together with the decoder.
The :class:`~skautodec.callbacks.ProgressiveReconstructions` callback decodes
the codes of a few training images at chosen epochs.
"""

import matplotlib.pyplot as plt

from skautodec import AutoDecoder
from skautodec.callbacks import ProgressiveReconstructions
from skautodec.datasets import load_digits_images
from skautodec.plotting import plot_progressive_reconstructions, plot_training_curves

X = load_digits_images().data[:400]
snapshots = ProgressiveReconstructions(sample_indices=range(8), epochs=[0, 1, 2, 4, 8])
ad = AutoDecoder(latent_dim=16, max_epochs=8, callbacks=[snapshots], random_state=0)
ad.fit(X)

# %%
# The callback passed in holds the snapshots; after ``sklearn.base.clone`` use
# ``ProgressiveReconstructions.from_estimator(fitted)`` instead.
print(snapshots.epochs_, snapshots.reconstructions(ad).shape)
plot_progressive_reconstructions(ad, snapshots, X=X)

# %%
plot_training_curves({"autodecoder": ad})
plt.show()
