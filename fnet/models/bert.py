"""Hugging Face BERT in fnet: ``BertConfig``, ``BertModel`` and the task models.

The module tree and attribute names are transformers', so the parameter tree of
``BertForSequenceClassification`` flattens to exactly the names of
``dict(hf_model.named_parameters())`` (``bert.encoder.layer.0.attention.self.query.weight``)
and a checkpoint loads by unflattening::

    from fnet.models import BertModel
    model = BertModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    out = model(input_ids=input_ids, attention_mask=attention_mask)
    out.last_hidden_state, out.pooler_output
    module, params = model               # the pure pieces, for jax.jit / jax.grad / fit

Semantics follow ``transformers/models/bert/modeling_bert.py`` (eager attention):
absolute position embeddings, exact (erf) GELU for ``hidden_act="gelu"``, and an
additive attention mask that puts the dtype's most negative value on padded keys, so
a sequence whose mask is all zeros attends uniformly (transformers' SDPA path returns
zeros there instead). Tokenization is transformers' (``AutoTokenizer``).

Supported: encoders (``is_decoder=False``) with absolute position embeddings. Other
settings (decoders, cross-attention, relative position embeddings, untied MLM
decoders) are refused with a clear error rather than computed differently.

RoBERTa (``roberta.py``) reuses these modules with its own embeddings and heads.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _checks
from .. import functional as F
from .. import init as init_
from .. import nn
from ..nn import Dropout, Embedding, LayerNorm
from ._output import (BaseModelOutputWithPooling, MaskedLMOutput, ModelOutput, SequenceClassifierOutput,
                      TokenClassifierOutput)
from .configuration import PretrainedConfig
from .modeling import (ACT2FN, PreTrainedModel, check_activation, check_ids, check_inputs, check_mask,
                       classifier_dropout, encoder_self_attention, problem_type, run_layers,
                       sequence_classification_loss, token_loss)

__all__ = ["BertConfig", "BertModel", "BertForSequenceClassification", "BertForTokenClassification",
           "BertForMaskedLM"]


# ---------------------------------------------------------------------------------------
# configuration


class BertConfig(PretrainedConfig):
    """The hyperparameters of a BERT model, read from / written to ``config.json``.

    Keyword only, with transformers' names and defaults.

    Args:
        vocab_size: token vocabulary size (30522).
        hidden_size: width of every layer (768).
        num_hidden_layers: number of encoder layers (12).
        num_attention_heads: heads per layer (12); must divide ``hidden_size``.
        intermediate_size: feed-forward width (3072).
        hidden_act: ``"gelu"`` (exact erf), ``"gelu_new"``, ``"relu"``, ``"silu"``...
        hidden_dropout_prob: dropout after embeddings and each sub-layer (0.1).
        attention_probs_dropout_prob: dropout on attention weights (0.1).
        max_position_embeddings: longest sequence (512).
        type_vocab_size: number of token types / segments (2).
        initializer_range: std of the normal init of weights (0.02).
        layer_norm_eps: LayerNorm eps (1e-12, not torch's 1e-5).
        pad_token_id: padding token; its word embedding row is initialised to zero (0).
        classifier_dropout: dropout before a classifier (None: ``hidden_dropout_prob``).
        tie_word_embeddings: the MLM decoder reuses the word embeddings (True).
        num_labels, id2label, label2id, problem_type, attn_implementation: see
            :class:`~fnet.models.configuration.PretrainedConfig`.
        **kwargs: other ``config.json`` keys, as
            :class:`~fnet.models.configuration.PretrainedConfig` keeps them.

    Configs are immutable and hashable (a model holding one stays a valid static
    argument of ``jax.jit``); use
    :meth:`~fnet.models.configuration.PretrainedConfig.replace` for a modified copy.

    PyTorch equivalent: ``transformers.BertConfig``.
    """

    model_type = "bert"
    architecture_prefixes = ("Bert",)
    defaults = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                    attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
                    initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0, classifier_dropout=None,
                    position_embedding_type="absolute", is_decoder=False, add_cross_attention=False,
                    tie_word_embeddings=True)

    def _validate(self) -> None:
        name = type(self).__name__
        self._require_divisible("hidden_size", self.hidden_size, "num_attention_heads", self.num_attention_heads)
        check_activation(self, "hidden_act")
        if self.position_embedding_type != "absolute":
            raise ValueError(f"{name}: position_embedding_type={self.position_embedding_type!r} is not "
                             f"supported; fnet implements 'absolute' position embeddings only")
        if self.is_decoder or self.add_cross_attention:
            raise ValueError(f"{name}: is_decoder / add_cross_attention (as a decoder) are not supported; "
                             f"fnet's {self.model_type} is an encoder")


# ---------------------------------------------------------------------------------------
# layers


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm and dropout."""

    def default_position_ids(self, input_ids: jax.Array | None, seq_len: int, batch: int) -> jax.Array:
        """``0..L-1`` (RoBERTa numbers its positions from the padding index instead)."""
        return jnp.arange(seq_len)[None, :]

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size,
                                         padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    # positions start after this many reserved rows (RoBERTa: padding_idx + 1)
    position_offset = 0

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                token_type_ids: jax.Array | None = None, position_ids: jax.Array | None = None,
                inputs_embeds: jax.Array | None = None) -> jax.Array:
        c = self.config
        if inputs_embeds is None:
            batch, seq_len = jnp.shape(input_ids)
            check_ids("input_ids", input_ids, c.vocab_size, "vocabulary (vocab_size)")
            inputs_embeds = self.word_embeddings(ctx, input_ids)
        else:
            batch, seq_len = jnp.shape(inputs_embeds)[:2]
        longest = c.max_position_embeddings - self.position_offset
        if seq_len > longest and position_ids is None:
            raise ValueError(f"the sequence has {seq_len} tokens, longer than "
                             f"max_position_embeddings={c.max_position_embeddings}"
                             f"{f' minus {self.position_offset}' if self.position_offset else ''}; truncate it "
                             f"(tokenizer(..., truncation=True, max_length={longest}))")
        if position_ids is None:
            position_ids = self.default_position_ids(input_ids, seq_len, batch)
        else:
            check_ids("position_ids", position_ids, c.max_position_embeddings,
                       "position range (max_position_embeddings)")
        if token_type_ids is None:
            token_type_ids = jnp.zeros((batch, seq_len), dtype=jnp.int32)
        else:
            if jnp.shape(token_type_ids) != (batch, seq_len):
                _checks.fail(None, f"token_type_ids of the input's shape ({batch}, {seq_len})", token_type_ids)
            check_ids("token_type_ids", token_type_ids, c.type_vocab_size,
                       "token types (type_vocab_size)")
        embeddings = inputs_embeds + self.token_type_embeddings(ctx, token_type_ids)
        embeddings = embeddings + self.position_embeddings(ctx, position_ids)
        embeddings = self.LayerNorm(ctx, embeddings)
        return self.dropout(ctx, embeddings)


