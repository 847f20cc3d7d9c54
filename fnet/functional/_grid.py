"""Spatial transformers: ``affine_grid`` and ``grid_sample``.

``grid_sample`` follows torch's CPU kernel (``GridSampler.h``) step by step: normalised
coordinates in ``[-1, 1]`` are unnormalised (``align_corners`` decides whether -1 is the
centre or the outer edge of the first pixel), the padding mode maps them back into the
image (``'border'`` clips, ``'reflection'`` reflects, with torch's zero gradient at and
beyond a clipped edge), and the value is interpolated from the corners (bilinear /
trilinear), the nearest pixel (``nearbyint``: halves round to even) or 4 x 4 taps
(bicubic, ``A = -0.75``). Out-of-image taps read 0. The gradients with respect to the
input and the grid come from differentiating exactly these steps, which is what torch's
hand-written backward computes.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Sequence

import jax
import jax.numpy as jnp

from .. import _checks

__all__ = ["affine_grid", "grid_sample"]

_MODES = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")
_CUBIC_A = -0.75


def _align_corners(where: str, align_corners: bool | None) -> bool:
    if align_corners is None:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False "
                      "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
                      "See the documentation of grid_sample for details.", UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


# -- affine_grid ----------------------------------------------------------------------------------

def _linspace_from_neg_one(n: int, align_corners: bool, dtype: Any) -> jax.Array:
    if n <= 1:
        return jnp.zeros((n,), dtype)
    steps = jnp.linspace(-1, 1, n, dtype=dtype)
    return steps if align_corners else steps * jnp.asarray((n - 1) / n, dtype)


def affine_grid(theta: jax.Array, size: Sequence[int], align_corners: bool | None = None) -> jax.Array:
    """The sampling grid of a batch of affine transforms, for :func:`grid_sample`.

    Args:
        theta: ``(N, 2, 3)`` for a 2-D output size, ``(N, 3, 4)`` for a 3-D one.
        size: the target output size ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        align_corners: as in :func:`grid_sample` (``None``: False, with torch's warning).

    Returns:
        ``(N, H, W, 2)`` or ``(N, D, H, W, 3)``: ``(x, y[, z])`` in ``[-1, 1]`` units.

    PyTorch equivalent: ``torch.nn.functional.affine_grid``.
    """
    where = "affine_grid"
    align_corners = _align_corners(where, align_corners)
    theta = jnp.asarray(theta)
    if not jnp.issubdtype(theta.dtype, jnp.floating):
        raise TypeError(f"{where}: expected theta to have floating point type, got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise ValueError(f"{where}: only 4-D and 5-D sizes are supported, for 2-D and 3-D affine "
                         f"transforms respectively, got size {size}")
    nd = len(size) - 2
    if theta.ndim != 3 or theta.shape[1:] != (nd, nd + 1):
        raise ValueError(f"{where}: expected a batch of {nd}-D affine matrices of shape "
                         f"(N, {nd}, {nd + 1}) for size {size}, got {_checks.fmt_shape(theta.shape)}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"{where}: expected theta's batch ({theta.shape[0]}) to equal size[0] ({size[0]})")
    if min(size) <= 0:
        raise ValueError(f"{where}: expected a non-zero, positive output size, got {size}")
    spatial = size[2:]  # (H, W) or (D, H, W)
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the "
                      "documentation of affine_grid for details.", UserWarning, stacklevel=2)
    axes = [_linspace_from_neg_one(n, align_corners, theta.dtype) for n in spatial]
    # the last coordinate is x (width), then y, then z, as torch's base grid
    mesh = jnp.meshgrid(*axes, indexing="ij")
    base = jnp.stack(list(reversed(mesh)) + [jnp.ones(spatial, theta.dtype)], axis=-1)
    grid = base.reshape(1, -1, nd + 1) @ jnp.swapaxes(theta, 1, 2)
    return grid.reshape((size[0],) + spatial + (nd,))


# -- grid_sample ----------------------------------------------------------------------------------

def _unnormalize(coord: jax.Array, size: int, align_corners: bool) -> jax.Array:
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _clip(coord: jax.Array, size: int) -> jax.Array:
    """``clip_coordinates``: into ``[0, size - 1]`` with gradient 0 at and beyond the ends."""
    limit = jnp.asarray(size - 1, coord.dtype)
    zero = jnp.zeros((), coord.dtype)
    return jnp.where(coord <= 0, zero, jnp.where(coord >= limit, limit, coord))


def _reflect(coord: jax.Array, twice_low: int, twice_high: int) -> jax.Array:
    """``reflect_coordinates``: fold ``coord`` into ``[low, high]`` by reflection."""
    if twice_low == twice_high:
        return jnp.zeros_like(coord)
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    shifted = jnp.abs(coord - low)  # the gradient sign of torch's in < 0 branch
    extra = jnp.fmod(shifted, span)
    flips = jnp.floor(shifted / span)
    even = jnp.fmod(flips, 2) == 0
    return jnp.where(even, extra + low, span - extra + low)


def _source(coord: jax.Array, size: int, padding_mode: str, align_corners: bool) -> jax.Array:
    """``compute_coordinates``: the padding mode applied to an unnormalised coordinate."""
    if padding_mode == "border":
        return _clip(coord, size)
    if padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord, 0, 2 * (size - 1))
        else:
            coord = _reflect(coord, -1, 2 * size - 1)
        return _clip(coord, size)
    return coord


def _gather(flat: jax.Array, sizes: Sequence[int], taps: Sequence[jax.Array]) -> jax.Array:
    """Values at integer coordinates ``taps`` (x first, like the grid), 0 outside the image.

    ``flat``: ``(N, C, prod(sizes))`` with ``sizes`` in array order (``(H, W)``);
    ``taps``: one ``(N, P)`` integer coordinate per spatial axis, x (width) first.
    """
    axes = list(reversed(sizes))  # taps are (x, y[, z]): W, H[, D]
    inside = None
    index = None
    stride = 1
    for tap, n in zip(taps, axes):
        ok = (tap >= 0) & (tap < n)
        inside = ok if inside is None else inside & ok
        term = jnp.clip(tap, 0, n - 1) * stride
        index = term if index is None else index + term
        stride *= n
    values = jnp.take_along_axis(flat, index[:, None, :].astype(jnp.int32), axis=2)
    return jnp.where(inside[:, None, :], values, jnp.zeros((), flat.dtype))


def _cubic_weights(t: jax.Array) -> list[jax.Array]:
    """torch's ``get_cubic_upsample_coefficients`` (A = -0.75) for the 4 taps around ``t``."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def grid_sample(input: jax.Array, grid: jax.Array, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> jax.Array:
    """Samples ``input`` at the locations of ``grid`` (a spatial transformer's sampler).

    Args:
        input: ``(N, C, H_in, W_in)`` or ``(N, C, D_in, H_in, W_in)``.
        grid: ``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)``: ``(x, y[, z])``
            in ``[-1, 1]``, -1 the left/top, 1 the right/bottom of the input.
        mode: ``'bilinear'`` (trilinear for 5-D), ``'nearest'`` or ``'bicubic'`` (4-D only).
        padding_mode: ``'zeros'``, ``'border'`` or ``'reflection'``: what locations
            outside the input read.
        align_corners: True: -1 and 1 are the centres of the corner pixels; False: their
            outer edges. ``None``: False, with torch's warning.

    Returns:
        ``(N, C, H_out, W_out)`` or ``(N, C, D_out, H_out, W_out)``. Gradients flow to
        ``input`` and to ``grid`` (zero for ``'nearest'``), as in torch.

    PyTorch equivalent: ``torch.nn.functional.grid_sample``.
    """
    where = "grid_sample"
    if mode not in _MODES:
        raise ValueError(f"{where}: mode must be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in _PADDING:
        raise ValueError(f"{where}: padding_mode must be 'zeros', 'border' or 'reflection', got "
                         f"{padding_mode!r}")
    align_corners = _align_corners(where, align_corners)
    x, g = jnp.asarray(input), jnp.asarray(grid)
    _checks.check_floating(where, x)
    _checks.check_floating(where, g, "grid")
    if x.ndim not in (4, 5):
        _checks.fail(where, "a 4-D input (N, C, H, W) or 5-D input (N, C, D, H, W)", x)
    nd = x.ndim - 2
    if g.ndim != x.ndim or g.shape[-1] != nd or g.shape[0] != x.shape[0]:
        raise ValueError(f"{where}: expected grid of shape (N={x.shape[0]}, *out, {nd}) for input "
                         f"{_checks.fmt_shape(x.shape)}, got {_checks.fmt_shape(g.shape)}")
    if mode == "bicubic" and nd != 2:
        raise ValueError(f"{where}: bicubic interpolation only supports 4-D input")
    if any(s == 0 for s in x.shape[2:]):
        _checks.fail(where, "an input with non-empty spatial dimensions", x)
    g = g.astype(x.dtype)
    n, c = x.shape[:2]
    sizes = x.shape[2:]
    out_shape = g.shape[1:-1]
    flat = x.reshape(n, c, -1)
    coords = g.reshape(n, -1, nd)
    axes = list(reversed(sizes))  # grid components are x (W), y (H), z (D)
    unnorm = [_unnormalize(coords[..., k], axes[k], align_corners) for k in range(nd)]

    if mode == "bicubic":
        # torch interpolates each of the 4 rows along x, then the 4 row values along y;
        # each tap goes through the padding mode on its own (get_value_bounded)
        base = [jnp.floor(u) for u in unnorm]
        wx, wy = (_cubic_weights(u - b) for u, b in zip(unnorm, base))
        result = None
        for i in range(4):
            ty = _source(base[1] - 1 + i, axes[1], padding_mode, align_corners).astype(jnp.int32)
            row = None
            for j in range(4):
                tx = _source(base[0] - 1 + j, axes[0], padding_mode, align_corners).astype(jnp.int32)
                term = _gather(flat, sizes, [tx, ty]) * wx[j][:, None, :]
                row = term if row is None else row + term
            term = row * wy[i][:, None, :]
            result = term if result is None else result + term
        return result.reshape((n, c) + out_shape)

    src = [_source(u, size, padding_mode, align_corners) for u, size in zip(unnorm, axes)]
    if mode == "nearest":
        taps = [jnp.round(s).astype(jnp.int32) for s in src]  # nearbyint: halves to even
        return _gather(flat, sizes, taps).reshape((n, c) + out_shape)
    low = [jnp.floor(s) for s in src]
    result = None
    # torch's corner order (nw, ne, sw, se; then the far z plane) and weight arithmetic:
    # (x0 + 1 - x) for the near corner, (x - x0) for the far one
    for corner in itertools.product((0, 1), repeat=nd):
        corner = corner[::-1]
        taps = [(lo + k).astype(jnp.int32) for lo, k in zip(low, corner)]
        weight = None
        for s_, lo, k in zip(src, low, corner):
            w = s_ - lo if k else lo + 1 - s_
            weight = w if weight is None else weight * w
        term = _gather(flat, sizes, taps) * weight[:, None, :]
        result = term if result is None else result + term
    return result.reshape((n, c) + out_shape)
