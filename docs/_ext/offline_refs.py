"""Resolve cross-references to other projects' documentation without a network.

``sphinx.ext.intersphinx`` downloads each project's ``objects.inv`` when the
site is built, and CI has no network. This extension handles the references
Sphinx could not resolve inside this site (the ``missing-reference`` event):

* ``sklearn.*``, ``torch.*``, ``skorch.*``, ``numpy.*``, ``pandas.*``,
  ``matplotlib.*`` and Python's built-ins and standard library: the name is
  imported from the installed package first, so a misspelt or removed name
  is *not* linked.
  It stays unresolved and ``nitpicky`` turns it into a warning, an error under
  ``-W``. A name that imports gets the URL of its page in that project's
  stable documentation, built from the project's page layout.
* ``:ref:`` labels: only the scikit-learn labels listed in ``SKLEARN_LABELS``,
  which docstrings inherited from scikit-learn use (``set_fit_request`` and
  the other routing methods point at ``metadata_routing``). Any other unknown
  label warns. Likewise the glossary terms in ``SKLEARN_TERMS``.

The URLs cannot be checked offline; ``sphinx-build -b linkcheck docs OUT`` does
that on a machine with a network.
"""

import builtins
import importlib
import inspect

from docutils import nodes

SKLEARN = "https://scikit-learn.org/stable/"
TORCH = "https://docs.pytorch.org/docs/stable/"
SKORCH = "https://skorch.readthedocs.io/en/stable/"
NUMPY = "https://numpy.org/doc/stable/reference/"
PANDAS = "https://pandas.pydata.org/docs/reference/"
PYTHON = "https://docs.python.org/3/library/"
MATPLOTLIB = "https://matplotlib.org/stable/api/"

# scikit-learn's own labels, as used in docstrings we inherit from it.
SKLEARN_LABELS = {
    "metadata_routing": "metadata_routing.html",
    "rolling_your_own_estimator": "developers/develop.html",
    "developer_api_set_output": "developers/develop.html#developer-api-set-output",
    "df_output_transform": "auto_examples/miscellaneous/plot_set_output.html",
    "sphx_glr_auto_examples_miscellaneous_plot_set_output.py": (
        "auto_examples/miscellaneous/plot_set_output.html"
    ),
    "randomness": "common_pitfalls.html#randomness",
    "accuracy_score": "modules/model_evaluation.html#accuracy-score",
    "r2_score": "modules/model_evaluation.html#r2-score",
}

# scikit-learn's glossary terms, as used in docstrings we inherit from it.
SKLEARN_TERMS = {"meta-estimator"}

# scikit-learn estimators that import only after their "enable" module.
SKLEARN_EXPERIMENTAL = {
    "sklearn.impute.IterativeImputer": "sklearn.experimental.enable_iterative_imputer",
}

# Pages of the PyTorch documentation that do not follow generated/<name>.html.
TORCH_PAGES = {
    "torch.Tensor": "tensors.html#torch.Tensor",
    "torch.device": "tensor_attributes.html#torch.device",
    "torch.dtype": "tensor_attributes.html#torch.dtype",
}


