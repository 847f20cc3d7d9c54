"""Pooling: ``max_pool1d/2d/3d``, ``avg_pool1d/2d/3d``, ``adaptive_avg_pool1d/2d/3d``,
``adaptive_max_pool1d/2d/3d``, their ``*_with_indices`` forms and ``lp_pool1d/2d/3d``.

Inputs are ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``, as in torch.

Every window is evaluated as a fixed sequence of strided slices (one per kernel tap),
combined element-wise. XLA fuses that into one loop for the forward pass and one for
the backward pass on every backend, which on the CPU is several times faster than
``reduce_window`` and its ``select_and_scatter`` gradient. It also gives torch's exact
max-pooling semantics: a window's maximum is the *first* largest element in row-major
order (a NaN wins and propagates), the gradient goes to that element only, and
``return_indices`` gives the same flat per-plane indices as torch (``h * W + w``).
Indices are int32 unless ``jax_enable_x64`` is on (torch: int64).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _checks
from ._activation import relu
from ._conv import _LAYOUT, _UNBATCHED, _ntuple
from ._loss import _abs

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d"]


def _index_dtype():
    return jax.dtypes.canonicalize_dtype(jnp.int64)


def _batched(where: str, input: Any, nd: int) -> tuple[jax.Array, bool]:
    _checks.check_floating(where, input)
    ndim = jnp.ndim(input)
    if ndim == nd + 2:
        x, unbatched = jnp.asarray(input), False
    elif ndim == nd + 1:
        x, unbatched = jnp.asarray(input)[None], True
    else:
        _checks.fail(where, f"a {nd + 2}-D input {_LAYOUT[nd]} or {nd + 1}-D unbatched input "
                     f"{_UNBATCHED[nd]}", input)
    if any(s == 0 for s in x.shape[1:]):
        _checks.fail(where, "an input with non-zero channel and spatial sizes", input)
    return x, unbatched


def _pool_out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's rule: with ``ceil_mode`` the last window must start inside the input or
    the left padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _geometry(where, x, nd, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _ntuple(where, "kernel_size", kernel_size, nd, minimum=1)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _ntuple(where, "stride", stride, nd, minimum=1)
    pad = _ntuple(where, "padding", padding, nd, minimum=0)
    dilation = _ntuple(where, "dilation", dilation, nd, minimum=1)
    if any(p > k // 2 for p, k in zip(pad, kernel)):
        raise ValueError(f"{where}: padding should be at most half of the kernel size, got "
                         f"padding={pad}, kernel_size={kernel}")
    sizes = x.shape[2:]
    out = tuple(_pool_out_size(n, k, s, p, d, bool(ceil_mode))
                for n, k, s, p, d in zip(sizes, kernel, stride, pad, dilation))
    if any(o < 1 for o in out):
        raise ValueError(f"{where}: output size is too small: input {_checks.fmt_shape(x.shape)} "
                         f"with kernel_size={kernel}, stride={stride}, padding={pad}, "
                         f"dilation={dilation} gives {_checks.fmt_shape(out)}")
    return kernel, stride, pad, dilation, out


def _window_views(xp, kernel, stride, dilation, out):
    """One strided view of the padded input per kernel tap, row-major over the taps."""
    lead = xp.shape[:2]
    for taps in itertools.product(*(range(k) for k in kernel)):
        start = (0, 0) + tuple(t * d for t, d in zip(taps, dilation))
        limit = lead + tuple(t * d + (o - 1) * s + 1 for t, d, o, s in zip(taps, dilation, out, stride))
        yield taps, lax.slice(xp, start, limit, (1, 1) + tuple(stride))


def _pad_amounts(sizes, kernel, stride, pad, dilation, out):
    """Low/high padding so that every window of ``out`` lies inside the padded array."""
    return [(p, max(0, (o - 1) * s + d * (k - 1) + 1 - p - n))
            for n, k, s, p, d, o in zip(sizes, kernel, stride, pad, dilation, out)]


def _axis_masks(n, k, s, p, d, o):
    """Per tap and output position of one axis: is the tap inside the input, and is it
    the window's first tap inside the input (numpy, static)."""
    pos = np.arange(o)[None, :] * s - p + np.arange(k)[:, None] * d  # (k, o)
    valid = (pos >= 0) & (pos < n)
    first = np.zeros_like(valid)
    first[np.argmax(valid, axis=0), np.arange(o)] = True
    return valid, first