class BertSelfAttention(nn.Module):
    """Query/key/value projections and scaled dot-product attention over heads."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.attention_probs_dropout_prob = config.attention_probs_dropout_prob
        self.attn_implementation = config.attn_implementation
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_mask: jax.Array | None,
                need_weights: bool = False) -> tuple[jax.Array, jax.Array | None]:
        return encoder_self_attention(ctx, hidden_states, (self.query, self.key, self.value),
                                      self.num_attention_heads, attention_mask, self.attention_probs_dropout_prob,
                                      need_weights, self.attn_implementation)


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, input_tensor: jax.Array) -> jax.Array:
        hidden_states = self.dropout(ctx, self.dense(ctx, hidden_states))
        return self.LayerNorm(ctx, hidden_states + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_mask: jax.Array | None,
                need_weights: bool = False) -> tuple[jax.Array, jax.Array | None]:
        context, weights = self.self(ctx, hidden_states, attention_mask, need_weights)
        return self.output(ctx, context, hidden_states), weights


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.hidden_act = config.hidden_act

    def forward(self, ctx: nn.Context, hidden_states: jax.Array) -> jax.Array:
        return ACT2FN[self.hidden_act](self.dense(ctx, hidden_states))


class BertOutput(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, input_tensor: jax.Array) -> jax.Array:
        hidden_states = self.dropout(ctx, self.dense(ctx, hidden_states))
        return self.LayerNorm(ctx, hidden_states + input_tensor)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_mask: jax.Array | None,
                need_weights: bool = False) -> tuple[jax.Array, jax.Array | None]:
        attention_output, weights = self.attention(ctx, hidden_states, attention_mask, need_weights)
        layer_output = self.output(ctx, self.intermediate(ctx, attention_output), attention_output)
        return layer_output, weights


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_mask: jax.Array | None,
                output_attentions: bool = False, output_hidden_states: bool = False
                ) -> tuple[jax.Array, tuple | None, tuple | None]:
        def step(i, layer, hidden):
            return (*layer(ctx, hidden, attention_mask, output_attentions), None)

        hidden, all_hidden, all_attn, _ = run_layers(self.layer, hidden_states, step,
                                                     output_attentions=output_attentions,
                                                     output_hidden_states=output_hidden_states)
        return hidden, all_hidden, all_attn


class BertPooler(nn.Module):
    """tanh(dense(hidden state of the first token))."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array) -> jax.Array:
        return F.tanh(self.dense(ctx, hidden_states[:, 0]))


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.hidden_act = config.hidden_act
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array) -> jax.Array:
        return self.LayerNorm(ctx, ACT2FN[self.hidden_act](self.dense(ctx, hidden_states)))


