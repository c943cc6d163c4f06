"""
=======================================================
Inverse problems: images from a few measurements
=======================================================

An autodecoder's test-time loss is ours to choose. Given measurements
``Y = A(X) + noise`` of unseen images through a known operator ``A``,
``reconstruct(Y, operator=A)`` fits the code whose decode best explains them
and returns whole images: compressed sensing with a generative prior (Bora
et al., 2017), super-resolution and deblurring, with one trained model.

The operators are in :mod:`skautodec.operators`; here they act on the 8x8
digits. To run in seconds, the model trains on 1,000 digits for 30 epochs
(``benchmarks/bench_inverse.py`` runs MNIST and Fashion-MNIST against
Lasso, PCA and the autoencoder's decoder).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skautodec import AutoDecoder
from skautodec.datasets import load_digits_images
from skautodec.operators import Downsample, GaussianBlur, Linear
from skautodec.plotting import image_grid

digits = load_digits_images()
X, y = digits.data, digits.target
X_train, y_train, X_test, y_test = X[:1000], y[:1000], X[1500:], y[1500:]
ad = AutoDecoder(max_epochs=30, random_state=0).fit(X_train)

# %%
# Three inverse problems
# ----------------------
# 16 Gaussian measurements of 64 pixels (compressed sensing), a 2x lower
# resolution, and a blur; each with noise of standard deviation 0.01. The
# naive estimates: the least-norm solution of ``A x = y``, the low-resolution
# image blown up, and the blurred image itself.
rng = np.random.default_rng(0)
A = rng.normal(size=(16, 64)) / 4.0
problems = {
    "16 random projections": Linear(A, noise_std=0.01),
    "2x super-resolution": Downsample(2, noise_std=0.01),
    "deblurring": GaussianBlur(1.0, noise_std=0.01),
}
shown = X_test[:8]
rows = {"truth": shown}
for name, op in problems.items():
    Y = op.measure(X_test, random_state=0)
    if isinstance(op, Linear):
        naive = Y @ np.linalg.pinv(A).T
    elif isinstance(op, Downsample):
        naive = np.kron(Y.reshape(-1, 4, 4), np.ones((2, 2))).reshape(len(Y), -1)
    else:
        naive = Y
    recon = ad.reconstruct(Y, operator=op)
    print(
        f"{name}: per-pixel MSE, naive {np.mean((naive - X_test) ** 2):.4f}, "
        f"autodecoder {np.mean((recon - X_test) ** 2):.4f}"
    )
    rows[f"{name}: naive"] = naive[:8]
    rows[f"{name}: autodecoder"] = recon[:8]

fig, axes = plt.subplots(len(rows), 1, figsize=(5, 1.2 * len(rows)))
for ax, (title, images) in zip(axes, rows.items(), strict=True):
    ax.imshow(image_grid(np.clip(images, 0, 1), digits.image_shape, nrow=8))
    ax.set_title(title, fontsize=8)
    ax.axis("off")
fig.tight_layout()

# %%
# Classifying digits from 20 random projections
# ---------------------------------------------
# The operator is routed as metadata, like a mask: the pipeline trains on
# whole images, and at test time its autodecoder fits codes to the
# projections alone. A logistic regression on the projections themselves is
# the obvious alternative.
B = rng.normal(size=(20, 64)) / np.sqrt(20)
projections = Linear(B)
Y_train, Y_test = projections.measure(X_train), projections.measure(X_test)
with config_context(enable_metadata_routing=True):
    pipe = make_pipeline(
        AutoDecoder(latent_dim=16, max_epochs=30, random_state=0)
        .set_transform_request(operator=True),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    codes_accuracy = pipe.score(Y_test, y_test, operator=projections)
raw = LogisticRegression(max_iter=1000).fit(Y_train, y_train)
print(f"accuracy from the codes of 20 projections: {codes_accuracy:.2f}")
print(f"accuracy of a logistic regression on the projections: "
      f"{raw.score(Y_test, y_test):.2f}")  # fmt: skip
plt.show()
