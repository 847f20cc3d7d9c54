"""Resampling (torch.nn.functional twins): ``interpolate`` (and torch's deprecated
``upsample``, ``upsample_nearest``, ``upsample_bilinear``), ``pixel_shuffle``,
``pixel_unshuffle``, ``channel_shuffle``.

``interpolate`` is separable: one gather (nearest) or a few weighted gathers (linear,
cubic) per spatial dimension, innermost dimension first, which is the order in which
torch's CPU kernel accumulates. Source indices and weights are computed in NumPy at
trace time with torch's formulas and torch's arithmetic precision (the ``nearest``
index in float32, linear/cubic weights in the input's dtype), so the chosen pixels
are torch's and the weights agree to the last bit or two. Gradients are the
transposed gathers (scatter-adds), as torch's backward.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks

__all__ = ["interpolate", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle",
           "upsample", "upsample_nearest", "upsample_bilinear"]

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_RANK_OF_MODE = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_SPATIAL_NAMES = {1: ("W",), 2: ("H", "W"), 3: ("D", "H", "W")}


# -- per-dimension source indices and weights (torch's UpSample.h) -----------------------------

def _scale_value(dtype: Any, scale: float | None, in_size: int, out_size: int):
    """``compute_scales_value``: ``1/scale`` when a scale factor is used, else ``in/out``."""
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(in_size) / dtype(out_size)


def _nearest_indices(in_size: int, out_size: int, scale: float | None, exact: bool) -> np.ndarray:
    f32 = np.float32
    dst = np.arange(out_size)
    if not exact:
        if out_size == in_size:
            return dst
        if out_size == 2 * in_size:
            return dst >> 1
        src = np.floor(dst.astype(f32) * _scale_value(f32, scale, in_size, out_size))
    else:
        # (dst + 0.5) * scale in double, rounded to float by floorf, as in torch.
        s = np.float64(_scale_value(f32, scale, in_size, out_size))
        src = np.floor(((dst + 0.5) * s).astype(f32))
    return np.minimum(src.astype(np.int64), in_size - 1)


def _source_positions(dtype: Any, in_size: int, out_size: int, scale: float | None,
                      align_corners: bool, cubic: bool) -> np.ndarray:
    """``area_pixel_compute_scale`` + ``area_pixel_compute_source_index`` in ``dtype``."""
    dst = np.arange(out_size).astype(dtype)
    if align_corners:
        ratio = dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
        return (ratio * dst).astype(dtype)
    ratio = _scale_value(dtype, scale, in_size, out_size)
    src = (ratio * (dst + dtype(0.5)) - dtype(0.5)).astype(dtype)
    return src if cubic else np.where(src < 0, dtype(0), src).astype(dtype)


def _index_and_lambda(real: np.ndarray, in_size: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """``guard_index_and_lambda``: floor (through float32, as torch's floorf) and the fraction."""
    idx = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), in_size - 1)
    lam = np.clip(real - idx.astype(dtype), 0, 1).astype(dtype)
    return idx, lam


