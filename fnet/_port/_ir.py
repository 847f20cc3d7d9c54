"""The torch-free program a port runs: nodes, references, constants and pytree specs.

``_capture.py`` turns a ``torch.export`` graph into a :class:`Program`; after that no
torch object is left, so a ported model is an ordinary frozen, hashable fnet module
that can be a static argument of ``jax.jit`` and is traced without torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Iterator, Mapping, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Ref:
    """The value of node ``index`` of the program."""

    index: int


@dataclasses.dataclass(frozen=True)
class DType:
    """A torch dtype as an argument (``x.to(torch.float16)``), by numpy name."""

    name: str


class Constant:
    """A tensor constant of the graph (lifted ``torch.tensor(...)`` literals), kept as numpy.

    Equality and hashing use a digest of the bytes, so programs holding constants stay
    cheap to hash as static ``jit`` arguments.
    """

    __slots__ = ("value", "_digest")

    def __init__(self, value: np.ndarray):
        self.value = np.array(value, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        self._digest = (self.value.shape, str(self.value.dtype),
                        hashlib.blake2b(self.value.tobytes(), digest_size=16).hexdigest())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constant) and self._digest == other._digest

    def __hash__(self) -> int:
        return hash(self._digest)

    def __repr__(self) -> str:
        return f"Constant(shape={self.value.shape}, dtype={self.value.dtype})"


@dataclasses.dataclass(frozen=True)
class TensorMeta:
    """What torch recorded for a tensor: its dtype and shape (None marks a dynamic size)."""

    dtype: str
    shape: tuple[int | None, ...]


@dataclasses.dataclass(frozen=True)
class Node:
    """One step of a program.

    Attributes:
        kind: ``"param"``/``"buffer"`` (read a parameter or buffer by torch name),
            ``"constant"``, ``"input"`` (a user input by position), ``"op"`` (an ATen or
            Python operator) or ``"module"`` (a call of a mapped fnet layer).
        target: the operator name (``"aten.add.Tensor"``), the torch name of the array,
            the input position, or the layer's path.
        args, kwargs: operands; :class:`Ref` marks another node's value.
        meta: :class:`TensorMeta` (or a tuple of them) of the result, or None.
        where: the user's source line that produced the node, for error messages.
        writes: argument positions the operator writes in place.
        inplace: the result is the new value of ``args[writes[0]]`` (``add_``, ``copy_``);
            otherwise the handler returns the written values after the result.
        view_of: position of the argument the result is a view of, when torch aliased it.
        spec: for module calls, how to rebuild ``(args, kwargs)`` from the flat operands.
    """

    kind: str
    target: str
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    meta: Any = None
    where: str = ""
    writes: tuple[int, ...] = ()
    inplace: bool = False
    view_of: int | None = None
    spec: Any = None


@dataclasses.dataclass(frozen=True)
class Spec:
    """A pytree structure without torch: ``leaf``, ``tuple``, ``list``, ``dict`` or ``output``.

    ``output`` is a Hugging Face ``ModelOutput`` (an ordered dict whose class name is kept
    in ``name``); it comes back as :class:`fnet.models.ModelOutput`.
    """

    kind: str
    keys: tuple = ()
    children: tuple["Spec", ...] = ()
    name: str = ""

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(child.num_leaves for child in self.children)

    def unflatten(self, leaves: Sequence[Any]) -> Any:
        return self._build(iter(leaves))

    def _build(self, it: Iterator[Any]) -> Any:
        if self.kind == "leaf":
            return next(it)
        values = [child._build(it) for child in self.children]
        if self.kind == "tuple":
            return tuple(values)
        if self.kind == "list":
            return values
        if self.kind == "dict":
            return dict(zip(self.keys, values))
        from ..models._output import ModelOutput  # the JAX pytree twin of transformers' class

        return ModelOutput(zip(self.keys, values))

    def flatten(self, value: Any, where: str = "input") -> list[Any]:
        """The leaves of ``value``, which must have this structure (clear error otherwise)."""
        if self.kind == "leaf":
            return [value]
        if self.kind in ("tuple", "list"):
            if not isinstance(value, (tuple, list)) or len(value) != len(self.children):
                raise TypeError(f"{where}: expected a {self.kind} of {len(self.children)} entries "
                                f"(the structure the port was captured with), got {_describe(value)}")
            return [leaf for i, (child, v) in enumerate(zip(self.children, value))
                    for leaf in child.flatten(v, f"{where}[{i}]")]
        if not isinstance(value, Mapping):
            raise TypeError(f"{where}: expected a mapping with keys {list(self.keys)}, got {_describe(value)}")
        missing = [k for k in self.keys if k not in value]
        extra = [k for k in value if k not in self.keys]
        if missing or extra:
            raise TypeError(f"{where}: the port was captured with keys {list(self.keys)}; "
                            f"missing {missing}, unexpected {extra}")
        return [leaf for key, child in zip(self.keys, self.children)
                for leaf in child.flatten(value[key], f"{where}[{key!r}]")]


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} entries"
    return type(value).__name__


def flatten_leaves(value: Any) -> list[Any]:
    """Leaves of a layer's output in order; tuples and lists are walked, None is a leaf."""
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in flatten_leaves(v)]
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in flatten_leaves(v)]
    return [value]


@dataclasses.dataclass(frozen=True)
class Program:
    """One traced forward (train or eval) of the torch model.

    Attributes:
        nodes: the steps in execution order.
        outputs: the leaves of the user output (:class:`Ref` or constants).
        out_spec: how to rebuild the output structure from ``outputs``.
    """

    nodes: tuple[Node, ...]
    outputs: tuple
    out_spec: Spec
