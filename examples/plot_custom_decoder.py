"""
==================================
Bring your own decoder (module=)
==================================

An :class:`~skautodec.AutoDecoder` trains whatever decoder it is given, as a
skorch net does: pass a ``torch.nn.Module`` class as ``module`` and its
arguments as ``module__*`` parameters. The class below is a multilayer
perceptron in place of the built-in convolutions; it receives the code size
and the row width by name, and maps codes to rows in the estimator's scaled
units. Everything else works as with the built-in
decoder: ``transform`` and ``reconstruct`` fit codes to the visible pixels,
and ``GridSearchCV`` tunes ``module__*`` with the masked scorer.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, train_test_split
from torch import nn

from skautodec import AutoDecoder
from skautodec.datasets import load_digits_images
from skautodec.masks import center_mask
from skautodec.metrics import masked_reconstruction_scorer
from skautodec.plotting import image_grid


class MLP(nn.Module):
    """Code -> scaled pixels: two hidden layers of ``hidden`` units."""

    def __init__(self, latent_dim, n_features, hidden=128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, n_features),
        )

    def forward(self, z):
        return self.net(z)


digits = load_digits_images()
X_train, X_test = train_test_split(
    digits.data, train_size=500, test_size=40, random_state=0
)

# %%
# Choose the width of the hidden layers by how well the models fill a
# central 4 x 4 hole of held-out images (3-fold cross-validation).
search = GridSearchCV(
    AutoDecoder(latent_dim=16, module=MLP, max_epochs=30, random_state=0),
    {"module__hidden": [32, 128]},
    cv=3,
    scoring=masked_reconstruction_scorer(pattern="center", size=4),
)
search.fit(X_train)
results = search.cv_results_
for hidden, score in zip(
    results["param_module__hidden"], results["mean_test_score"], strict=True
):
    print(f"hidden={hidden}: hole MSE {-score:.4f}")

# %%
# The chosen model against the built-in convolutional decoder, trained the
# same way.
hole = center_mask(digits.image_shape, 4)
mine = search.best_estimator_
builtin = AutoDecoder(latent_dim=16, max_epochs=30, random_state=0).fit(X_train)
for name, model in (("MLP", mine), ("built-in", builtin)):
    print(f"{name}: hole MSE {-model.score(X_test, mask=hole):.4f}")

fig, axes = plt.subplots(1, 3, figsize=(7, 2.6))
panels = {
    "observed": np.where(hole, 0.0, X_test[:8]),
    "MLP": mine.reconstruct(X_test[:8], mask=hole),
    "built-in": builtin.reconstruct(X_test[:8], mask=hole),
}
for ax, (title, images) in zip(axes, panels.items(), strict=True):
    ax.imshow(image_grid(images, digits.image_shape, nrow=4))
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()
