"""Hugging Face RoBERTa in fnet: BERT's encoder with RoBERTa's embeddings and heads.

As in transformers' modular ``modeling_roberta``, everything but the embeddings and the
task heads is BERT's (``fnet.models.bert``): the same layers, attention and loading
rules, under the ``roberta.`` prefix. What differs:

* position ids count real tokens from ``padding_idx + 1`` (fairseq's ``make_positions``):
  padding tokens get position ``padding_idx``, whose embedding row is the padding row;
* sequence classification reads the ``<s>`` token through ``dense -> tanh -> out_proj``
  (``classifier.dense``, ``classifier.out_proj``) instead of BERT's pooler;
* the masked-LM head is ``lm_head.dense -> gelu -> lm_head.layer_norm`` and a decoder
  tied to the word embeddings, plus ``lm_head.bias``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import functional as F
from .. import init as init_
from .. import nn
from ..nn import Dropout, Embedding, LayerNorm
from ._output import ModelOutput
from .bert import (BertConfig, BertEmbeddings, BertForMaskedLM, BertForSequenceClassification,
                   BertForTokenClassification, BertModel, BertPreTrainedModel)
from .modeling import classifier_dropout

__all__ = ["RobertaConfig", "RobertaModel", "RobertaForSequenceClassification", "RobertaForTokenClassification",
           "RobertaForMaskedLM"]


class RobertaConfig(BertConfig):
    """The hyperparameters of a RoBERTa model: :class:`~fnet.models.BertConfig`'s fields with
    RoBERTa's defaults (``vocab_size=50265``, ``pad_token_id=1``, ``bos_token_id=0``,
    ``eos_token_id=2``).

    ``max_position_embeddings`` counts the ``padding_idx + 1`` reserved rows, so
    roberta-base's 514 allows 512 tokens.

    PyTorch equivalent: ``transformers.RobertaConfig``.
    """

    model_type = "roberta"
    architecture_prefixes = ("Roberta",)
    defaults = {**BertConfig.defaults, "vocab_size": 50265, "pad_token_id": 1, "bos_token_id": 0,
                "eos_token_id": 2}

    def _validate(self) -> None:
        super()._validate()
        if self.pad_token_id is None:
            raise ValueError("RobertaConfig: pad_token_id is required (RoBERTa numbers positions from it)")


class RobertaEmbeddings(BertEmbeddings):
    """BERT's embeddings with RoBERTa's position ids and a padding row in the position table."""

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size,
                                             padding_idx=config.pad_token_id)
        self.position_offset = config.pad_token_id + 1

    def default_position_ids(self, input_ids: jax.Array | None, seq_len: int, batch: int) -> jax.Array:
        pad = self.config.pad_token_id
        if input_ids is None:  # embeddings given: padding cannot be seen, positions are sequential
            return jnp.arange(pad + 1, seq_len + pad + 1)[None, :]
        mask = (jnp.asarray(input_ids) != pad).astype(jnp.int32)
        return jnp.cumsum(mask, axis=1) * mask + pad


class RobertaPreTrainedModel(BertPreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"


class RobertaModel(RobertaPreTrainedModel, BertModel):
    """The RoBERTa encoder: :class:`~fnet.models.BertModel` with RoBERTa's embeddings.

    Forward and returns as :class:`~fnet.models.BertModel`; ``position_ids`` default to
    RoBERTa's (``padding_idx + 1`` onwards for real tokens, ``padding_idx`` for padding).

    PyTorch equivalent: ``transformers.RobertaModel``.
    """

    embeddings_class = RobertaEmbeddings


class RobertaClassificationHead(nn.Module):
    """``out_proj(dropout(tanh(dense(dropout(h[:, 0])))))``: the ``<s>`` token's head."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = Dropout(classifier_dropout(config, config.hidden_dropout_prob))
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, ctx: nn.Context, features: jax.Array) -> jax.Array:
        x = self.dropout(ctx, features[:, 0, :])
        x = F.tanh(self.dense(ctx, x))
        return self.out_proj(ctx, self.dropout(ctx, x))


class RobertaForSequenceClassification(RobertaPreTrainedModel, BertForSequenceClassification):
    """RoBERTa with the ``<s>``-token classification head: classification or regression.

    Forward: as :class:`RobertaModel` plus ``labels``; returns ``logits (B, num_labels)``
    and, with labels, the loss transformers picks (see
    :class:`~fnet.models.BertForSequenceClassification`).

    PyTorch equivalent: ``transformers.RobertaForSequenceClassification``.
    """

    def _build(self, config: RobertaConfig) -> None:
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.classifier = RobertaClassificationHead(config)

    def _classify(self, ctx: nn.Context, outputs: ModelOutput) -> jax.Array:
        return self.classifier(ctx, outputs.last_hidden_state)


class RobertaForTokenClassification(RobertaPreTrainedModel, BertForTokenClassification):
    """RoBERTa with a linear head on every token (``classifier``), as
    :class:`~fnet.models.BertForTokenClassification`.

    PyTorch equivalent: ``transformers.RobertaForTokenClassification``.
    """

    @classmethod
    def _base_model_class(cls) -> type:
        return RobertaModel


class RobertaLMHead(nn.Module):
    """``dense -> gelu -> layer_norm``, then logits against the tied word embeddings plus ``bias``."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter((config.vocab_size,), init=init_.zeros_)

    def forward(self, ctx: nn.Context, features: jax.Array, decoder_weight: jax.Array) -> jax.Array:
        x = self.layer_norm(ctx, F.gelu(self.dense(ctx, features)))
        return F.linear(x, decoder_weight, ctx.params["bias"])


class RobertaForMaskedLM(RobertaPreTrainedModel, BertForMaskedLM):
    """RoBERTa with the masked-language-model head; the decoder reuses the word embeddings.

    Parameters: ``lm_head.dense``, ``lm_head.layer_norm`` and ``lm_head.bias``; the tied
    copies ``lm_head.decoder.weight/bias`` of a transformers ``state_dict()`` are skipped
    by ``from_pretrained``.

    Forward: as :class:`RobertaModel` plus ``labels (B, L)`` (token ids, -100 ignored);
    returns ``logits (B, L, vocab_size)`` and, with labels, the cross-entropy ``loss``.

    PyTorch equivalent: ``transformers.RobertaForMaskedLM``.
    """

    _tied_keys = ("lm_head.decoder.weight", "lm_head.decoder.bias")
    _mlm_head = "lm_head"

    def _build(self, config: RobertaConfig) -> None:
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.lm_head = RobertaLMHead(config)
