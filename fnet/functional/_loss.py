"""Loss functions (``torch.nn.functional`` twins).

Every function keeps torch's signature, including the legacy ``size_average`` and
``reduce`` arguments, which override ``reduction`` with torch's deprecation warning.

Value checks. torch inspects the *values* of some arguments (class indices in
``[0, C)``, BCE probabilities in ``[0, 1]``, non-negative Gaussian variances) and
raises. fnet does the same eagerly, when the array is concrete. Under ``jax.jit``,
``jax.grad`` or ``jax.vmap`` the values are unknown at trace time and cannot be
checked: an out-of-range class index then gives a ``nan`` loss for that element,
and a BCE probability outside ``[0, 1]`` gives ``nan`` through the logarithm.
Shapes and dtypes are always checked.

Errors name the function (``cross_entropy: expected ...``), as torch's do; a loss
module's call adds the module's path in front (``fnet/nn/_module.py``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from .._checks import check_index_range, concrete, fmt_shape

__all__ = [
    "l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "nll_loss", "kl_div",
    "cosine_embedding_loss", "margin_ranking_loss",
    "poisson_nll_loss", "gaussian_nll_loss", "soft_margin_loss", "hinge_embedding_loss",
    "multilabel_soft_margin_loss", "triplet_margin_loss", "multi_margin_loss",
    "multilabel_margin_loss", "triplet_margin_with_distance_loss",
]

Array = jax.Array

_REDUCTIONS = ("none", "mean", "sum")
# torch's clamp of x * (1 - x) in the BCE input gradient: the float 1e-12, also in float64
_BCE_EPSILON = float(np.float32(1e-12))
_COSINE_EPSILON = 1e-12  # torch's EPSILON added to squared magnitudes in cosine_embedding_loss


class _OutOfBoundsError(ValueError, IndexError):
    """A class index outside ``[0, C)``: a ValueError like every fnet error, and an
    IndexError like torch's, so ``except IndexError`` ported from torch still works."""


# -- reduction -----------------------------------------------------------------------------

def _legacy_get_string(size_average: bool | None, reduce: bool | None, emit_warning: bool = True) -> str:
    """Maps torch's deprecated ``size_average``/``reduce`` pair to a ``reduction`` string.

    Mirrors ``torch.nn._reduction.legacy_get_string`` including its warning.
    """
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", stacklevel=4)
    return ret


def _legacy(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return _legacy_get_string(size_average, reduce)
    return reduction


def _check_reduction(where: str, reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> str:
    if reduction == "elementwise_mean" and "mean" in allowed:
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", stacklevel=3)
        return "mean"
    if reduction not in allowed:
        options = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{where}: {reduction!r} is not a valid value for reduction; expected "
                         f"one of {options}")
    return reduction


def _reduce(loss: Array, reduction: str) -> Array:
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


# -- checks --------------------------------------------------------------------------------

def _float(where: str, x: Any, name: str = "input") -> Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{where}: expected a floating-point {name}, got dtype {x.dtype}")
    return x


def _numeric(x: Any) -> Array:
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.int32)
    return x


def _shapes(*xs: Any) -> str:
    return ", ".join(fmt_shape(np.shape(x)) for x in xs)


def _broadcast(where: str, input: Array, target: Array, warn: bool,
               names: tuple[str, str] = ("input", "target")) -> tuple[Array, Array]:
    """torch broadcasts a target of another shape (warning for the regression losses)."""
    if input.shape == target.shape:
        return input, target
    try:
        shape = jnp.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{where}: {names[1]} of shape {fmt_shape(target.shape)} cannot be "
                         f"broadcast to {names[0]} of shape {fmt_shape(input.shape)}") from None
    if warn:
        warnings.warn(f"{where}: using a {names[1]} of shape {fmt_shape(target.shape)} that differs "
                      f"from the {names[0]} shape {fmt_shape(input.shape)}; they are broadcast to "
                      f"{fmt_shape(shape)} like torch does, which is likely not what you want. "
                      f"Please ensure they have the same shape.", UserWarning, stacklevel=3)
    return jnp.broadcast_to(input, shape), jnp.broadcast_to(target, shape)


def _same_shape(where: str, input: Array, target: Array) -> None:
    if input.shape != target.shape:
        raise ValueError(f"{where}: expected target of the same shape as input "
                         f"{fmt_shape(input.shape)}, got {fmt_shape(target.shape)}")


def _sample_weight(where: str, weight: Any, input: Array) -> Array:
    """The per-element ``weight`` of mse/l1/huber: torch requires the input's exact shape."""
    weight = jnp.asarray(weight)
    if weight.shape != input.shape:
        raise ValueError(f"{where}: expected weight of the same shape as input "
                         f"{fmt_shape(input.shape)}, got {fmt_shape(weight.shape)}")
    return weight


def _class_weight(where: str, weight: Any, n_classes: int, dtype: Any) -> Array | None:
    if weight is None:
        return None
    weight = jnp.asarray(weight)
    if weight.shape != (n_classes,):
        raise ValueError(f"{where}: expected weight of shape ({n_classes},), one per class, "
                         f"got {fmt_shape(weight.shape)}")
    return weight.astype(dtype)


def _clamp_min(x: Array, minimum: float) -> Array:
    # torch's clamp_min passes the gradient where x >= min, ties included (jnp.maximum halves it)
    return jnp.where(x >= minimum, x, jnp.asarray(minimum, x.dtype))


