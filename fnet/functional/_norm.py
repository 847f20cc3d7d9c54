"""Normalization (torch.nn.functional twins): batch, instance, layer, group, RMS and
local-response normalization, and ``normalize``.

Statistics are computed with a shifted two-pass algorithm: each reduced slice is first
shifted by one of its own elements (held constant for differentiation), then the mean
and the mean of squared deviations are taken. Mathematically this is the plain mean and
biased variance (gradients are exact); numerically it keeps float32 accurate for inputs
with a large offset (values around 1e3), where summing the raw values loses digits.

Where torch updates running statistics in place (``batch_norm``, ``instance_norm``),
fnet is pure: the twins return the output only, exactly as torch does, and the
``*_with_stats`` variants return the updated running statistics as well.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _checks

__all__ = ["batch_norm", "batch_norm_with_stats", "instance_norm", "instance_norm_with_stats",
           "layer_norm", "rms_norm", "group_norm", "local_response_norm", "normalize"]

_LOW_PRECISION = (jnp.float16, jnp.bfloat16)


def _compute_dtype(x: jax.Array):
    """Half-precision inputs are normalised in float32, as torch's CPU kernels do."""
    return jnp.float32 if x.dtype in _LOW_PRECISION else x.dtype


def _centered_moments(x: jax.Array, axes: tuple[int, ...], axis_name: Any = None
                      ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(x - mean, mean, biased variance)`` over ``axes`` (keepdims), accurately.

    The shift is one element of each slice under ``stop_gradient``: ``x - shift`` is
    exact for values of similar magnitude, so the sums see only the deviations. With
    ``axis_name`` (inside ``shard_map``/``pmap``) the statistics cover every device's
    slice of the batch along that mesh axis (the shift is their mean, one for all).
    """
    if axes and all(x.shape[a] > 0 for a in axes):
        first = tuple(slice(0, 1) if a in axes else slice(None) for a in range(x.ndim))
        shift = lax.stop_gradient(x[first])
        if axis_name is not None:
            shift = lax.stop_gradient(lax.pmean(shift, axis_name))
    else:
        shift = jnp.zeros((), x.dtype)
    shifted = x - shift
    if axis_name is None:
        mean_shifted = jnp.mean(shifted, axis=axes, keepdims=True)
        centered = shifted - mean_shifted
        var = jnp.mean(centered * centered, axis=axes, keepdims=True)
        return centered, shift + mean_shifted, var
    count = lax.psum(math.prod(x.shape[a] for a in axes), axis_name)
    mean_shifted = lax.psum(jnp.sum(shifted, axis=axes, keepdims=True), axis_name) / count
    centered = shifted - mean_shifted
    var = lax.psum(jnp.sum(centered * centered, axis=axes, keepdims=True), axis_name) / count
    return centered, shift + mean_shifted, var


def _channel_shape(ndim: int) -> tuple[int, ...]:
    """Broadcast shape of a per-channel vector for an ``(N, C, *)`` input."""
    return (1, -1) + (1,) * (ndim - 2)


def _affine(y: jax.Array, weight: jax.Array | None, bias: jax.Array | None,
            shape: Sequence[int]) -> jax.Array:
    if weight is not None:
        y = y * jnp.reshape(weight, shape).astype(y.dtype)
    if bias is not None:
        y = y + jnp.reshape(bias, shape).astype(y.dtype)
    return y


def _check_vector(caller: str, name: str, v: Any, size: int) -> None:
    if v is not None and _checks.shape_of(v) != (size,):
        raise ValueError(f"{caller}: expected {name} of shape ({size},) (one value per channel), "
                         f"got shape {_checks.fmt_shape(_checks.shape_of(v))}")


def _verify_batch_size(caller: str, shape: Sequence[int]) -> None:
    """torch's refusal: batch statistics of a single value per channel are undefined."""
    count = shape[0] * math.prod(shape[2:])
    if count == 1:
        raise ValueError(f"{caller}: Expected more than 1 value per channel when training, got "
                         f"input size {_checks.fmt_shape(shape)}")


def _check_eps(caller: str, eps: float, batch_stats: bool) -> None:
    if batch_stats and eps <= 0.0:
        raise ValueError(f"{caller}: eps must be positive during training, got {eps}")
    if eps < 0.0:
        raise ValueError(f"{caller}: eps must be non-negative, got {eps}")


def _update_running(old: jax.Array | None, batch: jax.Array, momentum: Any) -> jax.Array | None:
    """torch's convention: ``new = (1 - momentum) * old + momentum * batch``, no gradient."""
    if old is None:
        return None
    if momentum is None:
        raise TypeError("momentum must be a number (None, the cumulative average, is resolved by "
                        "nn.BatchNorm*d from num_batches_tracked), got None")
    batch = lax.stop_gradient(batch).astype(old.dtype)
    momentum = jnp.asarray(momentum, old.dtype)
    return (1 - momentum) * old + momentum * batch


def batch_norm_with_stats(input: jax.Array, running_mean: jax.Array | None,
                          running_var: jax.Array | None, weight: jax.Array | None = None,
                          bias: jax.Array | None = None, training: bool = False,
                          momentum: float | jax.Array = 0.1, eps: float = 1e-05
                          ) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
    """:func:`batch_norm` that also returns the running statistics torch would leave behind.

    Returns:
        ``(output, new_running_mean, new_running_var)``. With ``training=True`` and
        running statistics given, they are updated as torch updates its buffers:
        ``new = (1 - momentum) * old + momentum * batch_stat``, where the variance is
        the *unbiased* batch variance (``n / (n - 1)`` times the biased one used to
        normalise; ``n = N * prod(spatial)``). This is torch's momentum convention, the
        complement of Flax's (``momentum=0.1`` here is Flax's ``momentum=0.9``).
        Otherwise the running statistics are returned unchanged (None stays None).
        ``momentum`` may be a traced scalar (``BatchNorm(momentum=None)`` passes
        ``1 / num_batches_tracked``). The running statistics carry no gradient.

    PyTorch equivalent: ``torch.nn.functional.batch_norm`` plus the values it writes into
    ``running_mean``/``running_var`` in place.
    """
    return _batch_norm_with_stats(input, running_mean, running_var, weight, bias, training, momentum,
                                  eps, None)


def _batch_norm_with_stats(input, running_mean, running_var, weight, bias, training, momentum, eps,
                           axis_name: Any):
    """:func:`batch_norm_with_stats`; with ``axis_name`` the batch statistics cover the
    whole batch split along that mesh axis (``nn.SyncBatchNorm`` inside ``shard_map``)."""
    caller = "batch_norm"
    _checks.check_floating(caller, input)
    shape = _checks.shape_of(input)
    if len(shape) < 2:
        _checks.fail(caller, "input of shape (N, C, *) with at least 2 dimensions", input)
    channels = shape[1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_vector(caller, name, v, channels)
    devices = 1 if axis_name is None else lax.psum(1, axis_name)
    if training:
        _verify_batch_size(caller, (shape[0] * devices,) + tuple(shape[1:]))
    _check_eps(caller, eps, bool(training))
    cshape = _channel_shape(len(shape))
    x = input.astype(_compute_dtype(input))
    if training:
        axes = (0,) + tuple(range(2, len(shape)))
        centered, mean, var = _centered_moments(x, axes, axis_name)
        y = centered * lax.rsqrt(var + eps)
        n = shape[0] * math.prod(shape[2:]) * devices
        if n == 0:  # an empty batch: torch returns the empty output and leaves the statistics
            new_mean, new_var = running_mean, running_var
        else:
            new_mean = _update_running(running_mean, jnp.reshape(mean, (channels,)), momentum)
            new_var = _update_running(running_var, jnp.reshape(var, (channels,)) * (n / max(n - 1, 1)),
                                      momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{caller}: running_mean and running_var must be given when "
                             f"training=False (evaluation uses them to normalise)")
        mean = jnp.reshape(running_mean, cshape).astype(x.dtype)
        var = jnp.reshape(running_var, cshape).astype(x.dtype)
        y = (x - mean) * lax.rsqrt(var + eps)
        new_mean, new_var = running_mean, running_var
    y = _affine(y, weight, bias, cshape).astype(input.dtype)
    return y, new_mean, new_var


def batch_norm(input: jax.Array, running_mean: jax.Array | None, running_var: jax.Array | None,
               weight: jax.Array | None = None, bias: jax.Array | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-05) -> jax.Array:
    """Batch normalization over the channel axis 1 of an ``(N, C, *)`` input.

    ``training=True`` normalises with the batch mean and biased variance over every
    axis except 1; ``training=False`` with ``running_mean``/``running_var``.

    Differs from torch: torch updates ``running_mean``/``running_var`` in place when
    ``training=True``; JAX arrays are immutable, so this returns the output only
    (identical to torch's) and leaves the statistics alone. Use
    :func:`batch_norm_with_stats` to get the updated statistics, or ``nn.BatchNorm*d``,
    which returns them in its new state.

    Args:
        input: ``(N, C)`` or ``(N, C, *)``.
        running_mean, running_var: ``(C,)``; required when ``training=False``.
        weight, bias: ``(C,)`` affine parameters, or None.
        training: use batch statistics (torch's ``training``).
        momentum: factor of the running-statistics update (see the ``_with_stats`` twin).
        eps: added to the variance before the square root.

    Returns:
        An array of the input's shape.

    Raises:
        ValueError: one value per channel in training, channel mismatches, eps <= 0 in
            training, missing running statistics in evaluation.

    PyTorch equivalent: ``torch.nn.functional.batch_norm``.
    """
    return batch_norm_with_stats(input, running_mean, running_var, weight, bias, training,
                                 momentum, eps)[0]


def instance_norm_with_stats(input: jax.Array, running_mean: jax.Array | None = None,
                             running_var: jax.Array | None = None, weight: jax.Array | None = None,
                             bias: jax.Array | None = None, use_input_stats: bool = True,
                             momentum: float = 0.1, eps: float = 1e-05
                             ) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
    """:func:`instance_norm` that also returns the running statistics torch would leave behind.

    Returns:
        ``(output, new_running_mean, new_running_var)``. With ``use_input_stats`` and
        running statistics given, each is updated as torch does: ``(1 - momentum) * old
        + momentum * s``, where ``s`` is the per-instance mean (or unbiased variance,
        over the spatial axes) averaged over the batch. No gradient flows into them.

    PyTorch equivalent: ``torch.nn.functional.instance_norm`` plus the values it writes
    into ``running_mean``/``running_var`` in place.
    """
    caller = "instance_norm"
    _checks.check_floating(caller, input)
    shape = _checks.shape_of(input)
    if len(shape) < 3:
        _checks.fail(caller, "input of shape (N, C, *) with at least one spatial dimension", input)
    channels = shape[1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_vector(caller, name, v, channels)
    cshape = _channel_shape(len(shape))
    x = input.astype(_compute_dtype(input))
    if use_input_stats:
        if math.prod(shape[2:]) == 1:
            raise ValueError(f"{caller}: Expected more than 1 spatial element when training, got "
                             f"input size {_checks.fmt_shape(shape)}")
        _check_eps(caller, eps, True)
        axes = tuple(range(2, len(shape)))
        centered, mean, var = _centered_moments(x, axes)
        y = centered * lax.rsqrt(var + eps)
        n = math.prod(shape[2:])
        flat = (shape[0], channels)
        new_mean = _update_running(running_mean, jnp.mean(jnp.reshape(mean, flat), axis=0), momentum)
        unbiased = jnp.reshape(var, flat) * (n / max(n - 1, 1))
        new_var = _update_running(running_var, jnp.mean(unbiased, axis=0), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{caller}: running_mean and running_var must be given when "
                             f"use_input_stats=False")
        _check_eps(caller, eps, False)
        mean = jnp.reshape(running_mean, cshape).astype(x.dtype)
        var = jnp.reshape(running_var, cshape).astype(x.dtype)
        y = (x - mean) * lax.rsqrt(var + eps)
        new_mean, new_var = running_mean, running_var
    y = _affine(y, weight, bias, cshape).astype(input.dtype)
    return y, new_mean, new_var


def instance_norm(input: jax.Array, running_mean: jax.Array | None = None,
                  running_var: jax.Array | None = None, weight: jax.Array | None = None,
                  bias: jax.Array | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-05) -> jax.Array:
    """Instance normalization: each ``(n, c)`` slice normalised over its spatial axes.

    Differs from torch: torch updates the running statistics in place when
    ``use_input_stats=True``; this returns the output only (identical to torch's). Use
    :func:`instance_norm_with_stats` for the updated statistics.

    Args:
        input: ``(N, C, *)`` with at least one spatial axis.
        running_mean, running_var: ``(C,)``; used instead of the instance statistics
            when ``use_input_stats=False``.
        weight, bias: ``(C,)`` affine parameters, or None.
        use_input_stats: normalise with each instance's own statistics.
        momentum: factor of the running-statistics update.
        eps: added to the variance before the square root.

    Returns:
        An array of the input's shape.

    PyTorch equivalent: ``torch.nn.functional.instance_norm``.
    """
    return instance_norm_with_stats(input, running_mean, running_var, weight, bias,
                                    use_input_stats, momentum, eps)[0]


def _normalized_shape(normalized_shape: Any) -> tuple[int, ...]:
    if hasattr(normalized_shape, "__index__"):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _check_trailing(caller: str, input: Any, shape: tuple[int, ...], weight: Any, bias: Any) -> None:
    got = _checks.shape_of(input)
    if len(shape) == 0 or len(got) < len(shape) or got[len(got) - len(shape):] != shape:
        trailing = ", ".join(str(s) for s in shape)
        _checks.fail(caller, f"input of shape (*, {trailing}) (trailing dimensions equal to "
                             f"normalized_shape={_checks.fmt_shape(shape)})", input)
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and _checks.shape_of(v) != shape:
            raise ValueError(f"{caller}: expected {name} of shape normalized_shape="
                             f"{_checks.fmt_shape(shape)}, got shape "
                             f"{_checks.fmt_shape(_checks.shape_of(v))}")


def layer_norm(input: jax.Array, normalized_shape: int | Sequence[int],
               weight: jax.Array | None = None, bias: jax.Array | None = None,
               eps: float = 1e-05) -> jax.Array:
    """Normalises over the trailing ``normalized_shape`` axes (mean 0, biased variance 1).

    Note: ``eps`` is added to the variance inside the square root, as in torch (Flax's
    default eps is 1e-6; torch's and fnet's is 1e-5).

    Args:
        input: ``(*, *normalized_shape)``.
        normalized_shape: an int or a tuple of the trailing dimensions.
        weight, bias: arrays of shape ``normalized_shape``, or None.
        eps: added to the variance before the square root.

    Returns:
        An array of the input's shape.

    PyTorch equivalent: ``torch.nn.functional.layer_norm``.
    """
    caller = "layer_norm"
    _checks.check_floating(caller, input)
    shape = _normalized_shape(normalized_shape)
    _check_trailing(caller, input, shape, weight, bias)
    x = input.astype(_compute_dtype(input))
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centered, _, var = _centered_moments(x, axes)
    y = centered * lax.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.astype(y.dtype)
    if bias is not None:
        y = y + bias.astype(y.dtype)
    return y.astype(input.dtype)


def rms_norm(input: jax.Array, normalized_shape: int | Sequence[int],
             weight: jax.Array | None = None, eps: float | None = None) -> jax.Array:
    """Root-mean-square normalization: ``x / sqrt(mean(x**2) + eps) * weight``.

    Args:
        input: ``(*, *normalized_shape)``.
        normalized_shape: an int or a tuple of the trailing dimensions.
        weight: array of shape ``normalized_shape``, or None.
        eps: added to the mean square; None means ``finfo(input.dtype).eps``, as torch.

    Returns:
        An array of the input's shape.

    PyTorch equivalent: ``torch.nn.functional.rms_norm``.
    """
    caller = "rms_norm"
    _checks.check_floating(caller, input)
    shape = _normalized_shape(normalized_shape)
    _check_trailing(caller, input, shape, weight, None)
    x = input.astype(_compute_dtype(input))
    if eps is None:
        eps = float(jnp.finfo(input.dtype).eps)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    y = x * lax.rsqrt(jnp.mean(x * x, axis=axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight.astype(y.dtype)
    return y.astype(input.dtype)


def group_norm(input: jax.Array, num_groups: int, weight: jax.Array | None = None,
               bias: jax.Array | None = None, eps: float = 1e-05) -> jax.Array:
    """Splits the channels into ``num_groups`` groups and normalises each group of each sample.

    Args:
        input: ``(N, C, *)``; ``C`` must be divisible by ``num_groups``.
        num_groups: number of channel groups.
        weight, bias: ``(C,)`` per-channel affine parameters, or None.
        eps: added to the variance before the square root.

    Returns:
        An array of the input's shape.

    Raises:
        ValueError: fewer than 2 dimensions, ``C % num_groups != 0``, and torch's
            "more than 1 value per channel" refusal (its condition
            ``N * C / num_groups * prod(spatial) == 1``, checked in eval too).

    PyTorch equivalent: ``torch.nn.functional.group_norm``.
    """
    caller = "group_norm"
    _checks.check_floating(caller, input)
    shape = _checks.shape_of(input)
    if len(shape) < 2:
        _checks.fail(caller, "input of shape (N, C, *) with at least 2 dimensions", input)
    n, channels = shape[0], shape[1]
    if num_groups <= 0 or channels % num_groups != 0:
        _checks.fail(caller, f"a number of channels (dim 1) divisible by num_groups={num_groups}",
                     input)
    _verify_batch_size(caller, [n * channels // num_groups, num_groups, *shape[2:]])
    for name, v in (("weight", weight), ("bias", bias)):
        _check_vector(caller, name, v, channels)
    x = input.astype(_compute_dtype(input))
    # (N, G, C/G * prod(spatial)), sizes spelt out: -1 cannot be inferred for an empty batch
    grouped = jnp.reshape(x, (n, num_groups, channels // num_groups * math.prod(shape[2:])))
    centered, _, var = _centered_moments(grouped, (2,))
    y = jnp.reshape(centered * lax.rsqrt(var + eps), shape)
    return _affine(y, weight, bias, _channel_shape(len(shape))).astype(input.dtype)


def local_response_norm(input: jax.Array, size: int, alpha: float = 0.0001, beta: float = 0.75,
                        k: float = 1.0) -> jax.Array:
    """Normalises each value by the squares of its ``size`` neighbouring channels.

    ``out = x / (k + alpha / size * sum_{window} x**2) ** beta``; the window over the
    channel axis is zero-padded with ``size // 2`` channels before and ``(size - 1) // 2``
    after, and the sum is always divided by ``size`` (torch's average pooling with
    padding counted).

    Args:
        input: ``(N, C, *)`` with at least 3 dimensions.
        size: number of channels in the window.
        alpha, beta, k: the formula's constants.

    Returns:
        An array of the input's shape.

    PyTorch equivalent: ``torch.nn.functional.local_response_norm``.
    """
    caller = "local_response_norm"
    _checks.check_floating(caller, input)
    if jnp.ndim(input) < 3:
        _checks.fail(caller, "input of shape (N, C, *) with 3 or more dimensions", input)
    if int(size) < 1:
        raise ValueError(f"{caller}: size must be a positive integer, got {size!r}")
    if input.size == 0:
        return input
    size = int(size)
    x = input.astype(_compute_dtype(input))
    ndim = x.ndim
    window = (1, size) + (1,) * (ndim - 2)
    padding = ((0, 0), (size // 2, (size - 1) // 2)) + ((0, 0),) * (ndim - 2)
    summed = lax.reduce_window(x * x, 0.0, lax.add, window, (1,) * ndim, padding)
    div = (summed / size * alpha + k) ** beta
    return (x / div).astype(input.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _cross_map_lrn2d(x: jax.Array, size: int, alpha: float, beta: float, k: float) -> jax.Array:
    """torch's legacy ``CrossMapLRN2d`` function (``torch/nn/_functions.py``), exactly.

    Its forward keeps channel 0 in every window beyond the first ``pre_pad`` channels
    (its running-sum update never subtracts it), and its hand-written backward is not the
    derivative of that forward (it sums over channels ``[c - ipp, c + size - 1 - ipp]``).
    Both are reproduced, so outputs and gradients are torch's.
    """
    return _cross_map_lrn2d_fwd(x, size, alpha, beta, k)[0]


def _cross_map_lrn2d_scale(x: jax.Array, size: int, alpha: float, k: float) -> jax.Array:
    channels = x.shape[1]
    pre_pad = int((size - 1) / 2 + 1)
    sq = x * x
    prefix = jnp.concatenate([jnp.zeros_like(sq[:, :1]), jnp.cumsum(sq, axis=1)], axis=1)
    c = np.arange(channels)
    total = prefix[:, np.minimum(c + pre_pad, channels)]
    # channels 1 .. c - pre_pad have left the window (channel 0 never does), for c > pre_pad
    start = np.where(c > pre_pad, c - pre_pad + 1, 1)
    total = total - (prefix[:, start] - prefix[:, 1:2])
    return total * (alpha / size) + k


def _cross_map_lrn2d_fwd(x, size, alpha, beta, k):
    scale = _cross_map_lrn2d_scale(x, size, alpha, k)
    out = x * scale ** -beta
    return out, (x, out, scale)


def _cross_map_lrn2d_bwd(size, alpha, beta, k, res, g):
    x, out, scale = res
    channels = x.shape[1]
    ipp = int(size - (size - 1) / 2)
    ratio = g * out / scale
    prefix = jnp.concatenate([jnp.zeros_like(ratio[:, :1]), jnp.cumsum(ratio, axis=1)], axis=1)
    c = np.arange(channels)
    lo = np.clip(c - ipp, 0, channels)
    hi = np.clip(c + size - ipp, 0, channels)
    accum = prefix[:, hi] - prefix[:, lo]
    return (scale ** -beta * g - (2 * alpha * beta / size) * x * accum,)


_cross_map_lrn2d.defvjp(_cross_map_lrn2d_fwd, _cross_map_lrn2d_bwd)


def _vector_norm(x: jax.Array, p: float, axis: Any) -> jax.Array:
    """``torch.linalg.vector_norm`` with keepdims, whose gradient at 0 is 0 (not NaN)."""
    ax = jnp.abs(x)
    if p == math.inf:
        return jnp.max(ax, axis=axis, keepdims=True)
    if p == -math.inf:
        return jnp.min(ax, axis=axis, keepdims=True)
    if p == 0:
        return jnp.sum((x != 0).astype(x.dtype), axis=axis, keepdims=True)
    if p == 1:
        return jnp.sum(ax, axis=axis, keepdims=True)
    total = jnp.sum(ax ** p if p != 2 else x * x, axis=axis, keepdims=True)
    positive = total > 0
    safe = jnp.where(positive, total, jnp.ones_like(total))
    return jnp.where(positive, safe ** (1.0 / p) if p != 2 else jnp.sqrt(safe), jnp.zeros_like(total))


def normalize(input: jax.Array, p: float = 2.0, dim: int | Sequence[int] = 1, eps: float = 1e-12,
              out: Any = None) -> jax.Array:
    """Divides by the ``p``-norm over ``dim``: ``x / max(||x||_p, eps)``.

    Args:
        input: any shape.
        p: the norm's exponent (``inf``, ``-inf`` and ``0`` as in torch).
        dim: the axis (or axes) of the norm.
        eps: lower bound of the denominator.
        out: must be None. torch writes into ``out``; JAX arrays are immutable, so fnet
            refuses it rather than ignore it silently (use the return value).

    Returns:
        An array of the input's shape.

    PyTorch equivalent: ``torch.nn.functional.normalize``.
    """
    caller = "normalize"
    if out is not None:
        raise TypeError(f"{caller}: out= is not supported (JAX arrays are immutable); use the "
                        f"returned array instead")
    _checks.check_floating(caller, input)
    axis = tuple(int(d) for d in dim) if isinstance(dim, (tuple, list)) else int(dim)
    ndim = max(jnp.ndim(input), 1)
    for d in axis if isinstance(axis, tuple) else (axis,):
        if not -ndim <= d < ndim:
            raise ValueError(f"{caller}: dim {d} is out of range for an input of shape "
                             f"{_checks.fmt_shape(_checks.shape_of(input))}")
    x = input.astype(_compute_dtype(input))
    if x.ndim == 0:  # torch treats a scalar as a vector of one element here
        return normalize(x[None], p, 0, eps)[0].astype(input.dtype)
    denom = jnp.maximum(_vector_norm(x, float(p), axis), eps)
    return (x / denom).astype(input.dtype)
