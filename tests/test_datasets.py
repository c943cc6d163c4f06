import gzip
import os

import numpy as np
import pytest

from skautodec import datasets
from skautodec.datasets import (
    get_data_home,
    load_digits_images,
    load_fashion_mnist,
    load_mnist,
)


def write_idx(path, array, compress=False):
    """Write a uint8 array as an IDX file (the MNIST format)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def write_fake_mnist(folder, n_train=5, n_test=3, compress=False, seed=0):
    """Tiny MNIST-like IDX files in ``folder``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    suffix = ".gz" if compress else ""
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(
            os.path.join(folder, f"{split}-images-idx3-ubyte{suffix}"), images, compress
        )
        write_idx(
            os.path.join(folder, f"{split}-labels-idx1-ubyte{suffix}"), labels, compress
        )
        out[split] = (images, labels)
    return out


@pytest.fixture
def mnist_home(tmp_path):
    arrays = write_fake_mnist(tmp_path / "MNIST" / "raw")
    return tmp_path, arrays


def test_load_digits_images():
    digits = load_digits_images()
    assert digits.data.shape == (1797, 64)
    assert digits.data.dtype == np.float32
    assert digits.data.min() == 0.0 and digits.data.max() == 1.0
    assert digits.image_shape == (1, 8, 8)
    assert digits.target.shape == (1797,)
    X, y = load_digits_images(return_X_y=True)
    np.testing.assert_array_equal(X, digits.data)
    np.testing.assert_array_equal(y, digits.target)


def test_load_mnist_torchvision_layout_padded(mnist_home):
    home, arrays = mnist_home
    images, labels = arrays["train"]
    data = load_mnist(data_home=home, download=False)
    assert data.data.shape == (5, 32 * 32)
    assert data.data.dtype == np.float32
    assert data.image_shape == (1, 32, 32)
    grid = data.data.reshape(5, 32, 32)
    np.testing.assert_allclose(grid[:, 2:30, 2:30], images / 255.0, rtol=1e-6)
    assert not grid[:, :2].any() and not grid[:, :, 30:].any()
    np.testing.assert_array_equal(data.target, labels)
    assert data.target.dtype == np.int64


def test_load_mnist_options(mnist_home):
    home, arrays = mnist_home
    test_images, test_labels = arrays["t10k"]
    X, y = load_mnist(
        train=False, n_samples=2, pad=0, data_home=str(home), return_X_y=True
    )
    assert X.shape == (2, 784)
    np.testing.assert_allclose(X, test_images[:2].reshape(2, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, test_labels[:2])


def test_data_home_from_environment(mnist_home, monkeypatch):
    home, _ = mnist_home
    monkeypatch.setenv("SKAUTODEC_DATA", str(home))
    assert get_data_home() == str(home)
    assert load_mnist(train=False).data.shape == (3, 1024)


def test_default_data_home(monkeypatch):
    monkeypatch.delenv("SKAUTODEC_DATA", raising=False)
    assert get_data_home() == os.path.join(os.path.expanduser("~"), "skautodec_data")
    assert get_data_home("~/x") == os.path.join(os.path.expanduser("~"), "x")


def test_load_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(data_home=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "download=True" in message
    assert not (tmp_path / "MNIST").exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pad": -1}, "pad"),
        ({"pad": 1.5}, "pad"),
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 6}, r"n_samples.*\[1, 5\]"),
    ],
)
def test_load_mnist_bad_arguments(mnist_home, kwargs, match):
    home, _ = mnist_home
    with pytest.raises(ValueError, match=match):
        load_mnist(data_home=home, **kwargs)


def test_fashion_mnist_torchvision_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_DEBIAN_FASHION_MNIST", str(tmp_path / "none"))
    arrays = write_fake_mnist(tmp_path / "FashionMNIST" / "raw", seed=1)
    data = load_fashion_mnist(data_home=tmp_path, pad=0)
    np.testing.assert_allclose(
        data.data, arrays["train"][0].reshape(5, -1) / 255.0, rtol=1e-6
    )
    assert data.image_shape == (1, 28, 28)


def test_fashion_mnist_debian_files(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    arrays = write_fake_mnist(debian, compress=True, seed=2)
    monkeypatch.setattr(datasets, "_DEBIAN_FASHION_MNIST", str(debian))
    data = load_fashion_mnist(train=False, data_home=tmp_path / "empty")
    assert data.data.shape == (3, 1024)
    images, labels = arrays["t10k"]
    np.testing.assert_allclose(
        data.data.reshape(3, 32, 32)[:, 2:30, 2:30], images / 255.0, rtol=1e-6
    )
    np.testing.assert_array_equal(data.target, labels)


def test_fashion_mnist_missing_files(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_DEBIAN_FASHION_MNIST", str(tmp_path / "deb"))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(data_home=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert str(tmp_path / "deb") in message
    assert "dataset-fashion-mnist" in message


def test_read_idx_rejects_other_files(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x01\x02\x03\x04" + bytes(8))
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets._read_idx(path)
    short = tmp_path / "short"
    write_idx(short, np.zeros((2, 3)))
    short.write_bytes(short.read_bytes()[:-1])
    with pytest.raises(ValueError, match="header"):
        datasets._read_idx(short)
