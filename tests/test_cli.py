import os

import numpy as np
import pandas as pd
import pytest
import torch

from skautodec.cli import _epoch_schedule, main
from skautodec.report import STUDY_MODELS

FAST = [
    "--max-epochs", "2", "--transform-max-iter", "2", "--latent-dim", "4",
    "--channels", "4", "--threads", "1", "--n-init", "2", "--quiet",
]  # fmt: skip

FIGURES = {
    "masked_reconstructions.png",
    "sample_spread.png",
    "error_vs_hole_size.png",
    "interpolation.png",
    "progressive_reconstructions.png",
    "latent_tsne.png",
    "training_curves.png",
}


@pytest.fixture(autouse=True)
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    path.write_bytes(header + array.tobytes())


def test_compare_digits(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["compare", "--n-train", "100", "--n-test", "10", "--out", str(out)]
    assert main(args + FAST) == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == len(STUDY_MODELS) * 4 >= 9
    assert set(results["model"]) == set(STUDY_MODELS)
    assert sorted(set(results["mask"])) == [2, 3, 4, 5]
    assert (results["dataset"] == "digits").all()
    assert (results["n_samples"] == 10).all()
    assert results["mse_hidden"].notna().all()
    assert FIGURES <= set(os.listdir(out))
    report = (out / "report.md").read_text()
    assert "| hole size | autoencoder |" in report
    assert "![latent_tsne](latent_tsne.png)" in report
    assert "![sample_spread](sample_spread.png)" in report
    assert "hole of size 4" in report and "standard deviation" in report
    assert "--n-train 100" in report and "n_init=2" in report
    assert "transform_init=encoder, transform_max_iter=2, n_init=2," in report
    assert "Wrote" in capsys.readouterr().out


def test_compare_ablations_and_neighbor_weight(tmp_path):
    out = tmp_path / "out"
    args = [
        "compare", "--n-train", "60", "--n-test", "6", "--mask-sizes", "4",
        "--ablations", "--neighbor-weight", "0.25", "--out", str(out),
        "--transform-init", "nearest",
    ]  # fmt: skip
    assert main(args + FAST) == 0
    hidden = pd.read_csv(out / "results.csv").set_index("model")["mse_hidden"]
    ablations = [
        "autodecoder: 1 start",
        "autodecoder: zeros init",
        "autodecoder: fitted codes only",
        "autodecoder: neighbours only",
    ]
    assert set(ablations) <= set(hidden.index)
    assert hidden[ablations].notna().all()
    # the default mixes the two estimates of the hole
    assert hidden["autodecoder"] != hidden["autodecoder: fitted codes only"]
    assert hidden["autodecoder"] != hidden["autodecoder: neighbours only"]
    report = (out / "report.md").read_text()
    assert "neighbor_weight=0.25" in report
    assert "transform_init=nearest," in report
    assert "neighbor_source=data" in report or "neighbor_source=decodes" in report


@pytest.mark.parametrize("value", ["1.5", "-0.1", "x"])
def test_neighbor_weight_rejects_bad_values(value, capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--neighbor-weight", value])
    assert "expected a number in [0, 1]" in capsys.readouterr().err


def test_compare_mnist_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("t10k", 6)):
        _write_idx(
            raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28))
        )
        _write_idx(raw / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n))
    out = tmp_path / "out"
    args = [
        "compare", "--dataset", "mnist", "--data-home", str(tmp_path),
        "--n-train", "10", "--n-test", "4", "--mask-sizes", "20",
        "--out", str(out),
    ]  # fmt: skip
    assert main(args + FAST) == 0
    results = pd.read_csv(out / "results.csv")
    assert len(results) == len(STUDY_MODELS)
    # 32x32 images: a hole of 20 hides 400 of 1024 pixels
    frac = results.set_index(["model", "mask"])["missing_fraction"]
    assert frac["autodecoder", 20] == pytest.approx(400 / 1024)


def test_compare_missing_data(tmp_path, capsys):
    status = main(["compare", "--dataset", "mnist", "--data-home", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert "download=True" in err and str(tmp_path) in err


def test_compare_bad_arguments(tmp_path, capsys):
    assert main(["compare", "--mask-sizes", "9", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skautodec compare: error:") and "size" in err and "9" in err
    assert not os.listdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["compare", "--mask-sizes", "a,b"])
    assert info.value.code == 2
    assert "comma" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", "--n-train", "0"])
    with pytest.raises(SystemExit):
        main(["compare", "--dataset", "cifar"])


def test_epoch_schedule():
    assert _epoch_schedule(30) == [0, 1, 2, 4, 8, 15, 30]
    assert _epoch_schedule(1) == [0, 1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--device", "bogus"], "device='bogus' is not a valid torch device"),
        (["--device", "tpu"], "is not"),
        (["--random-state", "-1"], "non-negative integer"),
        (["--threads", "0"], "positive integer"),
    ],
)
def test_bad_arguments_are_one_argparse_error(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "error:" in ln]
    assert line.startswith("skautodec compare: error: argument") and message in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--device", "cuda"])
    assert "CUDA is not available" in capsys.readouterr().err


def test_out_that_is_a_file_is_one_error_line(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("")
    args = ["compare", "--n-train", "20", "--n-test", "5", "--out", str(target)]
    assert main(args + FAST) == 2
    err = capsys.readouterr().err
    assert err.startswith("skautodec compare: error:") and err.count("\n") == 1


def test_compare_inverse(tmp_path):
    out = tmp_path / "out"
    args = ["compare", "--n-train", "80", "--n-test", "6", "--mask-sizes", "4",
            "--inverse", "--out", str(out)]  # fmt: skip
    assert main(args + FAST) == 0
    table = pd.read_csv(out / "inverse.csv")
    problems = ["CS m=8", "CS m=16", "CS m=32", "SR 2x", "blur 1"]
    assert list(pd.unique(table["problem"])) == problems
    methods = set(table["method"])
    assert {"autodecoder", "autoencoder", "Lasso DCT", "PCA least squares"} <= methods
    assert {"bicubic", "Tikhonov", "Wiener"} <= methods
    assert table["mse"].notna().all() and (table["seconds_per_image"] >= 0).all()
    assert (out / "inverse_problems.png").exists()
    report = (out / "report.md").read_text()
    assert "## Inverse problems" in report and "| autodecoder |" in report