def _abs(x: Array) -> Array:
    # |x| with torch's derivative sign(x), which is 0 at x == 0 (jnp.abs has 1 there)
    return x * jax.lax.stop_gradient(jnp.sign(x))


# -- regression losses ---------------------------------------------------------------------

def _weighted_elementwise(where: str, loss: Array, weight: Any, input: Array, reduction: str,
                          mean_by_weight: bool) -> Array:
    weight = _sample_weight(where, weight, input).astype(loss.dtype)
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return jnp.sum(loss) / jnp.sum(weight)
    return _reduce(loss, reduction)


def l1_loss(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean", weight: Array | None = None) -> Array:
    """Mean absolute error ``|input - target|``, optionally weighted per element.

    Args:
        input: predictions, any shape ``(*)``.
        target: same shape as ``input`` (a broadcastable shape is broadcast with a
            warning, as in torch).
        size_average, reduce: deprecated, override ``reduction`` (torch's rule).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: per-element weights of ``input``'s shape; ``'mean'`` then divides by
            ``weight.sum()`` (torch's rule).

    Returns:
        A scalar, or the elementwise loss of the broadcast shape for ``'none'``.
        The gradient at ``input == target`` is 0, as in torch.

    PyTorch equivalent: ``torch.nn.functional.l1_loss``.
    """
    where = 'l1_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input, target = _broadcast(where, _float(where, input), _numeric(target), warn=True)
    loss = _abs(input - target)
    if weight is not None:
        return _weighted_elementwise(where, loss, weight, input, reduction, mean_by_weight=True)
    return _reduce(loss, reduction)


def mse_loss(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean", weight: Array | None = None) -> Array:
    """Mean squared error ``(input - target)^2``, optionally weighted per element.

    Args:
        input: predictions, any shape ``(*)``.
        target: same shape as ``input`` (broadcast with a warning otherwise, like torch).
        size_average, reduce: deprecated, override ``reduction``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: per-element weights of ``input``'s shape; ``'mean'`` divides by their sum.

    PyTorch equivalent: ``torch.nn.functional.mse_loss``.
    """
    where = 'mse_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input, target = _broadcast(where, _float(where, input), _numeric(target), warn=True)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        return _weighted_elementwise(where, loss, weight, input, reduction, mean_by_weight=True)
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Array, target: Array, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0) -> Array:
    """Smooth L1: ``0.5 z^2 / beta`` for ``|z| < beta``, else ``|z| - 0.5 beta`` (``z = input - target``).

    ``beta=0`` is exactly ``l1_loss``, as in torch.

    PyTorch equivalent: ``torch.nn.functional.smooth_l1_loss``.
    """
    where = 'smooth_l1_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    if beta < 0:
        raise ValueError(f"{where}: beta must be non-negative, got {beta}")
    input, target = _broadcast(where, _float(where, input), _numeric(target), warn=True)
    d = input - target
    z = _abs(d)
    if beta == 0.0:  # torch switches to l1_loss
        return _reduce(z, reduction)
    # the quadratic branch squares d, not z: the same value, and a second derivative that
    # is 1/beta also at d == 0
    loss = jnp.where(z < beta, 0.5 * d * d / beta, z - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Array, target: Array, reduction: str = "mean", delta: float = 1.0,
               weight: Array | None = None) -> Array:
    """Huber loss: ``0.5 z^2`` for ``|z| < delta``, else ``delta (|z| - 0.5 delta)``.

    ``weight`` (input's shape) scales each element; torch's weighted ``'mean'`` is the
    plain mean of the weighted losses (not divided by the weight sum as in ``mse_loss``).

    PyTorch equivalent: ``torch.nn.functional.huber_loss``.
    """
    where = 'huber_loss'
    reduction = _check_reduction(where, reduction)
    if delta <= 0:
        raise ValueError(f"{where}: delta must be positive, got {delta}")
    input, target = _broadcast(where, _float(where, input), _numeric(target), warn=True)
    d = input - target
    z = _abs(d)
    loss = jnp.where(z < delta, 0.5 * d * d, delta * (z - 0.5 * delta))
    if weight is not None:
        # torch's weighted 'mean' is a plain mean of the weighted losses (unlike mse/l1)
        return _weighted_elementwise(where, loss, weight, input, reduction, mean_by_weight=False)
    return _reduce(loss, reduction)


# -- binary cross entropy ------------------------------------------------------------------

def _broadcastable_to(where: str, name: str, weight: Any, target: Array) -> Array:
    """A BCE ``weight``/``pos_weight``: it must broadcast to the target's shape, not beyond."""
    weight = jnp.asarray(weight)
    try:
        shape = jnp.broadcast_shapes(target.shape, weight.shape)
    except ValueError:
        shape = None
    if shape != target.shape:
        raise ValueError(f"{where}: {name} of shape {fmt_shape(weight.shape)} cannot be broadcast "
                         f"to the target shape {fmt_shape(target.shape)}")
    return weight


@jax.custom_jvp
def _bce_elementwise(x: Array, t: Array) -> Array:
    # torch: logs clamped at -100 so that a probability of exactly 0 or 1 gives a finite loss
    log_x = jnp.maximum(jnp.log(x), -100.0)
    log_1mx = jnp.maximum(jnp.log1p(-x), -100.0)
    return (t - 1) * log_1mx - t * log_x


def _bce_elementwise_jvp(primals, tangents):
    # torch's own backward formulas (not the derivative of the clamped forward): the input
    # gradient clamps x (1 - x) at 1e-12, the target gradient is -logit(x) unclamped.
    # Symbolic zeros skip the term of an argument that is not differentiated, so an
    # infinite -logit(x) at x in {0, 1} does not turn d/dx into inf * 0 = nan.
    x, t = primals
    dx, dt = tangents
    out = _bce_elementwise(x, t)
    tangent = jnp.zeros_like(out)
    if not isinstance(dx, SymbolicZero):
        tangent = tangent + (x - t) / jnp.maximum((1 - x) * x, jnp.asarray(_BCE_EPSILON, x.dtype)) * dx
    if not isinstance(dt, SymbolicZero):
        tangent = tangent - jnp.log(x / (1 - x)) * dt
    return out, tangent


_bce_elementwise.defjvp(_bce_elementwise_jvp, symbolic_zeros=True)


def _binary_inputs(where: str, input: Array, target: Array, size_average: bool | None, reduce: bool | None,
                   reduction: str) -> tuple[Array, Array, str]:
    """The checks both binary cross entropies share: the reduction, floating inputs, equal shapes."""
    reduction = _check_reduction(where, _legacy(size_average, reduce, reduction))
    input = _float(where, input)
    target = _float(where, target, "target (probabilities in [0, 1])")
    if target.shape != input.shape:
        raise ValueError(f"{where}: expected target of the same shape as input "
                         f"{fmt_shape(input.shape)}, got {fmt_shape(target.shape)}")
    return input, target, reduction


def binary_cross_entropy(input: Array, target: Array, weight: Array | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Array:
    """Binary cross entropy between probabilities ``input`` and ``target``.

    ``-w (t log x + (1 - t) log(1 - x))`` with both logarithms clamped at ``-100``, as
    in torch, so probabilities of exactly 0 or 1 give finite losses. Gradients are
    torch's formulas: ``(x - t) / max(x (1 - x), 1e-12)`` for the input and
    ``-logit(x)`` for the target.

    Args:
        input: probabilities in ``[0, 1]``, any shape ``(*)``.
        target: same shape, floating point, in ``[0, 1]``.
        weight: rescaling weight broadcastable to ``target``'s shape.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Raises:
        ValueError: when ``input`` or ``target`` holds values outside ``[0, 1]``
            (checked only for concrete arrays; under ``jit`` such values give nan).

    PyTorch equivalent: ``torch.nn.functional.binary_cross_entropy``.
    """
    where = 'binary_cross_entropy'
    input, target, reduction = _binary_inputs(where, input, target, size_average, reduce, reduction)
    for name, x in (("input", input), ("target", target)):
        values = concrete(x)
        if values is not None and not np.all((values >= 0) & (values <= 1)):
            bad = values[~((values >= 0) & (values <= 1))]
            raise ValueError(f"{where}: all elements of {name} should be between 0 and 1 "
                             f"(probabilities; for logits use binary_cross_entropy_with_logits), "
                             f"got {bad.size} outside, e.g. {bad.flat[0]}")
    dtype = jnp.result_type(input, target)
    loss = _bce_elementwise(input.astype(dtype), target.astype(dtype))
    if weight is not None:
        loss = loss * _broadcastable_to(where, "weight", weight, target).astype(dtype)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Array, target: Array, weight: Array | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Array | None = None) -> Array:
    """Sigmoid + binary cross entropy in one numerically stable expression.

    ``(1 - t) x - (1 + (p - 1) t) log_sigmoid(x)``, times ``weight``, where ``p`` is
    ``pos_weight`` (broadcast against ``target``, e.g. ``(C,)`` for ``(N, C)`` targets).

    Args:
        input: logits, any shape ``(*)``.
        target: same shape, probabilities in ``[0, 1]`` (floating point).
        weight: rescaling weight broadcastable to the input's shape.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        pos_weight: weight of positive examples, broadcastable to ``target``.

    PyTorch equivalent: ``torch.nn.functional.binary_cross_entropy_with_logits``.
    """
    where = 'binary_cross_entropy_with_logits'
    input, target, reduction = _binary_inputs(where, input, target, size_average, reduce, reduction)
    dtype = jnp.result_type(input, target)
    input, target = input.astype(dtype), target.astype(dtype)
    log_sigmoid = jax.nn.log_sigmoid(input)  # stable: -softplus(-x)
    if pos_weight is not None:
        pos_weight = _broadcastable_to(where, "pos_weight", pos_weight, target).astype(dtype)
        log_sigmoid = log_sigmoid * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input - log_sigmoid
    if weight is not None:
        loss = loss * _broadcastable_to(where, "weight", weight, target).astype(dtype)
    return _reduce(loss, reduction)


# -- classification: nll_loss and cross_entropy --------------------------------------------

def _class_dim(input: Array) -> int:
    return 0 if input.ndim == 1 else 1


def _index_target(where: str, input: Array, target: Array, ignore_index: int,
                  prob_allowed: bool) -> Array:
    """Validates a class-index target (shape, dtype, values when concrete)."""
    if input.ndim < 1:
        raise ValueError(f"{where}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got "
                         f"a scalar (shape ())")
    expected = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    hint = (f" or floating-point class probabilities of the input's shape {fmt_shape(input.shape)}"
            if prob_allowed else "")
    if not jnp.issubdtype(target.dtype, jnp.integer):  # bool is not an integer dtype here
        raise TypeError(f"{where}: expected integer class indices of shape {fmt_shape(expected)}"
                        f"{hint}, got a {target.dtype} target of shape {fmt_shape(target.shape)}")
    if target.shape != expected:
        if input.ndim >= 2 and target.ndim >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"{where}: expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0]}); input shape {fmt_shape(input.shape)}, "
                             f"target shape {fmt_shape(target.shape)}")
        raise ValueError(f"{where}: expected target of shape {fmt_shape(expected)} (class indices) "
                         f"for input of shape {fmt_shape(input.shape)}{hint}, got "
                         f"{fmt_shape(target.shape)}")
    n_classes = input.shape[_class_dim(input)]
    check_index_range(
        target, n_classes, lambda value, index: (
            f"{where}: target {value} is out of bounds (at index {index}): class indices must be in "
            f"[0, {n_classes}) (C = {n_classes} from the input's shape {fmt_shape(input.shape)}) or "
            f"equal ignore_index={ignore_index}"), ignore=ignore_index, error=_OutOfBoundsError)
    if target.dtype not in (jnp.int32, jnp.int64):
        target = target.astype(jnp.int32)
    return target


