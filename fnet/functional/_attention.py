"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

Both follow torch's CPU semantics exactly, including the corner cases people trip on:

* boolean ``attn_mask`` in :func:`scaled_dot_product_attention` means *True takes part*;
  in :func:`multi_head_attention_forward` (and ``nn.MultiheadAttention``) boolean
  ``attn_mask`` / ``key_padding_mask`` mean *True is masked out*, as in torch;
* ``is_causal`` is torch's top-left aligned ``tril(ones(L, S))`` when ``L != S``;
* a query row whose keys are all masked gives 0 from ``scaled_dot_product_attention``
  (torch's CPU kernels do the same) but NaN from the ``need_weights=True`` path of
  multi-head attention (a plain softmax over ``-inf``, again as torch).

Randomness: torch's second positional argument is named ``key`` (the attention keys),
so the PRNG key for attention dropout is the keyword-only ``dropout_key``.

The computation is one exact ``jax.numpy`` reference implementation
(:func:`_reference_attention`). Every entry point reaches it through :func:`_attend`,
the single place where the fused kernel (``jax.nn.dot_product_attention``, cuDNN
flash attention on GPU) is dispatched instead, without touching mask handling or
argument checking. :func:`model_attention` is the attention of the Hugging Face
families (``fnet.models``): padding, causal, sliding-window and grouped-query masks
over an optional static KV cache, fused on accelerators and explicit on CPU.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks
from ._activation import softmax
from ._dropout import dropout
from ._linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


# ---------------------------------------------------------------------------------------
# core


def _softmax(scores: jax.Array, safe: bool) -> jax.Array:
    """Softmax over the last axis; ``safe`` gives 0 (not NaN) for rows that are all -inf.

    The safe form is torch's ``_safe_softmax`` (what its SDPA kernels compute); the
    plain one is ``F.softmax`` (what ``multi_head_attention_forward`` uses with
    ``need_weights=True``, NaN for fully masked rows).
    """
    if not safe:
        return softmax(scores, dim=-1)
    row_max = jnp.max(scores, axis=-1, keepdims=True)
    row_max = jax.lax.stop_gradient(jnp.where(jnp.isfinite(row_max), row_max, 0.0))
    unnorm = jnp.exp(scores - row_max)
    total = jnp.sum(unnorm, axis=-1, keepdims=True)
    return unnorm / jnp.where(total == 0, 1.0, total).astype(unnorm.dtype)


def _reference_attention(query: jax.Array, key: jax.Array, value: jax.Array,
                         allowed: jax.Array | None, bias: jax.Array | None, scale: float,
                         dropout_p: float, dropout_key: jax.Array | None, safe: bool,
                         scale_query: bool) -> tuple[jax.Array, jax.Array]:
    """softmax(q k^T * scale + bias, masked by ``allowed``), dropout, times v.

    Args:
        query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``.
        allowed: boolean, broadcastable to ``(..., L, S)``; False entries get -inf.
        bias: additive float, broadcastable to ``(..., L, S)``.
        scale_query: multiply ``query`` by ``scale`` before the matmul (torch's
            multi-head ``need_weights`` path) instead of scaling the scores.

    Returns:
        ``(output (..., L, Ev), weights (..., L, S))``; weights after dropout.
    """
    if scale_query:
        scores = jnp.matmul(query * jnp.asarray(scale, query.dtype), jnp.swapaxes(key, -1, -2))
    else:
        scores = jnp.matmul(query, jnp.swapaxes(key, -1, -2)) * jnp.asarray(scale, query.dtype)
    if bias is not None:
        scores = scores + bias
    if allowed is not None:
        scores = jnp.where(allowed, scores, jnp.asarray(-jnp.inf, scores.dtype))
    weights = _softmax(scores, safe)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True, key=dropout_key)
    return jnp.matmul(weights, value), weights


