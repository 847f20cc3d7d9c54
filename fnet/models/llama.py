"""The Llama family in fnet: one implementation for Llama 2/3, Mistral and Qwen2.

As transformers' modular files share ``modeling_llama``, the three families differ only
in their configs, which this implementation reads:

* Llama 2/3: rotary position embeddings (RoPE, with ``"linear"`` or Llama 3.1's
  ``"llama3"`` frequency scaling), grouped-query attention (``num_key_value_heads``),
  RMSNorm, a SwiGLU MLP ``down(silu(gate(x)) * up(x))``; optional ``attention_bias``
  (q/k/v/o) and ``mlp_bias``;
* Mistral: the same with a causal sliding window of ``sliding_window`` positions;
* Qwen2: q/k/v biases (no o bias), and a sliding window on the layers that
  ``layer_types`` / ``use_sliding_window`` + ``max_window_layers`` select.

Module tree and names are transformers' (``model.layers.0.self_attn.q_proj.weight``,
``lm_head.weight`` unless ``tie_word_embeddings``), so checkpoints load by
unflattening. Attention is fnet's one model attention (causal + padding + sliding
window + GQA, transformers' eager semantics on CPU, ``jax.nn.dot_product_attention`` on
accelerators), optionally over a static KV cache for :meth:`~fnet.models.generation.GenerationMixin.generate`.

Numerics: RoPE angles, cosines and sines are computed in float32 and cast, as
transformers computes them (so float32 models match transformers' rotary tables bit
for bit); RMSNorm is ``fnet.nn.RMSNorm``, computed in float32 for half-precision
inputs (transformers' upcast) and in the input's precision otherwise.

PyTorch equivalent: ``transformers/models/{llama,mistral,qwen2}/modeling_*.py``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .. import nn
from ..nn import Dropout, Embedding, RMSNorm
from ._output import BaseModelOutputWithPast, CausalLMOutputWithPast, ModelOutput, SequenceClassifierOutput, \
    TokenClassifierOutput
from .configuration import PretrainedConfig
from .generation import GenerationMixin, StaticCache, attend_with_cache, decoder_positions
from .modeling import (ACT2FN, run_layers, PreTrainedModel, causal_lm_loss, check_activation, check_ids, check_inputs,
                       classifier_dropout, last_token_logits, sequence_classification_loss, token_loss)

__all__ = ["LlamaConfig", "LlamaModel", "LlamaForCausalLM", "LlamaForSequenceClassification",
           "LlamaForTokenClassification", "MistralConfig", "MistralModel", "MistralForCausalLM",
           "MistralForSequenceClassification", "MistralForTokenClassification", "Qwen2Config", "Qwen2Model",
           "Qwen2ForCausalLM", "Qwen2ForSequenceClassification", "Qwen2ForTokenClassification"]

ROPE_TYPES = ("default", "linear", "llama3")


# ---------------------------------------------------------------------------------------
# configuration


class LlamaConfig(PretrainedConfig):
    """The hyperparameters of a Llama model (transformers' names and defaults, keyword only).

    Args:
        vocab_size: 32000. hidden_size: 4096. intermediate_size: SwiGLU width, 11008.
        num_hidden_layers: 32. num_attention_heads: 32.
        num_key_value_heads: key/value heads for grouped-query attention (None: one per
            query head); must divide ``num_attention_heads``.
        head_dim: per-head width (None: ``hidden_size // num_attention_heads``).
        hidden_act: ``"silu"``. max_position_embeddings: 2048. initializer_range: 0.02.
        rms_norm_eps: 1e-6. pad_token_id: None. bos_token_id: 1. eos_token_id: 2 (or a list).
        tie_word_embeddings: the LM head is the token embedding matrix (False).
        rope_parameters: ``{"rope_type": "default" | "linear" | "llama3", "rope_theta": ...,
            "factor", "low_freq_factor", "high_freq_factor",
            "original_max_position_embeddings"}``; transformers 4's top-level
            ``rope_theta`` and ``rope_scaling`` are read into it.
        attention_bias: biases on q/k/v/o (False). mlp_bias: biases in the MLP (False).
        attention_dropout: 0.0.
        num_labels, id2label, label2id, problem_type, attn_implementation: see
            :class:`~fnet.models.configuration.PretrainedConfig`.
        **kwargs: other ``config.json`` keys, as
            :class:`~fnet.models.configuration.PretrainedConfig` keeps them.

    PyTorch equivalent: ``transformers.LlamaConfig``.
    """

    model_type = "llama"
    architecture_prefixes = ("Llama",)
    defaults = dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                    num_attention_heads=32, num_key_value_heads=None, hidden_act="silu",
                    max_position_embeddings=2048, initializer_range=0.02, rms_norm_eps=1e-6, use_cache=True,
                    pad_token_id=None, bos_token_id=1, eos_token_id=2, pretraining_tp=1,
                    tie_word_embeddings=False, rope_parameters=None, attention_bias=False,
                    attention_dropout=0.0, mlp_bias=False, head_dim=None)

    def _prepare(self, values: dict[str, Any]) -> None:
        if values.get("num_key_value_heads") is None:
            values["num_key_value_heads"] = values["num_attention_heads"]
        if "head_dim" in values and values["head_dim"] is None:
            values["head_dim"] = values["hidden_size"] // values["num_attention_heads"]
        extra = values["extra"]
        rope = dict(values.get("rope_parameters") or {})
        legacy = extra.pop("rope_scaling", None)
        theta = extra.pop("rope_theta", None)
        if legacy:
            rope = {**dict(legacy), **rope}
        kind = rope.pop("type", None)
        rope.setdefault("rope_type", kind or "default")
        rope.setdefault("rope_theta", float(theta) if theta is not None else 10000.0)
        if rope["rope_type"] == "llama3":
            rope.setdefault("original_max_position_embeddings", values["max_position_embeddings"])
        values["rope_parameters"] = rope

    def _validate(self) -> None:
        name = type(self).__name__
        self._require_divisible("hidden_size", self.hidden_size, "num_attention_heads", self.num_attention_heads)
        self._require_divisible("num_attention_heads", self.num_attention_heads, "num_key_value_heads",
                                self.num_key_value_heads)
        check_activation(self, "hidden_act")
        kind = self.rope_parameters["rope_type"]
        if kind not in ROPE_TYPES:
            raise ValueError(f"{name}: rope_type {kind!r} is not supported; fnet implements {ROPE_TYPES}")
        need = {"linear": ("factor",),
                "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")}
        missing = [k for k in need.get(kind, ()) if k not in self.rope_parameters]
        if missing:
            raise ValueError(f"{name}: rope_parameters of type {kind!r} need {missing}, got {self.rope_parameters}")
        windows = self.layer_windows
        if len(windows) != self.num_hidden_layers:
            raise ValueError(f"{name}: layer_types names {len(windows)} layers, the model has "
                             f"{self.num_hidden_layers}")

    # -- what the modules read (the family differences live here) ----------------------------------
    @property
    def head_size(self) -> int:
        return self.get("head_dim") or self.hidden_size // self.num_attention_heads

    @property
    def qkv_bias(self) -> bool:
        return bool(self.attention_bias)

    @property
    def o_bias(self) -> bool:
        return bool(self.attention_bias)

    @property
    def mlp_has_bias(self) -> bool:
        return bool(self.mlp_bias)

    @property
    def layer_windows(self) -> tuple[int | None, ...]:
        """The causal sliding window of each layer; None means full causal attention."""
        return (None,) * self.num_hidden_layers


class MistralConfig(LlamaConfig):
    """Mistral: :class:`LlamaConfig` without biases and with ``sliding_window`` (4096; None
    for full attention) on every layer; transformers' Mistral defaults
    (``intermediate_size=14336``, ``num_key_value_heads=8``, ``max_position_embeddings=131072``).

    PyTorch equivalent: ``transformers.MistralConfig``.
    """

    model_type = "mistral"
    architecture_prefixes = ("Mistral",)
    defaults = dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                    num_attention_heads=32, num_key_value_heads=8, head_dim=None, hidden_act="silu",
                    max_position_embeddings=4096 * 32, initializer_range=0.02, rms_norm_eps=1e-6, use_cache=True,
                    pad_token_id=None, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False,
                    rope_parameters=None, sliding_window=4096, attention_dropout=0.0)

    qkv_bias = o_bias = mlp_has_bias = False

    @property
    def layer_windows(self) -> tuple[int | None, ...]:
        return (self.sliding_window,) * self.num_hidden_layers


class Qwen2Config(LlamaConfig):
    """Qwen2: :class:`LlamaConfig` with q/k/v biases (no o or MLP bias); with
    ``use_sliding_window`` the layers from ``max_window_layers`` on (or those
    ``layer_types`` marks ``"sliding_attention"``) use a ``sliding_window``; transformers'
    Qwen2 defaults (``vocab_size=151936``, ``max_position_embeddings=32768``).

    PyTorch equivalent: ``transformers.Qwen2Config``.
    """

    model_type = "qwen2"
    architecture_prefixes = ("Qwen2",)
    defaults = dict(vocab_size=151936, hidden_size=4096, intermediate_size=22016, num_hidden_layers=32,
                    num_attention_heads=32, num_key_value_heads=32, hidden_act="silu",
                    max_position_embeddings=32768, initializer_range=0.02, rms_norm_eps=1e-6, use_cache=True,
                    tie_word_embeddings=False, rope_parameters=None, use_sliding_window=False,
                    sliding_window=4096, max_window_layers=28, layer_types=None, attention_dropout=0.0,
                    pad_token_id=None, bos_token_id=None, eos_token_id=None)

    qkv_bias = True
    o_bias = mlp_has_bias = False

    def _prepare(self, values: dict[str, Any]) -> None:
        super()._prepare(values)
        if values["layer_types"] is None:
            window = values["sliding_window"] if values["use_sliding_window"] else None
            values["layer_types"] = ["sliding_attention" if window is not None and i >= values["max_window_layers"]
                                     else "full_attention" for i in range(values["num_hidden_layers"])]
        values["layer_types"] = list(values["layer_types"])

    @property
    def layer_windows(self) -> tuple[int | None, ...]:
        window = self.sliding_window if self.use_sliding_window else None
        return tuple(window if kind == "sliding_attention" else None for kind in self.layer_types)


# ---------------------------------------------------------------------------------------
# shared pieces: RoPE, the SwiGLU MLP


def rope_inv_freq(config: LlamaConfig) -> np.ndarray:
    """RoPE inverse frequencies ``(head_dim // 2,)`` in float32, computed as transformers
    computes them (float32 arithmetic), with ``"linear"`` or ``"llama3"`` scaling."""
    rope = config.rope_parameters
    dim = int(config.head_size * float(rope.get("partial_rotary_factor", 1.0)))
    base = np.float32(rope["rope_theta"])
    inv_freq = np.float32(1.0) / (base ** (np.arange(0, dim, 2, dtype=np.int64).astype(np.float32) / np.float32(dim)))
    kind = rope["rope_type"]
    if kind == "linear":
        return (inv_freq / np.float32(rope["factor"])).astype(np.float32)
    if kind == "llama3":
        factor = np.float32(rope["factor"])
        low, high = np.float32(rope["low_freq_factor"]), np.float32(rope["high_freq_factor"])
        old_context = np.float32(rope["original_max_position_embeddings"])
        low_wavelen, high_wavelen = old_context / low, old_context / high
        wavelen = np.float32(2 * math.pi) / inv_freq
        scaled = np.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_context / wavelen - low) / (high - low)
        smoothed = (np.float32(1) - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        return np.where(medium, smoothed, scaled).astype(np.float32)
    return inv_freq.astype(np.float32)


def rotary_cos_sin(inv_freq: np.ndarray, position_ids: jax.Array, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """``cos``, ``sin`` of ``position * inv_freq``, ``(B, L, head_dim)``: float32 then cast to ``dtype``."""
    freqs = jnp.asarray(position_ids).astype(jnp.float32)[..., None] * jnp.asarray(inv_freq, jnp.float32)
    emb = jnp.concatenate([freqs, freqs], axis=-1)
    return jnp.cos(emb).astype(dtype), jnp.sin(emb).astype(dtype)


def rotate_half(x: jax.Array) -> jax.Array:
    half = x.shape[-1] // 2
    return jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def apply_rotary(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """``x * cos + rotate_half(x) * sin`` for ``x (B, H, L, D)`` and ``cos``/``sin`` ``(B, L, D)``."""
    cos, sin = cos[:, None], sin[:, None]
    return x * cos + rotate_half(x) * sin


class LlamaMLP(nn.Module):
    """The SwiGLU feed-forward ``down_proj(act(gate_proj(x)) * up_proj(x))``."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        bias = config.mlp_has_bias
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=bias)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=bias)
        self.act = config.hidden_act

    def forward(self, ctx: nn.Context, x: jax.Array) -> jax.Array:
        return self.down_proj(ctx, ACT2FN[self.act](self.gate_proj(ctx, x)) * self.up_proj(ctx, x))


class LlamaAttention(nn.Module):
    """q/k/v/o projections, RoPE on queries and keys, grouped-query causal attention."""

    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_size
        self.sliding_window = config.layer_windows[layer_idx]
        self.attention_dropout = float(config.attention_dropout)
        self.attn_implementation = config.attn_implementation
        h, d = config.hidden_size, config.head_size
        self.q_proj = nn.Linear(h, self.num_heads * d, bias=config.qkv_bias)
        self.k_proj = nn.Linear(h, self.num_kv_heads * d, bias=config.qkv_bias)
        self.v_proj = nn.Linear(h, self.num_kv_heads * d, bias=config.qkv_bias)
        self.o_proj = nn.Linear(self.num_heads * d, h, bias=config.o_bias)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, cos: jax.Array, sin: jax.Array,
                attention_mask, layer_cache, length, need_weights: bool = False):
        batch, seq_len, _ = hidden_states.shape

        def split(x, heads):  # (B, L, H*d) -> (B, H, L, d)
            return x.reshape(batch, seq_len, heads, self.head_dim).transpose(0, 2, 1, 3)

        q = apply_rotary(split(self.q_proj(ctx, hidden_states), self.num_heads), cos, sin)
        k = apply_rotary(split(self.k_proj(ctx, hidden_states), self.num_kv_heads), cos, sin)
        v = split(self.v_proj(ctx, hidden_states), self.num_kv_heads)
        p = self.attention_dropout if ctx.train else 0.0
        out, weights, layer_cache = attend_with_cache(
            q, k, v, layer_cache, length, attention_mask=attention_mask, sliding_window=self.sliding_window,
            scale=self.head_dim ** -0.5, dropout_p=p, dropout_key=ctx.dropout_key(p),
            need_weights=need_weights, implementation=self.attn_implementation)
        out = out.transpose(0, 2, 1, 3).reshape(batch, seq_len, self.num_heads * self.head_dim)
        return self.o_proj(ctx, out), weights, layer_cache


