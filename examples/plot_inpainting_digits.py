"""
===========================================
Inpainting digits: autoencoder, autodecoder
===========================================

A square hole is hidden at the centre of each test image, and every model
reconstructs the image from the pixels it can see. The models are the
reference study's:

1. a ConvAutoEncoder trained on complete images and fed the masked ones
   (the hole filled with zeros);
2. a ConvAutoEncoder trained with the same hole (the loss never covers it);
3. an AutoDecoder, whose ``transform`` fits a code to the visible pixels only;

plus the autoencoder with its codes refined on the visible pixels, and three
baselines (mean image, ``KNNImputer``, a PCA fill). To run in seconds, the
models train on 300 digits for 8 epochs; the command
``skautodec compare`` runs the same study on all of them for longer.
"""

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from skautodec import AutoDecoder, ConvAutoEncoder
from skautodec.datasets import load_digits_images
from skautodec.masks import center_mask
from skautodec.plotting import plot_error_vs_hole_size, plot_masked_reconstructions
from skautodec.report import compare, fit_study, to_markdown, wide_table

digits = load_digits_images()
X_train, X_test = train_test_split(
    digits.data, train_size=300, test_size=20, random_state=0
)
masks = {size: center_mask(digits.image_shape, size) for size in (2, 4)}

# %%
# Fit the study's models; the templates are cloned, one autoencoder per mask
# for experiment 2.
# ``tol=0``: every test-time code fit runs all of its (few) steps.
settings = {
    "latent_dim": 16,
    "channels": 16,
    "max_epochs": 8,
    "tol": 0,
    "random_state": 0,
}
study = fit_study(
    X_train,
    masks,
    autoencoder=ConvAutoEncoder(**settings),
    autodecoder=AutoDecoder(transform_max_iter=20, n_init=3, **settings),
    refine_max_iter=20,
)

# %%
# One row per (model, mask): errors on the hidden pixels, the visible ones and
# the whole image.
results = compare(study.models, X_test, masks, fit_seconds=study.fit_seconds)
print(to_markdown(wide_table(results, "mse_hidden")))

# %%
networks = {
    name: model
    for name, model in study.models.items()
    if name.startswith(("autoencoder", "autodecoder"))
}
plot_masked_reconstructions(networks, X_test, masks, n_images=6)

# %%
plot_error_vs_hole_size(results)
plt.show()
