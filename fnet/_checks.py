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


def named(where: str | None, text: str) -> str:
    """``"where: text"``. A layer's ``forward`` passes ``where=None``: the module call names
    the layer (:func:`located`); functional ops pass their own name (``"conv2d"``)."""
    return f"{where}: {text}" if where else text


def fail(where: str | None, expected: str, x: Any = None, got: str | None = None) -> None:
    if got is None:
        got = f"shape {fmt_shape(shape_of(x))}"
    raise ValueError(named(where, f"expected {expected}, got {got}"))


def check_ndim(where: str | None, x: Any, allowed: Sequence[int], expected: str) -> int:
    ndim = np.ndim(x)
    if ndim not in allowed:
        fail(where, expected, x)
    return ndim


def check_dim(where: str | None, x: Any, axis: int, size: int, expected: str) -> None:
    if shape_of(x)[axis] != size:
        fail(where, expected, x)


def dtype_of(x: Any):
    return jnp.result_type(x) if not hasattr(x, "dtype") else x.dtype


def check_floating(where: str | None, x: Any, name: str = "input") -> None:
    dtype = dtype_of(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(named(where, f"expected a floating-point {name}, got dtype {dtype}"))


def check_integer(where: str | None, x: Any, name: str = "input") -> None:
    dtype = dtype_of(x)
    if not (jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_)):
        raise TypeError(named(where, f"expected integer {name} (class indices), got dtype {dtype}"))


def check_choice(where: str | None, name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(named(where, f"{name} must be one of {options}, got {value!r}"))


def check_same_shape(where: str | None, a: Any, b: Any, names: tuple[str, str] = ("input", "target")) -> None:
    if shape_of(a) != shape_of(b):
        raise ValueError(named(where, f"expected {names[1]} of the same shape as {names[0]} "
                                      f"{fmt_shape(shape_of(a))}, got {fmt_shape(shape_of(b))}"))


# -- naming the module an error comes from ---------------------------------------------------------

# Exceptions a module call names itself in. Not AttributeError (hasattr relies on it) and not
# control flow (StopIteration...): only the errors a user reads.
LOCATABLE = (ValueError, TypeError, IndexError, KeyError, NotImplementedError)
_WHERE = threading.local()


def current_where() -> str | None:
    """The innermost module call running now (``"fc1 (Linear(...))"``), None outside any."""
    stack = getattr(_WHERE, "stack", None)
    return stack[-1]() if stack else None


def located(describe: Callable[[], str], run: Callable[[], Any]) -> Any:
    """Runs ``run()`` as the call of one module, whose name ``describe()`` gives.

    This is the one place fnet names the module an error comes from (``Module.apply``
    and a child call ``self.fc1(ctx, x)`` both go through it): functional ops and
    layers raise under their own names, and the innermost module call the error
    passes prepends its path and configuration once, marking the exception so outer
    modules leave it alone. Staged checks (:func:`check_index_range` under ``jit``)
    read the same name through :func:`current_where`.
    """
    stack = getattr(_WHERE, "stack", None)
    if stack is None:
        stack = _WHERE.stack = []
    stack.append(describe)
    try:
        return run()
    except LOCATABLE as err:
        _name_in(err, describe)
        # A bare `raise` re-raises the same object: its type (a ported `except IndexError`
        # still catches it), attributes and the traceback down to the line that failed stay
        # as they were. A new exception would either hide that origin (`from None`) or print
        # the error twice (a chain); rewriting the message in place does neither.
        raise
    finally:
        stack.pop()


def _name_in(err: BaseException, describe: Callable[[], str]) -> None:
    if getattr(err, "_fnet_where", None) is not None:
        return  # an inner module already named itself
    where = describe()
    try:
        err._fnet_where = where
    except AttributeError:  # an exception type without a __dict__: leave it as it is
        return
    message = err.args[0] if len(err.args) == 1 else None
    if isinstance(message, str) and str(err) == message:
        err.args = (f"{where}: {message}",)
    else:  # str() is not the message (KeyError quotes it, OSError formats fields): add a note
        err.add_note(f"(raised in {where})")


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
    text = message("\0VALUE\0", "\0INDEX\0")
    where = current_where()  # raised after the call, outside the module: name it now
    if where is not None:
        text = f"{where}: {text}"
    text = text.replace("{", "{{").replace("}", "}}")
    text = text.replace("\0VALUE\0", "{value}").replace("\0INDEX\0", _index_text("{%s}" % k for k in slots))
    checkify.check(jnp.logical_not(jnp.any(bad)), text, value=values.reshape(-1)[first], **slots)