def _bcast(vec: np.ndarray, axis: int, nd: int):
    shape = [1] * (nd + 2)
    shape[2 + axis] = vec.shape[0]
    return jnp.asarray(vec.reshape(shape))


def _combine(vectors, nd: int):
    """AND of per-axis static masks as a broadcastable array, or a Python bool when constant."""
    result: Any = True
    for axis, v in vectors:
        if v.all():
            continue
        if not v.any():
            return False
        vb = _bcast(v, axis, nd)
        result = vb if result is True else result & vb
    return result


def _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                 nd: int, where: str):
    x, unbatched = _batched(where, input, nd)
    kernel, stride, pad, dilation, out = _geometry(where, x, nd, kernel_size, stride, padding,
                                                   dilation, ceil_mode)
    sizes = x.shape[2:]
    pads = _pad_amounts(sizes, kernel, stride, pad, dilation, out)
    neg_inf = jnp.array(-jnp.inf, x.dtype)
    xp = lax.pad(x, neg_inf, [(0, 0, 0), (0, 0, 0)] + [(lo, hi, 0) for lo, hi in pads])
    masks = [_axis_masks(n, k, s, p, d, o) for n, k, s, p, d, o in
             zip(sizes, kernel, stride, pad, dilation, out)]
    # Without padding or ceil-mode overhang every tap is inside and tap 0 comes first.
    plain = all(v.all() for v, _ in masks)
    plane_strides = [math.prod(sizes[i + 1:]) for i in range(nd)]
    best = idx = None
    for taps, view in _window_views(xp, kernel, stride, dilation, out):
        # torch takes an element when it is larger than the running maximum or NaN, so
        # the first maximum wins and NaN propagates; the first in-bounds tap is always taken.
        if plain:
            valid, first = True, best is None
        else:
            valid = _combine([(a, masks[a][0][t]) for a, t in enumerate(taps)], nd)
            first = _combine([(a, masks[a][1][t]) for a, t in enumerate(taps)], nd)
            if valid is False:
                continue
        if return_indices:
            flat = sum(_bcast((np.arange(o) * s - p + t * d) * ps, axis, nd).astype(_index_dtype())
                       for axis, (o, s, p, t, d, ps) in
                       enumerate(zip(out, stride, pad, taps, dilation, plane_strides)))
        if best is None and first is True and valid is True:
            best = view
            if return_indices:
                idx = jnp.broadcast_to(flat, view.shape)
            continue
        if best is None:
            best = jnp.full(view.shape, -jnp.inf, x.dtype)
            if return_indices:
                idx = jnp.zeros(view.shape, _index_dtype())
        best, idx = _max_step(best, idx, view, flat if return_indices else None, first, valid)
    return _max_result(best, idx, unbatched, return_indices)


def _max_step(best, idx, view, flat, first=False, valid=True):
    """One tap of torch's max scan: an element is taken when it is larger than the running
    maximum or NaN (so the first maximum wins and NaN propagates), or when ``first``
    marks it as its window's first in-bounds tap; never where ``valid`` is False."""
    take = (view > best) | jnp.isnan(view)
    if first is not False:
        take = take | first
    if valid is not True:
        take = take & valid
    best = jnp.where(take, view, best)
    if flat is not None:
        idx = jnp.where(take, flat, idx)
    return best, idx


def _max_result(best, idx, unbatched, return_indices):
    if unbatched:
        best = best[0]
        idx = idx[0] if return_indices else None
    return (best, idx) if return_indices else best