def _linear_taps(dtype: Any, in_size: int, out_size: int, scale: float | None,
                 align_corners: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    dst = np.arange(out_size)
    if out_size == in_size:
        return [(dst, np.ones(out_size, dtype)), (dst, np.zeros(out_size, dtype))]
    real = _source_positions(dtype, in_size, out_size, scale, align_corners, cubic=False)
    idx0, lam1 = _index_and_lambda(real, in_size, dtype)
    idx1 = idx0 + (idx0 < in_size - 1)
    lam0 = (dtype(1) - lam1).astype(dtype)
    return [(idx0, lam0), (idx1, lam1)]


def _cubic_taps(dtype: Any, in_size: int, out_size: int, scale: float | None,
                align_corners: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    real = _source_positions(dtype, in_size, out_size, scale, align_corners, cubic=True)
    idx, t = _index_and_lambda(real, in_size, dtype)
    a = dtype(-0.75)

    def conv1(x):  # |x| <= 1
        return (((a + dtype(2)) * x - (a + dtype(3))) * x * x + dtype(1)).astype(dtype)

    def conv2(x):  # 1 < |x| < 2
        return ((((a * x - dtype(5) * a) * x + dtype(8) * a) * x) - dtype(4) * a).astype(dtype)

    one = dtype(1)
    t2 = (one - t).astype(dtype)
    coeffs = [conv2((t + one).astype(dtype)), conv1(t), conv1(t2), conv2((t2 + one).astype(dtype))]
    return [(np.clip(idx - 1 + k, 0, in_size - 1), coeffs[k]) for k in range(4)]


def _area_matrix(dtype: Any, in_size: int, out_size: int) -> np.ndarray:
    """Adaptive average pooling as an ``(out, in)`` averaging matrix (torch's 'area' mode)."""
    m = np.zeros((out_size, in_size), dtype)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        m[i, start:end] = dtype(1) / dtype(end - start)
    return m


def _weighted_gather(x: jax.Array, axis: int, taps: list[tuple[np.ndarray, np.ndarray]]) -> jax.Array:
    shape = (-1,) + (1,) * (x.ndim - axis - 1)
    out = None
    for idx, w in taps:
        term = jnp.take(x, idx, axis=axis) * jnp.asarray(w.reshape(shape), x.dtype)
        out = term if out is None else out + term
    return out


# -- argument handling (torch's interpolate) ----------------------------------------------------

def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _output_geometry(where: str, shape: tuple[int, ...], size: Any, scale_factor: Any,
                     mode: str, recompute_scale_factor: bool | None
                     ) -> tuple[list[int], list[float | None]]:
    dim = len(shape) - 2
    spatial = list(shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError(f"{where}: only one of size or scale_factor should be defined, got "
                         f"size={size!r} and scale_factor={scale_factor!r}")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"{where}: expected size with one entry per spatial dimension "
                                 f"({dim} for an input of shape {_checks.fmt_shape(shape)}), got "
                                 f"size={tuple(size)}")
            if not all(_is_int(s) for s in size):
                raise TypeError(f"{where}: expected size to be an int or a tuple of ints, got "
                                f"size={tuple(size)!r}")
            output_size = [int(s) for s in size]
        else:
            if not _is_int(size):
                raise TypeError(f"{where}: expected size to be an int or a tuple of ints, got {size!r}")
            output_size = [int(size)] * dim
        scales: list[float | None] | None = None
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(f"{where}: expected scale_factor with one entry per spatial "
                                 f"dimension ({dim} for an input of shape {_checks.fmt_shape(shape)}), "
                                 f"got scale_factor={tuple(scale_factor)}")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        output_size = None
    else:
        raise ValueError(f"{where}: either size or scale_factor should be defined")

    if recompute_scale_factor and size is not None:
        raise ValueError(f"{where}: recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if output_size is None:
        # torch truncates in * scale (double) to an integer size.
        output_size = [int(spatial[i] * scales[i]) for i in range(dim)]
        if recompute_scale_factor:
            scales = None  # the kernels then use in/out instead of 1/scale
    if scales is None:
        scales = [None] * dim
    names = _SPATIAL_NAMES.get(dim, tuple(f"d{i}" for i in range(dim)))
    if any(s <= 0 for s in spatial) or any(s <= 0 for s in output_size):
        ins = ", ".join(f"{n}: {s}" for n, s in zip(names, spatial))
        outs = ", ".join(f"{n}: {s}" for n, s in zip(names, output_size))
        raise ValueError(f"{where}: input and output sizes should be greater than 0, but got input "
                         f"({ins}) and output ({outs})")
    return output_size, scales


def _interpolate(where: str, input: Any, size: Any = None, scale_factor: Any = None,
                 mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None, antialias: bool = False) -> jax.Array:
    input = jnp.asarray(input)
    if mode == "lanczos":
        raise NotImplementedError(f"{where}: mode='lanczos' (torch's antialiased CPU-only filter) "
                                  f"is not implemented in fnet")
    _checks.check_choice(where, "mode", mode, _MODES)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(f"{where}: align_corners option can only be set with the interpolating "
                             f"modes: linear | bilinear | bicubic | trilinear (got mode={mode!r}, "
                             f"align_corners={align_corners})")
    else:
        align_corners = bool(align_corners) if align_corners is not None else False
    if input.ndim not in (3, 4, 5):
        _checks.fail(where, "a 3D, 4D or 5D input (N, C, W), (N, C, H, W) or (N, C, D, H, W)", input)
    needed = _RANK_OF_MODE.get(mode)
    if needed is not None and input.ndim != needed:
        layout = {3: "(N, C, W)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}[needed]
        _checks.fail(where, f"a {needed}D input {layout} for mode={mode!r}", input)
    output_size, scales = _output_geometry(where, tuple(input.shape), size, scale_factor, mode,
                                           recompute_scale_factor)
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError(f"{where}: anti-alias option is restricted to bilinear, bicubic and lanczos "
                         f"modes and requires a 4-D input, got mode={mode!r} and shape "
                         f"{_checks.fmt_shape(input.shape)}")
    if antialias:
        raise NotImplementedError(f"{where}: antialias=True is not implemented in fnet; resize with "
                                  f"antialias=False (identical when upsampling with bilinear mode) or "
                                  f"low-pass filter before downsampling")
    nearest = mode in ("nearest", "nearest-exact")
    if nearest:
        if not (jnp.issubdtype(input.dtype, jnp.floating) or input.dtype == jnp.uint8):
            raise TypeError(f"{where}: expected a floating-point (or uint8) input for mode={mode!r}, "
                            f"got dtype {input.dtype}")
    else:
        _checks.check_floating(where, input)
    # torch's opmath: double for float64 inputs, float otherwise.
    dtype = np.float64 if input.dtype == jnp.float64 else np.float32

    out = input
    dim = input.ndim - 2
    for d in reversed(range(dim)):  # innermost first: torch's accumulation order
        axis = d + 2
        in_size, out_size, scale = input.shape[axis], output_size[d], scales[d]
        if nearest:
            idx = _nearest_indices(in_size, out_size, scale, exact=(mode == "nearest-exact"))
            out = jnp.take(out, idx, axis=axis)
        elif mode == "area":
            m = jnp.asarray(_area_matrix(dtype, in_size, out_size), out.dtype)
            out = jnp.moveaxis(jnp.tensordot(out, m, axes=([axis], [1]),
                                             precision=jax.lax.Precision.HIGHEST), -1, axis)
        elif mode == "bicubic":
            out = _weighted_gather(out, axis, _cubic_taps(dtype, in_size, out_size, scale, align_corners))
        else:
            out = _weighted_gather(out, axis, _linear_taps(dtype, in_size, out_size, scale, align_corners))
    return out


def interpolate(input: jax.Array, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> jax.Array:
    """Resizes ``(N, C, W)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` inputs.

    Args:
        input: 3-D, 4-D or 5-D, channels first (torch's layout).
        size: output spatial size (int or one int per spatial dimension).
        scale_factor: multiplier(s) for the spatial size; the output size is
            ``floor(in * scale_factor)`` and, unless ``recompute_scale_factor``, the
            kernel uses ``1 / scale_factor`` (not ``in / out``) to place samples, as torch.
        mode: ``'nearest'`` (torch's legacy, OpenCV-like index ``floor(i * in / out)``),
            ``'nearest-exact'`` (pixel centres, like PIL), ``'linear'`` (3-D),
            ``'bilinear'`` (4-D), ``'bicubic'`` (4-D, A = -0.75), ``'trilinear'`` (5-D) or
            ``'area'`` (adaptive average pooling).
        align_corners: for the interpolating modes, align corner pixel centres (True) or
            corner pixel edges (False, the default when None).
        recompute_scale_factor: recompute the scale from the output size.
        antialias: only ``False`` is implemented (fnet raises NotImplementedError).

    Returns:
        ``(N, C, *output_size)``.

    PyTorch equivalent: ``torch.nn.functional.interpolate``.
    """
    return _interpolate("interpolate", input, size, scale_factor, mode, align_corners,
                        recompute_scale_factor, antialias)


def _check_factor(where: str, name: str, factor: Any) -> int:
    if not _is_int(factor) or factor <= 0:
        raise ValueError(f"{where}: expected a positive integer {name}, got {factor!r}")
    return int(factor)


def _pixel_shuffle(where: str, input: Any, upscale_factor: int) -> jax.Array:
    input = jnp.asarray(input)
    r = _check_factor(where, "upscale_factor", upscale_factor)
    if input.ndim < 3:
        _checks.fail(where, "an input with at least 3 dimensions (*, C * r^2, H, W)", input)
    *batch, c, h, w = input.shape
    if c % (r * r):
        _checks.fail(where, f"(*, C * {r}^2, H, W): channels (dimension -3) divisible by "
                     f"upscale_factor^2 = {r * r}", input)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    n = len(batch)
    x = jnp.transpose(x, (*range(n), n, n + 3, n + 1, n + 4, n + 2))  # (*, C, H, r, W, r)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


def _pixel_unshuffle(where: str, input: Any, downscale_factor: int) -> jax.Array:
    input = jnp.asarray(input)
    r = _check_factor(where, "downscale_factor", downscale_factor)
    if input.ndim < 3:
        _checks.fail(where, "an input with at least 3 dimensions (*, C, H * r, W * r)", input)
    *batch, c, h, w = input.shape
    if h % r or w % r:
        _checks.fail(where, f"(*, C, H * {r}, W * {r}): height and width divisible by "
                     f"downscale_factor = {r}", input)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    n = len(batch)
    x = jnp.transpose(x, (*range(n), n, n + 2, n + 4, n + 1, n + 3))  # (*, C, r, r, H, W)
    return x.reshape(*batch, c * r * r, h // r, w // r)


def pixel_shuffle(input: jax.Array, upscale_factor: int) -> jax.Array:
    """Rearranges ``(*, C * r^2, H, W)`` into ``(*, C, H * r, W * r)`` (sub-pixel convolution).

    PyTorch equivalent: ``torch.nn.functional.pixel_shuffle``.
    """
    return _pixel_shuffle("pixel_shuffle", input, upscale_factor)


def pixel_unshuffle(input: jax.Array, downscale_factor: int) -> jax.Array:
    """Inverse of :func:`pixel_shuffle`: ``(*, C, H * r, W * r)`` to ``(*, C * r^2, H, W)``.

    PyTorch equivalent: ``torch.nn.functional.pixel_unshuffle``.
    """
    return _pixel_unshuffle("pixel_unshuffle", input, downscale_factor)


def channel_shuffle(input: jax.Array, groups: int) -> jax.Array:
    """Interleaves the channel groups: ``(N, C, *)`` viewed as ``(N, g, C / g, *)``, the
    two channel axes swapped, and flattened back (ShuffleNet's shuffle).

    Args:
        input: ``(N, C, *)`` with at least 3 dimensions and ``C`` divisible by ``groups``.
        groups: number of groups (positive).

    PyTorch equivalent: ``torch.nn.functional.channel_shuffle``.
    """
    return _channel_shuffle("channel_shuffle", input, groups)


def native_channel_shuffle(input: jax.Array, groups: int) -> jax.Array:
    """The same as :func:`channel_shuffle` (torch's name for its native kernel).

    PyTorch equivalent: ``torch.nn.functional.native_channel_shuffle``.
    """
    return _channel_shuffle("native_channel_shuffle", input, groups)


def _channel_shuffle(where: str, input: Any, groups: int) -> jax.Array:
    x = jnp.asarray(input)
    if not _is_int(groups) or groups <= 0:
        raise ValueError(f"{where}: number of groups to divide channels in must be a positive "
                         f"integer, got groups={groups!r}")
    if x.ndim <= 2:
        _checks.fail(where, "an input with more than 2 dimensions (N, C, *)", x)
    n, c, *rest = x.shape
    if c % groups:
        raise ValueError(f"{where}: number of channels must be divisible by groups, got {c} "
                         f"channels and {groups} groups (input shape {_checks.fmt_shape(x.shape)})")
    return jnp.swapaxes(x.reshape(n, groups, c // groups, *rest), 1, 2).reshape(x.shape)


def upsample(input: jax.Array, size: int | Sequence[int] | None = None,
             scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
             align_corners: bool | None = None) -> jax.Array:
    """Deprecated alias of :func:`interpolate` (torch warns and so does fnet).

    PyTorch equivalent: ``torch.nn.functional.upsample``.
    """
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return _interpolate("upsample", input, size, scale_factor, mode, align_corners, None, False)


def upsample_nearest(input: jax.Array, size: int | Sequence[int] | None = None,
                     scale_factor: float | Sequence[float] | None = None) -> jax.Array:
    """Deprecated: ``interpolate(input, size, scale_factor, mode='nearest')``.

    PyTorch equivalent: ``torch.nn.functional.upsample_nearest``.
    """
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return _interpolate("upsample_nearest", input, size, scale_factor, "nearest", None, None, False)


def upsample_bilinear(input: jax.Array, size: int | Sequence[int] | None = None,
                      scale_factor: float | Sequence[float] | None = None) -> jax.Array:
    """Deprecated: ``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)``
    (note ``align_corners=True``, as torch's alias).

    PyTorch equivalent: ``torch.nn.functional.upsample_bilinear``.
    """
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return _interpolate("upsample_bilinear", input, size, scale_factor, "bilinear", True, None, False)
