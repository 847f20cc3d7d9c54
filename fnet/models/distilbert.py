"""Hugging Face DistilBERT in fnet: ``DistilBertConfig``, ``DistilBertModel`` and the task models.

Module tree and names are transformers' (``distilbert.transformer.layer.0.attention.q_lin.weight``),
so checkpoints load by unflattening. A DistilBERT layer is post-LayerNorm like BERT's
but flatter: ``sa_layer_norm(attention(x) + x)``, then ``output_layer_norm(ffn(h) + h)``;
there are no token types and no pooler. Attention is fnet's one model attention
(padding masks with transformers' eager semantics).

PyTorch equivalent: ``transformers/models/distilbert/modeling_distilbert.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import functional as F
from .. import init as init_
from .. import nn
from ..nn import Dropout, Embedding, LayerNorm
from ._output import BaseModelOutput, MaskedLMOutput, ModelOutput, SequenceClassifierOutput, TokenClassifierOutput
from .configuration import PretrainedConfig
from .modeling import (ACT2FN, PreTrainedModel, check_activation, check_ids, check_inputs, check_mask,
                       encoder_self_attention, run_layers, sequence_classification_loss, token_loss)

__all__ = ["DistilBertConfig", "DistilBertModel", "DistilBertForSequenceClassification",
           "DistilBertForTokenClassification", "DistilBertForMaskedLM"]


class DistilBertConfig(PretrainedConfig):
    """The hyperparameters of a DistilBERT model (transformers' names and defaults).

    Keyword only.

    Args:
        vocab_size: 30522. max_position_embeddings: 512.
        sinusoidal_pos_embds: initialise the position table with sinusoids (False).
        n_layers: 6 (``num_hidden_layers``). n_heads: 12 (``num_attention_heads``).
        dim: 768 (``hidden_size``). hidden_dim: feed-forward width (3072).
        dropout: after embeddings and sub-layers (0.1). attention_dropout: 0.1.
        activation: ``"gelu"`` or ``"relu"``... initializer_range: 0.02.
        qa_dropout: 0.1. seq_classif_dropout: dropout of the sequence head (0.2).
        pad_token_id: 0. tie_word_embeddings: the MLM projector reuses the word embeddings (True).
        num_labels, id2label, label2id, problem_type, attn_implementation: see
            :class:`~fnet.models.configuration.PretrainedConfig`.
        **kwargs: other ``config.json`` keys, as
            :class:`~fnet.models.configuration.PretrainedConfig` keeps them.

    PyTorch equivalent: ``transformers.DistilBertConfig``.
    """

    model_type = "distilbert"
    architecture_prefixes = ("DistilBert",)
    attribute_map = {"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"}
    defaults = dict(vocab_size=30522, max_position_embeddings=512, sinusoidal_pos_embds=False, n_layers=6,
                    n_heads=12, dim=768, hidden_dim=4 * 768, dropout=0.1, attention_dropout=0.1,
                    activation="gelu", initializer_range=0.02, qa_dropout=0.1, seq_classif_dropout=0.2,
                    pad_token_id=0, eos_token_id=None, bos_token_id=None, tie_word_embeddings=True)

    def _validate(self) -> None:
        self._require_divisible("dim", self.dim, "n_heads", self.n_heads)
        check_activation(self, "activation")


class Embeddings(nn.Module):
    """Word + position embeddings, LayerNorm (eps 1e-12) and dropout."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.dim)
        self.LayerNorm = LayerNorm(config.dim, eps=1e-12)
        self.dropout = Dropout(config.dropout)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None, inputs_embeds: jax.Array | None = None,
                position_ids: jax.Array | None = None) -> jax.Array:
        c = self.config
        if input_ids is not None:
            check_ids("input_ids", input_ids, c.vocab_size, "vocabulary (vocab_size)")
            inputs_embeds = self.word_embeddings(ctx, input_ids)
        seq_len = inputs_embeds.shape[1]
        if position_ids is None:
            if seq_len > c.max_position_embeddings:
                raise ValueError(f"the sequence has {seq_len} tokens, longer than "
                                 f"max_position_embeddings={c.max_position_embeddings}; truncate it")
            position_ids = jnp.arange(seq_len)[None, :]
        else:
            check_ids("position_ids", position_ids, c.max_position_embeddings,
                      "position range (max_position_embeddings)")
        embeddings = inputs_embeds + self.position_embeddings(ctx, position_ids)
        return self.dropout(ctx, self.LayerNorm(ctx, embeddings))


