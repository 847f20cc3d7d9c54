"""The table of ATen operators the port interpreter knows, and how handlers declare themselves.

A handler is a plain function of the operator's arguments, named and ordered as in
the ATen schema (``aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1)``
becomes ``def add(self, other, alpha=1)``), that returns JAX arrays. Handlers that
need the model call (a PRNG key for dropout, the train flag) declare ``run=True`` and
receive a :class:`Run` first. Handlers of operators that write into an argument without
saying so in their schema (``aten::batch_norm`` updates ``running_mean`` in place)
declare ``writes=(3, 4)`` and return ``(output, new_arg3, new_arg4)``.

In-place operators (``add_``, ``relu_``, ``copy_``, ``index_put_``...) need no handler
of their own: the interpreter runs the out-of-place twin and writes the result back
(see ``_interpret.py``).

To support a new operator, add one function to the ``_ops_*.py`` file of its kind::

    @op("aten.logaddexp.default")
    def logaddexp(self, other):
        return jnp.logaddexp(self, other)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax


@dataclasses.dataclass(frozen=True)
class Handler:
    """How one ATen overload runs in JAX."""

    fn: Callable[..., Any]
    run: bool = False
    writes: tuple[int, ...] = ()


HANDLERS: dict[str, Handler] = {}


def op(*names: str, run: bool = False, writes: tuple[int, ...] = ()) -> Callable:
    """Registers ``fn`` as the handler of every ATen overload in ``names``.

    Args:
        names: overload names as ``str(torch.ops.aten.add.Tensor)`` prints them,
            ``"aten.add.Tensor"``.
        run: the handler takes the :class:`Run` as its first argument.
        writes: argument positions the operator updates in place although its schema
            does not say so; the handler returns ``(result, *new_values)``.
    """

    def register(fn: Callable) -> Callable:
        for name in names:
            if name in HANDLERS:
                raise ValueError(f"fnet.port: two handlers for {name}")
            HANDLERS[name] = Handler(fn, run, tuple(writes))
        return fn

    return register


class Run:
    """What a contextual handler may use: the train flag and fresh PRNG keys."""

    def __init__(self, train: bool, next_key: Callable[[], jax.Array], where: str = ""):
        self.train = train
        self._next_key = next_key
        self.where = where

    def key(self) -> jax.Array:
        """A fresh key for one random draw (raises the model's clear error without one)."""
        return self._next_key()


def reduction_name(code: int | str) -> str:
    """ATen's reduction enum (0 none, 1 mean, 2 sum) as torch.nn.functional's string."""
    if isinstance(code, str):
        return code
    return {0: "none", 1: "mean", 2: "sum"}[int(code)]
