"""Sphinx configuration of fnet's reference site.

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (what
``tests/test_docs.py`` runs, warnings as errors). The narrative pages are Markdown
(MyST) and include the README's sections rather than copying them, so the front door and
the site say the same thing; the API pages are autodoc over each subpackage's
``__all__`` with Google-style docstrings (napoleon).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

project = "fnet"
author = "fnet maintainers"
copyright = "fnet maintainers"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # the README starts at its own heading levels

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": False}
# A cross-reference to a missing fnet name is an error; names of other libraries
# (jax.Array, np.ndarray, optax types) are not resolved offline and are not checked.
nitpicky = True
_EXTERNAL = (r"(jax|jnp|np|numpy|optax|torch|transformers|ml_dtypes|typing|collections|os|pathlib|"
             r"concurrent|threading|dataclasses|enum|abc|contextlib|logging)(\..*)?")
_BUILTIN_AND_TYPING = (r"(Any|Callable|Iterable|Iterator|Mapping|Sequence|MutableMapping|NamedTuple|"
                       r"Optional|Union|Literal|TypeVar|Generic|Protocol|PathLike|Array|ArrayLike|"
                       r"DTypeLike|Shape|PRNGKey|KeyArray|Mesh|NamedSharding|PartitionSpec|Sharding|"
                       r"GradientTransformation|Schedule|Params|Updates|OptState|BinaryIO|"
                       r"int|float|bool|str|bytes|dict|list|tuple|set|frozenset|type|object|None|"
                       r"Ellipsis|NotImplemented|slice|complex)")
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL),
    (r"py:.*", _BUILTIN_AND_TYPING),
    (r"py:.*", r"fnet(\.[A-Za-z0-9]+)*\._[A-Za-z].*"),  # private helpers named in signatures
]
intersphinx_mapping: dict = {}  # offline: no inventories are downloaded

html_theme = "furo"
html_title = "fnet"
