"""Padding (torch.nn.functional twin): ``pad`` with constant, reflect, replicate and circular modes.

torch orders the pad tuple from the last dimension backwards, ``(left, right, top,
bottom, front, back)``; fnet does the same (``jnp.pad`` takes one pair per dimension,
first dimension first). Negative pads crop, as in torch.

The non-constant modes are one gather per padded dimension with indices computed in
NumPy at trace time, so their gradients accumulate into the source elements exactly
like torch's backward.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")
# (pad length) -> the input ranks torch accepts for non-constant modes: unbatched, batched.
_RANKS = {2: (2, 3), 4: (3, 4), 6: (4, 5)}


def _pad_tuple(where: str, pad: Any) -> tuple[int, ...]:
    if isinstance(pad, (int, np.integer)) or not isinstance(pad, (Sequence, np.ndarray)):
        raise TypeError(f"{where}: expected pad as a tuple of ints (left, right, ...), "
                        f"got {type(pad).__name__} {pad!r}")
    out = []
    for i, p in enumerate(pad):
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"{where}: expected pad as a tuple of ints, but found element of type "
                            f"{type(p).__name__} at pos {i}")
        out.append(int(p))
    if len(out) % 2:
        raise ValueError(f"{where}: padding length must be divisible by 2 (one (before, after) pair "
                         f"per dimension), got {len(out)}: {tuple(out)}")
    return tuple(out)


def _pairs(pad: tuple[int, ...], ndim: int) -> list[tuple[int, int]]:
    """torch's last-dimension-first pairs as ``[(before, after)]`` for every dimension."""
    pairs = [(0, 0)] * ndim
    for k in range(len(pad) // 2):
        pairs[ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return pairs


def _source_indices(mode: str, size: int, before: int, after: int) -> np.ndarray:
    """For each output position of one padded dimension, the input position it copies."""
    out_size = size + before + after
    pos = np.arange(out_size) - before  # position in input coordinates
    if mode == "reflect":
        r = np.abs(pos)
        return np.where(r > size - 1, 2 * (size - 1) - r, r)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1)
    # circular: torch first crops (negative pads), then wraps the cropped block.
    start = max(-before, 0)
    length = size + min(before, 0) + min(after, 0)
    return start + np.mod(np.arange(out_size) - max(before, 0), length)


def _pad(where: str, input: Any, pad: Any, mode: str = "constant", value: float | None = None) -> jax.Array:
    input = jnp.asarray(input)
    pad = _pad_tuple(where, pad)
    _checks.check_choice(where, "mode", mode, _MODES)
    ndim = input.ndim
    if len(pad) // 2 > ndim:
        raise ValueError(f"{where}: padding length should be at most two times the input dimension: "
                         f"got pad {pad} (length {len(pad)}) for an input of shape "
                         f"{_checks.fmt_shape(input.shape)} ({ndim}D)")
    pairs = _pairs(pad, ndim)
    if mode == "constant":
        for axis, (lo, hi) in enumerate(pairs):
            if input.shape[axis] + lo + hi < 0:
                raise ValueError(f"{where}: negative padding ({lo}, {hi}) crops more than dimension "
                                 f"{axis} of size {input.shape[axis]} holds (input shape "
                                 f"{_checks.fmt_shape(input.shape)})")
        fill = jnp.asarray(0 if value is None else value).astype(input.dtype)
        return jax.lax.pad(input, fill, [(lo, hi, 0) for lo, hi in pairs])

    if value is not None and value != 0:
        raise ValueError(f"{where}: padding mode {mode!r} doesn't take a value argument, got value={value}")
    ranks = _RANKS.get(len(pad))
    if ranks is None or ndim not in ranks:
        raise ValueError(
            f"{where}: mode={mode!r} pads the last 1, 2 or 3 dimensions of a batched or unbatched "
            f"input: pad of length 2 needs a 2D/3D input, 4 a 3D/4D input, 6 a 4D/5D input; got pad "
            f"{pad} for an input of shape {_checks.fmt_shape(input.shape)}")
    if mode == "reflect" and not jnp.issubdtype(input.dtype, jnp.number):
        raise TypeError(f"{where}: mode='reflect' needs a numeric input, got dtype {input.dtype}")
    first_padded = ndim - len(pad) // 2
    unbatched = ndim == ranks[0]
    for axis in range(0 if unbatched else 1, ndim):
        if input.shape[axis] == 0 and mode != "circular":
            raise ValueError(f"{where}: mode={mode!r} needs non-empty dimensions (except the batch "
                             f"dimension), got shape {_checks.fmt_shape(input.shape)}")
    out = input
    for axis in range(first_padded, ndim):
        lo, hi = pairs[axis]
        size = input.shape[axis]
        kept = size + min(lo, 0) + min(hi, 0)
        if mode == "replicate":
            # torch clamps every output position into the input: a crop past the whole
            # dimension still has an edge element to repeat
            if size + lo + hi < 0:
                raise ValueError(f"{where}: negative padding ({lo}, {hi}) crops more than dimension "
                                 f"{axis} of size {size} holds")
        elif kept < 1:
            raise ValueError(f"{where}: negative padding ({lo}, {hi}) leaves nothing of dimension "
                             f"{axis} (size {size}) to pad from in mode={mode!r}")
        if mode == "reflect" and (lo >= size or hi >= size):
            raise ValueError(f"{where}: mode='reflect' needs padding smaller than the padded "
                             f"dimension: got padding ({lo}, {hi}) for dimension {axis} of size "
                             f"{size} (input shape {_checks.fmt_shape(input.shape)})")
        if mode == "circular" and (lo > kept or hi > kept):
            raise ValueError(f"{where}: mode='circular' padding ({lo}, {hi}) would wrap around more "
                             f"than once a dimension of size {kept} (dimension {axis}, input shape "
                             f"{_checks.fmt_shape(input.shape)})")
        if lo == 0 and hi == 0:
            continue
        out = jnp.take(out, _source_indices(mode, size, lo, hi), axis=axis)
    return out


def pad(input: jax.Array, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> jax.Array:
    """Pads (or, with negative values, crops) the last ``len(pad) // 2`` dimensions.

    Args:
        input: any shape for ``'constant'``; for the other modes the last 1, 2 or 3
            dimensions of a 2D/3D, 3D/4D or 4D/5D input (torch's rule).
        pad: ``(left, right)``, ``(left, right, top, bottom)``, ... starting from the
            last dimension, as in torch.
        mode: ``'constant'``, ``'reflect'`` (mirror without repeating the edge; each pad
            must be smaller than its dimension), ``'replicate'`` (repeat the edge) or
            ``'circular'`` (wrap around, at most once).
        value: fill value for ``'constant'`` (default 0); other modes refuse a value.

    Returns:
        The padded array, same dtype.

    Example::

        F.pad(x, (1, 1, 2, 0), mode="reflect")   # (N, C, H, W) -> (N, C, H + 2, W + 2)

    PyTorch equivalent: ``torch.nn.functional.pad``.
    """
    return _pad("pad", input, pad, mode, value)