def _avg_pool_nd(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                 divisor_override, nd: int, where: str):
    x, unbatched = _batched(where, input, nd)
    kernel, stride, pad, _, out = _geometry(where, x, nd, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and int(divisor_override) == 0:
        raise ValueError(f"{where}: divisor_override must be non-zero, got {divisor_override}")
    sizes = x.shape[2:]
    pads = _pad_amounts(sizes, kernel, stride, pad, (1,) * nd, out)
    xp = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (0, 0, 0)] + [(lo, hi, 0) for lo, hi in pads])
    total = None
    for _, view in _window_views(xp, kernel, stride, (1,) * nd, out):
        total = view if total is None else total + view
    if divisor_override is not None:
        result = total / jnp.asarray(divisor_override, x.dtype)
    else:
        # torch: the window clipped to the padded input counts with count_include_pad,
        # the window clipped to the input without it (ceil-mode overhang never counts).
        divisor = np.ones((1, 1) + out)
        for axis, (n, k, s, p, o) in enumerate(zip(sizes, kernel, stride, pad, out)):
            start = np.arange(o) * s - p
            end = np.minimum(start + k, n + p)
            if not count_include_pad:
                end = np.minimum(end, n)
                start = np.maximum(start, 0)
            shape = [1] * (nd + 2)
            shape[2 + axis] = o
            divisor = divisor * (end - start).reshape(shape)
        result = total / jnp.asarray(divisor, x.dtype)
    return result[0] if unbatched else result


def _adaptive_sizes(where, x, nd, output_size):
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise ValueError(f"{where}: expected output_size to be an int or a tuple of {nd} "
                             f"entries, got {tuple(output_size)!r}")
        sizes = tuple(x.shape[2 + i] if o is None else int(o) for i, o in enumerate(output_size))
    else:
        if output_size is None:
            raise ValueError(f"{where}: output_size must not be None")
        sizes = (int(output_size),) * nd
    if any(o < 1 for o in sizes):
        raise ValueError(f"{where}: output_size must be positive, got {output_size!r}")
    return sizes


