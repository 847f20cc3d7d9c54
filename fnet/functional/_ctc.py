"""Connectionist Temporal Classification loss: ``ctc_loss`` (Graves et al., 2006).

The forward pass is the alpha recursion over the blank-extended target
``(blank, l1, blank, l2, ..., blank)`` in log space, one ``lax.scan`` step per frame,
batched over samples of different input and target lengths.

The gradient is torch's, reproduced with a custom VJP. torch does not return the
derivative of the loss with respect to ``log_probs``; it returns Graves' eq. 16,
``exp(log_probs) - posterior``, the derivative with respect to the *logits* that
``log_probs = log_softmax(logits)`` came from. Through a ``log_softmax`` the two give the
same logits gradient (the extra ``exp(log_probs)`` term lies in the null space of the
softmax Jacobian), so a model that feeds ``log_softmax`` outputs trains identically;
only the gradient reported for ``log_probs`` itself differs from the mathematical one,
and fnet reports torch's. Frames past a sample's input length get a zero gradient.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import fmt_shape
from .._checks import concrete
from ._loss import _check_reduction

__all__ = ["ctc_loss"]

_NEG_INF = -jnp.inf


def _lse(*terms: jax.Array) -> jax.Array:
    """``log(sum(exp(terms)))`` that is ``-inf`` (not nan) when every term is ``-inf``."""
    m = terms[0]
    for t in terms[1:]:
        m = jnp.maximum(m, t)
    safe = jnp.where(jnp.isfinite(m), m, jnp.zeros((), m.dtype))
    total = sum(jnp.exp(t - safe) for t in terms)
    return jnp.log(total) + safe


def _extended(targets: jax.Array, target_lengths: jax.Array, blank: int):
    """``(N, 2S + 1)`` blank-extended labels, and where the skip transition ``s - 2 -> s``
    is allowed (a label that differs from the label two slots before)."""
    n, s_max = targets.shape
    ext = jnp.full((n, 2 * s_max + 1), blank, targets.dtype)
    ext = ext.at[:, 1::2].set(targets)
    prev = jnp.concatenate([jnp.full((n, 2), blank, targets.dtype), ext[:, :-2]], axis=1)
    skip = (ext != blank) & (ext != prev)
    slot = jnp.arange(2 * s_max + 1)[None, :]
    in_target = slot < 2 * target_lengths[:, None] + 1
    return ext, skip & in_target, in_target


def _alphas(lp: jax.Array, ext: jax.Array, skip: jax.Array, in_target: jax.Array,
            input_lengths: jax.Array) -> jax.Array:
    """``(T, N, 2S + 1)`` log alphas; each sample's stay frozen after its input length."""
    T = lp.shape[0]
    emit = jnp.take_along_axis(lp, jnp.broadcast_to(ext[None], (T,) + ext.shape), axis=2)
    neg = jnp.full(ext.shape, _NEG_INF, lp.dtype)
    first = jnp.where(jnp.arange(ext.shape[1])[None, :] < 2, emit[0], neg)
    first = jnp.where(in_target, first, neg)

    def step(prev, inputs):
        t, e = inputs
        shift1 = jnp.concatenate([neg[:, :1], prev[:, :-1]], axis=1)
        shift2 = jnp.concatenate([neg[:, :2], prev[:, :-2]], axis=1)
        shift2 = jnp.where(skip, shift2, neg)
        new = jnp.where(in_target, _lse(prev, shift1, shift2) + e, neg)
        new = jnp.where((t < input_lengths)[:, None], new, prev)
        return new, new

    _, rest = jax.lax.scan(step, first, (jnp.arange(1, T), emit[1:]))
    return jnp.concatenate([first[None], rest], axis=0), emit