def _attend(query: jax.Array, key: jax.Array, value: jax.Array, *, allowed: jax.Array | None = None,
            bias: jax.Array | None = None, scale: float, dropout_p: float = 0.0,
            dropout_key: jax.Array | None = None, safe: bool = True, scale_query: bool = False,
            need_weights: bool = False, implementation: str = "eager"
            ) -> tuple[jax.Array, jax.Array | None]:
    """The one dispatch point of every attention in fnet (SDPA, MHA, the Hugging Face models).

    Inputs are already validated and masks canonicalised: ``query (B, Hq, L, E)``,
    ``key``/``value (B, Hkv, S, E)`` with ``Hkv`` dividing ``Hq`` (grouped-query
    attention: query head ``h`` reads key/value head ``h // (Hq // Hkv)``, transformers'
    ``repeat_kv``, computed without copying the keys). ``implementation="eager"`` runs
    the exact reference computation; ``"xla"``/``"cudnn"`` run
    ``jax.nn.dot_product_attention`` with that implementation, which the caller picks
    only when neither weights nor dropout are needed and the mask is boolean.
    """
    if implementation != "eager":
        if need_weights or dropout_p > 0.0 or bias is not None or scale_query:
            raise ValueError(f"attention: the fused {implementation!r} implementation returns no weights and "
                             f"takes a boolean mask without dropout; use the eager implementation")
        out = jax.nn.dot_product_attention(
            jnp.swapaxes(query, 1, 2), jnp.swapaxes(key, 1, 2), jnp.swapaxes(value, 1, 2),
            mask=allowed, scale=scale, implementation=implementation)
        return jnp.swapaxes(out, 1, 2), None
    hq, hkv = query.shape[-3] if query.ndim >= 3 else 1, key.shape[-3] if key.ndim >= 3 else 1
    if hq != hkv:  # (B, Hkv, R, L, E) against (B, Hkv, 1, S, E): no repeated copy of the cache
        group = hq // hkv
        q5 = query.reshape(query.shape[:-3] + (hkv, group) + query.shape[-2:])

        def expand(mask):  # (B, H or 1, L, S) -> (B, H or 1, 1, L, S)
            return None if mask is None or mask.ndim < 3 else mask[..., None, :, :, :]

        out, weights = _reference_attention(q5, key[..., None, :, :], value[..., None, :, :], expand(allowed),
                                            expand(bias), scale, dropout_p, dropout_key, safe, scale_query)
        out = out.reshape(query.shape[:-1] + out.shape[-1:])
        weights = weights.reshape(query.shape[:-1] + weights.shape[-1:])
        return out, (weights if need_weights else None)
    out, weights = _reference_attention(query, key, value, allowed, bias, scale, dropout_p,
                                        dropout_key, safe, scale_query)
    return out, (weights if need_weights else None)


