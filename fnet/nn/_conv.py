"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``, ``Unfold``, ``Fold``.

Parameters are torch's: ``weight`` ``(C_out, C_in / groups, *kernel)`` (OIHW) for
convolutions, ``(C_in, C_out / groups, *kernel)`` for transposed convolutions, and
``bias`` ``(C_out,)``; both drawn from torch's default
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = weight.shape[1] * prod(kernel)``.
See ``fnet/functional/_conv.py`` for how the convolution is lowered per backend.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp

from .. import _checks
from .. import functional as F
from .. import init as init_
from ..functional._conv import _LAYOUT, _UNBATCHED, _ntuple, _same_pads
from ._module import Context, Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "Unfold", "Fold"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_JNP_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _mode_pad(where: str, x: jax.Array, pads: Sequence[tuple[int, int]], mode: str) -> jax.Array:
    """torch's ``F.pad(x, pads, mode)`` on the spatial dims (reflect/replicate/circular)."""
    spatial = x.shape[-len(pads):]
    for n, (lo, hi) in zip(spatial, pads):
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"{where}: reflect padding ({lo}, {hi}) must be smaller than the "
                             f"input size {n} it pads (input shape {_checks.fmt_shape(x.shape)})")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"{where}: circular padding ({lo}, {hi}) must not exceed the input "
                             f"size {n} it pads (input shape {_checks.fmt_shape(x.shape)})")
    widths = [(0, 0)] * (x.ndim - len(pads)) + list(pads)
    return jnp.pad(x, widths, mode=_JNP_MODE[mode])


