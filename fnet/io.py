"""torch ``state_dict`` interop and safetensors checkpoints.

A parameter tree *is* a nested torch ``state_dict``, so converting is flattening and
unflattening, never a per-model mapping table::

    params, state = fnet.load_state_dict(model, torch_module.state_dict())
    sd = fnet.state_dict(params, state)            # {"fc1.weight": np.ndarray, ...}
    fnet.save("ckpt.safetensors", params, state)   # torch: load_state_dict(load_file(...))
    params, state = fnet.load("ckpt.safetensors", model)
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

from . import _tree
from ._safetensors import CheckpointError, load_file, save_file
from .nn._module import Module

__all__ = ["state_dict", "load_state_dict", "save", "load", "summary", "StateDictError",
           "CheckpointError", "LoadedStateDict"]


class StateDictError(ValueError):
    """Keys or shapes of a state_dict do not match the model (torch's RuntimeError)."""


class LoadedStateDict(tuple):
    """``(params, state)`` with torch's ``missing_keys`` / ``unexpected_keys`` attached.

    Unpacks like a pair: ``params, state = fnet.load_state_dict(model, sd)``.
    """

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __new__(cls, params: dict, state: dict, missing: list[str], unexpected: list[str]):
        self = super().__new__(cls, (params, state))
        self.missing_keys = missing
        self.unexpected_keys = unexpected
        return self

    @property
    def params(self) -> dict:
        return self[0]

    @property
    def state(self) -> dict:
        return self[1]


def to_numpy(value: Any) -> np.ndarray:
    """A torch tensor, jax array or array-like as a numpy array of the same dtype."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":
            # numpy has no bfloat16; bf16 -> f32 -> bf16 is exact.
            return tensor.float().numpy().astype(ml_dtypes.bfloat16)
        return tensor.numpy()
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        from jax.experimental import multihost_utils  # several processes: gather the shards

        return np.asarray(multihost_utils.process_allgather(value, tiled=True))
    return np.asarray(value)


def _canonical(array: np.ndarray, dtype: Any | None) -> jax.Array:
    """To a jax array keeping the dtype; 64-bit types narrow only when x64 is off."""
    floating = np.issubdtype(array.dtype, np.floating) or array.dtype == ml_dtypes.bfloat16
    if dtype is not None and floating:
        return jnp.asarray(array, dtype=dtype)
    if jax.dtypes.canonicalize_dtype(np.float64) != np.float64:  # x64 is off
        narrow = {np.dtype("float64"): np.float32, np.dtype("int64"): np.int32,
                  np.dtype("uint64"): np.uint32}
        if array.dtype in narrow:
            array = array.astype(narrow[array.dtype])
    return jnp.asarray(array)


def _aliases(model: Module) -> dict[str, str]:
    """Second names -> canonical names: prefixes of modules that appear twice in the tree,
    and the exact names of tied parameters (``model.tied_parameters()``)."""
    first: dict[int, str] = {}
    aliases: dict[str, str] = {}

    def walk(module: Module, prefix: str):
        for name, child in module._all_children():
            path = f"{prefix}{name}"
            if id(child) in first:
                aliases[path] = first[id(child)]
                continue
            first[id(child)] = path
            walk(child, path + ".")

    walk(model, "")
    aliases.update(model.tied_parameters())
    return aliases


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def _resolve_alias(key: str, aliases: Mapping[str, str]) -> str | None:
    for alias, canonical in aliases.items():
        if _under(key, alias):
            return canonical + key[len(alias):]
    return None


def state_dict(params: Mapping, state: Mapping | None = None, model: Module | None = None
               ) -> dict[str, np.ndarray]:
    """The flat, torch-named ``state_dict`` of a parameter tree and a buffer tree.

    Args:
        params: nested parameter dict.
        state: nested buffer dict (``running_mean`` ...), or None.
        model: optional; when given, modules shared at several places in the tree and
            tied parameters are written under every name, and non-persistent buffers
            are left out, as torch's ``state_dict`` does.

    Returns:
        ``{"fc1.weight": np.ndarray, ...}`` in torch's order (a module's parameters,
        then its buffers, then its children).

    PyTorch equivalent: ``torch.nn.Module.state_dict``.
    """
    flat = _tree.flatten(_tree.merge_ordered(params, state or {}))
    out = {name: to_numpy(value) for name, value in flat.items()}
    if model is not None:
        for name in model.non_persistent_buffers():
            out.pop(name, None)
        for alias, canonical in _aliases(model).items():
            for name in list(out):
                if _under(name, canonical):
                    out[alias + name[len(canonical):]] = out[name]
    return out


def _expected(model: Module) -> tuple[dict[str, Any], dict[str, Any]]:
    params, state = jax.eval_shape(model.init, jax.random.key(0))
    return _tree.flatten(params), _tree.flatten(state)


def _fmt_size(shape: tuple[int, ...]) -> str:
    return f"({', '.join(str(s) for s in shape)}{',' if len(shape) == 1 else ''})"


def load_state_dict(model: Module, state_dict: Mapping[str, Any] | Any, strict: bool = True, *,
                    dtype: Any = None, key: jax.Array | None = None) -> LoadedStateDict:
    """Loads a torch ``state_dict`` (tensors or arrays) into fresh fnet trees.

    Args:
        model: the fnet model whose names and shapes the state_dict must match.
        state_dict: ``{name: tensor}`` from ``torch_module.state_dict()``, numpy arrays,
            jax arrays; a torch module is accepted too (its ``state_dict()`` is used).
        strict: like torch, raise one :class:`StateDictError` listing every missing and
            unexpected key. Shape mismatches always raise, as in torch.
        dtype: cast floating-point tensors to this dtype. By default each array keeps
            its checkpoint dtype (bf16 stays bf16, float64 stays float64 under
            ``jax_enable_x64``; without x64, 64-bit types become 32-bit).
        key: PRNG key that initialises missing entries when ``strict=False``
            (default ``jax.random.key(0)``).

    Returns:
        ``(params, state)``, a pair that also carries ``missing_keys`` and
        ``unexpected_keys`` (both empty when ``strict=True``).

    PyTorch equivalent: ``torch.nn.Module.load_state_dict``.
    """
    if not isinstance(state_dict, Mapping) and hasattr(state_dict, "state_dict"):
        state_dict = state_dict.state_dict()
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"load_state_dict: expected a mapping of name -> tensor, got "
                        f"{type(state_dict).__name__}")
    want_params, want_state = _expected(model)
    transient = set(model.non_persistent_buffers())  # state, but never in a state_dict
    all_state = list(want_state)
    want_state = {k: v for k, v in want_state.items() if k not in transient}
    aliases = _aliases(model)
    given: dict[str, Any] = {}
    unexpected: list[str] = []
    for name, value in state_dict.items():
        if name in want_params or name in want_state:
            given[name] = value
            continue
        canonical = _resolve_alias(name, aliases)
        if canonical is not None and (canonical in want_params or canonical in want_state):
            given.setdefault(canonical, value)
        else:
            unexpected.append(name)
    missing = [name for name in (*want_params, *want_state) if name not in given]
    errors = []
    arrays: dict[str, jax.Array] = {}
    for name, value in given.items():
        array = to_numpy(value)
        spec = want_params.get(name, want_state.get(name))
        if tuple(array.shape) != tuple(spec.shape):
            errors.append(f"size mismatch for {name}: copying a param with shape "
                          f"{_fmt_size(array.shape)} from checkpoint, the shape in current model "
                          f"is {_fmt_size(tuple(spec.shape))}.")
            continue
        arrays[name] = _canonical(array, dtype)
    if strict:
        if missing:
            errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if unexpected:
            errors.insert(1 if missing else 0,
                          "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
    if errors:
        raise StateDictError(f"Error(s) in loading state_dict for {type(model).__name__}:\n\t"
                             + "\n\t".join(errors))
    if missing:
        fresh_params, fresh_state = model.init(key if key is not None else jax.random.key(0))
        fresh = {**_tree.flatten(fresh_params), **_tree.flatten(fresh_state)}
        for name in missing:
            arrays[name] = fresh[name]
    if transient:
        arrays.update(_declared_values(model, transient))
    params = _tree.unflatten({name: arrays[name] for name in want_params})
    state = _tree.unflatten({name: arrays[name] for name in all_state})
    return LoadedStateDict(params, state, missing, unexpected)


def _declared_values(model: Module, names: set[str]) -> dict[str, jax.Array]:
    """Initial values of the declared arrays ``names`` (non-persistent buffers)."""
    out = {}
    for prefix, module in model.named_modules():
        for name, decl in module._declared():
            full = f"{prefix}.{name}" if prefix else name
            if full in names:
                out[full] = decl.create(jax.random.key(0))
    return out


def save(path: str | os.PathLike, params: Mapping, state: Mapping | None = None, *,
         model: Module | None = None, metadata: Mapping[str, str] | None = None) -> None:
    """Writes a torch-named safetensors checkpoint, atomically.

    ``torch_module.load_state_dict(safetensors.torch.load_file(path))`` accepts the file
    directly. The file is written to a temporary name in the same directory and renamed
    over ``path`` only when complete, so an interrupted save leaves the previous
    checkpoint intact.

    Args:
        path: destination, conventionally ``*.safetensors``.
        params, state: the trees from ``init``/``apply``/``load_state_dict``.
        model: optional, see :func:`state_dict` (names of shared modules).
        metadata: extra string metadata stored in the header.

    PyTorch equivalent: ``safetensors.torch.save_file(module.state_dict(), path)``.
    """
    tensors = state_dict(params, state, model=model)
    meta = {"format": "pt", "producer": "fnet"}
    meta.update(metadata or {})
    save_file(tensors, path, meta)


def load(path: str | os.PathLike, model: Module, strict: bool = True, *, dtype: Any = None
         ) -> LoadedStateDict:
    """Reads a checkpoint and validates it against ``model``.

    ``*.safetensors`` files are read by fnet's own checked reader; a torch ``.pt``,
    ``.pth`` or ``.bin`` file only through ``torch.load(path, weights_only=True)``
    (no arbitrary pickle is executed).

    Raises:
        CheckpointError: the file is missing, truncated or corrupt.
        StateDictError: keys or shapes do not match the model.
    """
    path = os.fspath(path)
    if path.endswith((".pt", ".pth", ".bin")):
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is optional
            raise CheckpointError(f"fnet.load: reading {path!r} needs torch; save it as "
                                  f".safetensors to load without torch") from None
        try:
            tensors = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise CheckpointError(f"fnet.load: no checkpoint at {path!r}") from None
        except Exception as err:  # torch raises many types for corrupt pickles
            raise CheckpointError(f"fnet.load: {path!r} is not a readable torch checkpoint "
                                  f"(weights_only=True): {err}") from None
        if isinstance(tensors, Mapping) and "state_dict" in tensors and isinstance(tensors["state_dict"], Mapping):
            tensors = tensors["state_dict"]
    else:
        tensors, _ = load_file(path)
    return load_state_dict(model, tensors, strict=strict, dtype=dtype)


def summary(model: Module, params: Mapping, state: Mapping | None = None) -> str:
    """A table of every parameter (torch name, shape, count) and the totals.

    Returns the table as a string: ``print(fnet.summary(model, params))``.
    """
    rows = [(name, tuple(np.shape(v)), math.prod(np.shape(v)), str(getattr(v, "dtype", "")))
            for name, v in _tree.flatten(params).items()]
    buffers = [(name, tuple(np.shape(v)), math.prod(np.shape(v)), str(getattr(v, "dtype", "")))
               for name, v in _tree.flatten(state or {}).items()]
    width = max([len("name")] + [len(r[0]) for r in rows + buffers])
    lines = [type(model).__name__, f"{'name':<{width}}  {'shape':<20} {'dtype':<9} {'count':>12}",
             "-" * (width + 45)]
    for name, shape, count, dtype in rows:
        lines.append(f"{name:<{width}}  {str(shape):<20} {dtype:<9} {count:>12,}")
    total = sum(r[2] for r in rows)
    lines.append("-" * (width + 45))
    lines.append(f"Total parameters: {total:,}")
    if buffers:
        lines.append(f"Buffers: {len(buffers)} ({sum(b[2] for b in buffers):,} values): "
                     + ", ".join(b[0] for b in buffers))
    return "\n".join(lines)