def model_attention(query: jax.Array, key: jax.Array, value: jax.Array, *,
                    attention_mask: jax.Array | None = None, causal: bool = False,
                    sliding_window: int | None = None, query_offset: Any = 0, scale: float | None = None,
                    dropout_p: float = 0.0, dropout_key: jax.Array | None = None, need_weights: bool = False,
                    implementation: str | None = None) -> tuple[jax.Array, jax.Array | None]:
    """The attention of the Hugging Face families: padding, causal, sliding-window, grouped-query.

    One function for BERT, RoBERTa, DistilBERT, GPT-2 and the Llama family, with or
    without a static KV cache (the keys then span the whole cache and ``query_offset``
    says where the queries sit in it).

    Args:
        query: ``(B, Hq, L, E)``.
        key, value: ``(B, Hkv, S, E)``; ``Hkv`` divides ``Hq`` (grouped-query attention,
            query head ``h`` reads key/value head ``h // (Hq // Hkv)`` as transformers'
            ``repeat_kv`` arranges them).
        attention_mask: ``(B, S)``, nonzero where the key takes part (0 = padding).
        causal: key ``j`` is visible to query ``i`` only when ``j <= query_offset + i``.
        sliding_window: ``W``: also ``j > query_offset + i - W`` (Mistral: each token
            sees itself and the ``W - 1`` keys before it).
        query_offset: index in the key sequence of the first query (an int or a traced
            integer scalar: the number of positions already in the cache).
        scale: score scale, default ``1 / sqrt(E)``.
        dropout_p, dropout_key: dropout on the attention weights (training).
        need_weights: also return the attention weights ``(B, Hq, L, S)``.
        implementation: None picks ``jax.nn.dot_product_attention`` (cuDNN flash
            attention where it applies) on GPU/TPU when neither weights nor dropout are
            asked for, and the explicit computation on CPU; ``"eager"`` always the
            explicit one; ``"xla"``/``"cudnn"`` force the fused function.

    Returns:
        ``(output (B, Hq, L, E), weights (B, Hq, L, S) or None)``.

    Masked scores get the dtype's most negative value added, as in transformers'
    eager masks: a query whose keys are all masked (a left-padding position) averages
    every value there, as transformers' eager attention does (the fused path gives
    another value; such rows are padding and no real token reads them). Half-precision
    inputs are computed in float32 on the explicit path, as transformers' softmax is.

    PyTorch equivalent: transformers' ``eager_attention_forward`` with the masks of
    ``transformers.masking_utils`` (``create_causal_mask``,
    ``create_sliding_window_causal_mask``, ``create_bidirectional_mask``).
    """
    batch, _, length, head_dim = query.shape
    keys = key.shape[-2]
    allowed = None
    if attention_mask is not None:
        allowed = (jnp.asarray(attention_mask) != 0)[:, None, None, :]  # (B, 1, 1, S)
    if causal or sliding_window is not None:
        q_index = jnp.arange(length)[:, None] + query_offset
        k_index = jnp.arange(keys)[None, :]
        visible = k_index <= q_index if causal else jnp.ones((length, keys), bool)
        if sliding_window is not None:
            visible = jnp.logical_and(visible, k_index > q_index - sliding_window)
        visible = visible[None, None]  # (1, 1, L, S)
        allowed = visible if allowed is None else jnp.logical_and(allowed, visible)
    scale = 1.0 / math.sqrt(head_dim) if scale is None else float(scale)
    if implementation is None:
        fused = jax.default_backend() != "cpu" and not need_weights and dropout_p == 0.0
        implementation = "auto" if fused else "eager"
    if implementation in ("auto", "xla", "cudnn"):
        if allowed is not None:
            allowed = jnp.broadcast_to(allowed, (batch, 1, length, keys))
        kw = dict(allowed=allowed, scale=scale, need_weights=need_weights, dropout_p=dropout_p)
        if implementation == "auto":
            # jax.nn.dot_product_attention's own default is XLA; cuDNN flash attention is
            # asked for on GPU and refuses (at trace time) the shapes and dtypes it lacks
            if jax.default_backend() == "gpu":
                try:
                    return _attend(query, key, value, implementation="cudnn", **kw)
                except (ValueError, NotImplementedError, RuntimeError):
                    pass
            implementation = "xla"
        return _attend(query, key, value, implementation=implementation, **kw)
    dtype = query.dtype
    if jnp.finfo(dtype).bits < 32:
        query, key, value = query.astype(jnp.float32), key.astype(jnp.float32), value.astype(jnp.float32)
    bias = None
    if allowed is not None:
        bias = jnp.where(allowed, jnp.asarray(0, query.dtype), jnp.asarray(jnp.finfo(query.dtype).min, query.dtype))
    out, weights = _attend(query, key, value, bias=bias, scale=scale, dropout_p=dropout_p,
                           dropout_key=dropout_key, safe=False, need_weights=need_weights)
    if weights is not None:
        weights = weights.astype(dtype)
    return out.astype(dtype), weights


# ---------------------------------------------------------------------------------------
# scaled_dot_product_attention


def _broadcast(where: str, what: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"{where}: {what} must broadcast, got shapes "
                         + ", ".join(_checks.fmt_shape(s) for s in shapes)) from None


def _causal(l: int, s: int) -> jax.Array:
    """torch's top-left aligned causal mask ``tril(ones(L, S))`` (True = may attend)."""
    return jnp.tril(jnp.ones((l, s), dtype=bool))