class BertLMPredictionHead(nn.Module):
    """transform, then logits against the (tied) word embeddings plus an output bias."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.bias = nn.Parameter((config.vocab_size,), init=init_.zeros_)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, decoder_weight: jax.Array) -> jax.Array:
        return F.linear(self.transform(ctx, hidden_states), decoder_weight, ctx.params["bias"])


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, ctx: nn.Context, sequence_output: jax.Array, decoder_weight: jax.Array) -> jax.Array:
        return self.predictions(ctx, sequence_output, decoder_weight)


# ---------------------------------------------------------------------------------------
# models


class BertPreTrainedModel(PreTrainedModel):
    """Shared by every BERT model: the config class, the ``bert`` prefix, the checkpoint rules."""

    config_class = BertConfig
    base_model_prefix = "bert"
    # checkpoint keys that are never parameters here (old persistent buffers)
    _keys_to_ignore_on_load = ("embeddings.position_ids", "embeddings.token_type_ids")

    def _encoder_output(self, ctx: nn.Context, input_ids, attention_mask, token_type_ids, position_ids,
                        inputs_embeds, output_attentions, output_hidden_states) -> ModelOutput:
        base = getattr(self, self.base_model_prefix)
        return base(ctx, input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                    position_ids=position_ids, inputs_embeds=inputs_embeds,
                    output_attentions=output_attentions, output_hidden_states=output_hidden_states)

    def problem_type(self, labels: jax.Array) -> str:
        """The loss transformers would pick for these labels (sequence classification)."""
        return problem_type(self.config, labels)


class BertModel(BertPreTrainedModel):
    """The BERT encoder: embeddings, ``num_hidden_layers`` layers and an optional pooler.

    Args:
        config: a :class:`BertConfig`.
        add_pooling_layer: include the pooler (``tanh(dense(h[:, 0]))``), default True.

    Forward:
        input_ids: ``(B, L)`` token ids (or ``inputs_embeds (B, L, hidden_size)``).
        attention_mask: ``(B, L)``, 1 for tokens to attend to, 0 for padding.
        token_type_ids: ``(B, L)`` segment ids (default 0).
        position_ids: ``(B, L)`` or ``(1, L)`` (default ``0..L-1``).
        output_attentions / output_hidden_states: also return every layer's attention
            weights ``(B, H, L, L)`` / the embeddings and every layer's output.

    Returns:
        :class:`ModelOutput` with ``last_hidden_state (B, L, hidden_size)``,
        ``pooler_output (B, hidden_size)`` and, when asked, ``hidden_states`` (a tuple of
        ``num_hidden_layers + 1``) and ``attentions`` (a tuple of ``num_hidden_layers``).

    Dropout is active with ``apply(..., train=True, key=...)``.

    PyTorch equivalent: ``transformers.BertModel``.
    """

    _optional_keys = ("pooler.",)
    embeddings_class: type = BertEmbeddings

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = self.embeddings_class(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        shape = check_inputs(input_ids, inputs_embeds, self.config.hidden_size)
        check_mask(attention_mask, shape)
        embedding_output = self.embeddings(ctx, input_ids=input_ids, token_type_ids=token_type_ids,
                                           position_ids=position_ids, inputs_embeds=inputs_embeds)
        sequence_output, hidden_states, attentions = self.encoder(
            ctx, embedding_output, attention_mask, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states)
        pooled = self.pooler(ctx, sequence_output) if self.pooler is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=sequence_output, pooler_output=pooled,
                                          hidden_states=hidden_states, attentions=attentions)


class BertForSequenceClassification(BertPreTrainedModel):
    """BERT with a linear head on the pooled output: classification or regression.

    Forward: as :class:`BertModel` plus ``labels``; returns ``logits (B, num_labels)``
    and, with labels, ``loss`` chosen as transformers does: ``config.problem_type``,
    else ``"regression"`` (MSE) when ``num_labels == 1``, ``"single_label_classification"``
    (cross-entropy) for integer labels, ``"multi_label_classification"``
    (BCE-with-logits on float labels ``(B, num_labels)``) otherwise.

    PyTorch equivalent: ``transformers.BertForSequenceClassification``.
    """

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self._build(config)

    def _build(self, config: BertConfig) -> None:
        self.bert = BertModel(config)
        self.dropout = Dropout(classifier_dropout(config, config.hidden_dropout_prob))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._encoder_output(ctx, input_ids, attention_mask, token_type_ids, position_ids,
                                       inputs_embeds, output_attentions, output_hidden_states)
        logits = self._classify(ctx, outputs)
        loss = None if labels is None else sequence_classification_loss(self.config, logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.get("hidden_states"),
                                        attentions=outputs.get("attentions"))

    def _classify(self, ctx: nn.Context, outputs: ModelOutput) -> jax.Array:
        """``(B, num_labels)`` logits from the encoder's outputs (BERT: the pooled ``[CLS]``)."""
        return self.classifier(ctx, self.dropout(ctx, outputs.pooler_output))


