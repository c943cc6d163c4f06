"""Data-parallel training through accelerate: two CPU processes against one."""

import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from skautodec import AutoDecoder
from skautodec._accelerate import _AccelerateAutoDecoderNet, make_net
from skautodec._nets import _AutoDecoderNet
from skautodec.datasets import make_low_rank

WORKER = Path(__file__).with_name("_accelerate_worker.py")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args, out, n_processes):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    launcher = [sys.executable]
    if n_processes > 1:
        launcher += [
            "-m",
            "torch.distributed.run",
            "--nnodes=1",
            f"--nproc_per_node={n_processes}",
            "--master_addr=127.0.0.1",
            f"--master_port={_free_port()}",
        ]
    out.mkdir()
    proc = subprocess.run(
        [*launcher, str(WORKER), "--out", str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [dict(np.load(out / f"rank{i}.npz")) for i in range(n_processes)]


def test_make_net_without_accelerator_is_the_plain_net():
    net = make_net(
        _AutoDecoderNet, None, module=torch.nn.Linear, criterion=torch.nn.MSELoss
    )
    assert type(net) is _AutoDecoderNet
    assert net.device == "cpu"


def test_make_net_checks_the_accelerator():
    pytest.importorskip("accelerate")
    with pytest.raises(TypeError, match="accelerate.Accelerator"):
        make_net(_AutoDecoderNet, "cuda", module=None, criterion=None)


def test_accelerated_net_pickles_by_reference():
    assert pickle.loads(pickle.dumps(_AccelerateAutoDecoderNet)) is (
        _AccelerateAutoDecoderNet
    )


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path):
    pytest.importorskip("accelerate")
    if "accelerator" not in AutoDecoder().get_params():
        pytest.skip("AutoDecoder has no accelerator parameter")
    (one,) = _run(["--batch-size", "16"], tmp_path / "one", 1)
    ranks = _run(["--batch-size", "8"], tmp_path / "two", 2)
    assert int(one["n_processes"]) == 1
    assert [int(r["n_processes"]) for r in ranks] == [2, 2]
    tol = dict(rtol=1e-4, atol=1e-6)
    for r in ranks:
        # global loss curves equal to one process's with the same global batch
        np.testing.assert_allclose(r["ad_loss"], one["ad_loss"], **tol)
        np.testing.assert_allclose(r["ae_loss"], one["ae_loss"], **tol)
        np.testing.assert_allclose(r["latents"], one["latents"], **tol)
        np.testing.assert_allclose(r["decoder"], one["decoder"], **tol)
        np.testing.assert_allclose(r["ae_weights"], one["ae_weights"], **tol)
        np.testing.assert_allclose(r["Z"], one["Z"], rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(r["warm_loss"], one["warm_loss"], **tol)
    # every row's code was trained, and the tables are the same everywhere
    moved = np.abs(ranks[0]["latents"] - ranks[0]["init"]).max(axis=1)
    assert (moved > 1e-3).all()
    for key in ("latents", "decoder", "ae_weights", "ad_loss", "warm_loss"):
        np.testing.assert_array_equal(ranks[0][key], ranks[1][key])
    assert len(ranks[0]["warm_loss"]) == len(ranks[0]["ad_loss"]) + 2
    # a model trained in a process group loads and transforms outside it
    with open(tmp_path / "two" / "ad0.pkl", "rb") as f:
        loaded = pickle.load(f)
    np.testing.assert_allclose(
        loaded.transform(make_low_rank(48, 6, random_state=0)[:5]),
        ranks[0]["Z"],
        rtol=1e-5,
        atol=1e-6,
    )
