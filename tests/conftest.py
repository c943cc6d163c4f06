import numpy as np
import pytest
import torch

from skautodec.datasets import make_low_rank

# Tiny networks run fastest on one thread, and CI has two cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def seed_everything():
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002


@pytest.fixture(scope="module")
def X_tab():
    """Tabular rows: 40 x 6, float32."""
    return make_low_rank(n_samples=40, n_features=6, random_state=0)


@pytest.fixture(scope="module")
def X_img():
    """Tiny 8x8 images in [0, 1] from sklearn's digits: 60 rows, float32."""
    from sklearn.datasets import load_digits

    X = load_digits().data[:60] / 16.0
    return X.astype(np.float32)
