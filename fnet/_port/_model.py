"""The fnet modules a port builds: one per torch submodule, the root runs the program.

A torch submodule that fnet has a layer for becomes that layer (``_mapping.py``); every
other submodule becomes a :class:`PortedNode` that holds its own parameters and buffers
(torch's values at port time, digest-hashed) and its children, and prints under its
torch class name. The root, :class:`PortedModule`, runs the captured program: mapped
layers are called as children (``layer(ctx, ...)``), everything else is interpreted op
by op. The parameter tree is therefore torch's ``state_dict``, nested.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterator, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree
from ..nn._module import Context, Module, Parameter
from ._interpret import canonical_dtype, run_program
from ._ir import Program, Spec, TensorMeta


class Snapshot(Parameter):
    """A parameter or buffer whose initial value is the torch module's at port time.

    fnet cannot re-run a custom torch ``__init__``, so ``init`` of a ported model gives
    these arrays the values they had when the model was ported (mapped fnet layers draw
    fresh values from torch's default initialisation as usual).

    Args:
        value: the array.
        kind: ``"params"`` or ``"state"``.
        persistent: False for torch's non-persistent buffers (``inv_freq``): they are
            state but not part of the ``state_dict``.
    """

    def __init__(self, value: np.ndarray, kind: str = "params", persistent: bool = True):
        super().__init__(value)
        self.kind = kind
        self.persistent = persistent
        self._digest = hashlib.blake2b(np.ascontiguousarray(self.value).tobytes(), digest_size=16).hexdigest()

    def _config_key(self):
        return ("Snapshot", self.kind, self.persistent, self.shape, str(self.value.dtype), self._digest)


class PortedNode(Module):
    """A torch submodule without an fnet twin: its own arrays and its children.

    Calling it alone is not supported (its computation lives in the root's program);
    it exists so that the parameter tree, ``print(model)`` and ``named_modules`` follow
    the torch module hierarchy.
    """

    def __init__(self, class_name: str, extra_repr: str, children: Mapping[str, Module],
                 arrays: Mapping[str, Snapshot], is_module_list: bool = False):
        super().__init__()
        self._port_class = class_name
        self._port_extra = extra_repr
        self._port_children = dict(children)
        self._port_arrays = dict(arrays)
        self._port_module_list = is_module_list

    def __getattr__(self, name: str) -> Any:
        # torch-style access to children (``model.encoder.layer``); only reached when
        # normal lookup fails, so configuration attributes are unaffected
        children = self.__dict__.get("_port_children", {})
        if name in children:
            return children[name]
        raise AttributeError(f"{type(self).__name__} {self.__dict__.get('_port_class', '')!r} has no "
                             f"attribute or child {name!r}")

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._port_children.items():
            if id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def _all_children(self) -> Iterator[tuple[str, Module]]:
        return iter(list(self._port_children.items()))

    def _declared(self) -> Iterator[tuple[str, Parameter]]:
        return iter(list(self._port_arrays.items()))

    def extra_repr(self) -> str:
        return self._port_extra

    def describe(self) -> str:
        return f"{self._port_class}({self._port_extra})"

    def forward(self, ctx: Context, *inputs: Any, **kwargs: Any) -> Any:
        raise TypeError("this part of a ported model runs inside the whole "
                        "port; call the root model's apply")

    def __repr__(self) -> str:
        lines = self._port_extra.split("\n") if self._port_extra else []
        lines += _child_lines(list(self._port_children.items()), self._port_module_list)
        if not lines:
            return f"{self._port_class}()"
        if len(lines) == 1 and not self._port_children:
            return f"{self._port_class}({lines[0]})"
        return f"{self._port_class}(\n  " + "\n  ".join(lines) + "\n)"


def _child_lines(children: list[tuple[str, Module]], module_list: bool) -> list[str]:
    """torch's child lines; a ``ModuleList`` folds runs of equal children (``(0-1): 2 x``)."""
    reprs = [(name, repr(child).replace("\n", "\n  ")) for name, child in children]
    if not module_list:
        return [f"({name}): {text}" for name, text in reprs]
    lines, start = [], 0
    while start < len(reprs):
        end = start
        while end + 1 < len(reprs) and reprs[end + 1][1] == reprs[start][1]:
            end += 1
        if end > start:
            lines.append(f"({reprs[start][0]}-{reprs[end][0]}): {end - start + 1} x {reprs[start][1]}")
        else:
            lines.append(f"({reprs[start][0]}): {reprs[start][1]}")
        start = end + 1
    return lines


class InputSlot:
    """What the port knows about one user input: a tensor's dtype and shape, or a constant."""

    __slots__ = ("meta", "constant", "is_tensor", "name")

    def __init__(self, name: str, meta: TensorMeta | None = None, constant: Any = None,
                 is_tensor: bool = True):
        self.name = name
        self.meta = meta
        self.constant = constant
        self.is_tensor = is_tensor

    def _key(self):
        return (self.name, self.meta, repr(self.constant), self.is_tensor)

    def __eq__(self, other):
        return isinstance(other, InputSlot) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())


def _kind(dtype: Any) -> str:
    dtype = jnp.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.bool_):
        return "bool"
    if jnp.issubdtype(dtype, jnp.integer):
        return "integer"
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return "complex"
    return "floating"