def _import(name):
    """The object called ``name`` in the installed packages, or raise."""
    for prefix, module in SKLEARN_EXPERIMENTAL.items():
        if name.startswith(prefix):
            importlib.import_module(module)
    parts = name.split(".")
    for stop in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:stop]))
        except ImportError:
            continue
        for attr in parts[stop:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def _owner(name):
    """``a.b.C`` for ``a.b.C.method``: the longest prefix that is a class."""
    parts = name.split(".")
    for stop in range(len(parts) - 1, 0, -1):
        try:
            if inspect.isclass(_import(".".join(parts[:stop]))):
                return ".".join(parts[:stop])
        except (ImportError, AttributeError):
            return None
    return None


def _sklearn(name, obj):
    if inspect.ismodule(obj):
        return f"{SKLEARN}api/{name}.html"
    owner = _owner(name)
    if owner:
        return f"{SKLEARN}modules/generated/{owner}.html#{name}"
    return f"{SKLEARN}modules/generated/{name}.html"


def _torch(name, obj):
    if name in TORCH_PAGES:
        return TORCH + TORCH_PAGES[name]
    if inspect.ismodule(obj):
        return f"{TORCH}{name.removeprefix('torch.')}.html"
    owner = _owner(name)
    if owner in TORCH_PAGES:
        return f"{TORCH}{TORCH_PAGES[owner].split('#')[0]}#{name}"
    return f"{TORCH}generated/{name}.html"


def _skorch(name, obj):
    # skorch documents each subpackage on one page (net.html, callbacks.html,
    # ...), anchored at the subpackage's name: skorch.callbacks.EarlyStopping.
    parts = name.split(".")
    if inspect.ismodule(obj):
        return f"{SKORCH}{parts[1]}.html" if len(parts) > 1 else SKORCH
    if len(parts) == 2:  # re-exported at the top: skorch.NeuralNet
        parts = obj.__module__.split(".")[:2] + parts[1:]
    return f"{SKORCH}{parts[1]}.html#{'.'.join(parts)}"


def _numpy(name, obj):
    if inspect.ismodule(obj):
        page = {"numpy.ma": "maskedarray", "numpy.random": "random/index"}
        return f"{NUMPY}{page.get(name, 'index')}.html"
    return f"{NUMPY}generated/{name}.html"


def _pandas(name, obj):
    if inspect.ismodule(obj):
        return f"{PANDAS}index.html"
    return f"{PANDAS}api/{name}.html"


def _matplotlib(name, obj):
    if inspect.ismodule(obj):
        return f"{MATPLOTLIB}{name.removeprefix('matplotlib.')}_api.html"
    return f"{MATPLOTLIB}_as_gen/{name}.html"


def _python(name, obj):
    if name in ("None", "True", "False", "NotImplemented", "Ellipsis"):
        return f"{PYTHON}constants.html#{name}"
    if "." not in name and hasattr(builtins, name):
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            return f"{PYTHON}exceptions.html#{name}"
        return f"{PYTHON}functions.html#{name}"
    module = name.split(".")[0]
    return f"{PYTHON}{module}.html#{name}"


PROJECTS = {
    "sklearn": _sklearn,
    "torch": _torch,
    "skorch": _skorch,
    "numpy": _numpy,
    "pandas": _pandas,
    "matplotlib": _matplotlib,
}
STDLIB = {"collections", "functools", "os", "pathlib", "warnings", "typing"}


def _url_for_object(target):
    root = target.split(".")[0]
    if root in PROJECTS:
        make = PROJECTS[root]
    elif root in STDLIB or ("." not in target and hasattr(builtins, target)):
        make = _python
    else:
        return None
    try:
        obj = _import(target) if "." in target else getattr(builtins, target)
    except (ImportError, AttributeError):
        return None  # left unresolved: nitpicky reports it
    return make(target, obj)


def _missing_reference(app, env, node, contnode):
    domain, reftype = node.get("refdomain"), node.get("reftype")
    target = node.get("reftarget", "")
    if domain == "py":
        url = _url_for_object(target)
    elif domain == "std" and reftype == "ref" and target in SKLEARN_LABELS:
        url = SKLEARN + SKLEARN_LABELS[target]
    elif domain == "std" and reftype == "term" and target.lower() in SKLEARN_TERMS:
        url = f"{SKLEARN}glossary.html#term-{target.lower().replace(' ', '-')}"
    else:
        url = None
    if url is None:
        return None
    ref = nodes.reference("", "", internal=False, refuri=url, reftitle=target)
    if reftype == "ref" and not node.get("refexplicit"):
        ref += nodes.inline(target, target)
    else:
        ref += contnode
    return ref


def setup(app):
    app.connect("missing-reference", _missing_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