def scaled_dot_product_attention(query: jax.Array, key: jax.Array, value: jax.Array,
                                 attn_mask: jax.Array | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, *, scale: float | None = None,
                                 enable_gqa: bool = False, dropout_key: jax.Array | None = None) -> jax.Array:
    """``softmax(Q K^T * scale + mask) V`` with torch's masks, causal mode, dropout and GQA.

    Args:
        query: ``(N, ..., Hq, L, E)`` (at least 2-D).
        key: ``(N, ..., H, S, E)``.
        value: ``(N, ..., H, S, Ev)``.
        attn_mask: broadcastable to ``(N, ..., Hq, L, S)``. Boolean: **True takes part**
            in attention (the inverse of ``nn.MultiheadAttention``'s masks). Floating:
            added to the scores.
        dropout_p: dropout probability on the attention weights. As in torch it is
            applied whenever it is > 0 (pass 0.0 in evaluation).
        is_causal: apply torch's causal mask ``tril(ones(L, S))``, top-left aligned when
            ``L != S``. Combined with ``attn_mask`` when both are given (torch 2.13's CPU
            kernels combine them too).
        scale: keyword-only (as in torch's binding) score scale; default ``1 / sqrt(E)``.
        enable_gqa: keyword-only; grouped-query attention: key/value heads ``H`` must divide ``Hq``
            and are repeated (``repeat_interleave``) to ``Hq`` heads.
        dropout_key: keyword-only PRNG key for dropout, required when ``dropout_p > 0``.
            (torch's RNG is global; torch's positional ``key`` is the attention keys.)

    Returns:
        ``(N, ..., Hq, L, Ev)``. Query rows with every key masked out give zeros, as
        torch's CPU implementation does.

    PyTorch equivalent: ``torch.nn.functional.scaled_dot_product_attention``.
    """
    where = "scaled_dot_product_attention"
    for name, x in (("query", query), ("key", key), ("value", value)):
        _checks.check_floating(where, x, name)
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError(f"{where}: expected query, key and value of at least 2 dimensions, got "
                         f"query {_checks.fmt_shape(query.shape)}, key {_checks.fmt_shape(key.shape)}, "
                         f"value {_checks.fmt_shape(value.shape)}")
    if not (query.dtype == key.dtype == value.dtype):
        raise TypeError(f"{where}: expected query, key and value of the same dtype, got "
                        f"{query.dtype}, {key.dtype} and {value.dtype}")
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"{where}: expected key (..., S, {query.shape[-1]}) to match the query's "
                         f"last dimension E={query.shape[-1]}, got key {_checks.fmt_shape(key.shape)}")
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(f"{where}: expected value (..., {key.shape[-2]}, Ev) with the key's sequence "
                         f"length S={key.shape[-2]}, got value {_checks.fmt_shape(value.shape)}")
    if enable_gqa:
        if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
            raise ValueError(f"{where}: enable_gqa=True needs a heads dimension (..., H, L, E), got "
                             f"query {_checks.fmt_shape(query.shape)}")
        hq = query.shape[-3]
        for name in ("key", "value"):
            x = key if name == "key" else value
            if x.shape[-3] == 0 or hq % x.shape[-3]:
                raise ValueError(f"{where}: with enable_gqa=True the number of {name} heads must divide "
                                 f"the number of query heads {hq}, got {x.shape[-3]}")
        key = jnp.repeat(key, hq // key.shape[-3], axis=-3)
        value = jnp.repeat(value, hq // value.shape[-3], axis=-3)
    batch = _broadcast(where, "the batch dimensions of query, key and value",
                       query.shape[:-2], key.shape[:-2], value.shape[:-2])
    L, S = query.shape[-2], key.shape[-2]
    allowed = bias = None
    if attn_mask is not None:
        attn_mask = jnp.asarray(attn_mask)
        _broadcast(where, "attn_mask and the attention weights (..., L, S)", attn_mask.shape,
                   batch + (L, S))
        if attn_mask.dtype == jnp.bool_:
            allowed = attn_mask
        elif jnp.issubdtype(attn_mask.dtype, jnp.floating):
            bias = attn_mask.astype(query.dtype)
        else:
            raise TypeError(f"{where}: expected a bool or floating attn_mask, got dtype {attn_mask.dtype}")
    if is_causal:
        causal = _causal(L, S)
        allowed = causal if allowed is None else jnp.logical_and(allowed, causal)
    dropout_p = float(dropout_p)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{where}: dropout_p must be in [0, 1], got {dropout_p}")
    if 0.0 < dropout_p < 1.0 and dropout_key is None:  # p == 1 drops everything: no draw
        raise ValueError(f"{where}: dropout_p={dropout_p} draws a dropout mask and needs "
                         f"dropout_key=jax.random.key(...) (or pass dropout_p=0.0 in evaluation)")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    out, _ = _attend(query, key, value, allowed=allowed, bias=bias, scale=scale,
                     dropout_p=dropout_p, dropout_key=dropout_key, safe=True)
    return out


# ---------------------------------------------------------------------------------------
# multi_head_attention_forward


def _float_mask(where: str, name: str, mask: Any, dtype: Any) -> jax.Array | None:
    """torch's ``_canonical_mask``: boolean (True = masked out) -> 0 / -inf floats."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    if mask.dtype == jnp.bool_:
        return jnp.where(mask, jnp.asarray(-jnp.inf, dtype), jnp.asarray(0, dtype))
    if not jnp.issubdtype(mask.dtype, jnp.floating):
        raise TypeError(f"{where}: only bool and floating {name} are supported, got dtype {mask.dtype}")
    return mask.astype(dtype)


def _pad_last(mask: jax.Array | None) -> jax.Array | None:
    """Adds one unmasked (0) column for an appended key (bias_k or the zero key)."""
    if mask is None:
        return None
    return jnp.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])


def multi_head_attention_forward(query: jax.Array, key: jax.Array, value: jax.Array,
                                 embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: jax.Array | None, in_proj_bias: jax.Array | None,
                                 bias_k: jax.Array | None, bias_v: jax.Array | None,
                                 add_zero_attn: bool, dropout_p: float, out_proj_weight: jax.Array,
                                 out_proj_bias: jax.Array | None, training: bool = True,
                                 key_padding_mask: jax.Array | None = None, need_weights: bool = True,
                                 attn_mask: jax.Array | None = None,
                                 use_separate_proj_weight: bool = False,
                                 q_proj_weight: jax.Array | None = None,
                                 k_proj_weight: jax.Array | None = None,
                                 v_proj_weight: jax.Array | None = None,
                                 static_k: jax.Array | None = None, static_v: jax.Array | None = None,
                                 average_attn_weights: bool = True, is_causal: bool = False, *,
                                 dropout_key: jax.Array | None = None
                                 ) -> tuple[jax.Array, jax.Array | None]:
    """Multi-head attention on sequence-first inputs, the function behind ``nn.MultiheadAttention``.

    Args:
        query: ``(L, N, E)`` or unbatched ``(L, E)``.
        key: ``(S, N, E_k)`` or ``(S, E_k)``; value ``(S, N, E_v)`` or ``(S, E_v)``.
        embed_dim_to_check: ``E``; num_heads: ``H`` (must divide ``E``).
        in_proj_weight: packed ``(3E, E)`` q/k/v projection (or None with
            ``use_separate_proj_weight`` and ``q_proj_weight (E, E)``,
            ``k_proj_weight (E, E_k)``, ``v_proj_weight (E, E_v)``).
        in_proj_bias: ``(3E,)`` or None.
        bias_k, bias_v: ``(1, 1, E)`` appended to the key/value sequences, or None.
        add_zero_attn: append a zero key/value (after the head split).
        dropout_p: dropout on the attention weights, applied when ``training``.
        out_proj_weight: ``(E, E)``.
        out_proj_bias: ``(E,)`` or None.
        key_padding_mask: ``(N, S)`` or ``(S,)``; boolean True = ignore that key; floating
            values are added to the scores.
        need_weights: return the attention weights (computed with an explicit softmax;
            otherwise the scaled-dot-product path runs and ``None`` is returned).
        attn_mask: ``(L, S)`` or ``(N * H, L, S)``; boolean True = not allowed to attend;
            floating values are added.
        static_k, static_v: ``(N * H, S, E / H)`` keys/values used instead of projecting.
        average_attn_weights: average the returned weights over heads.
        is_causal: torch's hint that ``attn_mask`` is causal; as in torch it needs
            ``attn_mask``, and when neither ``key_padding_mask`` nor ``need_weights`` is
            set the causal mask replaces ``attn_mask``.
        dropout_key: keyword-only PRNG key, required when ``training`` and ``dropout_p > 0``.

    Returns:
        ``(attn_output (L, N, E) or (L, E), attn_weights or None)``; weights
        ``(N, L, S)`` averaged or ``(N, H, L, S)`` per head (without ``N`` unbatched).
        Rows whose keys are all masked are NaN on the ``need_weights`` path and 0
        otherwise, exactly as in torch.

    PyTorch equivalent: ``torch.nn.functional.multi_head_attention_forward``.
    """
    where = "multi_head_attention_forward"
    for name, x in (("query", query), ("key", key), ("value", value)):
        _checks.check_floating(where, x, name)
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    dtype = query.dtype
    # -- shape checks (torch's _mha_shape_check) ------------------------------------------
    if query.ndim == 3:
        is_batched = True
        if key.ndim != 3 or value.ndim != 3:
            raise ValueError(f"{where}: for batched (3-D) query, expected 3-D key and value, got "
                             f"key {_checks.fmt_shape(key.shape)} and value {_checks.fmt_shape(value.shape)}")
        if key_padding_mask is not None and np.ndim(key_padding_mask) != 2:
            _checks.fail(where, "key_padding_mask (N, S) for a batched query", key_padding_mask)
    elif query.ndim == 2:
        is_batched = False
        if key.ndim != 2 or value.ndim != 2:
            raise ValueError(f"{where}: for unbatched (2-D) query, expected 2-D key and value, got "
                             f"key {_checks.fmt_shape(key.shape)} and value {_checks.fmt_shape(value.shape)}")
        if key_padding_mask is not None and np.ndim(key_padding_mask) != 1:
            _checks.fail(where, "key_padding_mask (S,) for an unbatched query", key_padding_mask)
    else:
        _checks.fail(where, "query (L, N, E) or unbatched (L, E)", query)
    if attn_mask is not None and np.ndim(attn_mask) not in (2, 3):
        _checks.fail(where, "attn_mask (L, S) or (N * num_heads, L, S)", attn_mask)
    if not is_batched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        if key_padding_mask is not None:
            key_padding_mask = jnp.asarray(key_padding_mask)[None]
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        _checks.fail(where, f"query with embedding dimension {embed_dim_to_check}", query)
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise ValueError(f"{where}: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"{where}: key's sequence and batch dimensions {tuple(key.shape[:2])} do not "
                             f"match value's {tuple(value.shape[:2])}")
    elif key.shape != value.shape:
        raise ValueError(f"{where}: key shape {_checks.fmt_shape(key.shape)} does not match value shape "
                         f"{_checks.fmt_shape(value.shape)}")
    if key.shape[1] != bsz:
        raise ValueError(f"{where}: key and value batch size {key.shape[1]} does not match the query's {bsz}")

    key_padding_mask = _float_mask(where, "key_padding_mask", key_padding_mask, dtype)
    if is_causal and attn_mask is None:
        raise ValueError(f"{where}: is_causal=True is a hint that attn_mask is causal and needs attn_mask "
                         f"(nn.Transformer.generate_square_subsequent_mask(L) makes one)")
    sdpa_causal = False
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # torch passes is_causal to SDPA and drops the (causal) mask
        sdpa_causal = True
    else:
        attn_mask = _float_mask(where, "attn_mask", attn_mask, dtype)

    # -- in-projection ---------------------------------------------------------------------
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise ValueError(f"{where}: use_separate_proj_weight is False but in_proj_weight is None")
        w_q, w_k, w_v = jnp.split(in_proj_weight, 3)
    else:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{where}: use_separate_proj_weight=True needs q_proj_weight, k_proj_weight "
                             f"and v_proj_weight")
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = jnp.split(in_proj_bias, 3)
    for name, w, x in (("key", w_k, key), ("value", w_v, value)):
        if x.shape[-1] != w.shape[-1]:
            _checks.fail(where, f"{name} (S, N, {w.shape[-1]})", x)
    q = linear(query, w_q, b_q)
    k = linear(key, w_k, b_k)
    v = linear(value, w_v, b_v)

    # -- masks ------------------------------------------------------------------------------
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if attn_mask.shape != (tgt_len, src_len):
                _checks.fail(where, f"2-D attn_mask ({tgt_len}, {src_len})", attn_mask)
            attn_mask = attn_mask[None]
        elif attn_mask.shape != (bsz * num_heads, tgt_len, src_len):
            _checks.fail(where, f"3-D attn_mask ({bsz * num_heads}, {tgt_len}, {src_len}) "
                                f"(N * num_heads, L, S)", attn_mask)
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise ValueError(f"{where}: bias_k/bias_v cannot be added to static_k/static_v")
        k = jnp.concatenate([k, jnp.broadcast_to(bias_k.reshape(1, 1, embed_dim), (1, bsz, embed_dim))])
        v = jnp.concatenate([v, jnp.broadcast_to(bias_v.reshape(1, 1, embed_dim), (1, bsz, embed_dim))])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise ValueError(f"{where}: bias_k and bias_v must be given together")

    # (L, N, E) -> (N, H, L, hd)
    q = q.reshape(tgt_len, bsz, num_heads, head_dim).transpose(1, 2, 0, 3)

    def heads(x: jax.Array, static: jax.Array | None, name: str) -> jax.Array:
        if static is None:
            return x.reshape(x.shape[0], bsz, num_heads, head_dim).transpose(1, 2, 0, 3)
        static = jnp.asarray(static)
        if static.ndim != 3 or static.shape[0] != bsz * num_heads or static.shape[2] != head_dim:
            _checks.fail(where, f"{name} ({bsz * num_heads}, S, {head_dim})", static)
        return static.reshape(bsz, num_heads, static.shape[1], head_dim)

    k = heads(k, static_k, "static_k")
    v = heads(v, static_v, "static_v")
    if add_zero_attn:
        k = jnp.concatenate([k, jnp.zeros(k.shape[:2] + (1, head_dim), k.dtype)], axis=2)
        v = jnp.concatenate([v, jnp.zeros(v.shape[:2] + (1, head_dim), v.dtype)], axis=2)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[2]

    bias = None
    if attn_mask is not None:
        # (1, L, S) or (N*H, L, S) -> broadcastable to (N, H, L, S)
        bias = attn_mask[None] if attn_mask.shape[0] == 1 else attn_mask.reshape(
            bsz, num_heads, tgt_len, src_len)
    if key_padding_mask is not None:
        if key_padding_mask.shape != (bsz, src_len):
            _checks.fail(where, f"key_padding_mask ({bsz}, {src_len}) (N, S)", key_padding_mask)
        kpm = key_padding_mask[:, None, None, :]
        bias = kpm if bias is None else bias + kpm

    dropout_p = float(dropout_p) if training else 0.0
    if 0.0 < dropout_p < 1.0 and dropout_key is None:
        raise ValueError(f"{where}: training with dropout_p={dropout_p} needs a PRNG key (dropout_key=)")
    scale = 1.0 / math.sqrt(head_dim)
    if need_weights:
        out, weights = _attend(q, k, v, bias=bias, scale=scale, dropout_p=dropout_p,
                               dropout_key=dropout_key, safe=False, scale_query=True,
                               need_weights=True)
    else:
        allowed = _causal(tgt_len, src_len) if sdpa_causal else None
        out, weights = _attend(q, k, v, allowed=allowed, bias=bias, scale=scale, dropout_p=dropout_p,
                               dropout_key=dropout_key, safe=True)
    # (N, H, L, hd) -> (L, N, E)
    out = out.transpose(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    if need_weights and average_attn_weights:
        weights = jnp.mean(weights, axis=1)
    if not is_batched:
        out = out[:, 0]
        if weights is not None:
            weights = weights[0]
    return out, weights