def _adaptive_windows(n: int, o: int):
    """torch's windows: ``[floor(i n / o), ceil((i + 1) n / o))``."""
    start = (np.arange(o) * n) // o
    end = -((-(np.arange(o) + 1) * n) // o)
    return start, end


def _adaptive_gather(x, nd, sizes):
    """``(N, C, *S) -> (N, C, o_0, k_0, ..., o_{nd-1}, k_{nd-1})`` with each axis split into
    its (padded) windows, plus per-axis validity masks and window starts."""
    info = []
    for axis in range(nd):
        n, o = x.shape[2 + 2 * axis], sizes[axis]
        start, end = _adaptive_windows(n, o)
        k = int((end - start).max())
        taps = np.arange(k)
        valid = taps[None, :] < (end - start)[:, None]  # (o, k)
        index = np.minimum(start[:, None] + taps[None, :], n - 1)
        if n % o == 0:
            x = x.reshape(x.shape[:2 + 2 * axis] + (o, k) + x.shape[3 + 2 * axis:])
        else:
            x = jnp.take(x, jnp.asarray(index.reshape(-1)), axis=2 + 2 * axis)
            x = x.reshape(x.shape[:2 + 2 * axis] + (o, k) + x.shape[3 + 2 * axis:])
        info.append((start, valid))
    return x, info


def _axis_mask(valid_ok: np.ndarray, axis: int, nd: int, tap: int):
    shape = [1] * (2 + nd)
    shape[2 + axis] = valid_ok.shape[0]
    return jnp.asarray(valid_ok[:, tap].reshape(shape))


def _adaptive_max_nd(input, output_size, return_indices, nd: int, where: str):
    x, unbatched = _batched(where, input, nd)
    sizes = _adaptive_sizes(where, x, nd, output_size)
    in_sizes = x.shape[2:]
    g, info = _adaptive_gather(x, nd, sizes)
    plane_strides = [math.prod(in_sizes[i + 1:]) for i in range(nd)]
    kmax = [v.shape[1] for _, v in info]
    best = idx = None
    for taps in itertools.product(*(range(k) for k in kmax)):
        index = (slice(None), slice(None)) + tuple(
            item for t in taps for item in (slice(None), t))
        view = g[index]  # (N, C, *sizes)
        valid = None
        for axis, t in enumerate(taps):
            v = info[axis][1][:, t]
            if not v.all():
                vb = _axis_mask(info[axis][1], axis, nd, t)
                valid = vb if valid is None else valid & vb
        if return_indices:
            flat = sum(jnp.asarray(((info[a][0] + t) * plane_strides[a]).reshape(
                [1] * (2 + a) + [sizes[a]] + [1] * (nd - a - 1))).astype(_index_dtype())
                for a, t in enumerate(taps))
        if best is None:  # tap (0, ..., 0) is the first element of every window
            best = view
            if return_indices:
                idx = jnp.broadcast_to(flat, view.shape)
            continue
        best, idx = _max_step(best, idx, view, flat if return_indices else None,
                              valid=True if valid is None else valid)
    return _max_result(best, idx, unbatched, return_indices)


def _adaptive_avg_nd(input, output_size, nd: int, where: str):
    x, unbatched = _batched(where, input, nd)
    sizes = _adaptive_sizes(where, x, nd, output_size)
    g, info = _adaptive_gather(x, nd, sizes)
    mask = None
    count = np.ones([1, 1] + list(sizes))
    for axis, (_, valid) in enumerate(info):
        shape = [1] * (2 + 2 * nd)
        shape[2 + 2 * axis], shape[3 + 2 * axis] = valid.shape
        if not valid.all():
            m = jnp.asarray(valid.reshape(shape))
            mask = m if mask is None else mask & m
        cshape = [1] * (2 + nd)
        cshape[2 + axis] = valid.shape[0]
        count = count * valid.sum(axis=1).reshape(cshape)
    if mask is not None:
        g = jnp.where(mask, g, jnp.zeros((), g.dtype))
    total = jnp.sum(g, axis=tuple(3 + 2 * a for a in range(nd)))
    result = total / jnp.asarray(count, x.dtype)
    return result[0] if unbatched else result


# ---------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------

_MAX_DOC = """{nd}-D max pooling.

    Args:
        input: ``{layout}`` or unbatched ``{unbatched}``.
        kernel_size: window size (int or {nd}-tuple).
        stride: window stride (default: ``kernel_size``).
        padding: implicit ``-inf`` padding on both sides, at most ``kernel_size // 2``.
        dilation: spacing between window elements.
        ceil_mode: round the output size up; the last window must still start inside
            the input or the left padding (torch's rule).
        return_indices: also return the flat index ``h * W + w`` (per plane) of each
            maximum, as torch (int32 unless ``jax_enable_x64``).

    Returns:
        ``(N, C, *out)``, or ``(output, indices)``. Ties and gradients go to the first
        maximum in the window, NaN propagates, as in torch.

    PyTorch equivalent: ``torch.nn.functional.max_pool{nd}d``.
    """


def max_pool1d(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
               padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
               ceil_mode: bool = False, return_indices: bool = False):
    return _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                        1, "max_pool1d")


def max_pool2d(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
               padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
               ceil_mode: bool = False, return_indices: bool = False):
    return _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                        2, "max_pool2d")


def max_pool3d(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
               padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
               ceil_mode: bool = False, return_indices: bool = False):
    return _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                        3, "max_pool3d")


_AVG_DOC = """{nd}-D average pooling.

    Args:
        input: ``{layout}`` or unbatched ``{unbatched}``.
        kernel_size: window size (int or {nd}-tuple).
        stride: window stride (default: ``kernel_size``).
        padding: implicit zero padding on both sides, at most ``kernel_size // 2``.
        ceil_mode: round the output size up (torch's rule for the last window).
        count_include_pad: count the zero padding in the divisor (the part of a
            ceil-mode window beyond the padding never counts, as in torch).{extra}

    Returns:
        ``(N, C, *out)``.

    PyTorch equivalent: ``torch.nn.functional.avg_pool{nd}d``.
    """

