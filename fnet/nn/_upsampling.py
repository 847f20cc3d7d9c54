"""Resampling layers: ``Upsample`` (and its deprecated 2-D aliases), ``PixelShuffle``,
``PixelUnshuffle``, ``ChannelShuffle``."""

from __future__ import annotations

from typing import Any

import jax

from ..functional._upsampling import channel_shuffle, interpolate, pixel_shuffle, pixel_unshuffle
from ._module import Context, Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle",
           "ChannelShuffle"]


class Upsample(Module):
    """Resizes ``(N, C, W)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` inputs.

    Args:
        size: output spatial size (int or tuple).
        scale_factor: spatial multiplier(s); stored as float(s) as in torch.
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'``, ``'bilinear'``,
            ``'bicubic'``, ``'trilinear'`` or ``'area'``.
        align_corners: see :func:`fnet.functional.interpolate`.
        recompute_scale_factor: see :func:`fnet.functional.interpolate`.

    Shape: ``(N, C, *in)`` to ``(N, C, *out)``.

    PyTorch equivalent: ``torch.nn.Upsample``.
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` (deprecated in torch, kept for ports).

    PyTorch equivalent: ``torch.nn.UpsamplingNearest2d``.
    """

    def __init__(self, size: Any = None, scale_factor: Any = None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` (deprecated in torch).

    PyTorch equivalent: ``torch.nn.UpsamplingBilinear2d``.
    """

    def __init__(self, size: Any = None, scale_factor: Any = None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """``(*, C * r^2, H, W)`` to ``(*, C, H * r, W * r)`` with ``r = upscale_factor``.

    PyTorch equivalent: ``torch.nn.PixelShuffle``.
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H * r, W * r)`` to ``(*, C * r^2, H, W)`` with ``r = downscale_factor``.

    PyTorch equivalent: ``torch.nn.PixelUnshuffle``.
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleaves ``groups`` channel groups of ``(N, C, *)`` (ShuffleNet).

    Args:
        groups: number of groups; ``C`` must be divisible by it.

    PyTorch equivalent: ``torch.nn.ChannelShuffle``.
    """

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
