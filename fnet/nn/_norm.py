"""Normalization layers: ``BatchNorm1d/2d/3d``, ``InstanceNorm1d/2d/3d``, ``LayerNorm``,
``GroupNorm``, ``RMSNorm``, ``LocalResponseNorm``.

Running statistics are buffers in the ``state`` tree, named as torch names them
(``running_mean``, ``running_var``, ``num_batches_tracked``). ``apply(..., train=True)``
returns the updated buffers in the new state instead of mutating them; ``train=False``
normalises with them and returns the state unchanged.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import jax
import jax.numpy as jnp

from .. import _checks
from .. import functional as F
from .. import init as init_
from ..functional._norm import _batch_norm_with_stats, _cross_map_lrn2d, _normalized_shape
from ._module import Context, Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm", "CrossMapLRN2d",
           "SyncBatchNorm"]


def _count_dtype():
    """int64 (torch's ``long``) under ``jax_enable_x64``, int32 otherwise (JAX's default)."""
    return jax.dtypes.canonicalize_dtype(jnp.int64)


def _check_eps(eps: float, batch_stats: bool) -> None:
    if batch_stats and eps <= 0.0:
        raise ValueError(f"eps must be positive when normalising with batch statistics, "
                         f"got {eps}")
    if eps < 0.0:
        raise ValueError(f"eps must be non-negative, got {eps}")


def _channel_mismatch(input: Any, dim: int, expected: int, layout: str,
                      strict: bool) -> None:
    """A wrong channel count fails where torch fails (a parameter or buffer of the wrong
    size), and warns where torch has nothing to check it against."""
    got = _checks.shape_of(input)[dim]
    if got == expected:
        return
    if strict:
        _checks.fail(None, f"input with {expected} channels at dim {dim} ({layout})", input)
    # a warning passes no module call on its way out: name the layer here
    warnings.warn(_checks.named(_checks.current_where(),
                                f"input has {got} channels at dim {dim}, not {expected}; the layer "
                                f"has no parameters or buffers of that size, so it normalises them "
                                f"anyway"), stacklevel=3)


class _NormBase(Module):
    """Shared configuration, arrays and printing of BatchNorm and InstanceNorm."""

    def __init__(self, num_features: int, eps: float = 1e-05, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True):
        super().__init__()
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = bool(affine)
        self.bias = bool(bias)
        self.track_running_stats = bool(track_running_stats)
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        dtype = self.dtype or jnp.float32
        shape = (self.num_features,)
        params: dict = {}
        if self.affine:
            params["weight"] = init_.ones_(None, shape, dtype)
            if self.bias:
                params["bias"] = init_.zeros_(None, shape, dtype)
        state: dict = {}
        if self.track_running_stats:
            state["running_mean"] = init_.zeros_(None, shape, dtype)
            state["running_var"] = init_.ones_(None, shape, dtype)
            state["num_batches_tracked"] = jnp.zeros((), _count_dtype())
        return params, state

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.affine and self.bias}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _ndims: tuple[int, ...] = ()
    _layout = ""

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_floating(None, input)
        _checks.check_ndim(None, input, self._ndims, self._layout)
        _channel_mismatch(input, 1, self.num_features, self._layout,
                          self.affine or self.track_running_stats)
        # torch: batch statistics in training, and in eval when there are no running ones.
        batch_stats = ctx.train or not self.track_running_stats
        shape = _checks.shape_of(input)
        if batch_stats:
            if shape[0] * math.prod(shape[2:]) == 1:
                raise ValueError(f"Expected more than 1 value per channel when training "
                                 f"(batch statistics), got input size {_checks.fmt_shape(shape)}")
        _check_eps(self.eps, batch_stats)
        weight, bias = ctx.params.get("weight"), ctx.params.get("bias")
        axis_name = self._axis_name()
        if ctx.train and self.track_running_stats:
            count = ctx.state["num_batches_tracked"] + 1
            momentum = (1.0 / count.astype(ctx.state["running_mean"].dtype)
                        if self.momentum is None else self.momentum)
            out, mean, var = _batch_norm_with_stats(input, ctx.state["running_mean"],
                                                    ctx.state["running_var"], weight, bias,
                                                    True, momentum, self.eps, axis_name)
            ctx.update_state(running_mean=mean, running_var=var, num_batches_tracked=count)
            return out
        if batch_stats:
            return _batch_norm_with_stats(input, None, None, weight, bias, True, 0.0, self.eps,
                                          axis_name)[0]
        return F.batch_norm(input, ctx.state["running_mean"], ctx.state["running_var"], weight,
                            bias, False, 0.0, self.eps)

    def _axis_name(self) -> Any:
        """The mesh axis the batch statistics are reduced over (SyncBatchNorm), or None."""
        return None


_BN_DOC = """Batch normalization over the channels of a {inputs} input.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel. With ``train=True``
    the mean and biased variance of the batch (over every axis but 1) are used, and
    the new state holds the updated running statistics; with ``train=False`` the
    running statistics are used and the state is returned unchanged.

    Running statistics follow torch's momentum convention, the complement of Flax's:
    ``new = (1 - momentum) * old + momentum * batch_stat`` (``momentum=0.1`` here is
    Flax's ``momentum=0.9``), and ``running_var`` accumulates the *unbiased* batch
    variance (``n / (n - 1)`` times the one used to normalise), as torch does.
    ``momentum=None`` gives the cumulative moving average (factor
    ``1 / num_batches_tracked``).

    Args:
        num_features: number of channels ``C``.
        eps: added to the variance before the square root (default 1e-5).
        momentum: running-statistics factor, or None for a cumulative average.
        affine: learn ``weight`` (ones) and ``bias`` (zeros) of shape ``(C,)``.
        track_running_stats: keep ``running_mean`` (zeros), ``running_var`` (ones) and
            ``num_batches_tracked`` buffers; if False there are none and batch
            statistics are used in eval mode too.
        device: accepted for signature parity; placement is JAX's.
        dtype: dtype of the parameters and running statistics (default float32).
        bias: keyword-only, as in torch: with ``affine``, learn the bias too.

    Shape:
        input {shapes}, output the same shape.

    Buffers: ``num_batches_tracked`` is int64 in torch; in fnet it is int64 under
    ``jax_enable_x64`` and int32 otherwise (JAX's default integer), so a checkpoint
    round-trips through int32 unless x64 is on.

    Raises:
        ValueError: wrong rank, wrong channel count, and torch's refusal to take batch
            statistics of a single value per channel ("Expected more than 1 value per
            channel when training").

    PyTorch equivalent: ``torch.nn.{name}``.
    """


class BatchNorm1d(_BatchNorm):
    _ndims = (2, 3)
    _layout = "2D input (N, C) or 3D input (N, C, L)"


class BatchNorm2d(_BatchNorm):
    _ndims = (4,)
    _layout = "4D input (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    _ndims = (5,)
    _layout = "5D input (N, C, D, H, W)"


BatchNorm1d.__doc__ = _BN_DOC.format(inputs="2D or 3D", shapes="``(N, C)`` or ``(N, C, L)``",
                                     name="BatchNorm1d")
BatchNorm2d.__doc__ = _BN_DOC.format(inputs="4D", shapes="``(N, C, H, W)``", name="BatchNorm2d")
BatchNorm3d.__doc__ = _BN_DOC.format(inputs="5D", shapes="``(N, C, D, H, W)``", name="BatchNorm3d")


class SyncBatchNorm(_BatchNorm):
    """Batch normalization whose batch statistics cover the whole data-parallel batch.

    Under ``jax.jit`` with the batch sharded over a mesh (``fnet.sharding``), every
    ``BatchNorm`` already computes its statistics over the global batch: the array is
    global and XLA inserts the all-reduce. ``SyncBatchNorm`` is that layer with torch's
    name, signature and any input rank ``(N, C, *)``; with ``process_group`` set to a
    mesh axis name it also works in per-device code (``jax.shard_map``, ``pmap``), where
    each device holds a slice of the batch: the sums behind the mean and variance are
    all-reduced over that axis (``lax.psum``), so outputs, gradients and running
    statistics equal ``BatchNorm`` on the global batch (tested on 8 devices).

    Args:
        num_features, eps, momentum, affine, track_running_stats, device, dtype, bias:
            as ``BatchNorm2d``.
        process_group: None (statistics over the batch the layer sees; global under
            ``jit`` with sharded arrays), or the name of the mesh axis the batch is split
            along in per-device code (``"data"``). torch takes a ``ProcessGroup``; JAX
            names the axis instead.

    Shape: input ``(N, C, *)`` with at least 2 dimensions, output the same shape.

    PyTorch equivalent: ``torch.nn.SyncBatchNorm``.
    """

    _layout = "input (N, C, *) with at least 2 dimensions"

    def __init__(self, num_features: int, eps: float = 1e-05, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group: Any = None,
                 device: Any = None, dtype: Any = None, *, bias: bool = True):
        if process_group is not None and not isinstance(process_group, (str, tuple)):
            raise TypeError(f"SyncBatchNorm: process_group must be None or a mesh axis name (str, or a "
                            f"tuple of names), got {type(process_group).__name__}; JAX names the axes "
                            f"of a jax.sharding.Mesh instead of torch's process groups")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)
        self.process_group = process_group

    @property
    def _ndims(self) -> tuple[int, ...]:
        return tuple(range(2, 33))

    def _axis_name(self) -> Any:
        return self.process_group

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """A copy of ``module`` with every ``BatchNorm1d/2d/3d`` replaced by a
        ``SyncBatchNorm`` of the same configuration (parameter names unchanged).

        PyTorch equivalent: ``torch.nn.SyncBatchNorm.convert_sync_batchnorm``.
        """
        if isinstance(module, (BatchNorm1d, BatchNorm2d, BatchNorm3d)):
            return cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats, process_group, None, module.dtype, bias=module.bias)
        return _replace_children(module, lambda child: cls.convert_sync_batchnorm(child, process_group))


def _replace_children(module: Module, convert: Any) -> Module:
    """A shallow copy of a frozen module whose children are ``convert(child)``."""
    import copy

    children = dict(module._all_children())
    converted = {name: convert(child) for name, child in children.items()}
    if all(converted[name] is children[name] for name in children):
        return module
    new = copy.copy(module)
    new.__dict__.pop("_fnet_cache", None)
    items = new.__dict__.get("_items")
    if items is not None:  # containers keep their children in an ordered list
        object.__setattr__(new, "_items", [(name, converted[name]) for name, _ in items])
    for name, child in converted.items():
        if name in new.__dict__:
            object.__setattr__(new, name, child)
    return new


class _InstanceNorm(_NormBase):
    _no_batch_dim = 0
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-05, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_floating(None, input)
        ndim = _checks.check_ndim(None, input, (self._no_batch_dim, self._no_batch_dim + 1),
                                  self._layout)
        _channel_mismatch(input, ndim - self._no_batch_dim, self.num_features,
                          self._layout, self.affine or self.track_running_stats)
        unbatched = ndim == self._no_batch_dim
        x = input[None] if unbatched else input
        input_stats = ctx.train or not self.track_running_stats
        shape = _checks.shape_of(x)
        if input_stats and all(s == 1 for s in shape[2:]):
            raise ValueError(f"Expected more than 1 spatial element when training "
                             f"(instance statistics), got input size {_checks.fmt_shape(shape)}")
        _check_eps(self.eps, input_stats)
        weight, bias = ctx.params.get("weight"), ctx.params.get("bias")
        if ctx.train and self.track_running_stats:
            # torch passes momentum None as 0 here, and leaves num_batches_tracked alone.
            momentum = 0.0 if self.momentum is None else self.momentum
            out, mean, var = F.instance_norm_with_stats(x, ctx.state["running_mean"],
                                                        ctx.state["running_var"], weight, bias,
                                                        True, momentum, self.eps)
            ctx.update_state(running_mean=mean, running_var=var)
        elif input_stats:
            out = F.instance_norm(x, None, None, weight, bias, True, 0.0, self.eps)
        else:
            out = F.instance_norm(x, ctx.state["running_mean"], ctx.state["running_var"], weight,
                                  bias, False, 0.0, self.eps)
        return out[0] if unbatched else out


_IN_DOC = """Instance normalization: each sample's channels normalised over their own {axes}.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and biased
    variance of each ``(sample, channel)`` slice. Unbatched inputs {unbatched} are
    accepted, as in torch.

    With ``track_running_stats=True``, ``train=True`` also returns updated
    ``running_mean``/``running_var`` (torch's convention ``new = (1 - momentum) * old +
    momentum * s``, where ``s`` is the per-instance mean / unbiased variance averaged
    over the batch; ``momentum=None`` counts as 0 and ``num_batches_tracked`` stays
    unchanged, both as in torch), and ``train=False`` normalises with them.

    Args:
        num_features: number of channels ``C``.
        eps: added to the variance before the square root (default 1e-5).
        momentum: running-statistics factor (default 0.1).
        affine: learn ``weight`` and ``bias`` of shape ``(C,)`` (default False).
        track_running_stats: keep running statistics (default False).
        device: accepted for signature parity; placement is JAX's.
        dtype: dtype of the parameters and running statistics (default float32).
        bias: keyword-only, as in torch: with ``affine``, learn the bias too.

    Shape:
        input {shapes}, output the same shape.

    A channel count different from ``num_features`` raises when the layer has
    parameters or running statistics, and warns otherwise (as torch does).

    PyTorch equivalent: ``torch.nn.{name}``.
    """


class InstanceNorm1d(_InstanceNorm):
    _no_batch_dim = 2
    _layout = "2D input (C, L) or 3D input (N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    _no_batch_dim = 3
    _layout = "3D input (C, H, W) or 4D input (N, C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    _no_batch_dim = 4
    _layout = "4D input (C, D, H, W) or 5D input (N, C, D, H, W)"


InstanceNorm1d.__doc__ = _IN_DOC.format(axes="length", unbatched="``(C, L)``",
                                        shapes="``(N, C, L)`` or ``(C, L)``", name="InstanceNorm1d")
InstanceNorm2d.__doc__ = _IN_DOC.format(axes="height and width", unbatched="``(C, H, W)``",
                                        shapes="``(N, C, H, W)`` or ``(C, H, W)``",
                                        name="InstanceNorm2d")
InstanceNorm3d.__doc__ = _IN_DOC.format(axes="depth, height and width",
                                        unbatched="``(C, D, H, W)``",
                                        shapes="``(N, C, D, H, W)`` or ``(C, D, H, W)``",
                                        name="InstanceNorm3d")


def _check_trailing(input: Any, shape: tuple[int, ...]) -> None:
    got = _checks.shape_of(input)
    if len(got) < len(shape) or got[len(got) - len(shape):] != shape:
        trailing = ", ".join(str(s) for s in shape)
        _checks.fail(None, f"input of shape (*, {trailing}) (trailing dimensions equal to "
                            f"normalized_shape)", input)


class LayerNorm(Module):
    """Normalises over the trailing ``normalized_shape`` dimensions of each sample.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and biased
    variance over the last ``len(normalized_shape)`` axes. Note the defaults are torch's:
    eps 1e-5 inside the square root (Flax's LayerNorm uses 1e-6).

    Args:
        normalized_shape: an int or a tuple, the trailing shape to normalise over.
        eps: added to the variance before the square root (default 1e-5).
        elementwise_affine: learn ``weight`` (ones) and ``bias`` (zeros) of shape
            ``normalized_shape``.
        bias: with ``elementwise_affine``, learn the bias too.
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Shape:
        input ``(*, *normalized_shape)``, output the same shape.

    PyTorch equivalent: ``torch.nn.LayerNorm``.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-05,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = bool(elementwise_affine)
        self.bias = bool(bias)
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        params: dict = {}
        if self.elementwise_affine:
            dtype = self.dtype or jnp.float32
            params["weight"] = init_.ones_(None, self.normalized_shape, dtype)
            if self.bias:
                params["bias"] = init_.zeros_(None, self.normalized_shape, dtype)
        return params, {}

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_floating(None, input)
        _check_trailing(input, self.normalized_shape)
        return F.layer_norm(input, self.normalized_shape, ctx.params.get("weight"),
                            ctx.params.get("bias"), self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, "
                f"bias={self.elementwise_affine and self.bias}")


class RMSNorm(Module):
    """Root-mean-square normalization over the trailing ``normalized_shape`` dimensions.

    ``y = x / sqrt(mean(x**2) + eps) * weight``.

    Args:
        normalized_shape: an int or a tuple, the trailing shape to normalise over.
        eps: added to the mean square; None (default) means ``finfo(input.dtype).eps``
            at call time, as in torch.
        elementwise_affine: learn ``weight`` (ones) of shape ``normalized_shape``.
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Shape:
        input ``(*, *normalized_shape)``, output the same shape.

    PyTorch equivalent: ``torch.nn.RMSNorm``.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = bool(elementwise_affine)
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        params: dict = {}
        if self.elementwise_affine:
            params["weight"] = init_.ones_(None, self.normalized_shape, self.dtype or jnp.float32)
        return params, {}

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_floating(None, input)
        _check_trailing(input, self.normalized_shape)
        return F.rms_norm(input, self.normalized_shape, ctx.params.get("weight"), self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Splits the channels into groups and normalises each group of each sample.

    Args:
        num_groups: number of groups; must divide ``num_channels``.
        num_channels: number of channels ``C``.
        eps: added to the variance before the square root (default 1e-5).
        affine: learn per-channel ``weight`` (ones) and ``bias`` (zeros) of shape ``(C,)``.
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).
        bias: keyword-only, as in torch: with ``affine``, learn the bias too.

    Shape:
        input ``(N, C, *)``, output the same shape.

    Raises:
        ValueError: at construction when ``num_channels % num_groups != 0`` (as torch);
            in forward for a wrong rank, a channel count that does not match.

    PyTorch equivalent: ``torch.nn.GroupNorm``.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-05, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True):
        super().__init__()
        if int(num_groups) <= 0 or int(num_channels) % int(num_groups) != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = bool(affine)
        self.bias = bool(bias)
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        params: dict = {}
        if self.affine:
            dtype = self.dtype or jnp.float32
            params["weight"] = init_.ones_(None, (self.num_channels,), dtype)
            if self.bias:
                params["bias"] = init_.zeros_(None, (self.num_channels,), dtype)
        return params, {}

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_floating(None, input)
        shape = _checks.shape_of(input)
        layout = f"input (N, {self.num_channels}, *) with at least 2 dimensions"
        if len(shape) < 2:
            _checks.fail(None, layout, input)
        if shape[1] % self.num_groups != 0:
            _checks.fail(None, f"input with a number of channels (dim 1) divisible by "
                                f"num_groups={self.num_groups}", input)
        _channel_mismatch(input, 1, self.num_channels, layout, self.affine)
        if shape[0] * shape[1] // self.num_groups * math.prod(shape[2:]) == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size {_checks.fmt_shape(shape)}")
        return F.group_norm(input, self.num_groups, ctx.params.get("weight"),
                            ctx.params.get("bias"), self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.affine and self.bias}")


class _LRNConfig(Module):
    """``size, alpha, beta, k`` and torch's printing, shared by the two LRN layers."""

    def __init__(self, size: int, alpha: float = 0.0001, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LocalResponseNorm(_LRNConfig):
    """Divides each value by a power of the squares of its ``size`` neighbouring channels.

    ``y = x / (k + alpha / size * sum_{window} x**2) ** beta``.

    Args:
        size: number of neighbouring channels in the window.
        alpha: multiplicative factor (default 1e-4).
        beta: exponent (default 0.75).
        k: additive constant (default 1).

    Shape:
        input ``(N, C, *)`` with at least 3 dimensions, output the same shape.

    PyTorch equivalent: ``torch.nn.LocalResponseNorm``.
    """

    def __init__(self, size: int, alpha: float = 0.0001, beta: float = 0.75, k: float = 1.0):
        super().__init__(size, alpha, beta, k)

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_floating(None, input)
        if jnp.ndim(input) < 3:
            _checks.fail(None, "input (N, C, *) with 3 or more dimensions", input)
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)


class CrossMapLRN2d(_LRNConfig):
    """torch's legacy cross-channel LRN for ``(N, C, H, W)`` (from Lua torch).

    ``y = x * (k + alpha / size * sum_{window} x**2) ** -beta``, with torch's legacy
    window and its hand-written backward reproduced exactly (they differ from
    :class:`LocalResponseNorm`: the running window never drops channel 0, and the
    backward is not that forward's derivative; see ``F._norm._cross_map_lrn2d``).
    Prefer :class:`LocalResponseNorm` in new code.

    Args:
        size: number of channels in the window.
        alpha: multiplicative factor (default 1e-4).
        beta: exponent (default 0.75).
        k: additive constant (default 1).

    Shape: input ``(N, C, H, W)`` (4-D only, as torch), output the same shape.

    PyTorch equivalent: ``torch.nn.CrossMapLRN2d``.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1):
        super().__init__(size, alpha, beta, k)

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_floating(None, input)
        _checks.check_ndim(None, input, (4,), "a 4-D input (N, C, H, W)")
        return _cross_map_lrn2d(jnp.asarray(input), int(self.size), float(self.alpha),
                                float(self.beta), float(self.k))
