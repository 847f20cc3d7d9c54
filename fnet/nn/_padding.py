"""Padding layers: zero, constant, reflection, replication and circular, in 1, 2 and 3 dimensions.

``padding`` is an int (the same on every side) or a tuple in torch's order, last
dimension first: ``(left, right)``, ``(left, right, top, bottom)``, ``(left, right, top,
bottom, front, back)``. Negative values crop.
"""

from __future__ import annotations

from typing import Any

import jax

from .. import _checks
from ..functional._padding import pad
from ._module import Context, Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
           "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]


def _ntuple(padding: Any, n: int) -> tuple:
    """torch's ``_ntuple``: an iterable becomes a tuple as is, a scalar is repeated ``n`` times."""
    if isinstance(padding, (list, tuple)):
        return tuple(padding)
    return (padding,) * n


class _PadNd(Module):
    _mode = "constant"
    _spatial = 1  # number of padded dimensions

    def __init__(self, padding: Any):
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._spatial)

    def _value(self) -> float | None:
        return None

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        if self._mode != "constant":
            ranks = (self._spatial + 1, self._spatial + 2)
            names = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)",
                     3: "(C, D, H, W) or (N, C, D, H, W)"}[self._spatial]
            _checks.check_ndim(None, input, ranks, f"{ranks[0]}D or {ranks[1]}D input {names}")
        return pad(input, self.padding, self._mode, self._value())

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float):
        super().__init__(padding)
        self.value = value

    def _value(self) -> float | None:
        return self.value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


def _doc(kind: str, dims: int, torch_name: str, extra: str = "") -> str:
    shapes = {1: "``(C, W)`` or ``(N, C, W)``", 2: "``(C, H, W)`` or ``(N, C, H, W)``",
              3: "``(C, D, H, W)`` or ``(N, C, D, H, W)``"}[dims]
    pads = {1: "``(left, right)``", 2: "``(left, right, top, bottom)``",
            3: "``(left, right, top, bottom, front, back)``"}[dims]
    return (f"{kind} the last {dims} dimension{'s' if dims > 1 else ''} of the input.\n\n"
            f"    Args:\n        padding: an int for every side, or {pads}; negative values crop.\n"
            f"{extra}\n    Shape: {shapes} (constant padding accepts any rank with enough dimensions); "
            f"each padded size grows by its two pads.\n\n    PyTorch equivalent: ``torch.nn.{torch_name}``.\n")


class ConstantPad1d(_ConstantPadNd):
    __doc__ = _doc("Pads with a constant", 1, "ConstantPad1d", "        value: the fill value.\n")

    def __init__(self, padding: Any, value: float):
        super().__init__(padding, value)


class ConstantPad2d(_ConstantPadNd):
    __doc__ = _doc("Pads with a constant", 2, "ConstantPad2d", "        value: the fill value.\n")
    _spatial = 2

    def __init__(self, padding: Any, value: float):
        super().__init__(padding, value)


class ConstantPad3d(_ConstantPadNd):
    __doc__ = _doc("Pads with a constant", 3, "ConstantPad3d", "        value: the fill value.\n")
    _spatial = 3

    def __init__(self, padding: Any, value: float):
        super().__init__(padding, value)


class ZeroPad1d(ConstantPad1d):
    __doc__ = _doc("Pads with zeros", 1, "ZeroPad1d")

    def __init__(self, padding: Any):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    __doc__ = _doc("Pads with zeros", 2, "ZeroPad2d")

    def __init__(self, padding: Any):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    __doc__ = _doc("Pads with zeros", 3, "ZeroPad3d")

    def __init__(self, padding: Any):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    __doc__ = _doc("Pads with the mirror image (edge not repeated; each pad smaller than its "
                   "dimension) of", 1, "ReflectionPad1d")
    _mode = "reflect"

    def __init__(self, padding: Any):
        super().__init__(padding)


class ReflectionPad2d(ReflectionPad1d):
    __doc__ = _doc("Pads with the mirror image (edge not repeated; each pad smaller than its "
                   "dimension) of", 2, "ReflectionPad2d")
    _spatial = 2


class ReflectionPad3d(ReflectionPad1d):
    __doc__ = _doc("Pads with the mirror image (edge not repeated; each pad smaller than its "
                   "dimension) of", 3, "ReflectionPad3d")
    _spatial = 3


class ReplicationPad1d(_PadNd):
    __doc__ = _doc("Pads by repeating the edge values of", 1, "ReplicationPad1d")
    _mode = "replicate"

    def __init__(self, padding: Any):
        super().__init__(padding)


class ReplicationPad2d(ReplicationPad1d):
    __doc__ = _doc("Pads by repeating the edge values of", 2, "ReplicationPad2d")
    _spatial = 2


class ReplicationPad3d(ReplicationPad1d):
    __doc__ = _doc("Pads by repeating the edge values of", 3, "ReplicationPad3d")
    _spatial = 3


class CircularPad1d(_PadNd):
    __doc__ = _doc("Pads by wrapping around (at most once)", 1, "CircularPad1d")
    _mode = "circular"

    def __init__(self, padding: Any):
        super().__init__(padding)


class CircularPad2d(CircularPad1d):
    __doc__ = _doc("Pads by wrapping around (at most once)", 2, "CircularPad2d")
    _spatial = 2


class CircularPad3d(CircularPad1d):
    __doc__ = _doc("Pads by wrapping around (at most once)", 3, "CircularPad3d")
    _spatial = 3
