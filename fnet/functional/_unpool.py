"""Max unpooling: ``max_unpool1d/2d/3d``, the partial inverse of max pooling.

Each input value is written at the flat per-plane position its index names (the
``indices`` of ``max_pool*(..., return_indices=True)``); every other position is 0.
The gradient of an input value is the output gradient at its position, as in torch.
Indices outside the output raise (torch's "invalid max index") when they are concrete;
under ``jit`` such a value is dropped. Overlapping pooling windows repeat an index, with
the same value each time in real use (the maximum of one element); when the values
differ, which one is written is unspecified, as torch documents for its own kernel.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks
from ._conv import _LAYOUT, _UNBATCHED, _ntuple
from .._checks import concrete

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d"]


def _unpool_output_size(where: str, spatial: tuple[int, ...], kernel: tuple[int, ...],
                        stride: tuple[int, ...], pad: tuple[int, ...],
                        output_size: Any) -> tuple[int, ...]:
    """torch's ``_unpool_output_size``: the default, or ``output_size`` within a stride of it."""
    nd = len(kernel)
    default = tuple((n - 1) * s + k - 2 * p for n, k, s, p in zip(spatial, kernel, stride, pad))
    if output_size is None:
        return default
    size = [int(o) for o in (output_size if isinstance(output_size, (list, tuple)) else [output_size])]
    if len(size) == nd + 2:
        size = size[2:]
    if len(size) != nd:
        raise ValueError(f"{where}: output_size should be a sequence containing {nd} or {nd + 2} "
                         f"elements, but it has a length of '{len(size)}'")
    for d in range(nd):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < size[d] < hi:
            raise ValueError(f"{where}: invalid output_size {tuple(size)} (dim {d} must be between "
                             f"{lo} and {hi})")
    return tuple(size)


def _max_unpool_nd(input: Any, indices: Any, kernel_size: Any, stride: Any, padding: Any,
                   output_size: Any, nd: int, where: str) -> jax.Array:
    _checks.check_floating(where, input)
    x = jnp.asarray(input)
    if x.ndim not in (nd + 1, nd + 2):
        _checks.fail(where, f"a {nd + 2}-D input {_LAYOUT[nd]} or {nd + 1}-D unbatched input "
                     f"{_UNBATCHED[nd]}", x)
    idx = jnp.asarray(indices)
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"{where}: expected integer indices (from max_pool{nd}d(..., "
                        f"return_indices=True)), got dtype {idx.dtype}")
    if idx.shape != x.shape:
        raise ValueError(f"{where}: expected indices of the input's shape {_checks.fmt_shape(x.shape)}, "
                         f"got {_checks.fmt_shape(idx.shape)}")
    kernel = _ntuple(where, "kernel_size", kernel_size, nd, minimum=1)
    stride = kernel if stride is None else _ntuple(where, "stride", stride, nd, minimum=1)
    pad = _ntuple(where, "padding", padding, nd, minimum=0)
    unbatched = x.ndim == nd + 1
    if unbatched:
        x, idx = x[None], idx[None]
    out_size = _unpool_output_size(where, x.shape[2:], kernel, stride, pad, output_size)
    if any(o < 0 for o in out_size):
        raise ValueError(f"{where}: output_size must contain non-negative spatial dimensions, got "
                         f"{out_size}")
    plane = int(np.prod(out_size))
    values = concrete(idx)
    if values is not None and values.size and (values.min() < 0 or values.max() >= plane):
        bad = values[(values < 0) | (values >= plane)].flat[0]
        raise ValueError(f"{where}: found an invalid max index {bad} (output volumes are of size "
                         f"{'x'.join(str(o) for o in out_size)})")
    n, c = x.shape[:2]
    flat_x = x.reshape(n * c, -1)
    flat_idx = idx.reshape(n * c, -1).astype(jnp.int32)
    rows = jnp.arange(n * c)[:, None]
    zeros = jnp.zeros((n * c, plane), x.dtype)
    # The value is a scatter; the gradient is a gather, so every repeated index (overlapping
    # pooling windows) gets the output gradient, as torch's backward gives (JAX's scatter
    # would give it to one of them only): the added scatter-add of exact zeros carries it.
    out = zeros.at[rows, flat_idx].set(jax.lax.stop_gradient(flat_x), mode="drop")
    out = out + zeros.at[rows, flat_idx].add(flat_x - jax.lax.stop_gradient(flat_x), mode="drop")
    out = out.reshape((n, c) + out_size)
    return out[0] if unbatched else out


_DOC = """{nd}-D max unpooling: writes each value at the position its index names, zeros elsewhere.

    Args:
        input: ``{layout}`` or unbatched ``{unbatched}``, the pooled values.
        indices: the flat per-plane indices ``max_pool{nd}d(..., return_indices=True)``
            returned, same shape as ``input``.
        kernel_size, stride, padding: the pooling's (``stride`` defaults to ``kernel_size``).
        output_size: the spatial size (or the full shape) to produce; it must lie within
            a stride of the default ``(in - 1) * stride - 2 * padding + kernel_size``.

    Returns:
        ``(N, C, *output_size)``.

    Raises:
        ValueError: an index outside the output (checked when ``indices`` is concrete).

    PyTorch equivalent: ``torch.nn.functional.max_unpool{nd}d``.
    """


def max_unpool1d(input: jax.Array, indices: jax.Array, kernel_size: int | Sequence[int],
                 stride: Any = None, padding: int | Sequence[int] = 0,
                 output_size: Sequence[int] | None = None) -> jax.Array:
    return _max_unpool_nd(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input: jax.Array, indices: jax.Array, kernel_size: int | Sequence[int],
                 stride: Any = None, padding: int | Sequence[int] = 0,
                 output_size: Sequence[int] | None = None) -> jax.Array:
    return _max_unpool_nd(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def max_unpool3d(input: jax.Array, indices: jax.Array, kernel_size: int | Sequence[int],
                 stride: Any = None, padding: int | Sequence[int] = 0,
                 output_size: Sequence[int] | None = None) -> jax.Array:
    return _max_unpool_nd(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")


for _nd in (1, 2, 3):
    globals()[f"max_unpool{_nd}d"].__doc__ = _DOC.format(nd=_nd, layout=_LAYOUT[_nd],
                                                         unbatched=_UNBATCHED[_nd])
