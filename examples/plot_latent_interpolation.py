"""
=========================================
Interpolating between codes of two digits
=========================================

Codes of pairs of test images from a ConvAutoEncoder (its encoder) and from an
AutoDecoder (codes fitted at test time), decoded at alpha = 0, .25, .5, .75
and 1 along a straight line and along the great circle (slerp). A t-SNE of the
training codes shows how both models arrange the digits.
"""

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.datasets import load_digits_images
from skautodec.plotting import plot_interpolations, plot_latent_tsne
from skautodec.report import interpolate

digits = load_digits_images()
X_train, X_test, y_train, _ = train_test_split(
    digits.data, digits.target, train_size=300, test_size=20, random_state=0
)
# ``tol=0``: every test-time code fit runs all of its (few) steps.
settings = {
    "latent_dim": 16,
    "channels": 16,
    "max_epochs": 8,
    "tol": 0,
    "random_state": 0,
}
models = {
    "autoencoder": ConvAutoEncoder(**settings).fit(X_train),
    "autodecoder": AutoDecoder(transform_max_iter=20, **settings).fit(X_train),
}

# %%
# :func:`~skautodec.report.interpolate` returns the decoded images.
images = interpolate(models["autodecoder"], X_test[0], X_test[1], method="slerp")
print(images.shape)

# %%
plot_interpolations(models, X_test[:4], X_test[4:8])

# %%
plot_latent_tsne(
    {
        "autoencoder": models["autoencoder"].transform(X_train[:200]),
        "autodecoder": models["autodecoder"].latents_[:200],
    },
    y_train[:200],
    random_state=0,
)
plt.show()