def _betas(emit: jax.Array, skip: jax.Array, in_target: jax.Array, input_lengths: jax.Array,
           target_lengths: jax.Array) -> jax.Array:
    """``(T, N, 2S + 1)`` log betas (emission at ``t`` included, as torch's)."""
    T, n, width = emit.shape
    neg = jnp.full((n, width), _NEG_INF, emit.dtype)
    slot = jnp.arange(width)[None, :]
    end = 2 * target_lengths[:, None]
    last = (slot == end) | (slot == end - 1)
    # skip into s from s + 2 is allowed when the label at s + 2 differs from the one at s
    skip_from_next = jnp.concatenate([skip[:, 2:], jnp.zeros((n, 2), bool)], axis=1)

    def step(later, inputs):
        t, e = inputs
        start = jnp.where(last & in_target, e, neg)  # t == input_length - 1
        shift1 = jnp.concatenate([later[:, 1:], neg[:, :1]], axis=1)
        shift2 = jnp.concatenate([later[:, 2:], neg[:, :2]], axis=1)
        shift2 = jnp.where(skip_from_next, shift2, neg)
        inner = jnp.where(in_target, _lse(later, shift1, shift2) + e, neg)
        length = input_lengths[:, None]
        new = jnp.where(t == length - 1, start, jnp.where(t < length - 1, inner, neg))
        return new, new

    _, betas = jax.lax.scan(step, neg, (jnp.arange(T), emit), reverse=True)
    return betas


def _nll(alphas: jax.Array, input_lengths: jax.Array, target_lengths: jax.Array) -> jax.Array:
    final = alphas[-1]  # frozen at each sample's last frame
    end = 2 * target_lengths
    a_end = jnp.take_along_axis(final, end[:, None], axis=1)[:, 0]
    a_prev = jnp.take_along_axis(final, jnp.maximum(end - 1, 0)[:, None], axis=1)[:, 0]
    a_prev = jnp.where(target_lengths > 0, a_prev, jnp.full_like(a_prev, _NEG_INF))
    nll = -_lse(a_end, a_prev)
    # no frame at all: the empty target has probability 1, any other 0
    return jnp.where(input_lengths > 0, nll, jnp.where(target_lengths > 0, jnp.inf, 0.0).astype(nll.dtype))


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _ctc_nll(lp, targets, input_lengths, target_lengths, blank: int, zero_infinity: bool) -> jax.Array:
    return _ctc_fwd(lp, targets, input_lengths, target_lengths, blank, zero_infinity)[0]


def _ctc_fwd(lp, targets, input_lengths, target_lengths, blank, zero_infinity):
    ext, skip, in_target = _extended(targets, target_lengths, blank)
    alphas, emit = _alphas(lp, ext, skip, in_target, input_lengths)
    raw = _nll(alphas, input_lengths, target_lengths)
    nll = jnp.where(jnp.isinf(raw), jnp.zeros((), raw.dtype), raw) if zero_infinity else raw
    return nll, (lp, ext, skip, in_target, alphas, emit, raw, targets, input_lengths, target_lengths)


def _ctc_bwd(blank, zero_infinity, res, g):
    lp, ext, skip, in_target, alphas, emit, nll, targets, input_lengths, target_lengths = res
    T, n, n_classes = lp.shape
    betas = _betas(emit, skip, in_target, input_lengths, target_lengths)
    ab = alphas + betas  # frozen alphas past the input length are masked below
    # log of the summed alpha * beta of every slot carrying class c: (T, N, C)
    onehot = jax.nn.one_hot(ext, n_classes, dtype=bool)  # (N, 2S + 1, C)
    masked = jnp.where(onehot[None], ab[..., None], _NEG_INF)
    peak = jnp.max(masked, axis=2)
    safe = jnp.where(jnp.isfinite(peak), peak, jnp.zeros((), peak.dtype))
    lcab = jnp.log(jnp.sum(jnp.exp(masked - safe[:, :, None, :]), axis=2)) + safe
    grad = (jnp.exp(lp) - jnp.exp(lcab + nll[None, :, None] - lp)) * g[None, :, None]
    frame = jnp.arange(T)[:, None] < input_lengths[None, :]
    keep = frame[:, :, None]
    if zero_infinity:
        keep = keep & ~jnp.isinf(nll)[None, :, None]
    grad = jnp.where(keep, grad, jnp.zeros((), grad.dtype))
    zeros = [np.zeros(np.shape(a), jax.dtypes.float0) for a in (targets, input_lengths, target_lengths)]
    return (grad, *zeros)


_ctc_nll.defvjp(_ctc_fwd, _ctc_bwd)


def _lengths(where: str, name: str, value: Any, n: int) -> jax.Array:
    arr = jnp.asarray(value)
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"{where}: expected integer {name}, got dtype {arr.dtype}")
    if arr.size != n or arr.ndim > 1:
        raise ValueError(f"{where}: expected {name} of shape ({n},), one per sample, got "
                         f"{fmt_shape(arr.shape)}")
    return arr.reshape(n).astype(jnp.int32)


