"""Every fnet twin of a torch.nn module class, nn.functional function and nn.init function
(the names fnet.parity.torch_surface walks) has torch's argument names, order, kinds and
defaults; fnet may only add keyword-only arguments at the end (a PRNG ``key``, ...).

torch's signature is read from where torch keeps it (:func:`torch_parameters`):

* ``inspect.signature`` of the function or ``__init__``, when it has no ``*args``/``**kwargs``;
* a module class's ``typing.overload`` of an ``__init__(*args, **kwargs)`` (``LSTM``, ``GRU``
  and ``RNN`` forward everything to ``RNNBase`` and declare their real arguments as an
  overload; fnet may keep the trailing ``**kwargs`` there, through which torch refuses
  ``proj_size``);
* ``Module.__init__`` for ``Module`` and the classes that inherit it (``Sigmoid``...): it
  refuses every argument, so the signature is empty;
* TorchScript's ``boolean_dispatch`` table for the functions it wraps (``max_pool2d``...):
  both branches have the same arguments;
* for C builtins, the ATen schema (``torch._C._jit_get_schemas_for_operator``), which is
  what the Python binding parses: names (``self`` is ``input`` in Python), order,
  keyword-only markers and defaults (``int[2] stride=[1, 1]`` means ``stride=1``). It is
  more exact than the signature line that opens the builtin's docstring: that line
  omits keyword-only markers (``scaled_dot_product_attention``'s ``scale``, ``gelu``'s
  ``approximate``) and names ``one_hot``'s argument ``tensor``, which the binding refuses.

A name whose signature none of these recovers must stand in :data:`NO_SIGNATURE` with the
reason; the test fails on one that is neither resolved nor listed.
"""

from __future__ import annotations

import collections
import importlib
import inspect
import typing

import pytest

import fnet.functional as F
import fnet.init as I
from fnet import nn
from fnet.parity import torch_surface

torch = pytest.importorskip("torch")

# fnet's trailing keyword-only additions, each documented where it is defined
EXTRAS = {"key", "chunk_size", "dropout_key", "where"}

# torch names whose signature cannot be recovered from torch (none today), with the reason
NO_SIGNATURE: dict[str, str] = {}

P = inspect.Parameter


def _pairs():
    for namespace, module in (("nn", nn), ("functional", F), ("init", I)):
        torch_module = importlib.import_module(torch_surface._TORCH_MODULE[namespace])
        for entry in torch_surface.walk(namespace, set()).names:
            if entry.excluded:
                continue
            name = entry.qualname.rsplit(".", 1)[1]
            yield entry.qualname, namespace, getattr(torch_module, name), getattr(module, name)


PAIRS = list(_pairs())


def _has_var(params: list[inspect.Parameter]) -> bool:
    return any(p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD) for p in params)


def _without_self(sig: inspect.Signature) -> list[inspect.Parameter]:
    return [p for p in sig.parameters.values() if p.name != "self"]


def _schema_parameters(name: str) -> list[inspect.Parameter] | None:
    """The builtin's ATen schema (its first overload that is not an ``out=`` variant)."""
    schemas = [s for s in torch._C._jit_get_schemas_for_operator(f"aten::{name}")
               if not s.overload_name.endswith("out")]
    if not schemas:
        return None
    params = []
    for arg in schemas[0].arguments:
        kind = P.KEYWORD_ONLY if arg.kwarg_only else P.POSITIONAL_OR_KEYWORD
        default = arg.default_value if arg.has_default_value() else P.empty
        params.append(P("input" if arg.name == "self" else arg.name, kind, default=default))
    return params