class PortedModule(PortedNode):
    """The root of a port: an fnet model that runs the captured torch program.

    ``apply(params, state, *args, train=..., key=..., **kwargs)`` takes the inputs the
    torch ``forward`` took (the same positional and keyword structure as the example
    inputs of the port) and returns the same output structure, with JAX arrays
    (Hugging Face ``ModelOutput`` objects come back as :class:`fnet.models.ModelOutput`).
    ``train=True`` runs the program captured in ``.train()`` mode: dropout draws from
    ``key``, BatchNorm's running statistics come back in the new state.
    """

    def __init__(self, class_name: str, extra_repr: str, children: Mapping[str, Module],
                 arrays: Mapping[str, Snapshot], programs: Mapping[str, Program], in_spec: Spec,
                 slots: tuple[InputSlot, ...], tied: Mapping[str, str], mapped: Mapping[str, Module],
                 is_module_list: bool = False):
        super().__init__(class_name, extra_repr, children, arrays, is_module_list)
        self._port_programs = dict(programs)
        self._port_in_spec = in_spec
        self._port_slots = tuple(slots)
        self._port_tied = dict(tied)
        self._port_mapped = dict(mapped)

    # -- the state_dict contract ------------------------------------------------------------
    def tied_parameters(self) -> dict[str, str]:
        """Parameters that torch shares between two names: ``{alias: canonical name}``.

        The parameter tree holds each shared parameter once, under the name torch's
        ``named_parameters()`` gives it; ``fnet.state_dict(..., model=port)`` and
        ``fnet.save(..., model=port)`` write it under both names, as torch's
        ``state_dict()`` does (GPT-2's ``lm_head.weight`` and ``transformer.wte.weight``).
        """
        return dict(self._port_tied)

    def init(self, key: jax.Array) -> tuple[dict, dict]:
        params, state = super().init(key)
        for alias in self._port_tied:  # a mapped layer holding a tied weight created its own copy
            params = _drop(params, alias)
            state = _drop(state, alias)
        return params, state

    # -- running ----------------------------------------------------------------------------
    def forward(self, ctx: Context, *args: Any, **kwargs: Any) -> Any:
        program = self._port_programs["train" if ctx.train else "eval"]
        leaves = self._port_in_spec.flatten((tuple(args), dict(kwargs)), where=self._port_class)
        inputs = [self._check_input(slot, leaf) for slot, leaf in zip(self._port_slots, leaves)]
        params = ctx.params
        for alias, canonical in self._port_tied.items():
            found = _tree.get_path(params, tuple(canonical.split(".")))
            params = _tree.set_path(params, tuple(alias.split(".")), found)
        ctx.params = params
        state = ctx.state

        def read(tree: Mapping, name: str) -> Any:
            found = _tree.get_path(tree, tuple(name.split(".")))
            if isinstance(found, Mapping):
                raise KeyError(f"{self._port_class}: no array {name!r} in the trees given to apply "
                               f"(pass the params and state of this port)")
            return found

        def call_module(path: str, *call_args: Any, **call_kwargs: Any) -> Any:
            return self._port_mapped[path](ctx, *call_args, **call_kwargs)

        outputs, written = run_program(
            program, inputs=inputs, param=lambda name: read(params, name),
            buffer=lambda name: read(state, name), call_module=call_module, train=ctx.train,
            next_key=ctx.next_key)
        if ctx.train:
            for name, value in written.items():
                ctx.new_state = _tree.set_path(ctx.new_state, tuple(name.split(".")), value)
        return program.out_spec.unflatten(outputs)

    def _check_input(self, slot: InputSlot, value: Any) -> Any:
        where = f"input {slot.name}"  # the module call names the port in front
        if not slot.is_tensor:
            if value != slot.constant and not (value is None and slot.constant is None):
                raise ValueError(f"{where}: the port was captured with {slot.constant!r} and a port "
                                 f"cannot change a Python argument (got {value!r}); port the model "
                                 f"again with that value")
            return value
        if value is None or isinstance(value, (str, bytes)):
            raise TypeError(f"{where}: expected an array, got {type(value).__name__}")
        meta = slot.meta
        array = value if isinstance(value, jax.Array) else jnp.asarray(np.asarray(value))
        if array.ndim != len(meta.shape) or any(
                want is not None and want != got for want, got in zip(meta.shape, array.shape)):
            shape = "(" + ", ".join("*" if s is None else str(s) for s in meta.shape) + ")"
            raise ValueError(f"{where}: expected shape {shape} (* = any size), got {tuple(array.shape)}")
        want = canonical_dtype(meta.dtype)
        if _kind(array.dtype) != _kind(want):
            raise TypeError(f"{where}: expected a {_kind(want)} array ({meta.dtype}), got {array.dtype}")
        return array if array.dtype == want else array.astype(want)


def _drop(tree: Mapping, name: str) -> dict:
    """``tree`` without the leaf ``name`` (and without dicts it leaves empty)."""
    head, _, rest = name.partition(".")
    if head not in tree:
        return dict(tree)
    out = dict(tree)
    if rest and isinstance(tree[head], Mapping):
        sub = _drop(tree[head], rest)
        if sub:
            out[head] = sub
        else:
            del out[head]
    elif not rest:
        del out[head]
    return out
