"""The README's quick start runs as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start_code():
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if section is None:
        pytest.fail("README.md has no '## Quick start' section.")
    block = re.search(r"^```python\n(.*?)^```", section.group(1), re.M | re.S)
    if block is None:
        pytest.fail("The README's quick start has no ```python block.")
    return block.group(1)


def test_quick_start_block_found():
    code = quick_start_code()
    assert "from skautodec import" in code
    compile(code, "README.md", "exec")


def test_quick_start_runs(capsys):
    namespace = {"__name__": "__readme__"}
    exec(compile(quick_start_code(), "README.md", "exec"), namespace)
    # the names the README's text describes exist, with the shapes it implies
    assert namespace["Z"].shape == (100, 8)
    assert namespace["X_hat"].shape == (100, 64)
    assert namespace["filled"].shape == (100, 64)
    printed = capsys.readouterr().out.strip().splitlines()
    accuracy = float(printed[-1])
    assert 0.0 <= accuracy <= 1.0
    # the printed score is the hole's MSE, below what the mean image gives
    X, hole = namespace["X"], namespace["hole"]
    mean_fill = ((X[:500].mean(axis=0) - X[500:600])[:, hole] ** 2).mean()
    assert -float(printed[-2]) < mean_fill
