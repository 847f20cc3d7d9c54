"""Pooling layers: ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``, ``AdaptiveMaxPool1d/2d/3d``,
``AdaptiveAvgPool1d/2d/3d``, ``LPPool1d/2d/3d``, ``MaxUnpool1d/2d/3d``,
``FractionalMaxPool2d/3d``.

Configuration is stored exactly as torch stores it (``MaxPool2d(2)`` keeps
``kernel_size=2, stride=2``; ``AvgPool1d`` keeps 1-tuples), so ``repr`` matches torch.
See ``fnet/functional/_pool.py`` for the semantics (first maximum, torch's indices).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import _checks
from .. import functional as F
from ..functional import _fractional_pool
from ..functional._conv import _LAYOUT, _UNBATCHED, _ntuple
from ._loss import _to_numpy
from ._module import Context, Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "LPPool1d", "LPPool2d",
           "LPPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d",
           "FractionalMaxPool3d"]


def _single(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


class _Pool(Module):
    _nd = 0
    _functional = None

    def _check(self, input: Any) -> None:
        nd = self._nd
        _checks.check_floating(None, input)
        _checks.check_ndim(None, input, (nd + 1, nd + 2),
                           f"{_LAYOUT[nd]} or unbatched {_UNBATCHED[nd]} input")


class _MaxPoolNd(_Pool):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, ctx: Context, input: jax.Array):
        self._check(input)
        return type(self)._functional(input, self.kernel_size, self.stride,
                     self.padding, self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


_MAX_DOC = """{nd}-D max pooling layer.

    Args:
        kernel_size: window size (int or {nd}-tuple).
        stride: window stride (default ``kernel_size``).
        padding: implicit ``-inf`` padding, at most ``kernel_size // 2``.
        dilation: spacing between window elements.
        return_indices: also return torch's flat per-plane indices of the maxima.
        ceil_mode: round the output size up (torch's rule for the last window).

    Shape: input ``{layout}`` or unbatched ``{unbatched}``; output ``(N, C, *out)``.

    PyTorch equivalent: ``torch.nn.MaxPool{nd}d``.
    """


class MaxPool1d(_MaxPoolNd):
    _nd = 1
    _functional = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    _nd = 2
    _functional = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    _nd = 3
    _functional = staticmethod(F.max_pool3d)


class _AvgPoolNd(_Pool):
    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        self._check(input)
        extra = () if self._nd == 1 else (self.divisor_override,)
        return type(self)._functional(input, self.kernel_size, self.stride,
                     self.padding, self.ceil_mode, self.count_include_pad, *extra)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


_AVG_DOC = """{nd}-D average pooling layer.

    Args:
        kernel_size: window size (int or {nd}-tuple).
        stride: window stride (default ``kernel_size``).
        padding: implicit zero padding, at most ``kernel_size // 2``.
        ceil_mode: round the output size up (torch's rule for the last window).
        count_include_pad: include the zero padding in the divisor.{extra}

    Shape: input ``{layout}`` or unbatched ``{unbatched}``; output ``(N, C, *out)``.

    PyTorch equivalent: ``torch.nn.AvgPool{nd}d``.
    """


class AvgPool1d(_AvgPoolNd):
    _nd = 1
    _functional = staticmethod(F.avg_pool1d)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        # torch's AvgPool1d stores 1-tuples (and prints them).
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad


class _AvgPool23(_AvgPoolNd):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override


class AvgPool2d(_AvgPool23):
    _nd = 2
    _functional = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPool23):
    _nd = 3
    _functional = staticmethod(F.avg_pool3d)


class _AdaptiveMaxPoolNd(_Pool):
    def __init__(self, output_size: Any, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, ctx: Context, input: jax.Array):
        self._check(input)
        return type(self)._functional(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveAvgPoolNd(_Pool):
    def __init__(self, output_size: Any):
        super().__init__()
        self.output_size = output_size

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        self._check(input)
        return type(self)._functional(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


_ADAPTIVE_DOC = """{nd}-D adaptive {kind} pooling layer to a fixed output size.

    Args:
        output_size: int or {nd}-tuple; ``None`` entries keep the input size.{extra}

    Window ``i`` covers ``[floor(i n / o), ceil((i + 1) n / o))`` of an axis of size ``n``.

    Shape: input ``{layout}`` or unbatched ``{unbatched}``; output ``(N, C, *output_size)``.

    PyTorch equivalent: ``torch.nn.Adaptive{Kind}Pool{nd}d``.
    """


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    _nd = 1
    _functional = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    _nd = 2
    _functional = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    _nd = 3
    _functional = staticmethod(F.adaptive_max_pool3d)


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    _nd = 1
    _functional = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    _nd = 2
    _functional = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    _nd = 3
    _functional = staticmethod(F.adaptive_avg_pool3d)


for _nd in (1, 2, 3):
    _fmt = dict(nd=_nd, layout=_LAYOUT[_nd], unbatched=_UNBATCHED[_nd])
    globals()[f"MaxPool{_nd}d"].__doc__ = _MAX_DOC.format(**_fmt)
    globals()[f"AvgPool{_nd}d"].__doc__ = _AVG_DOC.format(
        extra="\n        divisor_override: divide each window sum by this instead." if _nd > 1 else "",
        **_fmt)
    globals()[f"AdaptiveMaxPool{_nd}d"].__doc__ = _ADAPTIVE_DOC.format(
        kind="max", Kind="Max", extra="\n        return_indices: also return the flat per-plane "
        "indices of the maxima.", **_fmt)
    globals()[f"AdaptiveAvgPool{_nd}d"].__doc__ = _ADAPTIVE_DOC.format(kind="average", Kind="Avg",
                                                                       extra="", **_fmt)


class _LPPoolNd(_Pool):
    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        self._check(input)
        return type(self)._functional(input, self.norm_type, self.kernel_size,
                     self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


_LP_DOC = """{nd}-D power-average pooling layer: ``(sum over the window of x ** p) ** (1 / p)``.

    Args:
        norm_type: ``p`` (``inf``: max pooling of ``|x|``).
        kernel_size: window size ({kernel}).
        stride: window stride (default ``kernel_size``).
        ceil_mode: round the output size up (torch's rule for the last window).

    Shape: input ``{layout}`` or unbatched ``{unbatched}``; output ``(N, C, *out)``.

    PyTorch equivalent: ``torch.nn.LPPool{nd}d``.
    """


class LPPool1d(_LPPoolNd):
    _nd = 1
    _functional = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    _nd = 2
    _functional = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    _nd = 3
    _functional = staticmethod(F.lp_pool3d)


class _MaxUnpoolNd(_Pool):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        # torch stores 1-, 2- or 3-tuples (and prints them)
        self.kernel_size = _ntuple(name, "kernel_size", kernel_size, nd, minimum=1)
        self.stride = _ntuple(name, "stride", stride if stride is not None else kernel_size, nd,
                              minimum=1)
        self.padding = _ntuple(name, "padding", padding, nd, minimum=0)

    def forward(self, ctx: Context, input: jax.Array, indices: jax.Array,
                output_size: Any = None) -> jax.Array:
        self._check(input)
        return type(self)._functional(input, indices, self.kernel_size, self.stride,
                     self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


_UNPOOL_DOC = """{nd}-D max unpooling layer: the partial inverse of ``MaxPool{nd}d``.

    Args:
        kernel_size, stride, padding: the pooling's (``stride`` defaults to ``kernel_size``).

    ``forward(ctx, input, indices, output_size=None)``: ``indices`` from
    ``MaxPool{nd}d(..., return_indices=True)``; ``output_size`` resolves the ambiguous
    size within a stride of the default, as torch.

    Shape: input ``{layout}`` or unbatched ``{unbatched}``; output ``(N, C, *out)`` with
    ``out = (in - 1) * stride - 2 * padding + kernel_size``.

    PyTorch equivalent: ``torch.nn.MaxUnpool{nd}d``.
    """


class MaxUnpool1d(_MaxUnpoolNd):
    _nd = 1
    _functional = staticmethod(F.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    _nd = 2
    _functional = staticmethod(F.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    _nd = 3
    _functional = staticmethod(F.max_unpool3d)


class _FractionalMaxPoolNd(_Pool):
    def __init__(self, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                 return_indices: bool = False, _random_samples: Any = None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        self.kernel_size = _ntuple(name, "kernel_size", kernel_size, nd, minimum=1)
        self.return_indices = return_indices
        self.output_size = None if output_size is None else _ntuple(name, "output_size", output_size, nd)
        self.output_ratio = None if output_ratio is None else (
            tuple(output_ratio) * (nd if len(output_ratio) == 1 else 1)
            if isinstance(output_ratio, (list, tuple)) else (output_ratio,) * nd)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError(f"{name}: only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"{name}: output_ratio must be between 0 and 1 (got {output_ratio})")
        # torch registers the samples as a buffer named _random_samples (absent when None)
        self._random_samples = None if _random_samples is None else _to_numpy(_random_samples)

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        if self._random_samples is None:
            return {}, {}
        return {}, {"_random_samples": jnp.asarray(self._random_samples)}

    def forward(self, ctx: Context, input: jax.Array):
        self._check(input)
        samples = ctx.state.get("_random_samples")
        key = None
        if samples is None:
            if ctx.key is None:
                raise ValueError("draws random pooling regions in every call (in training "
                                 "and evaluation, as torch) and needs a PRNG key: "
                                 "model.apply(params, state, x, key=jax.random.key(0)) with a new "
                                 "key each call, or construct it with _random_samples")
            key = ctx.next_key()
        return type(self)._functional(input, self.kernel_size, self.output_size,
                     self.output_ratio, self.return_indices, samples, key=key)

    def _no_direct_call(self) -> str | None:
        return ("it draws random pooling regions and needs a key; use "
                f"F.fractional_max_pool{self._nd}d(x, ..., key=key)") if self._random_samples is None else None


_FRACTIONAL_DOC = """{nd}-D fractional max pooling layer (Graham, 2015).

    Args:
        kernel_size: window size (int or {nd}-tuple).
        output_size: the output's spatial size, or
        output_ratio: a fraction of the input size in ``(0, 1)``; exactly one is given.
        return_indices: also return the flat per-plane indices of the maxima.
        _random_samples: fixed ``(N, C, {nd})`` samples, kept as torch's buffer
            ``_random_samples`` in ``state``; without them every call draws new
            windows from the key given to ``apply`` (torch draws in eval mode too).

    Shape: input ``{layout}`` or unbatched ``{unbatched}``; output ``(N, C, *out)``.

    PyTorch equivalent: ``torch.nn.FractionalMaxPool{nd}d``.
    """


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    _nd = 2
    _functional = staticmethod(_fractional_pool.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    _nd = 3
    _functional = staticmethod(_fractional_pool.fractional_max_pool3d)


for _nd in (1, 2, 3):
    _fmt = dict(nd=_nd, layout=_LAYOUT[_nd], unbatched=_UNBATCHED[_nd])
    globals()[f"LPPool{_nd}d"].__doc__ = _LP_DOC.format(
        kernel="an int" if _nd == 1 else f"int or {_nd}-tuple", **_fmt)
    globals()[f"MaxUnpool{_nd}d"].__doc__ = _UNPOOL_DOC.format(**_fmt)
    if _nd > 1:
        globals()[f"FractionalMaxPool{_nd}d"].__doc__ = _FRACTIONAL_DOC.format(**_fmt)