def ctc_loss(log_probs: jax.Array, targets: jax.Array, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> jax.Array:
    """The CTC loss: ``-log`` of the summed probability of every alignment of a target.

    Args:
        log_probs: ``(T, N, C)`` or unbatched ``(T, C)`` log-probabilities (a
            ``log_softmax`` over the classes), time first as torch.
        targets: ``(N, S)`` padded class indices, or the targets of all samples
            concatenated ``(sum(target_lengths),)``; never ``blank``.
        input_lengths: ``(N,)`` frames per sample (ints, a tuple or an array), ``<= T``.
        target_lengths: ``(N,)`` target length per sample.
        blank: the blank class.
        reduction: ``'none'`` (``(N,)``) | ``'sum'`` | ``'mean'`` (each loss divided by its
            target length, then averaged over the batch, as torch).
        zero_infinity: impossible alignments (input too short) give loss 0 and gradient
            0 instead of ``inf``.

    Returns:
        The loss; see the module docstring for the gradient (torch's).

    Raises:
        ValueError: lengths or labels out of range, when they are concrete.

    PyTorch equivalent: ``torch.nn.functional.ctc_loss``.
    """
    where = 'ctc_loss'
    reduction = _check_reduction(where, reduction)
    lp = jnp.asarray(log_probs)
    if not jnp.issubdtype(lp.dtype, jnp.floating):
        raise TypeError(f"{where}: expected floating-point log_probs, got dtype {lp.dtype}")
    if lp.ndim not in (2, 3):
        raise ValueError(f"{where}: expected log_probs of shape (T, N, C) or unbatched (T, C), got "
                         f"{fmt_shape(lp.shape)}")
    unbatched = lp.ndim == 2
    if unbatched:
        lp = lp[:, None]
    T, n, n_classes = lp.shape
    if not 0 <= blank < n_classes:
        raise ValueError(f"{where}: blank must be in label range [0, {n_classes}), got {blank}")
    tgt = jnp.asarray(targets)
    if not jnp.issubdtype(tgt.dtype, jnp.integer):
        raise TypeError(f"{where}: expected integer targets, got dtype {tgt.dtype}")
    in_len = _lengths(where, "input_lengths", input_lengths, n)
    tgt_len = _lengths(where, "target_lengths", target_lengths, n)
    if unbatched:
        if tgt.ndim != 1:
            raise ValueError(f"{where}: an unbatched log_probs (T, C) expects targets (S,), got "
                             f"{fmt_shape(tgt.shape)}")
        tgt = tgt[None]
    elif tgt.ndim == 1:  # concatenated targets: one (N, S_max) row per sample, padded
        offsets = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(tgt_len)[:-1]])
        width = max(int(tgt.shape[0]), 1)
        pos = offsets[:, None] + jnp.arange(width)[None, :]
        tgt = jnp.where(jnp.arange(width)[None, :] < tgt_len[:, None],
                        tgt[jnp.clip(pos, 0, max(int(tgt.shape[0]) - 1, 0))] if tgt.shape[0] else 0, blank)
    elif tgt.ndim != 2 or tgt.shape[0] != n:
        raise ValueError(f"{where}: expected targets of shape (N={n}, S) or concatenated (sum of "
                         f"target_lengths,), got {fmt_shape(tgt.shape)}")
    tgt = tgt.astype(jnp.int32)
    for name, arr, high in (("input_lengths", in_len, T), ("target_lengths", tgt_len, tgt.shape[1])):
        values = concrete(arr)
        if values is not None and (values.min() < 0 or values.max() > high):
            raise ValueError(f"{where}: expected {name} in [0, {high}], got {values.tolist()}")
    values = concrete(tgt)
    lengths = concrete(tgt_len)
    if values is not None and lengths is not None:
        used = np.arange(values.shape[1])[None, :] < lengths[:, None]
        bad = values[used & ((values < 0) | (values >= n_classes) | (values == blank))]
        if bad.size:
            raise ValueError(f"{where}: target labels must be in [0, {n_classes}) and differ from "
                             f"blank={blank}, got {bad.flat[0]}")
    nll = _ctc_nll(lp, tgt, in_len, tgt_len, int(blank), bool(zero_infinity))
    if reduction == "mean":
        return jnp.mean(nll / jnp.maximum(tgt_len, 1).astype(nll.dtype))
    if reduction == "sum":
        return jnp.sum(nll)
    return nll[0] if unbatched else nll