class _ConvNd(Module):
    """Configuration, parameters and printing shared by convolutions and their transposes."""

    _nd = 0
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, output_padding: Any, groups: int, bias: bool,
                 padding_mode: str, device: Any, dtype: Any):
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        if int(groups) <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _ntuple(name, "kernel_size", kernel_size, nd, minimum=1)
        self.stride = _ntuple(name, "stride", stride, nd, minimum=1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                                 f"'valid', 'same'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride}), as in torch")
            self.padding = padding
        else:
            self.padding = _ntuple(name, "padding", padding, nd, minimum=0)
        self.dilation = _ntuple(name, "dilation", dilation, nd, minimum=1)
        self.output_padding = _ntuple(name, "output_padding", output_padding, nd, minimum=0)
        self.groups = int(groups)
        self.bias = bool(bias)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {', '.join(map(repr, _PADDING_MODES))}, "
                             f"got {padding_mode!r}")
        self.padding_mode = padding_mode
        self.dtype = dtype

    def _weight_shape(self) -> tuple[int, ...]:
        if self._transposed:
            return (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        return (self.out_channels, self.in_channels // self.groups) + self.kernel_size

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        k_weight, k_bias = jax.random.split(key)
        dtype = self.dtype or "float32"
        shape = self._weight_shape()
        params = {"weight": init_.kaiming_uniform_(k_weight, shape, a=math.sqrt(5), dtype=dtype)}
        if self.bias:
            bound = init_.torch_default_bound(shape[1] * math.prod(self.kernel_size))
            params["bias"] = init_.uniform_(k_bias, (self.out_channels,), -bound, bound, dtype)
        return params, {}

    def _check_input(self, where: str, input: Any) -> None:
        nd = self._nd
        _checks.check_floating(where, input)
        ndim = _checks.check_ndim(where, input, (nd + 1, nd + 2),
                                  f"{_LAYOUT[nd]} or unbatched {_UNBATCHED[nd]} input")
        channel_dim = ndim - nd - 1
        layout = _LAYOUT[nd] if ndim == nd + 2 else _UNBATCHED[nd]
        if _checks.shape_of(input)[channel_dim] != self.in_channels:
            _checks.fail(where, f"input {layout.replace('C', str(self.in_channels), 1)} with "
                         f"{self.in_channels} channels at dim {channel_dim}", input)

    def extra_repr(self) -> str:
        nd = self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not self.bias:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _functional = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0,
                         groups, bias, padding_mode, device, dtype)

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        where = ctx.where(self)
        self._check_input(where, input)
        weight, bias = ctx.params["weight"], ctx.params.get("bias")
        padding = self.padding
        if self.padding_mode != "zeros":
            # torch pads explicitly with the mode, then convolves without padding.
            pads = (_same_pads(self.kernel_size, self.dilation) if padding == "same"
                    else ((0, 0),) * self._nd if padding == "valid"
                    else tuple((p, p) for p in padding))
            input = _mode_pad(where, jnp.asarray(input), pads, self.padding_mode)
            padding = 0
        return _call(where, type(self)._functional, input, weight, bias, self.stride, padding,
                     self.dilation, self.groups)


def _call(where: str, fn, *args, **kwargs):
    """Runs a functional op, re-raising its errors under the layer's name."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        message = str(err)
        prefix = fn.__name__ + ": "
        if message.startswith(prefix):
            raise type(err)(f"{where}: {message[len(prefix):]}") from None
        raise


_CONV_DOC = """{nd}-D convolution layer (cross-correlation, as torch).

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        kernel_size: int or {nd}-tuple.
        stride: int or {nd}-tuple (default 1).
        padding: int, {nd}-tuple, ``'valid'`` or ``'same'`` (stride 1 only; an odd total
            padding puts the extra element at the end, as torch). Default 0.
        dilation: int or {nd}-tuple (default 1).
        groups: ``C_in`` and ``C_out`` are split into this many independent groups;
            ``groups == in_channels`` is a depthwise convolution.
        bias: learn a ``(C_out,)`` bias (default True).
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Shape:
        input ``{layout}`` or unbatched ``{unbatched}``; output
        ``(N, C_out, *out)`` with ``out = (in + 2 p - d (k - 1) - 1) // s + 1``.

    Parameters: ``weight {weight}``, ``bias (C_out,)``.

    PyTorch equivalent: ``torch.nn.Conv{nd}d``.
    """


class Conv1d(_Conv):
    _nd = 1
    _functional = staticmethod(F.conv1d)


class Conv2d(_Conv):
    _nd = 2
    _functional = staticmethod(F.conv2d)


class Conv3d(_Conv):
    _nd = 3
    _functional = staticmethod(F.conv3d)


class _ConvTranspose(_ConvNd):
    _transposed = True
    _functional = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None):
        if padding_mode != "zeros":
            raise ValueError(f'{type(self).__name__}: only "zeros" padding mode is supported, '
                             f"got padding_mode={padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of ints, "
                             f"got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, where: str, input: Any, output_size: Any) -> tuple[int, ...]:
        """torch's ``_output_padding``: the output_padding that produces ``output_size``."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        non_spatial = 2 if jnp.ndim(input) == nd + 2 else 1
        size = [int(s) for s in output_size]
        if len(size) == non_spatial + nd:
            size = size[non_spatial:]
        if len(size) != nd:
            raise ValueError(f"{where}: for {jnp.ndim(input)}-D input, output_size must have "
                             f"{nd} or {non_spatial + nd} elements, got {tuple(output_size)}")
        spatial = _checks.shape_of(input)[non_spatial:]
        lo = [(spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
              + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(nd)]
        hi = [lo[d] + self.stride[d] - 1 for d in range(nd)]
        if any(not lo[d] <= size[d] <= hi[d] for d in range(nd)):
            raise ValueError(f"{where}: requested an output size of {tuple(size)}, but valid sizes "
                             f"range from {tuple(lo)} to {tuple(hi)} (for an input of "
                             f"{tuple(spatial)})")
        return tuple(size[d] - lo[d] for d in range(nd))

    def forward(self, ctx: Context, input: jax.Array, output_size: Sequence[int] | None = None) -> jax.Array:
        where = ctx.where(self)
        self._check_input(where, input)
        output_padding = self._output_padding(where, input, output_size)
        return _call(where, type(self)._functional, input, ctx.params["weight"],
                     ctx.params.get("bias"), self.stride, self.padding, output_padding,
                     self.groups, self.dilation)


_TRANSPOSE_DOC = """{nd}-D transposed convolution layer (the gradient of ``Conv{nd}d`` w.r.t. its input).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, groups, bias, dilation:
            as for ``Conv{nd}d`` (padding must be an int or tuple).
        output_padding: extra size added to the high side of each output dim; must be
            smaller than the stride or the dilation.
        padding_mode: only ``'zeros'`` (as torch).
        device: accepted for signature parity; dtype: parameter dtype.

    ``forward(ctx, input, output_size=None)``: ``output_size`` (the spatial sizes, or the
    full shape) picks the output_padding that produces it, as torch.

    Shape:
        input ``{layout}`` or unbatched ``{unbatched}``; output ``(N, C_out, *out)``,
        ``out = (in - 1) s - 2 p + d (k - 1) + output_padding + 1``.

    Parameters: ``weight (C_in, C_out / groups, *kernel)`` (torch's layout), ``bias (C_out,)``.

    PyTorch equivalent: ``torch.nn.ConvTranspose{nd}d``.
    """


class ConvTranspose1d(_ConvTranspose):
    _nd = 1
    _functional = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    _nd = 2
    _functional = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    _nd = 3
    _functional = staticmethod(F.conv_transpose3d)


_WEIGHTS = {1: "(C_out, C_in / groups, k)", 2: "(C_out, C_in / groups, kH, kW)",
            3: "(C_out, C_in / groups, kD, kH, kW)"}
for _nd, _cls, _tcls in ((1, Conv1d, ConvTranspose1d), (2, Conv2d, ConvTranspose2d),
                         (3, Conv3d, ConvTranspose3d)):
    _cls.__doc__ = _CONV_DOC.format(nd=_nd, layout=_LAYOUT[_nd], unbatched=_UNBATCHED[_nd],
                                    weight=_WEIGHTS[_nd])
    _tcls.__doc__ = _TRANSPOSE_DOC.format(nd=_nd, layout=_LAYOUT[_nd], unbatched=_UNBATCHED[_nd])


class Unfold(Module):
    """Extracts sliding local blocks (im2col) from ``(N, C, H, W)``.

    Args:
        kernel_size, dilation, padding, stride: int or pair (stored as given, as torch).

    Shape: input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C * kH * kW, L)``.

    PyTorch equivalent: ``torch.nn.Unfold``.
    """

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return _call(ctx.where(self), F.unfold, input, self.kernel_size, self.dilation,
                     self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Sums sliding local blocks into ``(N, C, *output_size)`` (col2im), the adjoint of Unfold.

    Args:
        output_size: spatial size of the result (int or pair).
        kernel_size, dilation, padding, stride: int or pair, as for ``Unfold``.

    Shape: input ``(N, C * kH * kW, L)`` or ``(C * kH * kW, L)``; output ``(N, C, H, W)``.

    PyTorch equivalent: ``torch.nn.Fold``.
    """

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return _call(ctx.where(self), F.fold, input, self.output_size, self.kernel_size,
                     self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
