"""Sphinx configuration: autodoc + numpydoc for the API, sphinx-gallery for
``examples/``, MyST for the Markdown pages.

Build with ``pip install -e ".[docs]"`` and
``sphinx-build -W -b html docs docs/_build/html`` (what ``.ci/run`` does).
The build needs no network; see ``_ext/offline_refs.py``.
"""

import os
import sys
from importlib.metadata import PackageNotFoundError, version

import matplotlib

matplotlib.use("Agg")  # the gallery draws without a display

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

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
    "sphinx.ext.mathjax",
    # MathJax from the package, copied into _static: maths renders offline
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # runs the examples of the extending page when the docs are built
    "matplotlib.sphinxext.plot_directive",
    "myst_parser",
    "offline_refs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
]
root_doc = "index"
templates_path = ["_templates"]

# Every reference must resolve. References into scikit-learn, PyTorch, skorch,
# NumPy, pandas and Python are resolved offline by ``offline_refs`` (no
# intersphinx: it downloads inventories at build time). A name it cannot
# import stays unresolved, and nitpicky mode reports it: under -W, an error.
nitpicky = True
# numpydoc's parameter types stay prose ("int, default=10"): its type links
# are written for intersphinx ("python:int"), which this build does not use.
numpydoc_xref_param_type = False

# API pages: one per public object, generated from the docstrings. Inherited
# members are shown: get_params, set_output, and the set_*_request methods that
# scikit-learn adds for metadata routing (their docstrings link to
# scikit-learn's guide; see SKLEARN_LABELS in offline_refs).
autosummary_generate = True
# (The class template, _templates/autosummary/class.rst, asks for them.)
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# MyST: $...$ math, and anchors for the headings of the Markdown pages.
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("skautodec",),
    "reference_url": {"skautodec": None},
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    # A failing example fails the build.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
}

html_theme = "pydata_sphinx_theme"
html_static_path = []
html_title = f"skautodec {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": [], "getting_started": []}
