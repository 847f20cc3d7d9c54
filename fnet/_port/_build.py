"""Builds the fnet module tree of a port and its parameter and buffer trees from torch."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import jax.numpy as jnp

from .. import _tree
from ..io import _canonical, to_numpy
from ..nn._module import Module
from ._mapping import fnet_layer
from ._model import PortedNode, Snapshot


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class Tree:
    """The module hierarchy of a torch model as fnet modules.

    Attributes:
        children, arrays: the root's children and its own arrays.
        mapped: ``path -> fnet layer`` for every submodule that maps (every path of a
            module registered twice).
        canonical: every torch name of a parameter or buffer -> the name it has in the
            fnet trees (the first one, as ``named_parameters()`` reports it).
        tied: parameter/buffer names shared across different modules -> canonical name.
        single_input: paths of mapped layers whose ``forward`` takes one tensor (their
            calls are found without ``preserve_module_call_signature``, see ``_capture``).
    """

    def __init__(self, root: Any):
        self.mapped: dict[str, Module] = {}
        self.single_input: set[str] = set()
        self._memo: dict[int, Module] = {}
        self.children, self.arrays = self._contents(root, "")
        self.canonical, self.tied = _shared_names(root)

    def _contents(self, module: Any, path: str) -> tuple[dict[str, Module], dict[str, Snapshot]]:
        children = {name: self._node(child, _join(path, name))
                    for name, child in module._modules.items() if child is not None}
        arrays: dict[str, Snapshot] = {}
        for name, p in module._parameters.items():
            if p is not None:
                arrays[name] = Snapshot(to_numpy(p), "params")
        for name, b in module._buffers.items():
            if b is not None:
                persistent = name not in module._non_persistent_buffers_set
                arrays[name] = Snapshot(to_numpy(b), "state", persistent)
        return children, arrays

    def _node(self, module: Any, path: str) -> Module:
        if id(module) in self._memo:
            found = self._memo[id(module)]
            if not isinstance(found, PortedNode):
                self.mapped[path] = found
            return found
        layer = fnet_layer(module)
        if layer is not None:
            self.mapped[path] = layer
            self._memo[id(module)] = layer
            if _takes_one_argument(type(module).forward):
                self.single_input.add(path)
            return layer
        children, arrays = self._contents(module, path)
        node = PortedNode(type(module).__name__, module.extra_repr(), children, arrays,
                          is_module_list=type(module).__name__ == "ModuleList")
        self._memo[id(module)] = node
        return node


def _takes_one_argument(forward: Any) -> bool:
    params = list(inspect.signature(forward).parameters.values())[1:]  # after self
    return len(params) == 1 and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD) \
        and params[0].default is params[0].empty


def _shared_names(root: Any) -> tuple[dict[str, str], dict[str, str]]:
    canonical: dict[str, str] = {}
    tied: dict[str, str] = {}
    first: dict[int, tuple[str, int]] = {}
    owners = {}
    for prefix, module in root.named_modules(remove_duplicate=False):
        for table in (module._parameters, module._buffers):
            for name, tensor in table.items():
                if tensor is not None:
                    owners[_join(prefix, name)] = id(module)
    named = list(root.named_parameters(remove_duplicate=False)) + list(root.named_buffers(remove_duplicate=False))
    for name, tensor in named:
        if id(tensor) not in first:
            first[id(tensor)] = (name, owners.get(name, 0))
            canonical[name] = name
            continue
        canon, owner = first[id(tensor)]
        canonical[name] = canon
        if owners.get(name) != owner:  # the same array in two different modules: tied
            tied[name] = canon
    return canonical, tied


def arrays_of(root: Any, tied: Mapping[str, str], dtype: Any = None) -> tuple[dict, dict]:
    """The torch module's parameters and buffers as fnet's nested ``(params, state)``."""
    params = {n: _canonical(to_numpy(p), dtype) for n, p in root.named_parameters()}
    state = {n: _canonical(to_numpy(b), None) for n, b in root.named_buffers()}
    for name in tied:
        params.pop(name, None)
        state.pop(name, None)
    return _tree.unflatten(params), _tree.unflatten(state)


def as_jax(value: Any) -> Any:
    """A torch tensor (or nested tuples/lists/dicts of them) as JAX arrays."""
    if isinstance(value, (tuple, list)):
        return type(value)(as_jax(v) for v in value)
    if isinstance(value, dict):
        return {k: as_jax(v) for k, v in value.items()}
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return _canonical(to_numpy(value), None)
    return jnp.asarray(value) if hasattr(value, "__array__") else value
