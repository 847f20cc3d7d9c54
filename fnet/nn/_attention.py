"""Attention layers: ``MultiheadAttention``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import _checks
from .. import functional as F
from .. import init as init_
from ._linear import Linear
from ._module import Context, Module

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """``MultiheadAttention.out_proj``: a Linear whose bias starts at zero.

    torch uses this class name (so ``repr`` shows it) and zeroes the bias in
    ``MultiheadAttention._reset_parameters``; the weight keeps Linear's default init.
    """

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        params, state = super().reset_parameters(key)
        if "bias" in params:
            params["bias"] = jnp.zeros_like(params["bias"])
        return params, state


class MultiheadAttention(Module):
    """Multi-head attention, ``Concat(head_1, ..., head_h) W^O``, with torch's parameters.

    Args:
        embed_dim: model dimension ``E``.
        num_heads: number of heads (must divide ``E``).
        dropout: dropout on the attention weights in training (default 0.0).
        bias: biases on the input and output projections.
        add_bias_kv: learn ``bias_k``/``bias_v`` ``(1, 1, E)`` appended to key/value.
        add_zero_attn: append a zero key/value after the projection.
        kdim, vdim: key/value feature sizes (default ``E``); when either differs from
            ``E`` the projections are separate (``q_proj_weight``, ``k_proj_weight``,
            ``v_proj_weight``) instead of the packed ``in_proj_weight``.
        batch_first: inputs/outputs ``(N, L, E)`` instead of ``(L, N, E)``.
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Parameters (torch's names and init): ``in_proj_weight (3E, E)`` xavier-uniform (or
    the three separate weights, each xavier-uniform), ``in_proj_bias (3E,)`` zeros,
    ``out_proj.weight (E, E)`` Linear's default, ``out_proj.bias`` zeros,
    ``bias_k``/``bias_v (1, 1, E)`` xavier-normal.

    Shape:
        query ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``) or unbatched ``(L, E)``;
        key ``(S, N, kdim)``; value ``(S, N, vdim)``. Output ``(attn_output,
        attn_weights)``: ``attn_output`` like query; ``attn_weights (N, L, S)`` averaged
        over heads, ``(N, H, L, S)`` with ``average_attn_weights=False``, or None when
        ``need_weights=False``.

    Masks follow torch: boolean ``key_padding_mask (N, S)`` / ``attn_mask (L, S)`` or
    ``(N * H, L, S)`` mark positions **not** to attend with True; float masks are added.
    torch's inference fast path (nested tensors) is not reproduced: fnet always computes
    the reference result, which equals the fast path's at every unpadded position.

    PyTorch equivalent: ``torch.nn.MultiheadAttention``.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads}")
        self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        self.bias = bool(bias)
        self.add_bias_kv = bool(add_bias_kv)
        self.add_zero_attn = bool(add_zero_attn)
        self.dtype = dtype
        self.out_proj = NonDynamicallyQuantizableLinear(self.embed_dim, self.embed_dim, bias=bias,
                                                        dtype=dtype)

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        dtype = self.dtype or "float32"
        keys = jax.random.split(key, 5)
        e = self.embed_dim
        params: dict = {}
        if self._qkv_same_embed_dim:
            params["in_proj_weight"] = init_.xavier_uniform_(keys[0], (3 * e, e), dtype=dtype)
        else:
            params["q_proj_weight"] = init_.xavier_uniform_(keys[0], (e, e), dtype=dtype)
            params["k_proj_weight"] = init_.xavier_uniform_(keys[1], (e, self.kdim), dtype=dtype)
            params["v_proj_weight"] = init_.xavier_uniform_(keys[2], (e, self.vdim), dtype=dtype)
        if self.bias:
            params["in_proj_bias"] = init_.zeros_(None, (3 * e,), dtype=dtype)
        if self.add_bias_kv:
            params["bias_k"] = init_.xavier_normal_(keys[3], (1, 1, e), dtype=dtype)
            params["bias_v"] = init_.xavier_normal_(keys[4], (1, 1, e), dtype=dtype)
        return params, {}

    def forward(self, ctx: Context, query: jax.Array, key: jax.Array, value: jax.Array,
                key_padding_mask: jax.Array | None = None, need_weights: bool = True,
                attn_mask: jax.Array | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[jax.Array, jax.Array | None]:
        for name, x in (("query", query), ("key", key), ("value", value)):
            _checks.check_floating(None, x, name)
        is_batched = jnp.ndim(query) == 3
        if self.batch_first and is_batched:
            query, key, value = (jnp.swapaxes(x, 0, 1) if jnp.ndim(x) == 3 else x
                                 for x in (query, key, value))
        p = ctx.params
        out_proj = ctx.params["out_proj"]
        attn_output, attn_weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads,
            p.get("in_proj_weight"), p.get("in_proj_bias"), p.get("bias_k"), p.get("bias_v"),
            self.add_zero_attn, self.dropout, out_proj["weight"], out_proj.get("bias"),
            training=ctx.train, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=p.get("q_proj_weight"), k_proj_weight=p.get("k_proj_weight"),
            v_proj_weight=p.get("v_proj_weight"), average_attn_weights=average_attn_weights,
            is_causal=is_causal, dropout_key=ctx.dropout_key(self.dropout))
        if self.batch_first and is_batched:
            attn_output = jnp.swapaxes(attn_output, 0, 1)
        return attn_output, attn_weights