class LlamaDecoderLayer(nn.Module):
    """Pre-norm block: ``h + attn(input_layernorm(h))``, then ``h + mlp(post_attention_layernorm(h))``."""

    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.self_attn = LlamaAttention(config, layer_idx)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, ctx: nn.Context, hidden_states, cos, sin, attention_mask, layer_cache, length,
                need_weights: bool = False):
        attn, weights, layer_cache = self.self_attn(ctx, self.input_layernorm(ctx, hidden_states), cos, sin,
                                                    attention_mask, layer_cache, length, need_weights)
        hidden_states = hidden_states + attn
        hidden_states = hidden_states + self.mlp(ctx, self.post_attention_layernorm(ctx, hidden_states))
        return hidden_states, weights, layer_cache


# ---------------------------------------------------------------------------------------
# models


class LlamaPreTrainedModel(PreTrainedModel):
    """Shared by every Llama-family model: the config class, the ``model`` prefix, the cache shape."""

    config_class: ClassVar[type] = LlamaConfig
    base_model_prefix = "model"
    _keys_to_ignore_on_load = ("rotary_emb.inv_freq",)

    def _cache_shape(self) -> tuple[int, int, int]:
        c = self.config
        return c.num_hidden_layers, c.num_key_value_heads, c.head_size

    @classmethod
    def _base_model_class(cls) -> type:
        return _BASE_MODELS[cls.config_class.model_type]


