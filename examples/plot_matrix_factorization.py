"""
==================================================
A linear autodecoder is regularized PCA
==================================================

An autodecoder learns a decoder :math:`D` and one code :math:`z_i` per row by
minimizing

.. math::

    \\frac{1}{n} \\sum_i \\Big( \\frac{1}{p} \\lVert x_i - D(z_i) \\rVert^2
    + \\lambda \\lVert z_i \\rVert^2 \\Big) + \\mu \\lVert W \\rVert^2 .

With a *linear* decoder, :math:`D(z) = W z + b`, this is matrix factorization
of the data into codes times weights, with a ridge penalty on both factors.
Its minimum is known in closed form: the fit :math:`Z W^\\top` spans the same
subspace as PCA's first components, and each singular value :math:`s_k` of the
centered data is shrunk to :math:`s_k - \\tau` with
:math:`\\tau = p \\sqrt{\\lambda \\mu n}`.

:class:`~skautodec.AutoDecoder` always builds a nonlinear decoder, so the
linear one is written here in a few lines of PyTorch, with the same loss.
New rows are encoded with the function ``AutoDecoder.transform`` uses
(``skautodec._latent.optimize_latents``, private, fed the rows' observed
entries as a ``MissingEntries`` observation): with a linear decoder the
code it finds is a ridge regression on the observed entries, here checked
against its closed form.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from skautodec._latent import optimize_latents
from skautodec._observation import MissingEntries
from skautodec.datasets import load_digits_images
from skautodec.masks import center_mask

X = load_digits_images().data
X_train, X_test = X[:500], X[500:600]
n, p = X_train.shape
latent_dim = 8
latent_penalty, weight_decay = 1e-3, 1e-4

# %%
# Train the linear autodecoder
# ----------------------------
# The codes and the decoder are fitted together; the problem is smooth and
# small, so full-batch L-BFGS solves it in a few hundred steps.
torch.manual_seed(0)
data = torch.as_tensor(X_train)
codes = torch.nn.Parameter(0.01 * torch.randn(n, latent_dim))
decoder = torch.nn.Linear(latent_dim, p)


def objective():
    error = ((data - decoder(codes)) ** 2).sum(dim=1) / p
    prior = latent_penalty * (codes**2).sum(dim=1)
    return (error + prior).mean() + weight_decay * (decoder.weight**2).sum()


optimizer = torch.optim.LBFGS(
    [codes, *decoder.parameters()],
    max_iter=500,
    tolerance_grad=1e-8,
    tolerance_change=1e-12,
    line_search_fn="strong_wolfe",
)


def closure():
    optimizer.zero_grad()
    loss = objective()
    loss.backward()
    return loss


optimizer.step(closure)
W = decoder.weight.detach().numpy()  # (n_features, latent_dim)
fit = decoder(codes).detach().numpy()

# %%
# Same subspace as PCA
# --------------------
# The principal angles between the span of the decoder's columns and PCA's
# first ``latent_dim`` components are close to zero.
pca = PCA(n_components=latent_dim).fit(X_train)
angles = np.degrees(subspace_angles(W, pca.components_.T))
print("largest principal angle to PCA's subspace:", f"{angles.max():.2f} degrees")

# %%
# Shrunk singular values
# ----------------------
# The bias is not penalized, so it absorbs the mean and the fit is a
# factorization of the centered data. Its singular values are PCA's,
# each lowered by the same amount :math:`\tau`.
centered = X_train - X_train.mean(axis=0)
s = np.linalg.svd(centered, compute_uv=False)[:latent_dim]
s_fit = np.linalg.svd(fit - X_train.mean(axis=0), compute_uv=False)[:latent_dim]
tau = p * np.sqrt(latent_penalty * weight_decay * n)
print("tau =", round(tau, 3))
print("PCA's singular values - tau:", np.round(s - tau, 2))
print("the autodecoder's          :", np.round(s_fit, 2))

fig, ax = plt.subplots(figsize=(5, 3.2))
k = np.arange(1, latent_dim + 1)
ax.plot(k, s, "o-", label="PCA (centered data)")
ax.plot(k, s - tau, "k--", label=r"PCA $- \tau$")
ax.plot(k, s_fit, "x", markersize=9, label="linear autodecoder")
ax.set_xlabel("component")
ax.set_ylabel("singular value")
ax.legend()
fig.tight_layout()

# %%
# Encoding new rows: MAP codes from the observed entries
# ------------------------------------------------------
# At test time the decoder is frozen and each row gets the code that
# minimizes the same loss on its observed entries only. Hide a 4x4 square at
# the center of every test digit: for a linear decoder the MAP code is a
# ridge regression of the visible pixels on the matching rows of ``W``.
hidden = center_mask((8, 8), 4)
observed = np.broadcast_to(~hidden, X_test.shape).astype(np.float32)
result = optimize_latents(
    decoder,
    MissingEntries(X_test, observed),
    np.zeros((len(X_test), latent_dim), dtype=np.float32),
    penalty=latent_penalty,
    max_iter=500,
    lr=0.05,
)
b = decoder.bias.detach().numpy()
W_obs = W[~hidden]
ridge = np.linalg.solve(
    W_obs.T @ W_obs + p * latent_penalty * np.eye(latent_dim),
    W_obs.T @ (X_test[:, ~hidden] - b[~hidden]).T,
).T
print("largest difference to the ridge solution:", np.abs(result.codes - ridge).max())

# %%
# The linear model fills the hole with a weighted sum of the decoder's
# columns. :class:`~skautodec.AutoDecoder` keeps the loss and the MAP
# encoding and replaces ``W z + b`` with a convolutional decoder; the
# inpainting example compares it with PCA and an autoencoder.
linear_fill = ridge @ W.T + b
print(
    "MSE on the hidden pixels:",
    round(float(np.mean((linear_fill[:, hidden] - X_test[:, hidden]) ** 2)), 4),
)
plt.show()
