"""The input sizes of lazy layers during one ``init`` or load (see ``fnet.nn._lazy``).

Kept apart from the lazy layers so that ``Module.init`` can infer sizes without importing
them (the layers import ``Module``): this module depends on nothing in ``fnet.nn``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Any, Iterator, Mapping

import jax


@dataclasses.dataclass
class _Sizes:
    """The input sizes of the lazy layers of one ``init``: ``id(layer) -> size``."""

    sizes: dict[int, int]
    probing: bool  # the example forward pass that records the sizes


_SIZES: contextvars.ContextVar[_Sizes | None] = contextvars.ContextVar("fnet_lazy_sizes", default=None)


@contextlib.contextmanager
def sizes_known(sizes: Mapping[int, int]) -> Iterator[None]:
    """Lets lazy layers create their parameters for these input sizes."""
    token = _SIZES.set(_Sizes(dict(sizes), probing=False))
    try:
        yield
    finally:
        _SIZES.reset(token)


def infer_sizes(model: Any, inputs: tuple, kwargs: Mapping[str, Any]) -> dict[int, int]:
    """Runs ``model`` on example inputs (shapes only) and returns each lazy layer's size."""
    record = _Sizes({}, probing=True)
    token = _SIZES.set(record)
    try:
        def run(*xs):
            params, state = model._init_tree(jax.random.key(0), set())
            model.apply(params, state, *xs, train=False, **kwargs)

        jax.eval_shape(run, *inputs)
    finally:
        _SIZES.reset(token)
    return record.sizes
