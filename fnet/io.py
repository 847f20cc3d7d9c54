"""torch ``state_dict`` interop and safetensors checkpoints: the one loader every caller uses.

A parameter tree *is* a nested torch ``state_dict``, so converting is flattening and
unflattening, never a per-model mapping table::

    params, state = fnet.load_state_dict(model, torch_module.state_dict())
    sd = fnet.state_dict(params, state)            # {"fc1.weight": np.ndarray, ...}
    fnet.save("ckpt.safetensors", params, state)   # torch: load_state_dict(load_file(...))
    params, state = fnet.load("ckpt.safetensors", model)

:func:`load_state_dict` is the only place where checkpoint names meet a model: it
matches names (after an optional ``rename``), checks shapes, applies the dtype policy,
initialises what may be missing, and returns a :class:`LoadResult` that unpacks as
``params, state`` and carries torch's ``missing_keys`` / ``unexpected_keys`` (and
``mismatched_keys``). ``fnet.load`` and ``fnet.models``' ``from_pretrained`` call it
with their hooks.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

from . import _tree
from ._checks import StateDictError, fmt_shape
from ._safetensors import CheckpointError, aligned_empty, load_file, save_file
from .nn import _lazy
from .nn._module import Module

__all__ = ["state_dict", "load_state_dict", "save", "load", "summary", "StateDictError",
           "CheckpointError", "LoadResult", "read_checkpoint", "model_shapes"]


class LoadResult(tuple):
    """``(params, state)`` with the loading report attached, as torch's ``load_state_dict``.

    Unpacks like a pair: ``params, state = fnet.load_state_dict(model, sd)``.

    Attributes:
        params, state: the loaded trees.
        missing_keys: model names the checkpoint lacks (freshly initialised; only
            possible with ``strict=False`` or ``allow_missing``).
        unexpected_keys: checkpoint names the model does not have (not loaded).
        mismatched_keys: ``(name, checkpoint shape, model shape)`` of tensors
            re-initialised because of ``ignore_mismatched_sizes=True``.
    """

    missing_keys: list[str]
    unexpected_keys: list[str]
    mismatched_keys: list[tuple[str, tuple[int, ...], tuple[int, ...]]]

    def __new__(cls, params: dict, state: dict, *, missing_keys: Iterable[str] = (),
                unexpected_keys: Iterable[str] = (),
                mismatched_keys: Iterable[tuple[str, tuple[int, ...], tuple[int, ...]]] = ()):
        self = super().__new__(cls, (params, state))
        self.missing_keys = list(missing_keys)
        self.unexpected_keys = list(unexpected_keys)
        self.mismatched_keys = list(mismatched_keys)
        return self

    @property
    def params(self) -> dict:
        return self[0]

    @property
    def state(self) -> dict:
        return self[1]

    @property
    def newly_initialized_keys(self) -> list[str]:
        """Every name whose array is freshly initialised (missing, then mismatched)."""
        return self.missing_keys + [name for name, _, _ in self.mismatched_keys]

    def loading_info(self) -> dict[str, list]:
        """The report as transformers' ``output_loading_info`` dict."""
        return {"missing_keys": list(self.missing_keys), "unexpected_keys": sorted(self.unexpected_keys),
                "mismatched_keys": list(self.mismatched_keys),
                "newly_initialized_keys": self.newly_initialized_keys}


def to_numpy(value: Any) -> np.ndarray:
    """A torch tensor, jax array or array-like as a numpy array of the same dtype.

    A jax array split over several processes is gathered (a collective: every process
    must call this together).
    """
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

    Raises:
        ValueError: two entries flatten to the same name (``{"a.b": x, "a": {"b": y}}``).

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