class DistilBertSelfAttention(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.attention_dropout = config.attention_dropout
        self.attn_implementation = config.attn_implementation
        self.q_lin = nn.Linear(config.dim, config.dim)
        self.k_lin = nn.Linear(config.dim, config.dim)
        self.v_lin = nn.Linear(config.dim, config.dim)
        self.out_lin = nn.Linear(config.dim, config.dim)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_mask: jax.Array | None,
                need_weights: bool = False) -> tuple[jax.Array, jax.Array | None]:
        context, weights = encoder_self_attention(ctx, hidden_states, (self.q_lin, self.k_lin, self.v_lin),
                                                  self.n_heads, attention_mask, self.attention_dropout,
                                                  need_weights, self.attn_implementation)
        return self.out_lin(ctx, context), weights


class FFN(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.dropout = Dropout(config.dropout)
        self.lin1 = nn.Linear(config.dim, config.hidden_dim)
        self.lin2 = nn.Linear(config.hidden_dim, config.dim)
        self.activation = config.activation

    def forward(self, ctx: nn.Context, x: jax.Array) -> jax.Array:
        return self.dropout(ctx, self.lin2(ctx, ACT2FN[self.activation](self.lin1(ctx, x))))


class TransformerBlock(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.attention = DistilBertSelfAttention(config)
        self.sa_layer_norm = LayerNorm(config.dim, eps=1e-12)
        self.ffn = FFN(config)
        self.output_layer_norm = LayerNorm(config.dim, eps=1e-12)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_mask: jax.Array | None,
                need_weights: bool = False) -> tuple[jax.Array, jax.Array | None]:
        attention_output, weights = self.attention(ctx, hidden_states, attention_mask, need_weights)
        attention_output = self.sa_layer_norm(ctx, attention_output + hidden_states)
        return self.output_layer_norm(ctx, self.ffn(ctx, attention_output) + attention_output), weights


class Transformer(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.layer = nn.ModuleList([TransformerBlock(config) for _ in range(config.n_layers)])

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_mask: jax.Array | None,
                output_attentions: bool = False, output_hidden_states: bool = False):
        def step(i, layer, hidden):
            return (*layer(ctx, hidden, attention_mask, output_attentions), None)

        hidden, all_hidden, all_attn, _ = run_layers(self.layer, hidden_states, step,
                                                     output_attentions=output_attentions,
                                                     output_hidden_states=output_hidden_states)
        return hidden, all_hidden, all_attn


def sinusoidal_positions(n_pos: int, dim: int) -> np.ndarray:
    """DistilBERT's fixed table: ``sin`` on even columns, ``cos`` on odd ones, ``pos / 10000^(2(j//2)/dim)``."""
    j = np.arange(dim)
    angle = np.arange(n_pos)[:, None] / np.power(10000, 2 * (j // 2) / dim)[None, :]
    return np.where(j % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


class DistilBertPreTrainedModel(PreTrainedModel):
    """Shared by every DistilBERT model: the config class, the ``distilbert`` prefix, the init."""

    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    _keys_to_ignore_on_load = ("embeddings.position_ids",)

    def _init_family(self, params: dict, draw) -> dict:
        if not self.config.sinusoidal_pos_embds:
            return params
        base = params.get(self.base_model_prefix, params)
        table = base["embeddings"]["position_embeddings"]["weight"]
        base["embeddings"]["position_embeddings"]["weight"] = jnp.asarray(
            sinusoidal_positions(*table.shape), table.dtype)
        return params

    def _encoder_output(self, ctx: nn.Context, input_ids, attention_mask, position_ids, inputs_embeds,
                        output_attentions, output_hidden_states) -> ModelOutput:
        return self.distilbert(ctx, input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                               position_ids=position_ids, output_attentions=output_attentions,
                               output_hidden_states=output_hidden_states)


class DistilBertModel(DistilBertPreTrainedModel):
    """The DistilBERT encoder: embeddings and ``n_layers`` transformer blocks.

    Forward:
        input_ids: ``(B, L)`` (or ``inputs_embeds (B, L, dim)``).
        attention_mask: ``(B, L)``, 1 = token, 0 = padding.
        position_ids: ``(B, L)`` or ``(1, L)`` (default ``0..L-1``).
        output_attentions / output_hidden_states: every layer's weights / outputs.

    Returns:
        :class:`ModelOutput` with ``last_hidden_state (B, L, dim)`` and, when asked,
        ``hidden_states`` and ``attentions``.

    PyTorch equivalent: ``transformers.DistilBertModel``.
    """

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.embeddings = Embeddings(config)
        self.transformer = Transformer(config)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                position_ids: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        shape = check_inputs(input_ids, inputs_embeds, self.config.dim)
        check_mask(attention_mask, shape)
        hidden = self.embeddings(ctx, input_ids, inputs_embeds, position_ids)
        hidden, all_hidden, all_attn = self.transformer(ctx, hidden, attention_mask, output_attentions,
                                                        output_hidden_states)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_attn)


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    """DistilBERT with ``classifier(dropout(relu(pre_classifier(h[:, 0]))))``.

    Forward: as :class:`DistilBertModel` plus ``labels``; returns ``logits (B, num_labels)``
    and, with labels, the loss transformers picks (MSE, cross-entropy or BCE).

    PyTorch equivalent: ``transformers.DistilBertForSequenceClassification``.
    """

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = Dropout(config.seq_classif_dropout)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, position_ids: jax.Array | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._encoder_output(ctx, input_ids, attention_mask, position_ids, inputs_embeds,
                                       output_attentions, output_hidden_states)
        pooled = F.relu(self.pre_classifier(ctx, outputs.last_hidden_state[:, 0]))
        logits = self.classifier(ctx, self.dropout(ctx, pooled))
        loss = None if labels is None else sequence_classification_loss(self.config, logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.get("hidden_states"),
                                        attentions=outputs.get("attentions"))


class DistilBertForTokenClassification(DistilBertPreTrainedModel):
    """DistilBERT with a linear head on every token (``dropout`` is ``config.dropout``).

    Forward: as :class:`DistilBertModel` plus ``labels (B, L)`` (-100 ignored); returns
    ``logits (B, L, num_labels)`` and, with labels, the cross-entropy ``loss``.

    PyTorch equivalent: ``transformers.DistilBertForTokenClassification``.
    """

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.dropout = Dropout(config.dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, position_ids: jax.Array | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._encoder_output(ctx, input_ids, attention_mask, position_ids, inputs_embeds,
                                       output_attentions, output_hidden_states)
        logits = self.classifier(ctx, self.dropout(ctx, outputs.last_hidden_state))
        loss = None if labels is None else token_loss(logits, labels)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.get("hidden_states"),
                                     attentions=outputs.get("attentions"))


class TiedProjection(nn.Module):
    """An output projection whose weight is another module's (tied) and whose bias is its own."""

    def __init__(self, num_embeddings: int):
        super().__init__()
        self.bias = nn.Parameter((num_embeddings,), init=init_.zeros_)

    def forward(self, ctx: nn.Context, x: jax.Array, weight: jax.Array) -> jax.Array:
        return F.linear(x, weight, ctx.params["bias"])


class DistilBertForMaskedLM(DistilBertPreTrainedModel):
    """DistilBERT with the MLM head ``vocab_projector(vocab_layer_norm(act(vocab_transform(h))))``;
    the projector's weight is the word embeddings (tied), its bias ``vocab_projector.bias`` its own.

    Forward: as :class:`DistilBertModel` plus ``labels (B, L)`` (token ids, -100 ignored);
    returns ``logits (B, L, vocab_size)`` and, with labels, the cross-entropy ``loss``.

    PyTorch equivalent: ``transformers.DistilBertForMaskedLM``.
    """

    _tied_keys = ("vocab_projector.weight",)

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        if not config.tie_word_embeddings:
            raise ValueError("DistilBertForMaskedLM: tie_word_embeddings=False (a separate projector matrix) is "
                             "not supported; fnet ties the projector to the word embeddings")
        self.activation = config.activation
        self.distilbert = DistilBertModel(config)
        self.vocab_transform = nn.Linear(config.dim, config.dim)
        self.vocab_layer_norm = LayerNorm(config.dim, eps=1e-12)
        self.vocab_projector = TiedProjection(config.vocab_size)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, position_ids: jax.Array | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._encoder_output(ctx, input_ids, attention_mask, position_ids, inputs_embeds,
                                       output_attentions, output_hidden_states)
        x = ACT2FN[self.activation](self.vocab_transform(ctx, outputs.last_hidden_state))
        word_embeddings = ctx.params["distilbert"]["embeddings"]["word_embeddings"]["weight"]
        logits = self.vocab_projector(ctx, self.vocab_layer_norm(ctx, x), word_embeddings)
        loss = None if labels is None else token_loss(logits, labels, "token ids")
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.get("hidden_states"),
                              attentions=outputs.get("attentions"))
