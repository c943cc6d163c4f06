"""The README's quick start runs as written and prints what the README says."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _quick_start():
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if section is None:
        pytest.fail("README.md has no '## Quick start' section.")
    return section.group(1)


def quick_start_code():
    block = re.search(r"^```python\n(.*?)^```", _quick_start(), re.M | re.S)
    if block is None:
        pytest.fail("The README's quick start has no ```python block.")
    return block.group(1)


def quick_start_output():
    block = re.search(r"^```text\n(.*?)^```", _quick_start(), re.M | re.S)
    if block is None:
        pytest.fail("The README's quick start shows no ```text output.")
    return block.group(1).strip().splitlines()


def _numbers(lines):
    """label -> number of lines such as ``hole MSE, KNN fill: 0.0850``."""
    return {ln.rsplit(":", 1)[0]: float(ln.rsplit(":", 1)[1]) for ln in lines}


def test_quick_start_block_found():
    code = quick_start_code()
    assert "from skautodec import" in code
    compile(code, "README.md", "exec")


@pytest.fixture(scope="module")
def run():
    import contextlib
    import io

    namespace = {"__name__": "__readme__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(quick_start_code(), "README.md", "exec"), namespace)
    return namespace, out.getvalue().strip().splitlines()


def test_quick_start_prints_what_the_readme_shows(run):
    namespace, printed = run
    assert namespace["Z"].shape == (100, 64)
    assert namespace["X_hat"].shape == (100, 64)
    shown = _numbers(quick_start_output())
    got = _numbers(printed)
    assert list(got) == list(shown)
    for label, value in shown.items():
        # float rounding of another CPU may move the last printed digit, and
        # a digit or two of the 100 read differently
        tol = 0.002 if "MSE" in label else 0.03
        assert got[label] == pytest.approx(value, abs=tol), label


def test_quick_start_ordering_holds(run):
    # what the README's text claims: the autodecoder fills the hole best, and
    # its fills classify better than the mean's
    namespace, printed = run
    got = _numbers(printed)
    mse = {k: got[f"hole MSE, {k} fill"] for k in ("mean", "KNN", "autodecoder")}
    assert mse["autodecoder"] < mse["KNN"] < mse["mean"]
    acc = {k: got[f"accuracy, {k}-filled hole"] for k in ("mean", "autodecoder")}
    assert acc["autodecoder"] > acc["mean"] + 0.1
    # the printed errors are those of the fills
    X_test, hole = namespace["X_test"], namespace["hole"]
    filled = namespace["filled"]["autodecoder"]
    expected = np.mean((filled - X_test)[:, hole] ** 2)
    assert got["hole MSE, autodecoder fill"] == pytest.approx(expected, abs=5e-5)
    assert namespace["ad"].score(X_test, mask=hole) == pytest.approx(-expected)