def model_shapes(model: Module, state_dict: Mapping[str, Any] | None = None
                 ) -> tuple[dict[str, jax.ShapeDtypeStruct], dict[str, jax.ShapeDtypeStruct]]:
    """The torch names, shapes and dtypes of ``model``'s parameters and buffers (no arrays made).

    Args:
        model: the model.
        state_dict: a checkpoint whose shapes size the model's lazy layers
            (``nn.LazyLinear``...); not needed for a model without them.

    Returns:
        ``(params, buffers)``: two flat ``{name: jax.ShapeDtypeStruct}`` dicts in the
        model's order.
    """
    sizes = _lazy.sizes_from_state_dict(model, state_dict or {})
    if sizes:  # lazy layers sized by this checkpoint: not cached
        with _lazy.sizes_known(sizes):
            params, state = jax.eval_shape(model.init, jax.random.key(0))
        return _tree.flatten(params), _tree.flatten(state)
    cache = model._cache()
    key = ("shapes", _x64())
    if key not in cache:
        params, state = jax.eval_shape(model.init, jax.random.key(0))
        cache[key] = (_tree.flatten(params), _tree.flatten(state))
    params, state = cache[key]
    return dict(params), dict(state)


# -- the dtype policy ---------------------------------------------------------------------------

def _is_float(dtype: np.dtype) -> bool:
    return bool(jnp.issubdtype(dtype, jnp.floating))


def _x64() -> bool:
    """Whether 64-bit types are on (``jax_enable_x64``, also inside ``jax.enable_x64()``)."""
    return jax.dtypes.canonicalize_dtype(np.float64) == np.float64


def _narrow(dtype: np.dtype) -> np.dtype:
    """64-bit types become 32-bit when ``jax_enable_x64`` is off, as JAX itself does."""
    if _x64():
        return dtype
    return {np.dtype("float64"): np.dtype("float32"), np.dtype("int64"): np.dtype("int32"),
            np.dtype("uint64"): np.dtype("uint32")}.get(dtype, dtype)


def _target_dtype(name: str, array: np.ndarray, want: np.dtype, dtype: Any) -> tuple[np.dtype | None, str | None]:
    """``(dtype to load as, None)`` or ``(None, why it is refused)``.

    torch copies a checkpoint tensor into the model's tensor (``param.copy_``): a
    float parameter takes integer or bool values converted to its dtype, an integer
    buffer takes float values. fnet does the same, except that (1) a float parameter
    keeps the checkpoint's float width (fnet's arrays are the model: bf16 stays bf16,
    float64 stays float64 under x64; ``dtype=`` casts), and (2) float values that an
    integer buffer cannot hold exactly (3.7, NaN, 1e30) are refused where torch would
    truncate them.
    """
    src = array.dtype
    if src.kind == "c":
        return None, f'"{name}": the checkpoint holds complex values ({src}) for a real {want} tensor'
    if src.kind not in "biuf" and not _is_float(src):
        return None, (f'"{name}": expected a numeric tensor, got {type(array).__name__} of dtype {src} '
                      f"(torch: expected torch.Tensor or Tensor-like object from checkpoint)")
    if _is_float(want):
        if _is_float(src):
            return _narrow(np.dtype(dtype) if dtype is not None else src), None
        return _narrow(np.dtype(dtype) if dtype is not None else want), None
    # integer or bool buffer (num_batches_tracked, masks)
    if array.size:
        values = array.astype(np.float64) if _is_float(src) else array
        if _is_float(src) and not (np.all(np.isfinite(values)) and np.all(values == np.trunc(values))):
            bad = values[~(np.isfinite(values) & (values == np.trunc(values)))].flat[0]
            return None, (f'"{name}": the checkpoint holds {src} values that are not whole numbers '
                          f"(e.g. {bad}) for an integer buffer of dtype {want}; torch would truncate "
                          f"them, fnet refuses")
        info = np.iinfo(want) if want.kind in "iu" else None
        lo, hi = (info.min, info.max) if info is not None else (0, 1)
        if values.min() < lo or values.max() > hi:
            bad = values.max() if values.max() > hi else values.min()
            return None, (f'"{name}": the checkpoint holds {bad}, outside the range [{lo}, {hi}] of the '
                          f"model's {want} buffer")
    return want, None


