"""Fractional max pooling (Graham, 2015): ``fractional_max_pool2d/3d`` and their
``*_with_indices`` forms.

Every plane draws one number ``u`` in ``[0, 1)`` per spatial axis; window ``i`` of an
axis of size ``n`` pooled to ``o`` with kernel ``k`` starts at
``int((i + u) * alpha) - int(u * alpha)`` with ``alpha = (n - k) / (o - 1)`` (the last
window at ``n - k``), computed in the input's dtype as torch's CPU kernel does, so the
same samples give the same windows. torch draws the samples from its global generator;
fnet from ``key``, or takes torch's through ``_random_samples`` (shape ``(N, C, 2)`` or
``(N, C, 3)``; torch's order: ``(w, h)`` for 2-D, ``(t, h, w)`` for 3-D). Within a
window the first maximum wins and NaN propagates, as in torch's kernel.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp

from .. import _checks
from ._conv import _LAYOUT, _UNBATCHED, _ntuple
from ._pool import _index_dtype, _max_result, _max_step

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]

# the axis each of torch's samples drives, per number of spatial dims
_SAMPLE_AXES = {2: (1, 0), 3: (0, 1, 2)}


def _output_size(where: str, spatial: tuple[int, ...], output_size: Any, output_ratio: Any,
                 nd: int) -> tuple[int, ...]:
    if output_size is None and output_ratio is None:
        raise ValueError(f"{where}: requires specifying either an output_size or an output_ratio")
    if output_size is not None:
        return _ntuple(where, "output_size", output_size, nd, minimum=1)
    ratio = output_ratio if isinstance(output_ratio, (list, tuple)) else (output_ratio,) * nd
    if len(ratio) == 1:
        ratio = tuple(ratio) * nd
    if len(ratio) != nd:
        raise ValueError(f"{where}: requires output_ratio to either be a single number or a tuple "
                         f"of {nd}, got {output_ratio!r}")
    return tuple(int(n * float(r)) for n, r in zip(spatial, ratio))


def _starts(samples: jax.Array, n: int, o: int, k: int, dtype: Any) -> jax.Array:
    """torch's ``generate_intervals`` for every plane: ``(P,) samples -> (P, o)`` starts."""
    last = jnp.full(samples.shape + (1,), n - k, jnp.int32)
    if o == 1:
        return last
    u = samples.astype(dtype)[:, None]
    alpha = jnp.asarray(n - k, dtype) / jnp.asarray(o - 1, dtype)
    i = jnp.arange(o - 1, dtype=dtype)[None, :]
    # C's static_cast<int> truncates toward zero; both products are non-negative
    seq = jnp.trunc((i + u) * alpha).astype(jnp.int32) - jnp.trunc(u * alpha).astype(jnp.int32)
    return jnp.concatenate([seq, last], axis=1)


def _fractional_max_pool_nd(input: Any, kernel_size: Any, output_size: Any, output_ratio: Any,
                            return_indices: bool, _random_samples: Any, key: jax.Array | None,
                            nd: int, where: str):
    _checks.check_floating(where, input)
    x = jnp.asarray(input)
    if x.ndim not in (nd + 1, nd + 2) or x.size == 0:
        _checks.fail(where, f"a non-empty {nd + 2}-D input {_LAYOUT[nd]} or {nd + 1}-D unbatched input "
                     f"{_UNBATCHED[nd]}", x)
    unbatched = x.ndim == nd + 1
    if unbatched:
        x = x[None]
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    kernel = _ntuple(where, "kernel_size", kernel_size, nd, minimum=1)
    out = _output_size(where, spatial, output_size, output_ratio, nd)
    # torch's kernels: 2-D needs output + kernel - 1 <= input, 3-D strictly less
    strict = nd == 3
    for axis, (size, o, k) in enumerate(zip(spatial, out, kernel)):
        if o < 1 or o + k - 1 > size or (strict and o + k - 1 == size):
            raise ValueError(f"{where}: kernel_size {k} is too large relative to the input size "
                             f"{size} of spatial dim {axis} for an output of size {o} (needs "
                             f"output + kernel - 1 {'<' if strict else '<='} input); input shape "
                             f"{_checks.fmt_shape(jnp.shape(input))}")
    if _random_samples is None:
        if key is None:
            raise ValueError(f"{where}: draws random pooling regions and needs a PRNG key (fnet has "
                             f"no global generator); pass key=jax.random.key(0) (a new key each "
                             f"call), or _random_samples of shape (N, C, {nd})")
        samples = jax.random.uniform(key, (n, c, nd), x.dtype)
    else:
        samples = jnp.asarray(_random_samples)
        if samples.ndim != 3 or samples.shape[0] < n or samples.shape[1] != c or samples.shape[2] != nd:
            raise ValueError(f"{where}: expected _random_samples of shape (N >= {n}, {c}, {nd}), got "
                             f"{_checks.fmt_shape(samples.shape)}")
        samples = samples[:n]
    samples = samples.reshape(n * c, nd)
    # per spatial axis: (P, o) window starts
    starts = [None] * nd
    for s, axis in enumerate(_SAMPLE_AXES[nd]):
        starts[axis] = _starts(samples[:, s], spatial[axis], out[axis], kernel[axis], x.dtype)
    plane = x.reshape(n * c, -1)
    strides = [math.prod(spatial[a + 1:]) for a in range(nd)]
    best = idx = None
    for taps in itertools.product(*(range(k) for k in kernel)):
        flat = None
        for axis in range(nd):
            pos = (starts[axis] + taps[axis]) * strides[axis]  # (P, o_axis)
            shape = [pos.shape[0]] + [1] * nd
            shape[1 + axis] = out[axis]
            pos = pos.reshape(shape)
            flat = pos if flat is None else flat + pos
        flat = jnp.broadcast_to(flat, (n * c,) + out).reshape(n * c, -1)
        view = jnp.take_along_axis(plane, flat, axis=1)
        flat = flat.astype(_index_dtype())
        if best is None:  # the kernel's first tap is where torch's scan starts
            best, idx = view, flat
            continue
        best, idx = _max_step(best, idx, view, flat)
    best = best.reshape((n, c) + out)
    idx = idx.reshape((n, c) + out)
    return _max_result(best, idx, unbatched, return_indices)


