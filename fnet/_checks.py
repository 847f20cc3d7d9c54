"""Input validation shared by layers and functional ops.

Every message names the caller, what it expected and what arrived, e.g.
``Linear(in_features=3136, out_features=128, bias=True): expected input (*, 3136),
got shape (8, 4096)``. These run at trace time, so they cost nothing under ``jit``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator, Sequence

import jax
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


# -- value checks that also work under jit ----------------------------------------------------------

_TRACING = threading.local()


@contextlib.contextmanager
def traced_checks() -> Iterator[None]:
    """While a function is traced inside this block, :func:`check_index_range` emits
    ``checkify`` checks for traced values (``fnet.debug.checked`` and ``fit`` use it)."""
    previous = getattr(_TRACING, "on", False)
    _TRACING.on = True
    try:
        yield
    finally:
        _TRACING.on = previous


def is_traced(x: Any) -> bool:
    """Whether ``x`` is an abstract value of a trace (jit/grad/vmap): its values are unknown now."""
    return isinstance(x, jax.core.Tracer)


def concrete(x: Any) -> np.ndarray | None:
    """The values of ``x`` when they are known now; None while tracing (jit/grad/vmap)."""
    if is_traced(x):
        return None
    try:
        return np.asarray(x)
    except Exception:  # noqa: BLE001 - anything abstract is simply not checked
        return None


def _index_text(position: Sequence[Any]) -> str:
    return "[" + ", ".join(str(p) for p in position) + "]"


def check_index_range(values: Any, high: int, message: Callable[[str, str], str], *,
                      ignore: int | None = None, error: type[Exception] = ValueError) -> None:
    """Checks that every entry of the integer array ``values`` lies in ``[0, high)``.

    Args:
        values: ids or class indices, of any shape.
        high: the exclusive upper bound (rows of a table, number of classes).
        message: ``message(value, index) -> str`` describing the first bad entry,
            its value and its index (``"[3, 1]"``); it names the layer or loss.
        ignore: a value that is allowed anyway (``ignore_index``).
        error: the exception raised for concrete values.

    Concrete values are checked now and raise ``error``. Traced values (under
    ``jax.jit``) cannot be; inside :func:`traced_checks` a ``checkify`` check with
    the same message is staged instead, which ``fnet.debug.checked`` raises after
    the call. Otherwise nothing is checked and XLA does what it does with such an
    index (the callers document it: a NaN row or loss).
    """
    found = concrete(values)
    if found is not None:
        if found.size == 0:
            return
        bad = (found < 0) | (found >= high)
        if ignore is not None:
            bad &= found != ignore
        if bad.any():
            position = tuple(int(i) for i in np.argwhere(bad)[0])
            raise error(message(str(found[position]), _index_text(position)))
        return
    if not getattr(_TRACING, "on", False) or np.size(values) == 0:
        return
    from jax.experimental import checkify

    values = jnp.asarray(values)
    bad = (values < 0) | (values >= high)
    if ignore is not None:
        bad &= values != ignore
    first = jnp.argmax(bad.reshape(-1))
    coords = jnp.unravel_index(first, values.shape) if values.ndim else ()
    slots = {f"p{i}": c for i, c in enumerate(coords)}
    # Literal braces of the message must not be read as format fields by checkify.
    text = message("\0VALUE\0", "\0INDEX\0").replace("{", "{{").replace("}", "}}")
    text = text.replace("\0VALUE\0", "{value}").replace("\0INDEX\0", _index_text("{%s}" % k for k in slots))
    checkify.check(jnp.logical_not(jnp.any(bad)), text, value=values.reshape(-1)[first], **slots)
