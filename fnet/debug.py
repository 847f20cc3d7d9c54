"""Value checks inside ``jax.jit``: out-of-range ids and class targets raise, naming where.

Outside ``jit`` fnet checks values eagerly: an ``Embedding`` id outside the table, a
``cross_entropy`` / ``nll_loss`` / ``multi_margin_loss`` target outside the classes,
a BERT token id outside the vocabulary raise an error that names the layer or loss,
the bad value and its index. Under ``jax.jit`` the values are unknown while tracing;
XLA then returns a NaN row for such an id (fnet's ``embedding`` fills it so it is
loud) and a NaN loss for such a target, and the error surfaces later, far away, as
a NaN. :func:`checked` makes a jitted function report the same errors as eager code::

    @fnet.debug.checked                     # instead of @jax.jit
    def step(params, opt_state, x, y):
        ...

    step(params, opt_state, x, y)           # CheckError: emb (Embedding(10, 4)): index out of
                                            # range: ... got 12 at index [3, 1] ...

It stages the checks with ``jax.experimental.checkify`` and raises after the call.
The cost is a comparison and a reduction per checked lookup, and reading one error
flag back per call. ``fnet.train.fit`` turns the checks on by default
(``check_values=True``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax

from ._checks import traced_checks

__all__ = ["checked", "CheckError"]

_JITTED = type(jax.jit(lambda: None))


class CheckError(ValueError):
    """A value check failed inside a :func:`checked` (jitted) function."""


def checked(fn: Callable | None = None, *, jit: bool = True, **jit_kwargs: Any) -> Callable:
    """Compiles ``fn`` with fnet's value checks on; a failed check raises :class:`CheckError`.

    Args:
        fn: the function, not yet jitted (``checked`` jits it: pass ``jax.jit``'s
            options as keywords, ``donate_argnums=(0, 1)``, ``static_argnums=...``).
            Usable as a decorator, with or without arguments.
        jit: compile (default); False runs the checks without ``jax.jit``.
        **jit_kwargs: passed to ``jax.jit``.

    Returns:
        A function with ``fn``'s signature and results, which raises
        :class:`CheckError` naming the layer or loss, the value and its index when an
        id or class target is out of range.

    Raises:
        TypeError: ``fn`` is already jitted (its trace could not carry the checks).
    """
    if fn is None:
        return functools.partial(checked, jit=jit, **jit_kwargs)
    if isinstance(fn, _JITTED):
        raise TypeError("fnet.debug.checked: pass the function before jax.jit; checked(fn) compiles it "
                        "itself (give jax.jit's options as keywords: checked(fn, donate_argnums=(0,)))")
    from jax.experimental import checkify

    def traced(*args, **kwargs):
        with traced_checks():
            return fn(*args, **kwargs)

    run = checkify.checkify(traced, errors=checkify.user_checks)
    if jit:
        run = jax.jit(run, **jit_kwargs)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        error, out = run(*args, **kwargs)
        message = error.get()
        if message is not None:
            raise CheckError(message.removesuffix(" (`check` failed)"))
        return out

    return call
