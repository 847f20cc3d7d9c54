"""Runs a :class:`~fnet._port._ir.Program` with JAX arrays.

torch programs write in place (``x += y``, ``x.relu_()``, ``x[:, 0] = v``, BatchNorm's
running statistics); JAX arrays are immutable. The interpreter reproduces torch's
semantics functionally:

* every view (``view``, ``transpose``, ``select``, ``slice``, ``split``...) remembers its
  *root* (the array that owns the storage) and the chain of view operations from it;
  torch.export's fake tensors say exactly which results alias their input;
* a write into a node replaces its root: through a view, the written elements are
  scattered into the root at the positions the view chain selects, found by running the
  chain on an array of element indices;
* after a write, every other view of that root is recomputed from the new root, so later
  reads see the write, as they would through torch's shared storage;
* a write into a buffer (``num_batches_tracked += 1``) becomes new state; a write into a
  parameter is an error.

Each result is cast to the dtype torch recorded for its node, which settles type
promotion (``int64 * 0.5`` is float32 in torch, float64 in JAX with x64 enabled).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._ir import Constant, DType, Node, Program, Ref, TensorMeta, flatten_leaves
from ._optable import HANDLERS, Run

# Views whose result is the input itself (no reshaping): a write through them is a write
# into their input.
_IDENTITY_VIEWS = frozenset({
    "aten.alias.default", "aten.detach.default", "aten.lift_fresh.default",
    "aten.contiguous.default", "aten.to.dtype", "aten.to.device", "aten.to.dtype_layout",
    "aten.to.other", "aten.type_as.default", "aten.to.prim_dtype", "aten.to.prim_Device",
    "aten.resolve_conj.default", "aten.resolve_neg.default", "aten.clone.default",
})


def canonical_dtype(name: str) -> Any:
    """The JAX dtype for a torch dtype name (64-bit types narrow without ``jax_enable_x64``)."""
    return jax.dtypes.canonicalize_dtype(jnp.dtype(name))


class ProgramError(ValueError):
    """A ported program cannot run as written (a write into a parameter, a bad view)."""


# A view step that cannot be replayed on element indices (it reinterprets the bits).
_OPAQUE = None
# An alias that is its parent (the result of an in-place operator).
_SAME = "same"


class _Stale:
    """Stands for a view that a later write made unrecomputable; reading it is an error."""

    def __init__(self, where: str):
        self.where = where


class _Views:
    """Which node is a view of which root, and how to recompute it from the root."""

    def __init__(self):
        self.chain: dict[int, tuple[int, tuple[Callable | None, ...]]] = {}
        self.of_root: dict[int, list[int]] = {}

    def root(self, index: int) -> tuple[int, tuple[Callable | None, ...]]:
        return self.chain.get(index, (index, ()))

    def add(self, index: int, parent: int, fn: Callable | str | None) -> None:
        root, chain = self.root(parent)
        self.bind(index, root, chain if fn == _SAME else chain + (fn,))

    def bind(self, index: int, root: int, chain: tuple) -> None:
        self.chain[index] = (root, chain)
        members = self.of_root.setdefault(root, [])
        if index not in members:
            members.append(index)


def _apply(chain: Sequence[Callable | None], value: Any) -> Any:
    for fn in chain:
        value = fn(value)
    return value


def _scatter_through(root: jax.Array, chain: Sequence[Callable], value: jax.Array) -> jax.Array:
    """``root`` with the elements that ``chain`` selects replaced by ``value``."""
    if not chain:
        return jnp.broadcast_to(value, root.shape).astype(root.dtype)
    with jax.ensure_compile_time_eval():  # element positions are constants, even under jit
        positions = np.asarray(_apply(chain, jnp.arange(int(np.prod(root.shape)), dtype=jnp.int32)
                                      .reshape(root.shape)))
    value = jnp.broadcast_to(value, positions.shape).astype(root.dtype)
    flat = jnp.reshape(root, -1).at[positions.reshape(-1)].set(jnp.reshape(value, -1))
    return flat.reshape(root.shape)


def conform(value: Any, meta: Any) -> Any:
    """Casts a result to the dtype torch recorded (recursively for tuples and lists)."""
    if meta is None:
        return value
    if isinstance(meta, TensorMeta):
        if value is None or isinstance(value, (bool, int, float)):
            return value if value is None else jnp.asarray(value, canonical_dtype(meta.dtype))
        dtype = canonical_dtype(meta.dtype)
        return value if value.dtype == dtype else value.astype(dtype)
    if isinstance(value, (tuple, list)) and len(value) == len(meta):
        out = [conform(v, m) for v, m in zip(value, meta)]
        return out if isinstance(value, list) else tuple(out)
    return value


def run_program(program: Program, *, inputs: Sequence[Any], param: Callable[[str], Any],
                buffer: Callable[[str], Any], call_module: Callable[..., Any], train: bool,
                next_key: Callable[[], jax.Array]) -> tuple[list[Any], dict[str, Any]]:
    """Evaluates ``program``.

    Args:
        inputs: the user inputs, in the order of the program's ``input`` nodes.
        param, buffer: read a parameter / buffer by torch name.
        call_module: ``(path, *args, **kwargs) -> output`` of a mapped fnet layer.
        train: the mode (given to handlers that ask for it).
        next_key: a fresh PRNG key per random draw.

    Returns:
        ``(output leaves, {buffer name: new value})`` for the buffers written in place.
    """
    env: dict[int, Any] = {}
    views = _Views()
    # A root whose own value was re-viewed in place (x.unsqueeze_(0)) keeps its storage here.
    storage: dict[int, Any] = {}
    sources: dict[int, tuple[str, str]] = {}  # root index -> ("buffer" | "param", name)
    written: dict[str, Any] = {}

    def value(arg: Any) -> Any:
        if isinstance(arg, Ref):
            found = env[arg.index]
            if isinstance(found, _Stale):
                raise ProgramError(f"{found.where}: this view reinterprets the element type "
                                   f"(view_as_complex, view(dtype)) and its base was written in "
                                   f"place afterwards; a port cannot follow that write")
            return found
        if isinstance(arg, (tuple, list)):
            return [value(a) for a in arg]
        if isinstance(arg, DType):
            return canonical_dtype(arg.name)
        if isinstance(arg, Constant):
            return jnp.asarray(arg.value)
        return arg

    def write(index: int, new: Any, node: Node) -> None:
        root, chain = views.root(index)
        kind, name = sources.get(root, ("", ""))
        if kind == "param":
            raise ProgramError(f"{node.where or node.target}: the model writes into parameter {name!r} "
                               f"in place ({node.target}); a port can only read parameters")
        if _OPAQUE in chain:
            raise ProgramError(f"{node.where or node.target}: a write through a view that changes the "
                               f"element type ({node.target}) is not supported")
        old = storage.get(root, env[root])
        new_root = _scatter_through(old, chain, new) if chain else new
        if root in storage:
            storage[root] = new_root
        else:
            env[root] = new_root
        if kind == "buffer":
            written[name] = new_root
        for other in views.of_root.get(root, ()):
            other_chain = views.root(other)[1]
            env[other] = (_Stale(node.where) if _OPAQUE in other_chain
                          else _apply(other_chain, new_root))

    for i, node in enumerate(program.nodes):
        kind = node.kind
        if kind == "param":
            env[i] = param(node.target)
            sources[i] = ("param", node.target)
            continue
        if kind == "buffer":
            env[i] = buffer(node.target)
            sources[i] = ("buffer", node.target)
            continue
        if kind == "constant":
            env[i] = jnp.asarray(node.args[0].value)
            continue
        if kind == "input":
            env[i] = inputs[int(node.target)]
            continue
        args = [value(a) for a in node.args]
        kwargs = {k: value(v) for k, v in node.kwargs}
        try:
            if kind == "module":
                call_args, call_kwargs = node.spec.unflatten(args)
                env[i] = flatten_leaves(call_module(node.target, *call_args, **call_kwargs))
                continue
            handler = HANDLERS[node.target]
            if handler.run:
                result = handler.fn(Run(train, next_key, node.where), *args, **kwargs)
            else:
                result = handler.fn(*args, **kwargs)
        except ProgramError:
            raise
        except Exception as err:
            if hasattr(err, "add_note"):
                err.add_note(f"fnet.port: while running {node.target} from {node.where or 'the model'}")
            raise
        if handler.writes:
            result, *new_values = result
            for pos, new in zip(handler.writes, new_values):
                if pos < len(node.args) and isinstance(node.args[pos], Ref) and new is not None:
                    write(node.args[pos].index, new, node)
        result = conform(result, node.meta)
        env[i] = result
        if node.inplace:
            target = node.args[node.writes[0]].index
            if node.view_of is not None:  # t_(), unsqueeze_(): the name becomes a new view
                root, chain = views.root(target)
                if target == root and root not in storage:
                    storage[root] = env[root]  # other views still address the old layout
                views.bind(target, root, chain + (_view_fn(node, args, kwargs, handler),))
                env[target] = result
            else:
                write(target, result, node)
                env[i] = env[target]
            views.add(i, target, _SAME)
        elif node.view_of is not None:
            parent = node.args[node.view_of]
            if isinstance(parent, Ref):
                views.add(i, parent.index, _view_fn(node, args, kwargs, handler))
        elif node.target == "operator.getitem" and isinstance(node.args[0], Ref) \
                and node.args[0].index in views.chain:
            position = node.args[1]
            views.add(i, node.args[0].index, lambda v, position=position: v[position])
    outputs = [value(a) for a in program.outputs]
    return outputs, written


def _view_fn(node: Node, args: list, kwargs: dict, handler) -> Callable | str | None:
    """Recomputes a view from a new value of its parent (``_OPAQUE``: not on indices)."""
    if node.target in _IDENTITY_VIEWS:
        return _SAME
    if node.target in ("aten.view.dtype", "aten.view_as_real.default", "aten.view_as_complex.default"):
        return _OPAQUE
    pos = node.view_of
    rest = list(args)

    def fn(v):
        call = list(rest)
        call[pos] = v
        return handler.fn(*call, **kwargs)

    return fn