def _to_jax(array: np.ndarray, dtype: np.dtype, adoptable: bool) -> jax.Array:
    """One device array; the numpy buffer is adopted without a copy when ``adoptable``."""
    if array.dtype != dtype:
        converted = aligned_empty(array.shape, dtype)
        np.copyto(converted, array, casting="unsafe")
        array, adoptable = converted, True
    if adoptable:
        return jax.device_put(array)  # adopts an aligned buffer on the CPU instead of copying
    return jnp.array(array, copy=True)  # the caller's array may change later; JAX arrays must not


def _canonical(array: np.ndarray, dtype: Any = None) -> jax.Array:
    """A copy as a JAX array of the same dtype (floats cast to ``dtype`` when given), 64-bit
    types narrowed when x64 is off; for arrays that did not come from a checkpoint file."""
    target = np.dtype(dtype) if dtype is not None and _is_float(array.dtype) else array.dtype
    return _to_jax(array, _narrow(target), adoptable=False)


class _Adopted:
    """Memory already adopted by this load: two arrays must never share a buffer (a torch
    pickle stores tied weights once; a donated buffer would then overwrite the other)."""

    def __init__(self):
        self.arrays: list[np.ndarray] = []

    def claim(self, array: np.ndarray) -> bool:
        if any(np.may_share_memory(array, other) for other in self.arrays):
            return False
        self.arrays.append(array)
        return True


# -- the loader -------------------------------------------------------------------------------------

def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{k}"' for k in names)


