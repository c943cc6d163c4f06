import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from skautodec import AutoDecoder, ConvAutoEncoder  # noqa: E402
from skautodec._baselines import MeanFill  # noqa: E402
from skautodec.callbacks import ProgressiveReconstructions  # noqa: E402
from skautodec.masks import center_mask  # noqa: E402
from skautodec.plotting import (  # noqa: E402
    image_grid,
    plot_error_vs_hole_size,
    plot_interpolations,
    plot_latent_tsne,
    plot_masked_reconstructions,
    plot_progressive_reconstructions,
    plot_sample_spread,
    plot_training_curves,
)

TINY = {"latent_dim": 3, "channels": 4, "max_epochs": 2, "random_state": 0}


@pytest.fixture(scope="module", autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def models(X_img):
    cb = ProgressiveReconstructions(sample_indices=[0, 1, 2], epochs=[0, 2])
    ae = ConvAutoEncoder(**TINY).fit(X_img[:30])
    ad = AutoDecoder(transform_max_iter=2, callbacks=[cb], **TINY).fit(X_img[:30])
    return {"ae": ae, "ad": ad}


def _save(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    plt.close(fig)
    assert path.stat().st_size > 1000
    return path


def test_image_grid_layout():
    images = np.zeros((5, 4))
    images[1] = 1.0
    grid = image_grid(images, (1, 2, 2), nrow=3, padding=1, pad_value=0.5)
    assert grid.shape == (2 * 3 + 1, 3 * 3 + 1, 3)
    assert grid[0, 0, 0] == 0.5  # padding
    np.testing.assert_array_equal(grid[1:3, 4:6], 1.0)  # image 1, all channels
    np.testing.assert_array_equal(grid[1:3, 1:3], 0.0)
    with pytest.raises(ValueError, match="square"):
        image_grid(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="has 9 entries, but X has 4 features"):
        image_grid(np.zeros((2, 4)), image_shape=(1, 3, 3))


def test_masked_reconstructions(models, X_img, tmp_path):
    masks = {2: center_mask((8, 8), 2), 4: np.tile(center_mask((8, 8), 4), (30, 1))}
    fig = plot_masked_reconstructions(
        {**models, "mean": MeanFill().fit(X_img)}, X_img[30:], masks, n_images=4
    )
    assert len(fig.axes) == 2 * 5
    assert [ax.get_title() for ax in fig.axes[:5]] == [
        "original",
        "observed",
        "ae",
        "ad",
        "mean",
    ]
    observed = fig.axes[6].get_images()[0].get_array()
    assert (observed[..., 0] > observed[..., 2] + 0.5).any()  # hole in red
    _save(fig, tmp_path, "masked")


def test_sample_spread(models, X_img, tmp_path):
    mask = center_mask((8, 8), 4)
    fig = plot_sample_spread(
        models["ad"], X_img[30:], mask, n_images=4, n_samples=5, random_state=0
    )
    titles = [ax.get_title() for ax in fig.axes]
    # original, observed, mean, 3 draws, std, then the colour bar
    assert len(fig.axes) == 8
    assert titles[:3] == ["original", "observed", "mean of 5 draws"]
    assert titles[3:7] == ["draw 1", "draw 2", "draw 3", "std of draws"]
    observed = fig.axes[1].get_images()[0].get_array()
    assert (observed[..., 0] > observed[..., 2] + 0.5).any()  # hole in red
    spread = fig.axes[6].get_images()[0].get_array()
    # the same tiling of the mask: 1 in the hole, 0 elsewhere and in the padding
    hole = image_grid(np.tile(mask, (4, 1)).astype(float), nrow=3, pad_value=0.0)
    hole = hole[..., 0] > 0.5
    assert spread.shape == hole.shape
    pixels = ~np.ma.getmaskarray(spread)  # the padding is masked (NaN)
    np.testing.assert_array_equal(spread[pixels & ~hole], 0.0)
    assert (spread[hole] > 0).all()
    _save(fig, tmp_path, "spread")


def test_sample_spread_errors(models, X_img):
    mask = center_mask((8, 8), 4)
    with pytest.raises(ValueError, match="sample method"):
        plot_sample_spread(models["ae"], X_img, mask)
    with pytest.raises(ValueError, match="n_draws"):
        plot_sample_spread(models["ad"], X_img, mask, n_samples=2, n_draws=3)


def test_error_vs_hole_size(tmp_path):
    df = pd.DataFrame(
        {
            "model": ["a", "a", "b", "b"],
            "mask": [4, 2, 2, 4],
            "mse_hidden": [2, 1, 3, 4],
        }
    )
    fig = plot_error_vs_hole_size(df, logy=True)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["a", "b"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [2, 4])
    _save(fig, tmp_path, "error")
    with pytest.raises(ValueError, match="numeric"):
        plot_error_vs_hole_size(df.assign(mask=["x", "y", "x", "y"]))
    with pytest.raises(ValueError, match="no column"):
        plot_error_vs_hole_size(df, metric="psnr_all")


def test_interpolations(models, X_img, tmp_path):
    fig = plot_interpolations(models, X_img[30:32], X_img[32:34], alphas=(0, 0.5, 1))
    assert len(fig.axes) == 4
    assert fig.axes[1].get_title() == "ae, slerp"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "0.5", "1"]
    _save(fig, tmp_path, "interp")


def test_progressive_reconstructions(models, X_img, tmp_path):
    fig = plot_progressive_reconstructions(models["ad"], X=X_img[:30])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["epoch 0", "epoch 2", "target"]
    _save(fig, tmp_path, "progressive")
    with pytest.raises(ValueError, match="not fitted with"):
        plot_progressive_reconstructions(models["ae"])


def test_latent_tsne(models, X_img, tmp_path):
    y = np.arange(30) % 3
    fig = plot_latent_tsne(
        {"ae": models["ae"], "ad": models["ad"].latents_},
        y,
        X=X_img[:30],
        random_state=0,
    )
    assert [ax.get_title() for ax in fig.axes[:2]] == [
        "ae codes (t-SNE)",
        "ad codes (t-SNE)",
    ]
    assert len(fig.axes[0].collections[0].get_offsets()) == 30
    _save(fig, tmp_path, "tsne")
    with pytest.raises(ValueError, match="Pass X"):
        plot_latent_tsne({"ae": models["ae"]}, y)
    with pytest.raises(ValueError, match="labels"):
        plot_latent_tsne({"ad": models["ad"].latents_}, y[:5])


def test_training_curves(models, X_img, tmp_path):
    fig = plot_training_curves({**models, "per mask": {2: models["ae"]}})
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["ae", "ad", "per mask [2]"]
    np.testing.assert_allclose(
        lines[0].get_ydata(), models["ae"].history_[:, "train_loss"]
    )
    _save(fig, tmp_path, "curves")
    with pytest.raises(ValueError, match="history"):
        plot_training_curves({"mean": MeanFill().fit(X_img)})


def test_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_error_vs_hole_size(pd.DataFrame({"model": [], "mask": [], "x": []}))