_DIVISOR = """
        divisor_override: divide every window sum by this instead."""


def avg_pool1d(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
               padding: int | Sequence[int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> jax.Array:
    return _avg_pool_nd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                        1, "avg_pool1d")


def avg_pool2d(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
               padding: int | Sequence[int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> jax.Array:
    return _avg_pool_nd(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override, 2, "avg_pool2d")


def avg_pool3d(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
               padding: int | Sequence[int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> jax.Array:
    return _avg_pool_nd(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override, 3, "avg_pool3d")


_ADAPTIVE_DOC = """{nd}-D adaptive {kind} pooling to a fixed output size.

    Window ``i`` of an axis of size ``n`` pooled to ``o`` covers
    ``[floor(i n / o), ceil((i + 1) n / o))``, as torch, so windows overlap or differ in
    size when ``o`` does not divide ``n``.

    Args:
        input: ``{layout}`` or unbatched ``{unbatched}``.
        output_size: int or {nd}-tuple; ``None`` entries keep the input size.{extra}

    Returns:
        ``(N, C, *output_size)``{ret}.

    PyTorch equivalent: ``torch.nn.functional.adaptive_{kind}_pool{nd}d``.
    """

_ADAPTIVE_IDX = """
        return_indices: also return the flat per-plane index of each maximum."""


def adaptive_max_pool1d(input: jax.Array, output_size: Any, return_indices: bool = False):
    return _adaptive_max_nd(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input: jax.Array, output_size: Any, return_indices: bool = False):
    return _adaptive_max_nd(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool3d(input: jax.Array, output_size: Any, return_indices: bool = False):
    return _adaptive_max_nd(input, output_size, return_indices, 3, "adaptive_max_pool3d")


def adaptive_avg_pool1d(input: jax.Array, output_size: Any) -> jax.Array:
    return _adaptive_avg_nd(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: jax.Array, output_size: Any) -> jax.Array:
    return _adaptive_avg_nd(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input: jax.Array, output_size: Any) -> jax.Array:
    return _adaptive_avg_nd(input, output_size, 3, "adaptive_avg_pool3d")


for _nd in (1, 2, 3):
    _fmt = dict(nd=_nd, layout=_LAYOUT[_nd], unbatched=_UNBATCHED[_nd])
    globals()[f"max_pool{_nd}d"].__doc__ = _MAX_DOC.format(**_fmt)
    globals()[f"avg_pool{_nd}d"].__doc__ = _AVG_DOC.format(extra=_DIVISOR if _nd > 1 else "", **_fmt)
    globals()[f"adaptive_max_pool{_nd}d"].__doc__ = _ADAPTIVE_DOC.format(
        kind="max", extra=_ADAPTIVE_IDX, ret=", or ``(output, indices)``", **_fmt)
    globals()[f"adaptive_avg_pool{_nd}d"].__doc__ = _ADAPTIVE_DOC.format(
        kind="avg", extra="", ret="", **_fmt)


# ---------------------------------------------------------------------------------------
# *_with_indices: torch's names for the forms that always return (output, indices)
# ---------------------------------------------------------------------------------------

_WITH_INDICES_DOC = """{name}(input, ...) that always returns ``(output, indices)``.

    ``return_indices`` is accepted and ignored, as in torch.

    PyTorch equivalent: ``torch.nn.functional.{name}_with_indices``.
    """


def max_pool1d_with_indices(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
                            padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                            ceil_mode: bool = False, return_indices: bool = False):
    return _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, True, 1,
                        "max_pool1d_with_indices")


def max_pool2d_with_indices(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
                            padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                            ceil_mode: bool = False, return_indices: bool = False):
    return _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, True, 2,
                        "max_pool2d_with_indices")


def max_pool3d_with_indices(input: jax.Array, kernel_size: int | Sequence[int], stride: Any = None,
                            padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                            ceil_mode: bool = False, return_indices: bool = False):
    return _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, True, 3,
                        "max_pool3d_with_indices")


def adaptive_max_pool1d_with_indices(input: jax.Array, output_size: Any, return_indices: bool = False):
    return _adaptive_max_nd(input, output_size, True, 1, "adaptive_max_pool1d_with_indices")


def adaptive_max_pool2d_with_indices(input: jax.Array, output_size: Any, return_indices: bool = False):
    return _adaptive_max_nd(input, output_size, True, 2, "adaptive_max_pool2d_with_indices")


def adaptive_max_pool3d_with_indices(input: jax.Array, output_size: Any, return_indices: bool = False):
    return _adaptive_max_nd(input, output_size, True, 3, "adaptive_max_pool3d_with_indices")


for _name in ("max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d",
              "adaptive_max_pool2d", "adaptive_max_pool3d"):
    globals()[f"{_name}_with_indices"].__doc__ = _WITH_INDICES_DOC.format(name=_name)


# ---------------------------------------------------------------------------------------
# power-average pooling
# ---------------------------------------------------------------------------------------

def _lp_pool_nd(input, norm_type, kernel_size, stride, ceil_mode, nd: int, where: str):
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)):
        raise TypeError(f"{where}: expected norm_type to be a number, got {norm_type!r}")
    if norm_type == math.inf:
        return _max_pool_nd(_abs(jnp.asarray(input)),
                            kernel_size, stride, 0, 1, ceil_mode, False, nd, where)
    if norm_type == -math.inf:
        return -_max_pool_nd(-_abs(jnp.asarray(input)), kernel_size, stride, 0, 1, ceil_mode, False,
                             nd, where)
    _checks.check_floating(where, input)
    x = jnp.asarray(input)
    out = _avg_pool_nd(x ** norm_type, kernel_size, stride, 0, ceil_mode, True, None, nd, where)
    window = math.prod(_ntuple(where, "kernel_size", kernel_size, nd, minimum=1))
    # torch: sign(out) * relu(|out|) * prod(kernel), then ** (1 / p) (gradients included)
    return (jnp.sign(out) * relu(_abs(out)) * window) ** (1.0 / norm_type)


_LP_DOC = """{nd}-D power-average pooling: ``(sum over the window of x ** p) ** (1 / p)``.

    Computed as torch does: ``avg_pool{nd}d(x ** p) * window size``, negative window sums
    clamped to 0 by ``sign(s) * relu(|s|)`` before the root. ``p = inf`` is max pooling
    of ``|x|`` (``-inf``: minus max pooling of ``-|x|``), as in torch.

    Args:
        input: ``{layout}`` or unbatched ``{unbatched}``.
        norm_type: ``p``.
        kernel_size: window size ({kernel}).
        stride: window stride (default ``kernel_size``).
        ceil_mode: round the output size up (torch's rule for the last window).

    Returns:
        ``(N, C, *out)``. A window whose sum of powers is 0 has a non-finite gradient
        for ``p > 1`` (``0 ** (1/p - 1)``), exactly as in torch.

    PyTorch equivalent: ``torch.nn.functional.lp_pool{nd}d``.
    """


def lp_pool1d(input: jax.Array, norm_type: float, kernel_size: int, stride: Any = None,
              ceil_mode: bool = False) -> jax.Array:
    return _lp_pool_nd(input, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


def lp_pool2d(input: jax.Array, norm_type: float, kernel_size: int | Sequence[int], stride: Any = None,
              ceil_mode: bool = False) -> jax.Array:
    return _lp_pool_nd(input, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


def lp_pool3d(input: jax.Array, norm_type: float, kernel_size: int | Sequence[int], stride: Any = None,
              ceil_mode: bool = False) -> jax.Array:
    return _lp_pool_nd(input, norm_type, kernel_size, stride, ceil_mode, 3, "lp_pool3d")


for _nd in (1, 2, 3):
    globals()[f"lp_pool{_nd}d"].__doc__ = _LP_DOC.format(
        nd=_nd, layout=_LAYOUT[_nd], unbatched=_UNBATCHED[_nd],
        kernel="an int" if _nd == 1 else f"int or {_nd}-tuple")