def load_state_dict(model: Module, state_dict: Mapping[str, Any] | Any, strict: bool = True, *,
                    dtype: Any = None, key: jax.Array | None = None,
                    rename: Callable[[str], str] | None = None,
                    ignore: Callable[[str], bool] | None = None,
                    allow_missing: Callable[[str], bool] | None = None,
                    allow_unexpected: Callable[[str], bool] | None = None,
                    ignore_mismatched_sizes: bool = False, copy: bool = True,
                    where: str | None = None) -> LoadResult:
    """Loads a torch ``state_dict`` (tensors or arrays) into fresh fnet trees.

    Args:
        model: the fnet model whose names and shapes the state_dict must match.
        state_dict: ``{name: tensor}`` from ``torch_module.state_dict()``, numpy arrays,
            jax arrays; a torch module is accepted too (its ``state_dict()`` is used).
        strict: like torch, raise one :class:`StateDictError` listing every missing and
            unexpected key. Shape mismatches always raise, as in torch (unless
            ``ignore_mismatched_sizes``).
        dtype: cast floating-point parameters and buffers to this dtype. By default a
            float tensor keeps its checkpoint dtype (bf16 stays bf16, float64 stays
            float64 under ``jax_enable_x64``; without x64, 64-bit types become 32-bit);
            integer or bool values for a float parameter are converted to the model's
            dtype and float values for an integer buffer (``num_batches_tracked``) to
            its integer dtype, as torch's ``copy_`` does. Refused, naming the key:
            non-numeric values, complex values for a real tensor, and float values an
            integer buffer cannot hold exactly (torch would truncate 3.7 to 3).
        key: PRNG key that initialises missing (and re-initialised) entries
            (default ``jax.random.key(0)``).
        rename: maps each checkpoint name before matching (legacy names, prefixes).
        ignore: checkpoint names (after ``rename``) for which it returns True are
            dropped silently: neither loaded nor reported.
        allow_missing: with ``strict=True``, missing names for which it returns True
            are initialised (and reported in ``missing_keys``) instead of raising.
        allow_unexpected: with ``strict=True``, unexpected names for which it returns
            True are reported instead of raising.
        ignore_mismatched_sizes: re-initialise tensors whose shape differs from the
            model's (reported in ``mismatched_keys``) instead of raising.
        copy: False lets fnet adopt the arrays' memory instead of copying it where it
            can (the CPU); the caller must not modify them afterwards.
        where: how errors name the model (default: its class name).

    Returns:
        A :class:`LoadResult`: ``(params, state)`` carrying ``missing_keys``,
        ``unexpected_keys`` and ``mismatched_keys``.

    Raises:
        StateDictError: everything that does not fit, listed in one message.
        TypeError: ``state_dict`` is not a mapping.

    PyTorch equivalent: ``torch.nn.Module.load_state_dict``.
    """
    if not isinstance(state_dict, Mapping) and hasattr(state_dict, "state_dict"):
        state_dict = state_dict.state_dict()
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"load_state_dict: expected a mapping of name -> tensor, got "
                        f"{type(state_dict).__name__}")
    where = where or type(model).__name__
    want_params, want_state = model_shapes(model, state_dict)
    transient = set(model.non_persistent_buffers())  # state, but never in a state_dict
    all_state = list(want_state)
    want = {**want_params, **{k: v for k, v in want_state.items() if k not in transient}}
    aliases = _aliases(model)
    given: dict[str, Any] = {}
    source: dict[str, str] = {}
    unexpected: list[str] = []
    errors: list[str] = []
    for original, value in state_dict.items():
        name = rename(original) if rename is not None else original
        if ignore is not None and ignore(name):
            continue
        if name not in want:
            canonical = _resolve_alias(name, aliases)
            if canonical is None or canonical not in want:
                unexpected.append(name)
                continue
            if canonical in given:  # torch's state_dict lists a shared module under every name
                continue
            name = canonical
        if name in given:
            errors.append(f'checkpoint keys "{source[name]}" and "{original}" both load "{name}"; '
                          f"only one can")
            continue
        given[name], source[name] = value, original
    missing = [name for name in want if name not in given]
    arrays: dict[str, jax.Array] = {}
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    adopted = _Adopted()
    for name, value in given.items():
        array = to_numpy(value)
        spec = want[name]
        if tuple(array.shape) != tuple(spec.shape):
            if ignore_mismatched_sizes:
                mismatched.append((name, tuple(array.shape), tuple(spec.shape)))
            else:
                errors.append(f"size mismatch for {name}: copying a param with shape {fmt_shape(array.shape)} "
                              f"from checkpoint, the shape in current model is {fmt_shape(spec.shape)}.")
            continue
        target, refusal = _target_dtype(name, array, np.dtype(spec.dtype), dtype)
        if refusal is not None:
            errors.append(refusal)
            continue
        arrays[name] = _to_jax(array, target, adoptable=not copy and adopted.claim(array))
    refused_missing = [k for k in missing if strict and not (allow_missing is not None and allow_missing(k))]
    refused_unexpected = [k for k in unexpected
                          if strict and not (allow_unexpected is not None and allow_unexpected(k))]
    if refused_unexpected:
        errors.insert(0, f"Unexpected key(s) in state_dict: {_quoted(refused_unexpected)}.")
    if refused_missing:
        errors.insert(0, f"Missing key(s) in state_dict: {_quoted(refused_missing)}.")
    if errors:
        hints = []
        if refused_missing or refused_unexpected:
            hints.append("strict=False loads what matches and initialises the rest")
        if any(e.startswith("size mismatch") for e in errors):
            hints.append("ignore_mismatched_sizes=True re-initialises tensors of another shape")
        raise StateDictError(f"Error(s) in loading state_dict for {where}:\n\t" + "\n\t".join(errors)
                             + (f"\n({'; '.join(hints)})" if hints else ""))
    fresh_names = missing + [name for name, _, _ in mismatched]
    if fresh_names:
        def fresh_subset(init_key):  # only these entries are computed: XLA drops the rest
            fresh_params, fresh_state = model.init(init_key)
            fresh = {**_tree.flatten(fresh_params), **_tree.flatten(fresh_state)}
            return {k: fresh[k] for k in fresh_names}

        with _lazy.sizes_known(_lazy.sizes_from_state_dict(model, state_dict)):  # traced inside
            fresh = jax.jit(fresh_subset)(key if key is not None else jax.random.key(0))
        for name in fresh_names:
            value = fresh[name]
            arrays[name] = value.astype(dtype) if dtype is not None and _is_float(value.dtype) else value
    if transient:
        arrays.update(_declared_values(model, transient))
    params = _tree.unflatten({name: arrays[name] for name in want_params})
    state = _tree.unflatten({name: arrays[name] for name in all_state})
    return LoadResult(params, state, missing_keys=missing, unexpected_keys=unexpected,
                      mismatched_keys=mismatched)


