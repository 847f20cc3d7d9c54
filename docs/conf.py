"""Sphinx configuration of fnet's reference site.

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (what
``tests/test_docs.py`` runs, warnings as errors). The narrative pages are Markdown
(MyST) and include the README's sections rather than copying them, so the front door and
the site say the same thing; the API pages are autodoc over each subpackage's
``__all__`` with Google-style docstrings (napoleon).
"""

from __future__ import annotations

import os
import re
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
# The models document their call arguments in a "Forward:" section, listed like "Args:".
napoleon_custom_sections = [("Forward", "params_style")]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
# autodoc treats an option that is present as on, whatever its value, so the bases are
# listed; _public_bases below keeps them to classes a reader can look up.
autodoc_default_options = {"members": True, "show-inheritance": True}
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
    # The constructor arguments of fnet.port's PortedModule: fnet.port builds it from the
    # captured program; these internal types never reach a user.
    (r"py:class", r"(Snapshot|Program|Spec|InputSlot)"),
]
intersphinx_mapping: dict = {}  # offline: no inventories are downloaded


def _is_private(cls: type) -> bool:
    # The class name decides, not the module: fnet.nn.Module lives in fnet.nn._module.
    return any(part.startswith("_") for part in cls.__qualname__.split("."))


def _public_bases(app, name, obj, options, bases: list) -> None:
    """Lists a class's nearest public ancestors: a private base (``_AutoModel``,
    ``_RNNBase``) is replaced by its own bases, and a base that another
    listed base already derives from is dropped."""
    out: list = []
    pending = list(bases)
    while pending:
        base = pending.pop(0)
        if isinstance(base, type) and _is_private(base):
            pending[:0] = [b for b in base.__bases__ if b is not object or not out]
        elif base not in out:
            out.append(base)
    bases[:] = [b for b in out if not any(o is not b and isinstance(o, type) and isinstance(b, type)
                                          and issubclass(o, b) for o in out)] or [object]


def _import(dotted: str):
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def _resolve_by_identity(app, env, node, contnode):
    """A reference to an fnet object under another import path than the one it is
    documented under resolves to where it is documented.

    Annotations name a class by where it is defined (``fnet.io.LoadResult``,
    ``fnet.nn._module.Module``) and docstrings by where users import it
    (``fnet.models.BertModel``); the site documents each object once. Both resolve by
    the object's identity. A reference to an fnet object that is documented nowhere
    still fails the build.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    candidates = [target]
    module = node.get("py:module")
    if module and not target.startswith("fnet."):
        candidates.insert(0, f"{module}.{target}")
    domain = env.get_domain("py")
    index = env.temp_data.get("fnet_documented")  # per-process cache of id -> documented name
    if index is None or len(index[0]) != len(domain.objects):
        by_id = {}
        for documented, entry in domain.objects.items():
            if documented.startswith("fnet") and not getattr(entry, "aliased", False):
                obj = _import(documented)
                if obj is not None and (isinstance(obj, type) or callable(obj)):
                    by_id.setdefault(id(obj), documented)
        index = (dict(domain.objects), by_id)
        env.temp_data["fnet_documented"] = index
    documented = None
    for candidate in candidates:
        obj = _import(candidate) if candidate.startswith("fnet.") else None
        documented = index[1].get(id(obj)) if obj is not None else None
        if documented:
            break
    if documented is None and "." not in target:
        # A bare name in a docstring re-exported elsewhere (``:class:`AdamState``` in
        # ``fnet.optim.Adam``, defined in ``fnet.optim._adam``): the one documented fnet
        # object of that name, if there is exactly one.
        matches = [name for name, entry in index[0].items() if name.startswith("fnet.")
                   and name.endswith("." + target) and not getattr(entry, "aliased", False)]
        documented = matches[0] if len(matches) == 1 else None
    if documented is None or documented == target:
        return None
    node["reftarget"] = documented
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], documented, node, contnode)


def _escape_star_args(app, what, name, obj, options, lines: list) -> None:
    """Escapes the stars of a combined ``*args, **kwargs:`` argument entry.

    napoleon escapes a leading ``*``/``**`` of one argument name but not of a second name
    in the same entry, which docutils then reads as the start of bold text. Runs before
    napoleon (lower priority number), which leaves an escaped name as it is.
    """
    for i, line in enumerate(lines):
        match = re.match(r"^(\s+)(\*\w+), (\*\*\w+):(.*)$", line)
        if match:
            indent, args, kwargs, rest = match.groups()
            lines[i] = f"{indent}\\{args}, \\*\\{kwargs[1:]}:{rest}"


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    """A NamedTuple's fields are documented by its ``Attributes:`` section, not again as
    members with the generated "Alias for field number N" docstring."""
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _escape_star_args, priority=400)
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("missing-reference", _resolve_by_identity)

html_theme = "furo"
html_title = "fnet"