class BertForTokenClassification(BertPreTrainedModel):
    """BERT with a linear head on every token (NER, tagging).

    Forward: as :class:`BertModel` plus ``labels (B, L)`` (class indices, -100 ignored);
    returns ``logits (B, L, num_labels)`` and, with labels, the cross-entropy ``loss``.

    PyTorch equivalent: ``transformers.BertForTokenClassification``.
    """

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        setattr(self, self.base_model_prefix, self._base_model_class()(config, add_pooling_layer=False))
        self.dropout = Dropout(classifier_dropout(config, config.hidden_dropout_prob))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    @classmethod
    def _base_model_class(cls) -> type:
        return BertModel

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._encoder_output(ctx, input_ids, attention_mask, token_type_ids, position_ids,
                                       inputs_embeds, output_attentions, output_hidden_states)
        logits = self.classifier(ctx, self.dropout(ctx, outputs.last_hidden_state))
        loss = None if labels is None else token_loss(logits, labels)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.get("hidden_states"),
                                     attentions=outputs.get("attentions"))


class BertForMaskedLM(BertPreTrainedModel):
    """BERT with the masked-language-model head; the decoder reuses the word embeddings.

    Parameters are named as transformers names them: ``cls.predictions.transform...``
    and ``cls.predictions.bias``. The decoder weight *is*
    ``bert.embeddings.word_embeddings.weight`` (tied, so it has no entry of its own; a
    transformers ``state_dict()`` also lists the tied copies
    ``cls.predictions.decoder.weight/bias``, which ``from_pretrained`` skips and
    ``fnet.load_state_dict(model, sd, strict=False)`` reports as unexpected).

    Forward: as :class:`BertModel` plus ``labels (B, L)`` (token ids, -100 ignored);
    returns ``logits (B, L, vocab_size)`` and, with labels, the cross-entropy ``loss``.

    PyTorch equivalent: ``transformers.BertForMaskedLM``.
    """

    _tied_keys = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
    _mlm_head = "cls"  # the attribute holding the head (RoBERTa: lm_head)

    def __init__(self, config: BertConfig):
        super().__init__(config)
        if not config.tie_word_embeddings:
            raise ValueError(f"{type(self).__name__}: tie_word_embeddings=False (a separate decoder matrix) is "
                             f"not supported; fnet ties the decoder to the word embeddings")
        self._build(config)

    def _build(self, config: BertConfig) -> None:
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._encoder_output(ctx, input_ids, attention_mask, token_type_ids, position_ids,
                                       inputs_embeds, output_attentions, output_hidden_states)
        word_embeddings = ctx.params[self.base_model_prefix]["embeddings"]["word_embeddings"]["weight"]
        logits = getattr(self, self._mlm_head)(ctx, outputs.last_hidden_state, word_embeddings)
        loss = None if labels is None else token_loss(logits, labels, "token ids")
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.get("hidden_states"),
                              attentions=outputs.get("attentions"))