def _nll_parts(logp: Array, target: Array, weight: Array | None, ignore_index: int):
    """Per-element ``-w[t] logp[t]`` (0 where ignored, nan for an out-of-range index under
    jit) and the per-element weights ``w[t]`` (0 where ignored)."""
    cd = _class_dim(logp)
    n_classes = logp.shape[cd]
    ignored = target == ignore_index
    in_range = (target >= 0) & (target < n_classes)
    safe = jnp.where(in_range & ~ignored, target, 0)
    picked = jnp.squeeze(jnp.take_along_axis(logp, jnp.expand_dims(safe, cd), axis=cd), cd)
    w = jnp.ones_like(picked) if weight is None else weight[safe]
    w = jnp.where(ignored, jnp.zeros((), w.dtype), w)
    # the where (not a multiplication by 0) gives ignored elements an exact zero gradient
    # even when the 'mean' denominator is 0 (all targets ignored), as torch does
    loss = jnp.where(ignored, jnp.zeros((), picked.dtype), -w * picked)
    loss = jnp.where(~ignored & ~in_range, jnp.asarray(jnp.nan, loss.dtype), loss)
    return loss, w, ignored


def _nll_reduce(loss: Array, w: Array, reduction: str) -> Array:
    if reduction == "mean":
        # weighted mean over non-ignored elements: 0/0 = nan when every target is ignored
        return jnp.sum(loss) / jnp.sum(w)
    return _reduce(loss, reduction)


