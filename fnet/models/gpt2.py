"""Hugging Face GPT-2 in fnet: ``GPT2Config``, ``GPT2Model``, ``GPT2LMHeadModel`` and the task models.

Module tree and names are transformers' (``transformer.h.0.attn.c_attn.weight``); the
projections are GPT-2's ``Conv1D`` (weights stored ``(in, out)``, the transpose of
``nn.Linear``), so checkpoints load by unflattening. A block is pre-LayerNorm:
``h + attn(ln_1(h))``, then ``h + mlp(ln_2(h))``; ``ln_f`` closes the stack. The LM head
reuses the token embeddings ``wte`` (``tie_word_embeddings=True``, GPT-2's default).

Attention is causal with the padding mask (transformers' eager semantics), optionally
over a static KV cache for :meth:`~fnet.models.generation.GenerationMixin.generate`.

PyTorch equivalent: ``transformers/models/gpt2/modeling_gpt2.py``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .. import functional as F
from .. import nn
from ..nn import Dropout, Embedding, LayerNorm
from ._output import BaseModelOutputWithPast, CausalLMOutputWithPast, ModelOutput, SequenceClassifierOutput, \
    TokenClassifierOutput
from .configuration import PretrainedConfig
from .generation import GenerationMixin, StaticCache, attend_with_cache, decoder_positions
from .modeling import (ACT2FN, run_layers, Conv1D, PreTrainedModel, causal_lm_loss, check_activation, check_ids, check_inputs,
                       classifier_dropout, last_token_logits, sequence_classification_loss, token_loss)

__all__ = ["GPT2Config", "GPT2Model", "GPT2LMHeadModel", "GPT2ForSequenceClassification",
           "GPT2ForTokenClassification"]


class GPT2Config(PretrainedConfig):
    """The hyperparameters of a GPT-2 model (transformers' names and defaults, keyword only).

    Args:
        vocab_size: 50257. n_positions: longest sequence, 1024 (``max_position_embeddings``).
        n_embd: width, 768 (``hidden_size``). n_layer: 12 (``num_hidden_layers``).
        n_head: 12 (``num_attention_heads``). n_inner: feed-forward width (None: ``4 * n_embd``).
        activation_function: ``"gelu_new"`` (tanh GELU), ``"gelu"``, ``"relu"``...
        resid_pdrop, embd_pdrop, attn_pdrop: dropouts (0.1).
        layer_norm_epsilon: 1e-5. initializer_range: 0.02.
        scale_attn_weights: divide scores by ``sqrt(head_dim)`` (True).
        scale_attn_by_inverse_layer_idx: also by ``layer_idx + 1`` (False).
        reorder_and_upcast_attn: float32 scores for half-precision inputs (fnet always
            computes half-precision scores in float32 on the explicit path).
        bos_token_id, eos_token_id: 50256. pad_token_id: None.
        tie_word_embeddings: the LM head is ``wte`` (True).
        num_labels, id2label, label2id, problem_type, attn_implementation: see
            :class:`~fnet.models.configuration.PretrainedConfig`.
        **kwargs: other ``config.json`` keys, as
            :class:`~fnet.models.configuration.PretrainedConfig` keeps them.

    PyTorch equivalent: ``transformers.GPT2Config``.
    """

    model_type = "gpt2"
    architecture_prefixes = ("GPT2",)
    attribute_map = {"hidden_size": "n_embd", "max_position_embeddings": "n_positions",
                     "num_attention_heads": "n_head", "num_hidden_layers": "n_layer"}
    defaults = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner=None,
                    activation_function="gelu_new", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
                    layer_norm_epsilon=1e-5, initializer_range=0.02, summary_type="cls_index",
                    summary_use_proj=True, summary_activation=None, summary_proj_to_labels=True,
                    summary_first_dropout=0.1, scale_attn_weights=True, use_cache=True, bos_token_id=50256,
                    eos_token_id=50256, pad_token_id=None, scale_attn_by_inverse_layer_idx=False,
                    reorder_and_upcast_attn=False, add_cross_attention=False, tie_word_embeddings=True)

    def _validate(self) -> None:
        self._require_divisible("n_embd", self.n_embd, "n_head", self.n_head)
        check_activation(self, "activation_function")
        if self.add_cross_attention:
            raise ValueError("GPT2Config: add_cross_attention (GPT-2 as an encoder-decoder's decoder) is not "
                             "supported")


class GPT2Attention(nn.Module):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = config.n_embd // config.n_head
        scaling = self.head_dim ** -0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            scaling /= float(layer_idx + 1)
        self.scaling = scaling
        self.attn_pdrop = config.attn_pdrop
        self.attn_implementation = config.attn_implementation
        self.c_attn = Conv1D(3 * config.n_embd, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, config.n_embd)
        self.resid_dropout = Dropout(config.resid_pdrop)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_mask, layer_cache, length,
                need_weights: bool = False):
        batch, seq_len, _ = hidden_states.shape

        def split(x):  # (B, L, H*d) -> (B, H, L, d)
            return x.reshape(batch, seq_len, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

        q, k, v = jnp.split(self.c_attn(ctx, hidden_states), 3, axis=-1)
        p = self.attn_pdrop if ctx.train else 0.0
        out, weights, layer_cache = attend_with_cache(
            split(q), split(k), split(v), layer_cache, length, attention_mask=attention_mask, scale=self.scaling,
            dropout_p=p, dropout_key=ctx.dropout_key(p), need_weights=need_weights,
            implementation=self.attn_implementation)
        out = out.transpose(0, 2, 1, 3).reshape(batch, seq_len, self.embed_dim)
        return self.resid_dropout(ctx, self.c_proj(ctx, out)), weights, layer_cache


class GPT2MLP(nn.Module):
    def __init__(self, intermediate_size: int, config: GPT2Config):
        super().__init__()
        self.c_fc = Conv1D(intermediate_size, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, intermediate_size)
        self.act = config.activation_function
        self.dropout = Dropout(config.resid_pdrop)

    def forward(self, ctx: nn.Context, x: jax.Array) -> jax.Array:
        return self.dropout(ctx, self.c_proj(ctx, ACT2FN[self.act](self.c_fc(ctx, x))))


class GPT2Block(nn.Module):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        inner = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.ln_1 = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner, config)

    def forward(self, ctx: nn.Context, hidden_states, attention_mask, layer_cache, length, need_weights=False):
        attn_out, weights, layer_cache = self.attn(ctx, self.ln_1(ctx, hidden_states), attention_mask, layer_cache,
                                                   length, need_weights)
        hidden_states = hidden_states + attn_out
        hidden_states = hidden_states + self.mlp(ctx, self.ln_2(ctx, hidden_states))
        return hidden_states, weights, layer_cache


class GPT2PreTrainedModel(PreTrainedModel):
    """Shared by every GPT-2 model: the config class, the ``transformer`` prefix, GPT-2's init
    (residual projections ``c_proj`` drawn with std ``initializer_range / sqrt(2 * n_layer)``)."""

    config_class = GPT2Config
    base_model_prefix = "transformer"
    # the causal-mask buffers old checkpoints stored ("h.0.attn.bias", "h.0.attn.masked_bias")
    _keys_to_ignore_on_load = ("attn.bias", "attn.masked_bias")

    def _init_family(self, params: dict, draw) -> dict:
        scale = 1.0 / math.sqrt(2 * self.config.n_layer)

        def walk(tree: dict, path: tuple[str, ...]) -> dict:
            out = {}
            for name, value in tree.items():
                if isinstance(value, dict):
                    out[name] = walk(value, path + (name,))
                elif name == "weight" and path[-1:] == ("c_proj",):
                    out[name] = draw(value.shape, value.dtype, scale)
                else:
                    out[name] = value
            return out

        return walk(params, ())

    def _cache_shape(self) -> tuple[int, int, int]:
        c = self.config
        return c.n_layer, c.n_head, c.n_embd // c.n_head


class GPT2Model(GPT2PreTrainedModel):
    """The GPT-2 decoder stack: token + position embeddings, ``n_layer`` blocks, ``ln_f``.

    Forward:
        input_ids: ``(B, L)`` (or ``inputs_embeds (B, L, n_embd)``).
        attention_mask: ``(B, L)`` (1 = token, 0 = padding), or ``(B, max_length)`` with a cache.
        token_type_ids: ``(B, L)``, embedded with ``wte`` as in GPT-2.
        position_ids: ``(B, L)`` or ``(1, L)`` (default ``0..L-1`` after the cached positions;
            with left padding pass ``cumsum(mask) - 1`` as :meth:`~fnet.models.generation.GenerationMixin.generate` does).
        cache: a :class:`~fnet.models.generation.StaticCache` to read and extend.
        output_attentions / output_hidden_states: every layer's weights / hidden states.

    Returns:
        :class:`ModelOutput` with ``last_hidden_state (B, L, n_embd)``, ``cache`` (when
        given) and, when asked, ``hidden_states`` and ``attentions``.

    PyTorch equivalent: ``transformers.GPT2Model``.
    """

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.wte = Embedding(config.vocab_size, config.n_embd)
        self.wpe = Embedding(config.n_positions, config.n_embd)
        self.drop = Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPT2Block(config, i) for i in range(config.n_layer)])
        self.ln_f = LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None, cache: StaticCache | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        c = self.config
        batch, seq_len = check_inputs(input_ids, inputs_embeds, c.n_embd)
        position_ids, attention_mask = decoder_positions(batch, seq_len, cache, position_ids, attention_mask)
        if input_ids is not None:
            check_ids("input_ids", input_ids, c.vocab_size, "vocabulary (vocab_size)")
            inputs_embeds = self.wte(ctx, input_ids)
        check_ids("position_ids", position_ids, c.n_positions, "position range (n_positions)")
        hidden = inputs_embeds + self.wpe(ctx, position_ids)
        if token_type_ids is not None:
            check_ids("token_type_ids", token_type_ids, c.vocab_size, "vocabulary (vocab_size)")
            hidden = hidden + self.wte(ctx, token_type_ids)
        hidden = self.drop(ctx, hidden)
        length = None if cache is None else cache.length

        def step(i, layer, hidden):
            layer_cache = None if cache is None else (cache.key[i], cache.value[i])
            return layer(ctx, hidden, attention_mask, layer_cache, length, output_attentions)

        hidden, all_hidden, all_attn, caches = run_layers(
            self.h, hidden, step, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            final=lambda h: self.ln_f(ctx, h))
        new_cache = None if cache is None else StaticCache(tuple(kv[0] for kv in caches), tuple(kv[1] for kv in caches),
                                                           cache.length + seq_len)
        return BaseModelOutputWithPast(last_hidden_state=hidden, cache=new_cache, hidden_states=all_hidden,
                                       attentions=all_attn)


class GPT2LMHeadModel(GPT2PreTrainedModel, GenerationMixin):
    """GPT-2 with the language-model head (``wte`` reused, no bias) and :meth:`~fnet.models.generation.GenerationMixin.generate`.

    Forward: as :class:`GPT2Model` plus ``labels (B, L)`` (the inputs themselves: they are
    shifted inside, -100 ignored) and ``logits_to_keep`` (keep the last N positions'
    logits, 0 = all); returns ``logits (B, L, vocab_size)``, ``cache`` and, with labels,
    the next-token cross-entropy ``loss``.

    PyTorch equivalent: ``transformers.GPT2LMHeadModel``.
    """

    _tied_keys = ("lm_head.weight",)

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = None if config.tie_word_embeddings else nn.Linear(config.n_embd, config.vocab_size,
                                                                         bias=False)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None, cache: StaticCache | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, logits_to_keep: int = 0, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        out = self.transformer(ctx, input_ids, cache=cache, attention_mask=attention_mask,
                               token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds,
                               output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        hidden = out.last_hidden_state[:, -logits_to_keep:] if logits_to_keep else out.last_hidden_state
        if self.lm_head is None:
            logits = F.linear(hidden, ctx.params["transformer"]["wte"]["weight"])
        else:
            logits = self.lm_head(ctx, hidden)
        loss = None if labels is None else causal_lm_loss(logits, labels)
        return CausalLMOutputWithPast(loss=loss, logits=logits, cache=out.get("cache"),
                                      hidden_states=out.get("hidden_states"), attentions=out.get("attentions"))


class GPT2ForSequenceClassification(GPT2PreTrainedModel):
    """GPT-2 with ``score`` (no bias) read at each row's last non-padding token.

    Forward: as :class:`GPT2Model` plus ``labels``; returns ``logits (B, num_labels)`` and,
    with labels, the loss transformers picks. Needs ``pad_token_id`` for batches > 1.

    PyTorch equivalent: ``transformers.GPT2ForSequenceClassification``.
    """

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        self.score = nn.Linear(config.n_embd, config.num_labels, bias=False)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None, attention_mask: jax.Array | None = None,
                token_type_ids: jax.Array | None = None, position_ids: jax.Array | None = None,
                inputs_embeds: jax.Array | None = None, labels: jax.Array | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        out = self.transformer(ctx, input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                               position_ids=position_ids, inputs_embeds=inputs_embeds,
                               output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = last_token_logits(self.config, self.score(ctx, out.last_hidden_state), input_ids)
        loss = None if labels is None else sequence_classification_loss(self.config, logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.get("hidden_states"),
                                        attentions=out.get("attentions"))


class GPT2ForTokenClassification(GPT2PreTrainedModel):
    """GPT-2 with a linear ``classifier`` on every token (dropout ``classifier_dropout``,
    else ``hidden_dropout``, else 0.1, as transformers).

    PyTorch equivalent: ``transformers.GPT2ForTokenClassification``.
    """

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        self.dropout = Dropout(classifier_dropout(config, config.get("hidden_dropout"), 0.1))
        self.classifier = nn.Linear(config.n_embd, config.num_labels)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None, attention_mask: jax.Array | None = None,
                token_type_ids: jax.Array | None = None, position_ids: jax.Array | None = None,
                inputs_embeds: jax.Array | None = None, labels: jax.Array | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        out = self.transformer(ctx, input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                               position_ids=position_ids, inputs_embeds=inputs_embeds,
                               output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        logits = self.classifier(ctx, self.dropout(ctx, out.last_hidden_state))
        loss = None if labels is None else token_loss(logits, labels)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.get("hidden_states"),
                                     attentions=out.get("attentions"))
