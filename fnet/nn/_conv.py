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


def _mode_pad(x: jax.Array, pads: Sequence[tuple[int, int]], mode: str) -> jax.Array:
    """torch's ``F.pad(x, pads, mode)`` on the spatial dims (reflect/replicate/circular)."""
    spatial = x.shape[-len(pads):]
    for n, (lo, hi) in zip(spatial, pads):
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"reflect padding ({lo}, {hi}) must be smaller than the "
                             f"input size {n} it pads (input shape {_checks.fmt_shape(x.shape)})")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"circular padding ({lo}, {hi}) must not exceed the input "
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

    def _check_input(self, input: Any) -> None:
        nd = self._nd
        _checks.check_floating(None, input)
        ndim = _checks.check_ndim(None, input, (nd + 1, nd + 2),
                                  f"{_LAYOUT[nd]} or unbatched {_UNBATCHED[nd]} input")
        channel_dim = ndim - nd - 1
        layout = _LAYOUT[nd] if ndim == nd + 2 else _UNBATCHED[nd]
        if _checks.shape_of(input)[channel_dim] != self.in_channels:
            _checks.fail(None, f"input {layout.replace('C', str(self.in_channels), 1)} with "
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
        self._check_input(input)
        weight, bias = ctx.params["weight"], ctx.params.get("bias")
        padding = self.padding
        if self.padding_mode != "zeros":
            # torch pads explicitly with the mode, then convolves without padding.
            pads = (_same_pads(self.kernel_size, self.dilation) if padding == "same"
                    else ((0, 0),) * self._nd if padding == "valid"
                    else tuple((p, p) for p in padding))
            input = _mode_pad(jnp.asarray(input), pads, self.padding_mode)
            padding = 0
        return type(self)._functional(input, weight, bias, self.stride, padding, self.dilation,
                                      self.groups)


class Conv1d(_Conv):
    """1-D convolution over an input of ``C_in`` channels (cross-correlation, as torch).

    Args:
        in_channels: ``C_in``, channels of the input.
        out_channels: ``C_out``, channels of the output.
        kernel_size: int or 1-tuple.
        stride: int or 1-tuple (default 1).
        padding: int, 1-tuple, ``'valid'`` (none) or ``'same'`` (output size = input size;
            stride 1 only; an odd total padding puts the extra element at the end, as torch).
            Default 0.
        dilation: int or 1-tuple, spacing between kernel elements (default 1).
        groups: ``C_in`` and ``C_out`` are split into this many independent groups;
            ``groups == in_channels`` is a depthwise convolution (default 1).
        bias: learn a ``(C_out,)`` bias (default True).
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``
            (default ``'zeros'``).
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Shape:
        - Input: ``(N, C_in, L_in)`` or unbatched ``(C_in, L_in)``.
        - Output: ``(N, C_out, L_out)`` or unbatched ``(C_out, L_out)``, where
            ``L_out = (L_in + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1``.

    Parameters (``params`` keys, torch's layout):
        - ``weight``: ``(C_out, C_in / groups, k)``, drawn from
          ``U(-sqrt(a), sqrt(a))`` with ``a = groups / (C_in * k)``.
        - ``bias``: ``(C_out,)``, same distribution (absent with ``bias=False``).

    Example::

        conv = nn.Conv1d(16, 33, 3, stride=2)
        params, state = conv.init(jax.random.key(0))
        out, _ = conv.apply(params, state, jnp.ones((20, 16, 50)))

    PyTorch equivalent: ``torch.nn.Conv1d``.
    """

    _nd = 1
    _functional = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over an input of ``C_in`` channels (cross-correlation, as torch).

    Args:
        in_channels: ``C_in``, channels of the input.
        out_channels: ``C_out``, channels of the output.
        kernel_size: int or 2-tuple (kH, kW).
        stride: int or 2-tuple (default 1).
        padding: int, 2-tuple, ``'valid'`` (none) or ``'same'`` (output size = input size;
            stride 1 only; an odd total padding puts the extra element at the end, as torch).
            Default 0.
        dilation: int or 2-tuple, spacing between kernel elements (default 1).
        groups: ``C_in`` and ``C_out`` are split into this many independent groups;
            ``groups == in_channels`` is a depthwise convolution (default 1).
        bias: learn a ``(C_out,)`` bias (default True).
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``
            (default ``'zeros'``).
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Shape:
        - Input: ``(N, C_in, H_in, W_in)`` or unbatched ``(C_in, H_in, W_in)``.
        - Output: ``(N, C_out, H_out, W_out)`` or unbatched ``(C_out, H_out, W_out)``, where
            ``H_out = (H_in + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1``;
            ``W_out = (W_in + 2 * padding[1] - dilation[1] * (kernel_size[1] - 1) - 1) // stride[1] + 1``.

    Parameters (``params`` keys, torch's layout):
        - ``weight``: ``(C_out, C_in / groups, kH, kW)``, drawn from
          ``U(-sqrt(a), sqrt(a))`` with ``a = groups / (C_in * kH * kW)``.
        - ``bias``: ``(C_out,)``, same distribution (absent with ``bias=False``).

    Example::

        conv = nn.Conv2d(16, 33, 3, stride=2)
        params, state = conv.init(jax.random.key(0))
        out, _ = conv.apply(params, state, jnp.ones((20, 16, 50, 50)))

    PyTorch equivalent: ``torch.nn.Conv2d``.
    """

    _nd = 2
    _functional = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution over an input of ``C_in`` channels (cross-correlation, as torch).

    Args:
        in_channels: ``C_in``, channels of the input.
        out_channels: ``C_out``, channels of the output.
        kernel_size: int or 3-tuple (kD, kH, kW).
        stride: int or 3-tuple (default 1).
        padding: int, 3-tuple, ``'valid'`` (none) or ``'same'`` (output size = input size;
            stride 1 only; an odd total padding puts the extra element at the end, as torch).
            Default 0.
        dilation: int or 3-tuple, spacing between kernel elements (default 1).
        groups: ``C_in`` and ``C_out`` are split into this many independent groups;
            ``groups == in_channels`` is a depthwise convolution (default 1).
        bias: learn a ``(C_out,)`` bias (default True).
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``
            (default ``'zeros'``).
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Shape:
        - Input: ``(N, C_in, D_in, H_in, W_in)`` or unbatched ``(C_in, D_in, H_in, W_in)``.
        - Output: ``(N, C_out, D_out, H_out, W_out)`` or unbatched ``(C_out, D_out, H_out, W_out)``, where
            ``D_out = (D_in + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) // stride[0] + 1``;
            ``H_out = (H_in + 2 * padding[1] - dilation[1] * (kernel_size[1] - 1) - 1) // stride[1] + 1``;
            ``W_out = (W_in + 2 * padding[2] - dilation[2] * (kernel_size[2] - 1) - 1) // stride[2] + 1``.

    Parameters (``params`` keys, torch's layout):
        - ``weight``: ``(C_out, C_in / groups, kD, kH, kW)``, drawn from
          ``U(-sqrt(a), sqrt(a))`` with ``a = groups / (C_in * kD * kH * kW)``.
        - ``bias``: ``(C_out,)``, same distribution (absent with ``bias=False``).

    Example::

        conv = nn.Conv3d(16, 33, 3, stride=2)
        params, state = conv.init(jax.random.key(0))
        out, _ = conv.apply(params, state, jnp.ones((20, 16, 50, 50, 50)))

    PyTorch equivalent: ``torch.nn.Conv3d``.
    """

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

    def _output_padding(self, input: Any, output_size: Any) -> tuple[int, ...]:
        """torch's ``_output_padding``: the output_padding that produces ``output_size``."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        non_spatial = 2 if jnp.ndim(input) == nd + 2 else 1
        size = [int(s) for s in output_size]
        if len(size) == non_spatial + nd:
            size = size[non_spatial:]
        if len(size) != nd:
            raise ValueError(f"for {jnp.ndim(input)}-D input, output_size must have "
                             f"{nd} or {non_spatial + nd} elements, got {tuple(output_size)}")
        spatial = _checks.shape_of(input)[non_spatial:]
        lo = [(spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
              + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(nd)]
        hi = [lo[d] + self.stride[d] - 1 for d in range(nd)]
        if any(not lo[d] <= size[d] <= hi[d] for d in range(nd)):
            raise ValueError(f"requested an output size of {tuple(size)}, but valid sizes "
                             f"range from {tuple(lo)} to {tuple(hi)} (for an input of "
                             f"{tuple(spatial)})")
        return tuple(size[d] - lo[d] for d in range(nd))

    def forward(self, ctx: Context, input: jax.Array, output_size: Sequence[int] | None = None) -> jax.Array:
        self._check_input(input)
        output_padding = self._output_padding(input, output_size)
        return type(self)._functional(input, ctx.params["weight"], ctx.params.get("bias"),
                                      self.stride, self.padding, output_padding, self.groups,
                                      self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution (the gradient of ``Conv1d`` with respect to its input),
    sometimes called a fractionally-strided convolution.

    Args:
        in_channels: ``C_in``, channels of the input.
        out_channels: ``C_out``, channels of the output.
        kernel_size: int or 1-tuple.
        stride: int or 1-tuple (default 1).
        padding: int or 1-tuple: ``dilation * (kernel_size - 1) - padding`` zeros are
            added to both sides of the input (default 0).
        output_padding: int or 1-tuple, extra size added to the high side of each output
            dim; must be smaller than the stride or the dilation (default 0).
        groups: ``C_in`` and ``C_out`` are split into this many independent groups (default 1).
        bias: learn a ``(C_out,)`` bias (default True).
        dilation: int or 1-tuple, spacing between kernel elements (default 1).
        padding_mode: only ``'zeros'``, as torch.
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    ``forward(ctx, input, output_size=None)``: ``output_size`` (the 1 spatial sizes, or the
    full shape) picks the ``output_padding`` that produces it, as torch.

    Shape:
        - Input: ``(N, C_in, L_in)`` or unbatched ``(C_in, L_in)``.
        - Output: ``(N, C_out, L_out)`` or unbatched ``(C_out, L_out)``, where
            ``L_out = (L_in - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1) + output_padding[0] + 1``.

    Parameters (``params`` keys, torch's layout):
        - ``weight``: ``(C_in, C_out / groups, k)``, drawn from
          ``U(-sqrt(a), sqrt(a))`` with ``a = groups / (C_out * k)``.
        - ``bias``: ``(C_out,)``, same distribution (absent with ``bias=False``).

    Example::

        deconv = nn.ConvTranspose1d(16, 33, 3, stride=2)
        params, state = deconv.init(jax.random.key(0))
        out, _ = deconv.apply(params, state, jnp.ones((20, 16, 50)))

    PyTorch equivalent: ``torch.nn.ConvTranspose1d``.
    """

    _nd = 1
    _functional = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution (the gradient of ``Conv2d`` with respect to its input),
    sometimes called a fractionally-strided convolution.

    Args:
        in_channels: ``C_in``, channels of the input.
        out_channels: ``C_out``, channels of the output.
        kernel_size: int or 2-tuple (kH, kW).
        stride: int or 2-tuple (default 1).
        padding: int or 2-tuple: ``dilation * (kernel_size - 1) - padding`` zeros are
            added to both sides of the input (default 0).
        output_padding: int or 2-tuple, extra size added to the high side of each output
            dim; must be smaller than the stride or the dilation (default 0).
        groups: ``C_in`` and ``C_out`` are split into this many independent groups (default 1).
        bias: learn a ``(C_out,)`` bias (default True).
        dilation: int or 2-tuple, spacing between kernel elements (default 1).
        padding_mode: only ``'zeros'``, as torch.
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    ``forward(ctx, input, output_size=None)``: ``output_size`` (the 2 spatial sizes, or the
    full shape) picks the ``output_padding`` that produces it, as torch.

    Shape:
        - Input: ``(N, C_in, H_in, W_in)`` or unbatched ``(C_in, H_in, W_in)``.
        - Output: ``(N, C_out, H_out, W_out)`` or unbatched ``(C_out, H_out, W_out)``, where
            ``H_out = (H_in - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1) + output_padding[0] + 1``;
            ``W_out = (W_in - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kernel_size[1] - 1) + output_padding[1] + 1``.

    Parameters (``params`` keys, torch's layout):
        - ``weight``: ``(C_in, C_out / groups, kH, kW)``, drawn from
          ``U(-sqrt(a), sqrt(a))`` with ``a = groups / (C_out * kH * kW)``.
        - ``bias``: ``(C_out,)``, same distribution (absent with ``bias=False``).

    Example::

        deconv = nn.ConvTranspose2d(16, 33, 3, stride=2)
        params, state = deconv.init(jax.random.key(0))
        out, _ = deconv.apply(params, state, jnp.ones((20, 16, 50, 50)))

    PyTorch equivalent: ``torch.nn.ConvTranspose2d``.
    """

    _nd = 2
    _functional = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution (the gradient of ``Conv3d`` with respect to its input),
    sometimes called a fractionally-strided convolution.

    Args:
        in_channels: ``C_in``, channels of the input.
        out_channels: ``C_out``, channels of the output.
        kernel_size: int or 3-tuple (kD, kH, kW).
        stride: int or 3-tuple (default 1).
        padding: int or 3-tuple: ``dilation * (kernel_size - 1) - padding`` zeros are
            added to both sides of the input (default 0).
        output_padding: int or 3-tuple, extra size added to the high side of each output
            dim; must be smaller than the stride or the dilation (default 0).
        groups: ``C_in`` and ``C_out`` are split into this many independent groups (default 1).
        bias: learn a ``(C_out,)`` bias (default True).
        dilation: int or 3-tuple, spacing between kernel elements (default 1).
        padding_mode: only ``'zeros'``, as torch.
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    ``forward(ctx, input, output_size=None)``: ``output_size`` (the 3 spatial sizes, or the
    full shape) picks the ``output_padding`` that produces it, as torch.

    Shape:
        - Input: ``(N, C_in, D_in, H_in, W_in)`` or unbatched ``(C_in, D_in, H_in, W_in)``.
        - Output: ``(N, C_out, D_out, H_out, W_out)`` or unbatched ``(C_out, D_out, H_out, W_out)``, where
            ``D_out = (D_in - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1) + output_padding[0] + 1``;
            ``H_out = (H_in - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kernel_size[1] - 1) + output_padding[1] + 1``;
            ``W_out = (W_in - 1) * stride[2] - 2 * padding[2] + dilation[2] * (kernel_size[2] - 1) + output_padding[2] + 1``.

    Parameters (``params`` keys, torch's layout):
        - ``weight``: ``(C_in, C_out / groups, kD, kH, kW)``, drawn from
          ``U(-sqrt(a), sqrt(a))`` with ``a = groups / (C_out * kD * kH * kW)``.
        - ``bias``: ``(C_out,)``, same distribution (absent with ``bias=False``).

    Example::

        deconv = nn.ConvTranspose3d(16, 33, 3, stride=2)
        params, state = deconv.init(jax.random.key(0))
        out, _ = deconv.apply(params, state, jnp.ones((20, 16, 50, 50, 50)))

    PyTorch equivalent: ``torch.nn.ConvTranspose3d``.
    """

    _nd = 3
    _functional = staticmethod(F.conv_transpose3d)


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
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

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
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
