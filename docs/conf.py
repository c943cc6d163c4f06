"""Sphinx configuration: autodoc + numpydoc for the API, sphinx-gallery for
``examples/``. Build with ``pip install -e ".[docs]"`` and
``sphinx-build -b html docs docs/_build/html``."""

import os
import sys
from importlib.metadata import PackageNotFoundError, version

sys.path.insert(0, os.path.abspath(".."))

project = "skautodec"
author = "skautodec developers"
copyright = "skautodec developers"  # noqa: A001
try:
    release = version("skautodec")
except PackageNotFoundError:
    release = "0.1.0"
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "auto_examples/*.ipynb", "results.md"]
root_doc = "index"

# API pages: one per public object, generated from the docstrings.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "torch": ("https://pytorch.org/docs/stable/", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", None),
    "pandas": ("https://pandas.pydata.org/docs/", None),
}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("skautodec",),
    "reference_url": {"skautodec": None},
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "matplotlib_animations": False,
}

html_theme = "alabaster"
html_static_path = []
html_title = f"skautodec {release}"
