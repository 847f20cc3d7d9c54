"""``linear_cross_entropy``: the fused ``cross_entropy(linear(input, W, b), target)`` that
large-vocabulary models use, chunked over the vocabulary.

The loss of a row only needs three numbers of its logits ``z = x W^T + b``: the
log-sum-exp, the target's logit and (for label smoothing) the class-weighted sum of the
logits. The forward pass computes them one vocabulary chunk at a time (an online
log-sum-exp), so the ``(N, V)`` logits never exist; a custom VJP recomputes each chunk's
logits in the backward pass and accumulates the input, weight and bias gradients from
``dz = g_lse * softmax(z) + g_target * onehot + g_sum * class_weight``. Peak memory is
``O(N * chunk_size)`` instead of ``O(N * V)`` (``benchmarks/linear_cross_entropy_memory.py``
measures it). torch 2.13 chunks over the batch when given ``options``; fnet always
chunks over the vocabulary, and the results are the reference formula's either way.

Probability targets and K-dimensional weights ``(C, d_1, ..., d_K, in_features)`` take
the reference path (``linear`` then ``cross_entropy``), as torch's chunked path does.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import fmt_shape
from ._linear import linear
from ._loss import _check_reduction, _class_weight, _float, _index_target, cross_entropy

__all__ = ["linear_cross_entropy"]

DEFAULT_CHUNK_SIZE = 4096  # vocabulary entries per chunk


def _chunk_bounds(k, chunk: int, vocab: int):
    """Start of chunk ``k`` (the last one is shifted back to stay in range) and which of
    its columns are new (not already covered by the previous chunk)."""
    start = jnp.minimum(k * chunk, vocab - chunk)
    cols = start + jnp.arange(chunk)
    return start, cols, cols >= k * chunk


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _logit_stats(x, w, b, target, class_weight, chunk: int):
    """Per row: ``(logsumexp(z), z[target], sum_c class_weight[c] z[c])`` without the logits."""
    return _logit_stats_fwd(x, w, b, target, class_weight, chunk)[0]


def _chunk_logits(x, w, b, start, chunk):
    w_c = jax.lax.dynamic_slice_in_dim(w, start, chunk, axis=0)
    z = x @ w_c.T
    if b is not None:
        z = z + jax.lax.dynamic_slice_in_dim(b, start, chunk)
    return z, w_c


def _logit_stats_fwd(x, w, b, target, class_weight, chunk):
    vocab = w.shape[0]
    n_chunks = -(-vocab // chunk)
    n = x.shape[0]
    dtype = x.dtype

    def body(k, carry):
        m, s, zt, zw = carry
        start, cols, new = _chunk_bounds(k, chunk, vocab)
        z, _ = _chunk_logits(x, w, b, start, chunk)
        z_new = jnp.where(new[None, :], z, -jnp.inf)
        m_next = jnp.maximum(m, jnp.max(z_new, axis=1))
        s = s * jnp.exp(m - m_next) + jnp.sum(jnp.exp(z_new - m_next[:, None]), axis=1)
        hit = (cols[None, :] == target[:, None]) & new[None, :]
        zt = zt + jnp.sum(jnp.where(hit, z, 0), axis=1)
        cw = jax.lax.dynamic_slice_in_dim(class_weight, start, chunk)
        zw = zw + jnp.sum(jnp.where(new[None, :], z * cw[None, :], 0), axis=1)
        return m_next, s, zt, zw

    init = (jnp.full((n,), -jnp.inf, dtype), jnp.zeros((n,), dtype), jnp.zeros((n,), dtype),
            jnp.zeros((n,), dtype))
    m, s, zt, zw = jax.lax.fori_loop(0, n_chunks, body, init)
    lse = m + jnp.log(s)
    return (lse, zt, zw), (x, w, b, target, class_weight, lse)


def _logit_stats_bwd(chunk, res, cotangents):
    x, w, b, target, class_weight, lse = res
    g_lse, g_zt, g_zw = cotangents
    vocab = w.shape[0]
    n_chunks = -(-vocab // chunk)

    def body(k, carry):
        gx, gw, gb = carry
        start, cols, new = _chunk_bounds(k, chunk, vocab)
        z, w_c = _chunk_logits(x, w, b, start, chunk)
        cw = jax.lax.dynamic_slice_in_dim(class_weight, start, chunk)
        dz = (g_lse[:, None] * jnp.exp(z - lse[:, None])
              + jnp.where(cols[None, :] == target[:, None], g_zt[:, None], 0)
              + g_zw[:, None] * cw[None, :])
        dz = jnp.where(new[None, :], dz, 0)  # columns of the previous chunk are done
        gx = gx + dz @ w_c
        gw = jax.lax.dynamic_update_slice_in_dim(
            gw, jax.lax.dynamic_slice_in_dim(gw, start, chunk, axis=0) + dz.T @ x, start, axis=0)
        if gb is not None:
            gb = jax.lax.dynamic_update_slice_in_dim(
                gb, jax.lax.dynamic_slice_in_dim(gb, start, chunk) + jnp.sum(dz, axis=0), start, axis=0)
        return gx, gw, gb

    init = (jnp.zeros_like(x), jnp.zeros_like(w), None if b is None else jnp.zeros_like(b))
    gx, gw, gb = jax.lax.fori_loop(0, n_chunks, body, init)
    return (gx, gw, gb, np.zeros(target.shape, jax.dtypes.float0), jnp.zeros_like(class_weight))


_logit_stats.defvjp(_logit_stats_fwd, _logit_stats_bwd)


def linear_cross_entropy(input: jax.Array, linear_weight: jax.Array, target: jax.Array, *,
                         linear_bias: jax.Array | None = None, weight: jax.Array | None = None,
                         reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options: Any = None,
                         chunk_size: int | None = None) -> jax.Array:
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)`` without
    materialising the logits.

    Args:
        input: ``(N, in_features)`` or ``(in_features,)``.
        linear_weight: ``(C, in_features)``, or ``(C, d_1, ..., d_K, in_features)`` for a
            K-dimensional loss (reference path).
        target: class indices ``(N,)`` / ``()`` (chunked path), or probabilities of the
            logits' shape (reference path).
        linear_bias: ``(C,)`` (or ``(C, d_1, ..., d_K)``).
        weight: per-class weights ``(C,)``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``, as :func:`cross_entropy`.
        ignore_index: class-index targets equal to it are ignored; ``None`` means -100 (it
            must stay ``None`` for probability targets), as torch.
        label_smoothing: in ``[0, 1]``, as :func:`cross_entropy`.
        options: torch's ``LinearCrossEntropyOptions`` (batch chunking); accepted and
            ignored, fnet chunks over the vocabulary always.
        chunk_size: fnet only: vocabulary entries per chunk (default 4096); smaller
            chunks use less memory and run more, smaller matmuls.

    Returns:
        The loss, as :func:`cross_entropy` would return it for the logits.

    PyTorch equivalent: ``torch.nn.functional.linear_cross_entropy``.
    """
    where = 'linear_cross_entropy'
    reduction = _check_reduction(where, reduction)
    x = _float(where, input)
    w = _float(where, linear_weight, "linear_weight")
    if x.ndim not in (1, 2):
        raise ValueError(f"{where}: expected input with dimensionality 1 or 2, got {x.ndim} "
                         f"(shape {fmt_shape(x.shape)})")
    if w.ndim < 2:
        raise ValueError(f"{where}: expected linear_weight with dimensionality at least 2, got "
                         f"{w.ndim} (shape {fmt_shape(w.shape)})")
    if x.shape[-1] != w.shape[-1]:
        raise ValueError(f"{where}: expected equal input and linear_weight last dimensions "
                         f"(in_features), got {x.shape[-1]} and {w.shape[-1]}, respectively")
    n_classes, out_features = w.shape[0], w.shape[1:-1]
    b = None if linear_bias is None else jnp.asarray(linear_bias)
    if b is not None and b.shape != (n_classes, *out_features):
        raise ValueError(f"{where}: expected linear_bias shape {fmt_shape((n_classes, *out_features))}, "
                         f"got {fmt_shape(b.shape)}")
    if out_features and x.ndim == 1:
        raise ValueError(f"{where}: a K-dimensional loss (linear_weight {fmt_shape(w.shape)}) requires a "
                         f"batched input (N, {x.shape[-1]}), got {fmt_shape(x.shape)}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    target = jnp.asarray(target)
    logits_shape = (*x.shape[:-1], n_classes, *out_features)
    probabilities = target.shape == logits_shape
    if probabilities and ignore_index is not None:
        raise ValueError(f"{where}: ignore_index cannot be specified when target contains probabilities")
    ignore = -100 if ignore_index is None else int(ignore_index)
    if probabilities or out_features:
        # the reference path: the logits exist (torch's chunked path falls back here too)
        flat_w = w.reshape(-1, w.shape[-1])
        logits = linear(x, flat_w, None if b is None else b.reshape(-1)).reshape(logits_shape)
        return cross_entropy(logits, target, weight, ignore_index=ignore, reduction=reduction,
                             label_smoothing=label_smoothing)

    unbatched = x.ndim == 1
    xb = x[None] if unbatched else x
    # validates shape, dtype and (when concrete) the range of the class indices
    spec = jax.ShapeDtypeStruct((xb.shape[0], n_classes), x.dtype)
    t = _index_target(where, spec, target[None] if unbatched else target, ignore, prob_allowed=True)
    cw = _class_weight(where, weight, n_classes, x.dtype)
    class_weight = jnp.ones((n_classes,), x.dtype) if cw is None else cw
    chunk = min(int(chunk_size or DEFAULT_CHUNK_SIZE), n_classes)
    if chunk < 1:
        raise ValueError(f"{where}: chunk_size must be positive, got {chunk_size}")
    if b is not None:
        b = b.astype(x.dtype)
    ignored = t == ignore
    in_range = (t >= 0) & (t < n_classes)
    safe = jnp.where(in_range & ~ignored, t, 0)
    lse, zt, zw = _logit_stats(xb, w.astype(x.dtype), b, safe, class_weight, chunk)
    w_t = jnp.where(ignored, 0, class_weight[safe])
    nll = jnp.where(ignored, 0, w_t * (lse - zt))
    nll = jnp.where(~ignored & ~in_range, jnp.nan, nll)  # an out-of-range index under jit, as cross_entropy
    loss = nll
    if label_smoothing > 0:
        smooth = jnp.where(ignored, 0, jnp.sum(class_weight) * lse - zw)
        loss = (1 - label_smoothing) * nll + (label_smoothing / n_classes) * smooth
    if reduction == "none":
        return loss[0] if unbatched else loss
    if reduction == "sum":
        return jnp.sum(loss)
    return jnp.sum(loss) / jnp.sum(w_t)