def torch_parameters(namespace: str, theirs) -> tuple[list[inspect.Parameter] | None, str]:
    """torch's parameters for ``theirs`` (``self`` dropped) and where they were read."""
    target = theirs.__init__ if namespace == "nn" else theirs
    try:
        params = _without_self(inspect.signature(target))
    except (TypeError, ValueError):  # a C builtin
        params = None
    if params is not None and not _has_var(params):
        return params, "signature"
    if namespace == "nn":
        if theirs.__init__ is torch.nn.Module.__init__:
            return [], "Module.__init__ (takes no argument)"
        if [p.kind for p in params] == [P.VAR_POSITIONAL, P.VAR_KEYWORD]:  # (*args, **kwargs): a forwarder
            for overload in typing.get_overloads(theirs.__init__):
                candidate = _without_self(inspect.signature(overload))
                if not _has_var(candidate):
                    return candidate, "overload"
        return params, "signature"  # *args by design (Sequential, Identity): compared as such
    from torch._jit_internal import boolean_dispatched

    if theirs in boolean_dispatched:
        return _without_self(inspect.signature(boolean_dispatched[theirs]["if_false"])), "boolean_dispatch"
    if params is None:
        found = _schema_parameters(theirs.__name__)
        if found is not None:
            return found, "ATen schema"
    return params, "signature"


def _same_default(mine, torchs) -> bool:
    """Equal defaults, reading a schema's list defaults as torch's Python ones: an ``int[2]`` of one
    repeated value is that value (``[1, 1]`` is ``1``), and ``[]`` is ``None`` (``stride``: the kernel size)."""
    if isinstance(torchs, (list, tuple)) and not isinstance(mine, (list, tuple)):
        if not torchs:
            return mine is None
        return len(set(torchs)) == 1 and mine == torchs[0]
    if isinstance(torchs, (list, tuple)) and isinstance(mine, (list, tuple)):
        return list(mine) == list(torchs)
    if isinstance(mine, bool) or isinstance(torchs, bool):
        return mine is torchs  # True is not 1
    return mine == torchs


SOURCES: dict[str, str] = {}


@pytest.mark.parametrize("qualname,namespace,theirs,ours", PAIRS, ids=[p[0] for p in PAIRS])
def test_signature_is_torchs(qualname, namespace, theirs, ours):
    want_params, source = torch_parameters(namespace, theirs)
    SOURCES[qualname] = source
    if want_params is None:
        assert qualname in NO_SIGNATURE, f"{qualname}: no signature recovered from torch; list it in NO_SIGNATURE"
        return
    got_params = _without_self(inspect.signature(ours.__init__ if namespace == "nn" else ours))
    if namespace == "init":  # fnet's initialisers take (key, shape, ..., dtype) instead of a tensor
        want_params = [p for p in want_params if p.name not in ("tensor", "generator")]
        got_params = [p for p in got_params if p.name not in ("key", "shape", "dtype")]
    head, extra = got_params[:len(want_params)], got_params[len(want_params):]

    def shape(params):  # the name of *args / **kwargs cannot be passed, only its kind matters
        return [(p.kind.name, None if p.kind in (P.VAR_POSITIONAL, P.VAR_KEYWORD) else p.name) for p in params]

    assert shape(head) == shape(want_params), f"{qualname} (torch's read from its {source})"
    for mine, torchs in zip(head, want_params):
        if torchs.default is not P.empty and not callable(torchs.default):
            assert _same_default(mine.default, torchs.default), \
                f"{qualname}: {mine.name}={mine.default!r}, torch's ({source}) {torchs.default!r}"
    if source == "overload" and extra and extra[-1].kind is P.VAR_KEYWORD:
        extra = extra[:-1]  # torch's real __init__ takes **kwargs too (RNN/GRU refuse proj_size through it)
    for p in extra:
        assert p.kind is P.KEYWORD_ONLY and p.name in EXTRAS, f"{qualname}: {p.name}"


def test_every_signature_is_read_from_torch():
    """No name is skipped: each is compared, or stands in NO_SIGNATURE with its reason (counted here)."""
    sources = collections.Counter()
    unresolved = []
    for qualname, namespace, theirs, _ in PAIRS:
        params, source = torch_parameters(namespace, theirs)
        if params is None:
            unresolved.append(qualname)
        else:
            sources[source] += 1
    print(f"\n{len(PAIRS)} torch names: " + ", ".join(f"{n} from the {s}" for s, n in sources.most_common())
          + f", {len(unresolved)} without a recoverable signature (NO_SIGNATURE)")
    assert sorted(unresolved) == sorted(NO_SIGNATURE), "NO_SIGNATURE must list exactly the unresolved names"
    assert sum(sources.values()) + len(unresolved) == len(PAIRS)
