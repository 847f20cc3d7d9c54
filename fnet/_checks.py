"""Input validation shared by layers and functional ops.

Every message names the caller, what it expected and what arrived, e.g.
``Linear(in_features=3136, out_features=128, bias=True): expected input (*, 3136),
got shape (8, 4096)``. These run at trace time, so they cost nothing under ``jit``.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax.numpy as jnp
import numpy as np


class StateDictError(ValueError):
    """Keys, shapes or dtypes of a state_dict or parameter tree do not fit the model
    (torch's RuntimeError from ``load_state_dict``)."""


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in np.shape(x))


def fmt_shape(shape: Sequence[Any]) -> str:
    parts = [str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def fail(where: str, expected: str, x: Any = None, got: str | None = None) -> None:
    if got is None:
        got = f"shape {fmt_shape(shape_of(x))}"
    raise ValueError(f"{where}: expected {expected}, got {got}")


def check_ndim(where: str, x: Any, allowed: Sequence[int], expected: str) -> int:
    ndim = np.ndim(x)
    if ndim not in allowed:
        fail(where, expected, x)
    return ndim


def check_dim(where: str, x: Any, axis: int, size: int, expected: str) -> None:
    if shape_of(x)[axis] != size:
        fail(where, expected, x)


def dtype_of(x: Any):
    return jnp.result_type(x) if not hasattr(x, "dtype") else x.dtype


def check_floating(where: str, x: Any, name: str = "input") -> None:
    dtype = dtype_of(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{where}: expected a floating-point {name}, got dtype {dtype}")


def check_integer(where: str, x: Any, name: str = "input") -> None:
    dtype = dtype_of(x)
    if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_)):
        raise TypeError(f"{where}: expected integer {name} (class indices), got dtype {dtype}")


def check_choice(where: str, name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{where}: {name} must be one of {options}, got {value!r}")


def check_same_shape(where: str, a: Any, b: Any, names: tuple[str, str] = ("input", "target")) -> None:
    if shape_of(a) != shape_of(b):
        raise ValueError(
            f"{where}: expected {names[1]} of the same shape as {names[0]} "
            f"{fmt_shape(shape_of(a))}, got {fmt_shape(shape_of(b))}"
        )