_DOC = """{nd}-D fractional max pooling with pseudo-random, overlapping-free windows.

    Args:
        input: ``{layout}`` or unbatched ``{unbatched}``.
        kernel_size: window size (int or {nd}-tuple).
        output_size: the output's spatial size (int or {nd}-tuple), or
        output_ratio: a fraction of the input size in ``(0, 1)`` (``int(n * ratio)``).
        return_indices: also return the flat per-plane index of each maximum.
        _random_samples: ``(N, C, {nd})`` samples in ``[0, 1)`` to use instead of drawing
            (torch's argument; pass torch's to reproduce its windows).
        key: PRNG key for the samples when ``_random_samples`` is None (torch draws
            from its global generator; fnet has none).

    Returns:
        ``(N, C, *output_size)``, or ``(output, indices)``.

    PyTorch equivalent: ``torch.nn.functional.fractional_max_pool{nd}d``.
    """


def fractional_max_pool2d(input: jax.Array, kernel_size: int | Sequence[int],
                          output_size: int | Sequence[int] | None = None,
                          output_ratio: float | Sequence[float] | None = None,
                          return_indices: bool = False, _random_samples: jax.Array | None = None,
                          *, key: jax.Array | None = None):
    return _fractional_max_pool_nd(input, kernel_size, output_size, output_ratio, return_indices,
                                   _random_samples, key, 2, "fractional_max_pool2d")


def fractional_max_pool3d(input: jax.Array, kernel_size: int | Sequence[int],
                          output_size: int | Sequence[int] | None = None,
                          output_ratio: float | Sequence[float] | None = None,
                          return_indices: bool = False, _random_samples: jax.Array | None = None,
                          *, key: jax.Array | None = None):
    return _fractional_max_pool_nd(input, kernel_size, output_size, output_ratio, return_indices,
                                   _random_samples, key, 3, "fractional_max_pool3d")


def fractional_max_pool2d_with_indices(input: jax.Array, kernel_size: int | Sequence[int],
                                       output_size: int | Sequence[int] | None = None,
                                       output_ratio: float | Sequence[float] | None = None,
                                       return_indices: bool = False,
                                       _random_samples: jax.Array | None = None,
                                       *, key: jax.Array | None = None):
    """:func:`fractional_max_pool2d` that always returns ``(output, indices)``.

    PyTorch equivalent: ``torch.nn.functional.fractional_max_pool2d_with_indices``.
    """
    return _fractional_max_pool_nd(input, kernel_size, output_size, output_ratio, True,
                                   _random_samples, key, 2, "fractional_max_pool2d_with_indices")


def fractional_max_pool3d_with_indices(input: jax.Array, kernel_size: int | Sequence[int],
                                       output_size: int | Sequence[int] | None = None,
                                       output_ratio: float | Sequence[float] | None = None,
                                       return_indices: bool = False,
                                       _random_samples: jax.Array | None = None,
                                       *, key: jax.Array | None = None):
    """:func:`fractional_max_pool3d` that always returns ``(output, indices)``.

    PyTorch equivalent: ``torch.nn.functional.fractional_max_pool3d_with_indices``.
    """
    return _fractional_max_pool_nd(input, kernel_size, output_size, output_ratio, True,
                                   _random_samples, key, 3, "fractional_max_pool3d_with_indices")


for _nd in (2, 3):
    globals()[f"fractional_max_pool{_nd}d"].__doc__ = _DOC.format(nd=_nd, layout=_LAYOUT[_nd],
                                                                  unbatched=_UNBATCHED[_nd])