def nll_loss(input: Array, target: Array, weight: Array | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Array:
    """Negative log likelihood of class indices given log-probabilities.

    Args:
        input: log-probabilities ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dK)`` (class
            axis 1, torch's layout, not JAX's last axis).
        target: integer class indices ``()``, ``(N,)`` or ``(N, d1, ..., dK)`` in ``[0, C)``.
        weight: per-class weights ``(C,)``.
        ignore_index: targets equal to it contribute nothing (loss 0, gradient 0).
        reduction: ``'none'`` (target's shape) | ``'mean'`` | ``'sum'``. ``'mean'`` divides
            by the summed weights of the non-ignored targets; all ignored gives nan.

    Raises:
        ValueError: an index outside ``[0, C)`` that is not ``ignore_index``, checked when
            ``target`` is concrete (under ``jit`` such an element's loss is nan).

    PyTorch equivalent: ``torch.nn.functional.nll_loss``.
    """
    where = 'nll_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input = _float(where, input)
    target = _index_target(where, input, jnp.asarray(target), ignore_index, prob_allowed=False)
    weight = _class_weight(where, weight, input.shape[_class_dim(input)], input.dtype)
    loss, w, _ = _nll_parts(input, target, weight, ignore_index)
    return _nll_reduce(loss, w, reduction)


def cross_entropy(input: Array, target: Array, weight: Array | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Array:
    """Cross entropy between logits and class indices or class probabilities.

    ``log_softmax`` over the class axis (stable log-sum-exp) followed by the negative
    log likelihood. As in torch the class axis is axis 1 (axis 0 for an unbatched
    ``(C,)`` input), not JAX's usual last axis.

    Args:
        input: logits ``(C,)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``.
        target: either integer class indices ``()``, ``(N,)`` or ``(N, d1, ..., dK)``, or
            floating-point class probabilities of the input's shape (torch decides by
            shape, and so does fnet).
        weight: per-class weights ``(C,)``.
        ignore_index: class-index targets equal to it contribute nothing; must be
            negative for probability targets.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. For class indices ``'mean'``
            divides by the summed weights of non-ignored targets (nan when all are
            ignored); for probabilities by the number of elements ``N * d1 * ... * dK``.
        label_smoothing: in ``[0, 1]``; mixes the target with the uniform distribution
            exactly as torch does, including with ``weight`` and ``ignore_index``.

    Raises:
        ValueError: an index outside ``[0, C)`` that is not ``ignore_index``, checked when
            ``target`` is concrete (under ``jit`` such an element's loss is nan).

    PyTorch equivalent: ``torch.nn.functional.cross_entropy``.
    """
    where = 'cross_entropy'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input = _float(where, input)
    target = jnp.asarray(target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if input.ndim < 1:
        raise ValueError(f"{where}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got "
                         f"a scalar (shape ())")
    cd = _class_dim(input)
    n_classes = input.shape[cd]
    weight = _class_weight(where, weight, n_classes, input.dtype)
    logp = jax.nn.log_softmax(input, axis=cd)
    bshape = [1] * input.ndim
    bshape[cd] = n_classes

    if target.shape == input.shape:  # class probabilities, as torch decides: by shape
        if not jnp.issubdtype(target.dtype, jnp.floating):
            raise TypeError(f"{where}: a target of the input's shape {fmt_shape(input.shape)} holds "
                            f"class probabilities and must be floating point, got dtype "
                            f"{target.dtype}; class indices have shape "
                            f"{fmt_shape(() if input.ndim == 1 else (input.shape[0],) + input.shape[2:])}")
        if ignore_index >= 0:
            raise ValueError(f"{where}: ignore_index={ignore_index} is not supported with class "
                             f"probability targets")
        target = target.astype(logp.dtype)
        if label_smoothing > 0.0:
            target = target * (1 - label_smoothing) + label_smoothing / n_classes
        term = logp * target
        if weight is not None:
            term = term * weight.reshape(bshape)
        if reduction == "none":
            return -jnp.sum(term, axis=cd)
        if reduction == "sum":
            return -jnp.sum(term)
        if input.size == 0:
            return jnp.asarray(jnp.nan, logp.dtype)
        return -jnp.sum(term) / (input.size // n_classes)

    target = _index_target(where, input, target, ignore_index, prob_allowed=True)
    loss, w, ignored = _nll_parts(logp, target, weight, ignore_index)
    nll = _nll_reduce(loss, w, reduction)
    if label_smoothing <= 0.0:
        return nll
    # torch: (1 - eps) * nll + eps / C * smooth, where smooth is -sum_c w_c logp_c per
    # element, zeroed at ignored targets and reduced with nll's denominator
    if weight is not None:
        smooth = -jnp.sum(logp * weight.reshape(bshape), axis=cd)
    else:
        smooth = -jnp.sum(logp, axis=cd)
    smooth = jnp.where(ignored, jnp.zeros((), smooth.dtype), smooth)
    smooth = _nll_reduce(smooth, w, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


# -- kl_div ----------------------------------------------------------------------------------

_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


def kl_div(input: Array, target: Array, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Array:
    """Kullback-Leibler divergence ``target * (log target - input)`` (input: log-probabilities).

    Args:
        input: log-probabilities, any shape.
        target: probabilities (or log-probabilities with ``log_target=True``), same shape.
        reduction: ``'none'`` | ``'batchmean'`` (sum / batch size: the true KL
            divergence) | ``'sum'`` | ``'mean'`` (sum / number of elements, with torch's
            warning that it is not the KL divergence).
        log_target: whether ``target`` is given in log space.

    PyTorch equivalent: ``torch.nn.functional.kl_div``.
    """
    where = "kl_div"
    legacy = size_average is not None or reduce is not None
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction, (*_REDUCTIONS, "batchmean"))
    if reduction == "mean" and not legacy:
        warnings.warn(_KL_MEAN_WARNING, UserWarning, stacklevel=2)
    input = _float(where, input)
    target = _float(where, target, "target")
    batch = input.shape[0] if input.ndim != 0 else None
    input, target = _broadcast(where, input, target, warn=False)
    if log_target:
        loss = jnp.exp(target) * (target - input)
    else:
        loss = jax.scipy.special.xlogy(target, target) - target * input
    if reduction == "batchmean":
        total = jnp.sum(loss)
        return total if batch is None else total / batch
    return _reduce(loss, reduction)


# -- embedding and ranking losses ----------------------------------------------------------

def cosine_embedding_loss(input1: Array, input2: Array, target: Array, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Array:
    """``1 - cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) - margin)`` for target -1.

    Args:
        input1, input2: ``(N, D)`` or ``(D,)``.
        target: ``(N,)`` or ``()`` labels 1 / -1 (other values give 0).
        margin: in ``[-1, 1]``, 0 to 0.5 suggested.

    PyTorch equivalent: ``torch.nn.functional.cosine_embedding_loss``.
    """
    where = 'cosine_embedding_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input1, input2 = _float(where, input1, "input1"), _float(where, input2, "input2")
    target = _numeric(target)
    if target.ndim == 1:
        if input1.ndim != 2 or input2.ndim != 2:
            raise ValueError(f"{where}: a 1D target expects 2D inputs (N, D), got input1, input2, "
                             f"target of shapes {_shapes(input1, input2, target)}")
    elif target.ndim == 0:
        if input1.ndim != 1 or input2.ndim != 1:
            raise ValueError(f"{where}: a 0D target expects 1D inputs (D,), got input1, input2, "
                             f"target of shapes {_shapes(input1, input2, target)}")
    else:
        raise ValueError(f"{where}: expected a 0D or 1D target of 1 / -1 labels, got shape "
                         f"{fmt_shape(target.shape)}")
    try:
        jnp.broadcast_shapes(input1.shape, input2.shape)
    except ValueError:
        raise ValueError(f"{where}: input1 and input2 must have broadcastable shapes, got "
                         f"{_shapes(input1, input2)}") from None
    axis = target.ndim
    prod_sum = jnp.sum(input1 * input2, axis=axis)
    mag_square1 = jnp.sum(input1 * input1, axis=axis) + _COSINE_EPSILON
    mag_square2 = jnp.sum(input2 * input2, axis=axis) + _COSINE_EPSILON
    cos = prod_sum / jnp.sqrt(mag_square1 * mag_square2)
    zeros = jnp.zeros_like(cos)
    pos = 1 - cos
    neg = _clamp_min(cos - margin, 0.0)
    # labels other than 1 and -1 contribute 0, as in torch
    loss = jnp.where(target == 1, pos, zeros) + jnp.where(target == -1, neg, zeros)
    return _reduce(loss, reduction)


def margin_ranking_loss(input1: Array, input2: Array, target: Array, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Array:
    """``max(0, -y (x1 - x2) + margin)``: ranks ``x1`` above ``x2`` where ``y = 1``.

    Args:
        input1, input2: ``(N,)`` or ``()``.
        target: labels 1 / -1, same number of dimensions.

    PyTorch equivalent: ``torch.nn.functional.margin_ranking_loss``.
    """
    where = 'margin_ranking_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input1, input2 = _float(where, input1, "input1"), _float(where, input2, "input2")
    target = _numeric(target)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ValueError(f"{where}: input1, input2 and target must have the same number of "
                         f"dimensions, got shapes {_shapes(input1, input2, target)}")
    try:
        jnp.broadcast_shapes(input1.shape, input2.shape, target.shape)
    except ValueError:
        raise ValueError(f"{where}: input1, input2 and target must have broadcastable shapes, "
                         f"got {_shapes(input1, input2, target)}") from None
    loss = _clamp_min(-target * (input1 - input2) + margin, 0.0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Array, target: Array, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Array:
    """``x`` where ``y = 1`` and ``max(0, margin - x)`` where ``y = -1`` (x: a distance).

    PyTorch equivalent: ``torch.nn.functional.hinge_embedding_loss``.
    """
    where = 'hinge_embedding_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input = _float(where, input)
    input, target = _broadcast(where, input, _numeric(target), warn=False)
    zeros = jnp.zeros_like(input)
    margin_clamp = _clamp_min(margin - input, 0.0)
    loss = jnp.where(target != 1, margin_clamp, zeros) + jnp.where(target != -1, input, zeros)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Array, target: Array, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Array:
    """Two-class logistic loss ``log(1 + exp(-y x))`` with labels ``y`` in {1, -1}.

    Computed as ``softplus(-y x)``: finite where torch's literal ``log(1 + exp(.))``
    overflows (``-y x`` above about 88 in float32, 709 in float64). torch cannot
    differentiate ``target``; fnet can.

    PyTorch equivalent: ``torch.nn.functional.soft_margin_loss``.
    """
    where = 'soft_margin_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input = _float(where, input)
    input, target = _broadcast(where, input, _numeric(target), warn=False)
    # softplus(-y x) = log(1 + exp(-y x)); torch evaluates the latter literally, which
    # overflows to inf for -y x > ~88 in float32 where softplus stays finite
    loss = jax.nn.softplus(-target * input)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Array, target: Array, weight: Array | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Array:
    """Multi-label one-versus-all logistic loss, averaged over the ``C`` classes.

    Args:
        input: logits ``(N, C)`` or ``(C,)``.
        target: 0 / 1 labels (or probabilities), same shape.
        weight: per-class weights ``(C,)``.
        reduction: ``'none'`` gives ``(N,)``.

    PyTorch equivalent: ``torch.nn.functional.multilabel_soft_margin_loss``.
    """
    where = 'multilabel_soft_margin_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input = _float(where, input)
    class_dim = input.ndim - 1
    n_classes = input.shape[class_dim]
    input, target = _broadcast(where, input, _numeric(target), warn=False)
    loss = -(target * jax.nn.log_sigmoid(input) + (1 - target) * jax.nn.log_sigmoid(-input))
    if weight is not None:
        loss = loss * jnp.asarray(weight).astype(loss.dtype)
    loss = jnp.sum(loss, axis=class_dim) / n_classes
    return _reduce(loss, reduction)


def _vector_norm(x: Array, p: float, axis: int) -> Array:
    """``at::norm(x, p, axis)`` with torch's gradients (0 at a zero vector for p = 2)."""
    if p == 2:
        sq = jnp.sum(x * x, axis=axis)
        positive = sq > 0
        return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1)), jnp.zeros((), sq.dtype))
    if p == 1:
        return jnp.sum(_abs(x), axis=axis)
    if p == math.inf:
        return jnp.max(jnp.abs(x), axis=axis)
    if p == 0:
        return jnp.sum((x != 0).astype(x.dtype), axis=axis)
    return jnp.sum(_abs(x) ** p, axis=axis) ** (1.0 / p)


def triplet_margin_loss(anchor: Array, positive: Array, negative: Array, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Array:
    """``max(0, d(a, p) - d(a, n) + margin)`` with ``d(x, y) = ||x - y + eps||_p``.

    Args:
        anchor, positive, negative: ``(N, D)`` or ``(D,)``.
        margin: must be positive.
        p: norm degree of the pairwise distance.
        eps: added to the difference, as in torch's ``pairwise_distance``.
        swap: use ``min(d(a, n), d(p, n))`` as the negative distance.

    PyTorch equivalent: ``torch.nn.functional.triplet_margin_loss``.
    """
    where = 'triplet_margin_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    if margin <= 0:
        raise ValueError(f"{where}: margin must be greater than 0, got {margin}")
    anchor = _float(where, anchor, "anchor")
    positive = _float(where, positive, "positive")
    negative = _float(where, negative, "negative")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(f"{where}: anchor, positive and negative must have the same number of "
                         f"dimensions, got shapes {_shapes(anchor, positive, negative)}")
    try:
        jnp.broadcast_shapes(anchor.shape, positive.shape, negative.shape)
    except ValueError:
        raise ValueError(f"{where}: anchor, positive and negative must have broadcastable shapes, "
                         f"got {_shapes(anchor, positive, negative)}") from None

    def distance(a, b):  # torch's pairwise_distance: ||a - b + eps||_p over the last axis
        return _vector_norm(a - b + eps, p, -1)

    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = jnp.minimum(dist_neg, distance(positive, negative))
    loss = _clamp_min(margin + dist_pos - dist_neg, 0.0)
    return _reduce(loss, reduction)


def multi_margin_loss(input: Array, target: Array, p: int = 1, margin: float = 1.0,
                      weight: Array | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Array:
    """Multi-class hinge loss ``sum_{i != y} max(0, margin - x[y] + x[i])^p / C``.

    Args:
        input: scores ``(N, C)`` or ``(C,)``.
        target: integer class indices ``(N,)`` (or one index for ``(C,)``).
        p: 1 or 2.
        weight: per-class weights ``(C,)``, applied by the target's class.

    Raises:
        ValueError: a target outside ``[0, C)``, when ``target`` is concrete (under
            ``jit`` such an element's loss is nan).

    PyTorch equivalent: ``torch.nn.functional.multi_margin_loss``.
    """
    where = 'multi_margin_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    if p not in (1, 2):
        raise ValueError(f"{where}: only p == 1 and p == 2 are supported, got p={p}")
    input = _float(where, input)
    target = jnp.asarray(target)
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise TypeError(f"{where}: expected integer class indices as target, got dtype {target.dtype}")
    if input.ndim not in (0, 1, 2) or (input.ndim >= 1 and input.shape[-1] == 0):
        raise ValueError(f"{where}: expected a non-empty input of shape (C,) or (N, C), got "
                         f"{fmt_shape(input.shape)}")
    n_frames = input.shape[0] if input.ndim == 2 else 1
    if target.ndim > 1 or target.size != n_frames:
        raise ValueError(f"{where}: expected target of {n_frames} class index(es) for input of shape "
                         f"{fmt_shape(input.shape)}, got shape {fmt_shape(target.shape)}")
    x = input.reshape(n_frames, -1)
    n_classes = x.shape[1]
    if weight is not None:
        weight = jnp.asarray(weight)
        if weight.ndim != 1 or weight.shape[0] != n_classes:
            raise ValueError(f"{where}: expected weight of shape ({n_classes},), got "
                             f"{fmt_shape(weight.shape)}")
        weight = weight.astype(x.dtype)
    check_index_range(target, n_classes, lambda value, index: (
        f"{where}: target {value} is out of range [0, {n_classes}) (at index {index})"), error=_OutOfBoundsError)
    t = target.reshape(n_frames).astype(jnp.int32)
    in_range = (t >= 0) & (t < n_classes)
    safe = jnp.where(in_range, t, 0)
    x_target = jnp.take_along_axis(x, safe[:, None], axis=1)  # (N, 1)
    z = margin - x_target + x
    h = z if p == 1 else z * z
    if weight is not None:
        h = h * weight[safe][:, None]
    # only classes other than the target with z > 0 count (torch's strict inequality)
    keep = (z > 0) & (jnp.arange(n_classes)[None, :] != safe[:, None])
    loss = jnp.sum(jnp.where(keep, h, jnp.zeros((), h.dtype)), axis=1) / n_classes
    loss = jnp.where(in_range, loss, jnp.asarray(jnp.nan, loss.dtype))
    if reduction == "none":
        return loss.reshape(target.shape)
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Array, target: Array, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Array:
    """Multi-label hinge loss: ``sum_{j in targets} sum_{i not in targets} max(0, 1 - (x[j] - x[i])) / C``.

    Args:
        input: scores ``(C,)`` or ``(N, C)``.
        target: integer class indices of the input's shape; each row lists its target
            classes first and is padded with -1 (torch reads up to the first -1).
        reduction: ``'none'`` gives ``(N,)`` (``()`` for a 1-D input).

    Raises:
        ValueError: an index outside ``[-1, C)``, when ``target`` is concrete.

    PyTorch equivalent: ``torch.nn.functional.multilabel_margin_loss``.
    """
    where = 'multilabel_margin_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input = _float(where, input)
    target = jnp.asarray(target)
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise TypeError(f"{where}: expected integer class indices as target (padded with -1), got "
                        f"dtype {target.dtype}")
    if input.ndim > 2 or target.shape != input.shape:
        raise ValueError(f"{where}: expected input of shape (C,) or (N, C) and a target of the same "
                         f"shape, got input {fmt_shape(input.shape)} and target {fmt_shape(target.shape)}")
    x = input.reshape(-1, input.shape[-1] if input.ndim else 1)
    t = target.reshape(x.shape).astype(jnp.int32)
    n_classes = x.shape[1]
    values = concrete(t)
    if values is not None and values.size and (values.min() < -1 or values.max() >= n_classes):
        bad = values[(values < -1) | (values >= n_classes)].flat[0]
        raise _OutOfBoundsError(f"{where}: target {bad} is out of range: class indices must be in "
                                f"[0, {n_classes}), padded with -1 after the last one")
    # torch reads each row's targets up to the first -1
    valid = jnp.cumprod((t >= 0).astype(jnp.int32), axis=1).astype(bool)  # (N, C) slots
    safe = jnp.where(valid, t, 0)
    is_target = jnp.any(jax.nn.one_hot(safe, n_classes, dtype=bool) & valid[:, :, None], axis=1)
    x_target = jnp.take_along_axis(x, safe, axis=1)  # (N, slots)
    z = 1 - x_target[:, :, None] + x[:, None, :]  # (N, slots, C)
    keep = valid[:, :, None] & ~is_target[:, None, :] & (z > 0)
    loss = jnp.sum(jnp.where(keep, z, jnp.zeros((), z.dtype)), axis=(1, 2)) / n_classes
    if reduction == "none":
        return loss.reshape(input.shape[:-1] if input.ndim else ())
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor: Array, positive: Array, negative: Array, *,
                                      distance_function: Any = None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Array:
    """``max(0, d(a, p) - d(a, n) + margin)`` with any distance function ``d``.

    Args:
        anchor, positive, negative: arrays with the same number of dimensions that
            ``distance_function`` accepts.
        distance_function: ``(x1, x2) -> distances``, a JAX function (default
            :func:`pairwise_distance`, the Euclidean distance).
        margin: must be positive.
        swap: use ``min(d(a, n), d(p, n))`` as the negative distance.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    PyTorch equivalent: ``torch.nn.functional.triplet_margin_with_distance_loss``.
    """
    where = 'triplet_margin_with_distance_loss'
    reduction = _check_reduction(where, reduction)
    if margin <= 0:
        raise ValueError(f"{where}: margin must be greater than 0, got {margin}")
    anchor, positive, negative = jnp.asarray(anchor), jnp.asarray(positive), jnp.asarray(negative)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(f"{where}: the anchor, positive and negative arrays are expected to have the "
                         f"same number of dimensions, got anchor {anchor.ndim}D, positive "
                         f"{positive.ndim}D and negative {negative.ndim}D inputs")
    if distance_function is None:
        from ._distance import _pairwise_distance

        def distance_function(a, b):
            return _pairwise_distance(where, a, b)
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:
        dist_neg = jnp.minimum(dist_neg, distance_function(positive, negative))
    loss = _clamp_min(margin + dist_pos - dist_neg, 0.0)
    return _reduce(loss, reduction)


# -- likelihood losses ---------------------------------------------------------------------

def poisson_nll_loss(input: Array, target: Array, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8,
                     reduce: bool | None = None, reduction: str = "mean") -> Array:
    """Poisson negative log likelihood.

    ``exp(input) - target * input`` when ``log_input``, else
    ``input - target * log(input + eps)``; ``full`` adds Stirling's term for targets > 1.

    PyTorch equivalent: ``torch.nn.functional.poisson_nll_loss``.
    """
    where = 'poisson_nll_loss'
    reduction = _legacy(size_average, reduce, reduction)
    reduction = _check_reduction(where, reduction)
    input = _float(where, input)
    input, target = _broadcast(where, input, _numeric(target), warn=False)
    if log_input:
        loss = jnp.exp(input) - target * input
    else:
        loss = input - target * jnp.log(input + eps)
    if full:
        # Stirling's approximation of log(target!), only where target > 1 (torch's mask)
        stirling = target * jnp.log(target) - target + 0.5 * jnp.log(2 * math.pi * target)
        loss = loss + jnp.where(target <= 1, jnp.zeros((), stirling.dtype), stirling)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Array, target: Array, var: Array | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Array:
    """Gaussian negative log likelihood ``0.5 (log var + (input - target)^2 / var)``.

    Args:
        input: expectations ``(N, *)`` or ``(*)``.
        target: samples, same shape.
        var: variances of the input's shape, of it without the last axis, with one axis
            of size 1 (homoscedastic), or a non-negative float.
        full: add the constant ``0.5 log(2 pi)``.
        eps: ``var`` is clamped at ``eps`` for the value only (as torch, which clamps
            under ``no_grad``, the gradient sees the unclamped ``var``).

    Raises:
        ValueError: negative variances, checked for concrete arrays only.

    PyTorch equivalent: ``torch.nn.functional.gaussian_nll_loss``.
    """
    where = 'gaussian_nll_loss'
    input = _float(where, input)
    target = _numeric(target)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{where}: var has negative entry/entries (var={var})")
        var = var * jnp.ones_like(input)
    else:
        var = _float(where, var, "var")
        values = concrete(var)
        if values is not None and np.any(values < 0):
            raise ValueError(f"{where}: var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:  # one variance per sample: (N, *) vs (N, *, D)
            var = jnp.expand_dims(var, -1)
        elif not (input.ndim == var.ndim
                  and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError(f"{where}: var is of incorrect size: expected the input's shape "
                             f"{fmt_shape(input.shape)}, that shape without its last axis, or it "
                             f"with one axis of size 1; got {fmt_shape(var.shape)}")
    reduction = _check_reduction(where, reduction)
    # torch clamps var at eps under no_grad: the clamp is invisible to the gradient
    var = var + jax.lax.stop_gradient(jnp.maximum(var, eps) - var)
    diff = input - target
    loss = 0.5 * (jnp.log(var) + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
