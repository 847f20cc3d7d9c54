"""torch layer -> fnet layer with the same constructor arguments.

Every ``torch.nn`` layer class with an fnet twin of the same name maps onto it: the
constructor arguments are read back from the torch module's attributes (torch stores
them under their argument names: ``in_features``, ``kernel_size``, ``batch_first``...),
with a few exceptions listed in :data:`_ARGUMENTS` (``bias`` is stored as a tensor or
None). A mapping is used only when the fnet layer's parameters and buffers have exactly
the torch module's names and shapes; otherwise the module is interpreted op by op,
which computes the same thing, only without fnet's layer.

Only exact ``torch.nn`` classes map: a subclass may override ``forward``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import jax

from .. import _tree
from .. import nn as fnn
from ..nn._module import Module

# Containers and composite layers are walked (their children map), losses are computed
# op by op, Transformer layers keep their torch code (their children map).
_NOT_MAPPED = {"Sequential", "ModuleList", "ModuleDict", "Module", "Transformer",
               "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
               "TransformerDecoderLayer"}

_SKIPPED_ARGUMENTS = {"self", "device", "dtype", "_weight", "_freeze"}


def _has(name: str) -> Callable[[Any], bool]:
    return lambda m: getattr(m, name, None) is not None


# fnet class name -> {argument: how to read it from the torch module}
_ARGUMENTS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "LayerNorm": {"bias": lambda m: m.bias is not None if m.elementwise_affine else True},
    "MultiheadAttention": {"bias": _has("in_proj_bias"), "add_bias_kv": _has("bias_k")},
    "PairwiseDistance": {"p": lambda m: m.norm},
}


def _torch_nn():
    import torch

    return torch.nn


def fnet_layer(module: Any) -> Module | None:
    """The fnet layer equivalent to ``module``, or None when there is none.

    Args:
        module: a ``torch.nn.Module``.
    """
    cls = type(module)
    name = cls.__name__
    if name in _NOT_MAPPED or name.endswith("Loss") or getattr(_torch_nn(), name, None) is not cls:
        return None
    fnet_cls = getattr(fnn, name, None)
    if not (isinstance(fnet_cls, type) and issubclass(fnet_cls, Module)):
        return None
    kwargs = _arguments(module, fnet_cls)
    if kwargs is None:
        return None
    try:
        layer = fnet_cls(**kwargs)
    except (TypeError, ValueError):
        return None
    return layer if _same_arrays(layer, module) else None


def _arguments(module: Any, fnet_cls: type) -> dict[str, Any] | None:
    special = _ARGUMENTS.get(fnet_cls.__name__, {})
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(fnet_cls.__init__).parameters.values():
        if param.name in _SKIPPED_ARGUMENTS or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in special:
            kwargs[param.name] = special[param.name](module)
            continue
        if param.name == "bias" and hasattr(module, "bias") and not isinstance(getattr(module, "bias"), bool):
            kwargs["bias"] = module.bias is not None
            continue
        if hasattr(module, param.name):
            value = getattr(module, param.name)
            if type(value).__module__.startswith("torch"):
                return None  # a tensor where fnet wants a configuration value
            kwargs[param.name] = value
        elif param.default is param.empty:
            return None
    return kwargs


def _same_arrays(layer: Module, module: Any) -> bool:
    """The fnet layer's params/state have the torch module's names and shapes."""
    params, state = jax.eval_shape(layer.init, jax.random.key(0))
    ours = {k: tuple(v.shape) for k, v in {**_tree.flatten(params), **_tree.flatten(state)}.items()}
    theirs = {k: tuple(v.shape) for k, v in module.named_parameters()}
    theirs.update({k: tuple(v.shape) for k, v in module.named_buffers()})
    return ours == theirs