# -- files --------------------------------------------------------------------------------------------

def read_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a checkpoint file as numpy arrays by name.

    ``*.safetensors`` files go through fnet's checked reader (each array owns a fresh
    buffer); ``.pt``, ``.pth`` and ``.bin`` files only through
    ``torch.load(path, weights_only=True)``, so no arbitrary pickle is executed
    (a ``{"state_dict": {...}}`` wrapper, as training scripts save, is unwrapped).

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, or not a state_dict.
    """
    path = os.fspath(path)
    if not path.endswith((".pt", ".pth", ".bin")):
        return load_file(path)[0]
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional
        raise CheckpointError(f"reading {path!r} needs torch (a torch pickle); save it as "
                              f".safetensors to load without torch") from None
    try:
        tensors = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path!r}") from None
    except Exception as err:  # noqa: BLE001 - torch raises many types for corrupt pickles
        raise CheckpointError(f"{path!r} is not a readable torch checkpoint (weights_only=True): "
                              f"{err}") from None
    if isinstance(tensors, Mapping) and isinstance(tensors.get("state_dict"), Mapping):
        tensors = tensors["state_dict"]
    if not isinstance(tensors, Mapping):
        raise CheckpointError(f"{path!r} does not hold a state_dict (a mapping of names to tensors), "
                              f"but a {type(tensors).__name__}")
    return {name: to_numpy(value) if hasattr(value, "detach") else value for name, value in tensors.items()}


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
    directly. The file is written to ``NAME.<random>.tmp`` in the same directory,
    fsynced and renamed over ``path`` only when complete, so an interrupted save
    leaves the previous checkpoint intact; temporaries of killed saves are removed by
    the next save of the same name.

    With several processes (``jax.distributed``), call it on every process: arrays
    split across processes are gathered (a collective) and process 0 writes the file.

    Args:
        path: destination, conventionally ``*.safetensors``.
        params, state: the trees from ``init``/``apply``/``load_state_dict``.
        model: optional, see :func:`state_dict` (names of shared modules).
        metadata: extra string metadata stored in the header.

    Raises:
        ValueError: two entries of the trees flatten to the same name.

    PyTorch equivalent: ``safetensors.torch.save_file(module.state_dict(), path)``.
    """
    tensors = state_dict(params, state, model=model)
    meta = {"format": "pt", "producer": "fnet"}
    meta.update(metadata or {})
    if jax.process_index() == 0:
        save_file(tensors, path, meta)


def load(path: str | os.PathLike, model: Module, strict: bool = True, *, dtype: Any = None
         ) -> LoadResult:
    """Reads a checkpoint file and loads it into ``model``'s trees (see :func:`load_state_dict`).

    The file is read tensor by tensor into buffers that JAX adopts on the CPU, so the
    process holds one copy of the weights (``benchmarks/load_memory.py``).

    Raises:
        CheckpointError: the file is missing, truncated or corrupt (named with the tensor).
        StateDictError: keys, shapes or dtypes do not fit the model.
    """
    path = os.fspath(path)
    return load_state_dict(model, read_checkpoint(path), strict=strict, dtype=dtype, copy=False,
                           where=f"{type(model).__name__} from {path!r}")


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
