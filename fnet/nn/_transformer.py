"""Transformer layers: ``TransformerEncoderLayer``, ``TransformerEncoder``,
``TransformerDecoderLayer``, ``TransformerDecoder``, ``Transformer``.

Names, defaults, parameter names (``layers.0.self_attn.in_proj_weight``, ``norm1.weight``,
``linear1.bias``...) and the post-norm / pre-norm (``norm_first``) arithmetic are torch's.

torch's inference fast path is not reproduced. In ``.eval()`` with autograd off, torch's
``TransformerEncoder`` turns a batch with ``src_key_padding_mask`` into a nested tensor
and returns **zeros at the padded positions** (before the final ``norm``); fnet always
computes the reference (slow-path) result, which equals torch's at every position that
is not padding. With autograd on, or in training, torch itself computes what fnet does.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import jax
import jax.numpy as jnp

from .. import _checks
from .. import functional as F
from .. import init as init_
from ._attention import MultiheadAttention
from ._container import ModuleList
from ._dropout import Dropout
from ._linear import Linear
from ._module import Context, Module
from ._norm import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "Transformer"]


def _get_activation_fn(activation: str | Callable, owner: str) -> Callable | Module:
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"{owner}: activation should be 'relu' or 'gelu' (or a callable), "
                         f"got {activation!r}")
    if not callable(activation):
        raise TypeError(f"{owner}: activation must be 'relu', 'gelu' or a callable, "
                        f"got {type(activation).__name__}")
    return activation


def _apply_activation(module: Module, ctx: Context, x: jax.Array) -> jax.Array:
    act = module.activation
    if isinstance(act, Module):
        return act(ctx, x)
    return act(x)


def _clones(module: Module, n: int) -> ModuleList:
    """``n`` independent copies (torch deep-copies the layer), each with its own parameters."""
    if not isinstance(module, Module):
        raise TypeError(f"expected an fnet.nn.Module layer to clone, got {type(module).__name__}")
    copies = []
    for _ in range(n):
        clone = copy.deepcopy(module)
        for sub in clone.modules():
            vars(sub).pop("_fnet_cache", None)  # cached paths are keyed by id() of the original
        copies.append(clone)
    return ModuleList(copies)



class TransformerEncoderLayer(Module):
    """Self-attention plus feed-forward block, post-norm (default) or pre-norm.

    Args:
        d_model: model dimension.
        nhead: attention heads.
        dim_feedforward: hidden size of the feed-forward block (default 2048).
        dropout: dropout probability (default 0.1), used in training only.
        activation: ``"relu"`` (default), ``"gelu"`` (exact) or a callable / fnet module.
        layer_norm_eps: LayerNorm eps (default 1e-5).
        batch_first: ``(N, S, E)`` instead of ``(S, N, E)``.
        norm_first: pre-norm ``x + sa(norm1(x))`` instead of ``norm1(x + sa(x))``.
        bias: biases in the linear layers, the attention and the LayerNorms.
        device: accepted for signature parity; dtype: parameter dtype.

    Shape: src ``(S, N, E)``, ``(N, S, E)`` with ``batch_first``, or unbatched ``(S, E)``;
    output the same. ``src_mask (S, S)`` or ``(N * nhead, S, S)``,
    ``src_key_padding_mask (N, S)``: boolean True = masked out, float masks added.

    PyTorch equivalent: ``torch.nn.TransformerEncoderLayer``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = F.relu, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _get_activation_fn(activation, "TransformerEncoderLayer")

    def forward(self, ctx: Context, src: jax.Array, src_mask: jax.Array | None = None,
                src_key_padding_mask: jax.Array | None = None, is_causal: bool = False) -> jax.Array:
        x = src
        if self.norm_first:
            x = x + self._sa_block(ctx, self.norm1(ctx, x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(ctx, self.norm2(ctx, x))
        else:
            x = self.norm1(ctx, x + self._sa_block(ctx, x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(ctx, x + self._ff_block(ctx, x))
        return x

    def _sa_block(self, ctx: Context, x: jax.Array, attn_mask: jax.Array | None,
                  key_padding_mask: jax.Array | None, is_causal: bool) -> jax.Array:
        x = self.self_attn(ctx, x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(ctx, x)

    def _ff_block(self, ctx: Context, x: jax.Array) -> jax.Array:
        x = self.linear2(ctx, self.dropout(ctx, _apply_activation(self, ctx, self.linear1(ctx, x))))
        return self.dropout2(ctx, x)


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over ``memory`` and feed-forward, post- or pre-norm.

    Args: as :class:`TransformerEncoderLayer`.

    Shape: tgt ``(T, N, E)`` (``(N, T, E)`` with ``batch_first``) or ``(T, E)``; memory
    ``(S, N, E)``; output like tgt. ``tgt_mask (T, T)``, ``memory_mask (T, S)``,
    ``tgt_key_padding_mask (N, T)``, ``memory_key_padding_mask (N, S)``.

    PyTorch equivalent: ``torch.nn.TransformerDecoderLayer``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = F.relu, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first,
                                            bias=bias, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation_fn(activation, "TransformerDecoderLayer")

    def forward(self, ctx: Context, tgt: jax.Array, memory: jax.Array, tgt_mask: jax.Array | None = None,
                memory_mask: jax.Array | None = None, tgt_key_padding_mask: jax.Array | None = None,
                memory_key_padding_mask: jax.Array | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> jax.Array:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(ctx, self.norm1(ctx, x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(ctx, self.norm2(ctx, x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(ctx, self.norm3(ctx, x))
        else:
            x = self.norm1(ctx, x + self._sa_block(ctx, x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(ctx, x + self._mha_block(ctx, x, memory, memory_mask, memory_key_padding_mask,
                                                    memory_is_causal))
            x = self.norm3(ctx, x + self._ff_block(ctx, x))
        return x

    def _sa_block(self, ctx: Context, x: jax.Array, attn_mask: jax.Array | None,
                  key_padding_mask: jax.Array | None, is_causal: bool) -> jax.Array:
        x = self.self_attn(ctx, x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(ctx, x)

    def _mha_block(self, ctx: Context, x: jax.Array, mem: jax.Array, attn_mask: jax.Array | None,
                   key_padding_mask: jax.Array | None, is_causal: bool) -> jax.Array:
        x = self.multihead_attn(ctx, x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(ctx, x)

    def _ff_block(self, ctx: Context, x: jax.Array) -> jax.Array:
        x = self.linear2(ctx, self.dropout(ctx, _apply_activation(self, ctx, self.linear1(ctx, x))))
        return self.dropout3(ctx, x)


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (``layers.0``, ``layers.1``...).

    Args:
        encoder_layer: the layer to copy; every copy gets its own parameters.
        num_layers: number of layers.
        norm: optional final normalisation module (``norm.weight``...).
        enable_nested_tensor, mask_check: accepted for signature parity; they select
            torch's nested-tensor fast path, which fnet does not have (see the module
            docstring for the one visible difference, zeros at padded positions).

    ``is_causal=None`` (default) lets torch detect a causal ``mask``; the detection is
    only a speed hint, so fnet simply applies ``mask``. ``is_causal=True`` without a
    mask raises, as in torch.

    PyTorch equivalent: ``torch.nn.TransformerEncoder``.
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        self.layers = _clones(encoder_layer, int(num_layers))
        self.num_layers = int(num_layers)
        self.norm = norm
        self.enable_nested_tensor = bool(enable_nested_tensor)
        self.mask_check = bool(mask_check)

    def forward(self, ctx: Context, src: jax.Array, mask: jax.Array | None = None,
                src_key_padding_mask: jax.Array | None = None, is_causal: bool | None = None) -> jax.Array:
        output = src
        for layer in self.layers:
            output = layer(ctx, output, src_mask=mask, is_causal=bool(is_causal),
                           src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(ctx, output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, then an optional ``norm``.

    PyTorch equivalent: ``torch.nn.TransformerDecoder``.
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__()
        self.layers = _clones(decoder_layer, int(num_layers))
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, ctx: Context, tgt: jax.Array, memory: jax.Array, tgt_mask: jax.Array | None = None,
                memory_mask: jax.Array | None = None, tgt_key_padding_mask: jax.Array | None = None,
                memory_key_padding_mask: jax.Array | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> jax.Array:
        output = tgt
        for layer in self.layers:
            output = layer(ctx, output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(ctx, output)
        return output


class Transformer(Module):
    """The encoder-decoder transformer of "Attention Is All You Need".

    Args: torch's (``d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    dim_feedforward=2048, dropout=0.1, activation=relu, custom_encoder=None,
    custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
    bias=True``). Every parameter with more than one dimension is initialised
    xavier-uniform, as torch's ``Transformer._reset_parameters`` does.

    Shape: src ``(S, N, E)``, tgt ``(T, N, E)`` (batch first with ``batch_first``);
    output ``(T, N, E)``.

    PyTorch equivalent: ``torch.nn.Transformer``.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = F.relu, custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, dtype=dtype)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, dtype=dtype)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model = int(d_model)
        self.nhead = int(nhead)
        self.batch_first = bool(batch_first)

    def _init_tree(self, key: jax.Array, seen: set[int]) -> tuple[dict, dict]:
        params, state = super()._init_tree(key, seen)
        # torch: xavier_uniform_ on every parameter with dim > 1, after the layers' own init.
        flat = jax.tree_util.tree_flatten_with_path(params)[0]
        reinit = {}
        for i, (path, leaf) in enumerate(flat):
            if jnp.ndim(leaf) > 1:
                reinit[path] = init_.xavier_uniform_(jax.random.fold_in(key, 7919 + i), leaf.shape,
                                                     dtype=leaf.dtype)
        params = jax.tree_util.tree_map_with_path(lambda p, x: reinit.get(p, x), params)
        return params, state

    def forward(self, ctx: Context, src: jax.Array, tgt: jax.Array, src_mask: jax.Array | None = None,
                tgt_mask: jax.Array | None = None, memory_mask: jax.Array | None = None,
                src_key_padding_mask: jax.Array | None = None,
                tgt_key_padding_mask: jax.Array | None = None,
                memory_key_padding_mask: jax.Array | None = None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> jax.Array:
        is_batched = jnp.ndim(src) == 3
        batch_axis = 0 if self.batch_first else 1
        if is_batched and (jnp.ndim(tgt) != 3 or jnp.shape(src)[batch_axis] != jnp.shape(tgt)[batch_axis]):
            raise ValueError(f"the batch number of src and tgt must be equal, got src "
                             f"{_checks.fmt_shape(jnp.shape(src))} and tgt {_checks.fmt_shape(jnp.shape(tgt))}")
        if jnp.shape(src)[-1] != self.d_model or jnp.shape(tgt)[-1] != self.d_model:
            raise ValueError(f"the feature number of src and tgt must be equal to d_model="
                             f"{self.d_model}, got src {_checks.fmt_shape(jnp.shape(src))} and tgt "
                             f"{_checks.fmt_shape(jnp.shape(tgt))}")
        memory = self.encoder(ctx, src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(ctx, tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> jax.Array:
        """``(sz, sz)`` float mask: 0 on and below the diagonal, -inf above (torch's)."""
        dtype = dtype or jnp.float32
        return jnp.triu(jnp.full((sz, sz), -jnp.inf, dtype=dtype), k=1)
