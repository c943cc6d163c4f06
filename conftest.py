"""Doctests that import an optional dependency skip when it is not installed.

scikit-learn skips its matplotlib doctests the same way; here the modules a
doctest needs are read from its own import lines.
"""

import importlib.util
import re

import pytest
from _pytest.doctest import DoctestItem

_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.M)


def _missing_modules(item):
    names = set()
    for example in item.dtest.examples:
        for found in _IMPORT.findall(example.source):
            names.add((found[0] or found[1]).split(".")[0])
    return sorted(n for n in names if importlib.util.find_spec(n) is None)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if isinstance(item, DoctestItem):
            missing = _missing_modules(item)
            if missing:
                reason = f"needs {', '.join(missing)} (not installed)"
                item.add_marker(pytest.mark.skip(reason=reason))