class LlamaModel(LlamaPreTrainedModel):
    """The decoder stack: ``embed_tokens``, ``num_hidden_layers`` decoder layers, the final ``norm``.

    Forward:
        input_ids: ``(B, L)`` (or ``inputs_embeds (B, L, hidden_size)``).
        attention_mask: ``(B, L)`` (1 = token, 0 = padding), or ``(B, max_length)`` with a cache.
        position_ids: ``(B, L)`` or ``(1, L)`` (default ``0..L-1`` after the cached positions;
            with left padding pass ``cumsum(mask) - 1`` as :meth:`~fnet.models.generation.GenerationMixin.generate` does).
        cache: a :class:`~fnet.models.generation.StaticCache` to read and extend.
        output_attentions / output_hidden_states: every layer's weights / hidden states.

    Returns:
        :class:`ModelOutput` with ``last_hidden_state (B, L, hidden_size)``, ``cache``
        (when given) and, when asked, ``hidden_states`` and ``attentions``.

    PyTorch equivalent: ``transformers.LlamaModel`` (``MistralModel``, ``Qwen2Model``).
    """

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.embed_tokens = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.layers = nn.ModuleList([LlamaDecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None, attention_mask: jax.Array | None = None,
                position_ids: jax.Array | None = None, cache: StaticCache | None = None,
                inputs_embeds: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        c = self.config
        batch, seq_len = check_inputs(input_ids, inputs_embeds, c.hidden_size)
        position_ids, attention_mask = decoder_positions(batch, seq_len, cache, position_ids, attention_mask)
        if input_ids is not None:
            check_ids("input_ids", input_ids, c.vocab_size, "vocabulary (vocab_size)")
            inputs_embeds = self.embed_tokens(ctx, input_ids)
        hidden = inputs_embeds
        cos, sin = rotary_cos_sin(rope_inv_freq(c), position_ids, hidden.dtype)
        length = None if cache is None else cache.length

        def step(i, layer, hidden):
            layer_cache = None if cache is None else (cache.key[i], cache.value[i])
            return layer(ctx, hidden, cos, sin, attention_mask, layer_cache, length, output_attentions)

        hidden, all_hidden, all_attn, caches = run_layers(
            self.layers, hidden, step, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            final=lambda h: self.norm(ctx, h))
        new_cache = None if cache is None else StaticCache(tuple(kv[0] for kv in caches), tuple(kv[1] for kv in caches),
                                                           cache.length + seq_len)
        return BaseModelOutputWithPast(last_hidden_state=hidden, cache=new_cache, hidden_states=all_hidden,
                                       attentions=all_attn)


class LlamaForCausalLM(LlamaPreTrainedModel, GenerationMixin):
    """The decoder with the language-model head ``lm_head`` (no bias; the token embeddings
    when ``tie_word_embeddings``) and :meth:`~fnet.models.generation.GenerationMixin.generate`.

    Forward: as :class:`LlamaModel` plus ``labels (B, L)`` (the inputs themselves: shifted
    inside, -100 ignored; the loss is computed in float32 at least) and ``logits_to_keep``
    (the last N positions' logits, 0 = all); returns ``logits (B, L, vocab_size)``,
    ``cache`` and, with labels, the next-token cross-entropy ``loss``.

    PyTorch equivalent: ``transformers.LlamaForCausalLM`` (``MistralForCausalLM``, ``Qwen2ForCausalLM``).
    """

    _tied_keys = ("lm_head.weight",)

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.model = self._base_model_class()(config)
        self.lm_head = None if config.tie_word_embeddings else nn.Linear(config.hidden_size, config.vocab_size,
                                                                         bias=False)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None, attention_mask: jax.Array | None = None,
                position_ids: jax.Array | None = None, cache: StaticCache | None = None,
                inputs_embeds: jax.Array | None = None, labels: jax.Array | None = None, logits_to_keep: int = 0,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        out = self.model(ctx, input_ids, attention_mask=attention_mask, position_ids=position_ids, cache=cache,
                         inputs_embeds=inputs_embeds, output_attentions=output_attentions,
                         output_hidden_states=output_hidden_states)
        hidden = out.last_hidden_state[:, -logits_to_keep:] if logits_to_keep else out.last_hidden_state
        if self.lm_head is None:
            logits = jnp.matmul(hidden, ctx.params["model"]["embed_tokens"]["weight"].T)
        else:
            logits = self.lm_head(ctx, hidden)
        loss = None if labels is None else causal_lm_loss(logits, labels)
        return CausalLMOutputWithPast(loss=loss, logits=logits, cache=out.get("cache"),
                                      hidden_states=out.get("hidden_states"), attentions=out.get("attentions"))


class LlamaForSequenceClassification(LlamaPreTrainedModel):
    """The decoder with ``score`` (no bias) read at each row's last non-padding token.

    Forward: as :class:`LlamaModel` plus ``labels``; returns ``logits (B, num_labels)`` and,
    with labels, the loss transformers picks. Needs ``pad_token_id`` for batches > 1.

    PyTorch equivalent: ``transformers.LlamaForSequenceClassification`` (and Mistral's, Qwen2's).
    """

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = self._base_model_class()(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None, attention_mask: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        out = self.model(ctx, input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         inputs_embeds=inputs_embeds, output_attentions=output_attentions,
                         output_hidden_states=output_hidden_states)
        logits = last_token_logits(self.config, self.score(ctx, out.last_hidden_state), input_ids)
        loss = None if labels is None else sequence_classification_loss(self.config, logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.get("hidden_states"),
                                        attentions=out.get("attentions"))


class LlamaForTokenClassification(LlamaPreTrainedModel):
    """The decoder with ``score`` (with bias) on every token, after dropout
    (``classifier_dropout``, else ``hidden_dropout``, else 0.1, as transformers).

    PyTorch equivalent: ``transformers.LlamaForTokenClassification`` (and Mistral's, Qwen2's).
    """

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = self._base_model_class()(config)
        self.dropout = Dropout(classifier_dropout(config, config.get("hidden_dropout"), 0.1))
        self.score = nn.Linear(config.hidden_size, config.num_labels,
                               bias=bool(config.get("token_classification_bias", True)))

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None, attention_mask: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        out = self.model(ctx, input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         inputs_embeds=inputs_embeds, output_attentions=output_attentions,
                         output_hidden_states=output_hidden_states)
        logits = self.score(ctx, self.dropout(ctx, out.last_hidden_state))
        loss = None if labels is None else token_loss(logits, labels)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.get("hidden_states"),
                                     attentions=out.get("attentions"))


# Mistral and Qwen2: the same modules, their own config (and class names, which
# save_pretrained records as architectures so transformers picks the right class).

class MistralPreTrainedModel(LlamaPreTrainedModel):
    config_class = MistralConfig


class MistralModel(MistralPreTrainedModel, LlamaModel):
    """:class:`LlamaModel` for a :class:`MistralConfig`. PyTorch equivalent: ``transformers.MistralModel``."""


class MistralForCausalLM(MistralPreTrainedModel, LlamaForCausalLM):
    """:class:`LlamaForCausalLM` for a :class:`MistralConfig`. PyTorch equivalent: ``transformers.MistralForCausalLM``."""


class MistralForSequenceClassification(MistralPreTrainedModel, LlamaForSequenceClassification):
    """PyTorch equivalent: ``transformers.MistralForSequenceClassification``."""


class MistralForTokenClassification(MistralPreTrainedModel, LlamaForTokenClassification):
    """PyTorch equivalent: ``transformers.MistralForTokenClassification``."""


class Qwen2PreTrainedModel(LlamaPreTrainedModel):
    config_class = Qwen2Config


class Qwen2Model(Qwen2PreTrainedModel, LlamaModel):
    """:class:`LlamaModel` for a :class:`Qwen2Config`. PyTorch equivalent: ``transformers.Qwen2Model``."""


class Qwen2ForCausalLM(Qwen2PreTrainedModel, LlamaForCausalLM):
    """:class:`LlamaForCausalLM` for a :class:`Qwen2Config`. PyTorch equivalent: ``transformers.Qwen2ForCausalLM``."""


class Qwen2ForSequenceClassification(Qwen2PreTrainedModel, LlamaForSequenceClassification):
    """PyTorch equivalent: ``transformers.Qwen2ForSequenceClassification``."""


class Qwen2ForTokenClassification(Qwen2PreTrainedModel, LlamaForTokenClassification):
    """PyTorch equivalent: ``transformers.Qwen2ForTokenClassification``."""


_BASE_MODELS = {"llama": LlamaModel, "mistral": MistralModel, "qwen2": Qwen2Model}
