"""Hugging Face BERT in fnet: ``BertConfig``, ``BertModel`` and the task models.

The module tree and attribute names are transformers', so the parameter tree of
``BertForSequenceClassification`` flattens to exactly the names of
``dict(hf_model.named_parameters())`` (``bert.encoder.layer.0.attention.self.query.weight``)
and a checkpoint loads by unflattening::

    from fnet.models import BertModel
    model, params = BertModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    out = model.apply(params, {}, input_ids, attention_mask=attention_mask)
    out.last_hidden_state, out.pooler_output

Semantics follow ``transformers/models/bert/modeling_bert.py`` (eager attention):
absolute position embeddings, exact (erf) GELU for ``hidden_act="gelu"``, and an
additive attention mask that puts the dtype's most negative value on padded keys, so
a sequence whose mask is all zeros attends uniformly (transformers' SDPA path returns
zeros there instead). Tokenization is transformers' (``AutoTokenizer``).

Supported: encoders (``is_decoder=False``) with absolute position embeddings. Other
settings (decoders, cross-attention, relative position embeddings, untied MLM
decoders) are refused with a clear error rather than computed differently.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp

from .. import _checks
from .. import functional as F
from .. import init as init_
from .. import nn
from ..nn import Dropout, Embedding, LayerNorm
from .._files import atomic_write
from ..functional._attention import _attend
from ._output import ModelOutput, register_output

__all__ = ["BertConfig", "BertModel", "BertForSequenceClassification", "BertForTokenClassification",
           "BertForMaskedLM"]

logger = logging.getLogger("fnet.models")

_PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


def _gelu_tanh(x: jax.Array) -> jax.Array:
    return F.gelu(x, approximate="tanh")


# transformers' ACT2FN names -> fnet functions (the ones BERT checkpoints use)
ACT2FN: dict[str, Callable] = {
    "gelu": F.gelu,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": F.tanh,
}


# ---------------------------------------------------------------------------------------
# configuration


class BertConfig:
    """The hyperparameters of a BERT model, read from / written to ``config.json``.

    Args (transformers' names and defaults):
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
        num_labels: outputs of a classification head (2), or give ``id2label``.
        id2label, label2id: label names (``{0: "LABEL_0", ...}`` by default).
        problem_type: ``"regression"``, ``"single_label_classification"``,
            ``"multi_label_classification"`` or None (chosen from the labels, as
            transformers does).
        tie_word_embeddings: the MLM decoder reuses the word embeddings (True).
        **kwargs: other ``config.json`` keys, kept and written back unchanged.

    Configs are immutable and hashable (a model holding one stays a valid static
    argument of ``jax.jit``); use :meth:`replace` for a modified copy.

    PyTorch equivalent: ``transformers.BertConfig``.
    """

    model_type = "bert"
    _FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
               "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
               "max_position_embeddings", "type_vocab_size", "initializer_range", "layer_norm_eps",
               "pad_token_id", "classifier_dropout", "position_embedding_type", "is_decoder",
               "add_cross_attention", "problem_type", "tie_word_embeddings")

    def __init__(self, vocab_size: int = 30522, hidden_size: int = 768, num_hidden_layers: int = 12,
                 num_attention_heads: int = 12, intermediate_size: int = 3072, hidden_act: str = "gelu",
                 hidden_dropout_prob: float = 0.1, attention_probs_dropout_prob: float = 0.1,
                 max_position_embeddings: int = 512, type_vocab_size: int = 2,
                 initializer_range: float = 0.02, layer_norm_eps: float = 1e-12,
                 pad_token_id: int | None = 0, classifier_dropout: float | None = None,
                 position_embedding_type: str = "absolute", is_decoder: bool = False,
                 add_cross_attention: bool = False, num_labels: int | None = None,
                 id2label: Mapping[Any, str] | None = None, label2id: Mapping[str, Any] | None = None,
                 problem_type: str | None = None, tie_word_embeddings: bool = True,
                 architectures: list[str] | None = None, **kwargs: Any):
        model_type = kwargs.pop("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"BertConfig: this config is for model_type {model_type!r}, not 'bert'; "
                             f"fnet.models.bert implements BERT only")
        values = dict(vocab_size=int(vocab_size), hidden_size=int(hidden_size),
                      num_hidden_layers=int(num_hidden_layers), num_attention_heads=int(num_attention_heads),
                      intermediate_size=int(intermediate_size), hidden_act=hidden_act,
                      hidden_dropout_prob=float(hidden_dropout_prob),
                      attention_probs_dropout_prob=float(attention_probs_dropout_prob),
                      max_position_embeddings=int(max_position_embeddings),
                      type_vocab_size=int(type_vocab_size), initializer_range=float(initializer_range),
                      layer_norm_eps=float(layer_norm_eps), pad_token_id=pad_token_id,
                      classifier_dropout=classifier_dropout, position_embedding_type=position_embedding_type,
                      is_decoder=bool(is_decoder), add_cross_attention=bool(add_cross_attention),
                      problem_type=problem_type, tie_word_embeddings=bool(tie_word_embeddings))
        if id2label is not None:
            id2label = {int(k): str(v) for k, v in dict(id2label).items()}
            if num_labels is not None and int(num_labels) != len(id2label):
                raise ValueError(f"BertConfig: num_labels={num_labels} disagrees with id2label, which has "
                                 f"{len(id2label)} entries")
        else:
            id2label = {i: f"LABEL_{i}" for i in range(2 if num_labels is None else int(num_labels))}
        if label2id is None:
            label2id = {v: k for k, v in id2label.items()}
        values["id2label"] = id2label
        values["label2id"] = {str(k): int(v) for k, v in dict(label2id).items()}
        values["architectures"] = list(architectures) if architectures else None
        for k in ("_name_or_path", "transformers_version", "torch_dtype", "dtype"):
            kwargs.pop(k, None)
        values["extra"] = kwargs
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size={self.hidden_size} is not a multiple of "
                             f"num_attention_heads={self.num_attention_heads}")
        if self.hidden_act not in ACT2FN:
            raise ValueError(f"BertConfig: hidden_act must be one of {sorted(ACT2FN)}, got {self.hidden_act!r}")
        if self.position_embedding_type != "absolute":
            raise ValueError(f"BertConfig: position_embedding_type={self.position_embedding_type!r} is not "
                             f"supported; fnet's BERT implements 'absolute' position embeddings only")
        if self.is_decoder or self.add_cross_attention:
            raise ValueError("BertConfig: is_decoder / add_cross_attention (BERT as a decoder) are not "
                             "supported; fnet's BERT is an encoder")
        if self.problem_type is not None and self.problem_type not in _PROBLEM_TYPES:
            raise ValueError(f"BertConfig: problem_type must be None or one of {_PROBLEM_TYPES}, "
                             f"got {self.problem_type!r}")
        if self.num_labels < 1:
            raise ValueError(f"BertConfig: num_labels must be at least 1, got {self.num_labels}")

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"BertConfig is immutable (cannot set {name!r}); use "
                             f"config.replace({name}=...)")

    # -- dict / json ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` content (transformers reads it back)."""
        out: dict[str, Any] = {"model_type": "bert"}
        if self.architectures:
            out["architectures"] = list(self.architectures)
        for name in self._FIELDS:
            out[name] = getattr(self, name)
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        out["label2id"] = dict(self.label2id)
        out.update(self.extra)
        return out

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], **overrides: Any) -> "BertConfig":
        """From a ``config.json`` dict; ``overrides`` win (``num_labels=3``...).

        Raises:
            ValueError: ``model_type`` is not ``"bert"`` or a setting is unsupported.
        """
        if not isinstance(config, Mapping):
            raise TypeError(f"BertConfig.from_dict: expected a mapping, got {type(config).__name__}")
        values = dict(config)
        if "model_type" not in values and values.get("architectures"):
            arch = values["architectures"][0]
            if not str(arch).startswith("Bert"):
                raise ValueError(f"BertConfig: config.json describes architecture {arch!r} and has no "
                                 f"model_type; fnet.models.bert implements BERT only")
        if "num_labels" in overrides or "id2label" in overrides:
            values.pop("id2label", None)
            values.pop("label2id", None)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "BertConfig":
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise FileNotFoundError(f"BertConfig: no config file at {os.fspath(path)!r}") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"BertConfig: {os.fspath(path)!r} is not valid JSON ({err})") from None
        return cls.from_dict(data)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> "BertConfig":
        """Reads ``config.json`` from a directory, a file, or a Hub repo id (local cache first).

        Keyword arguments that are hub options (``revision``, ``cache_dir``,
        ``local_files_only``, ``token``) locate the files; the others override config values.
        """
        from .hub import HUB_OPTIONS, resolve_model_dir

        hub = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_OPTIONS}
        path = os.fspath(name_or_path)
        if os.path.isfile(path):
            config = cls.from_json_file(path)
        else:
            config = cls.from_json_file(os.path.join(resolve_model_dir(path, **hub), "config.json"))
        return config.replace(**kwargs) if kwargs else config

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Writes ``config.json`` into ``save_directory`` (atomically)."""
        with atomic_write(os.path.join(save_directory, "config.json"), "w") as handle:
            handle.write(self.to_json_string())

    def replace(self, **changes: Any) -> "BertConfig":
        """A copy with some values changed (``config.replace(num_labels=3)``)."""
        return BertConfig.from_dict(self.to_dict(), **changes)

    # -- identity ------------------------------------------------------------------------
    def _key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BertConfig) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"BertConfig {self.to_json_string()}"


# ---------------------------------------------------------------------------------------
# outputs


@register_output
class BaseModelOutputWithPooling(ModelOutput):
    """``last_hidden_state``, ``pooler_output``, optional ``hidden_states``, ``attentions``."""


@register_output
class SequenceClassifierOutput(ModelOutput):
    """``loss`` (with labels), ``logits``, optional ``hidden_states``, ``attentions``."""


@register_output
class TokenClassifierOutput(ModelOutput):
    """``loss`` (with labels), ``logits``, optional ``hidden_states``, ``attentions``."""


@register_output
class MaskedLMOutput(ModelOutput):
    """``loss`` (with labels), ``logits``, optional ``hidden_states``, ``attentions``."""


# ---------------------------------------------------------------------------------------
# layers


def _check_ids(where: str, name: str, ids: jax.Array, limit: int, what: str) -> None:
    _checks.check_integer(where, ids, name)
    _checks.check_index_range(ids, limit, lambda value, index: (
        f"{where}: {name} contains {value}, outside the {what} [0, {limit - 1}] (at index {index})"))


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size,
                                         padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                token_type_ids: jax.Array | None = None, position_ids: jax.Array | None = None,
                inputs_embeds: jax.Array | None = None) -> jax.Array:
        where = ctx.where(self)
        c = self.config
        if inputs_embeds is None:
            batch, seq_len = jnp.shape(input_ids)
            _check_ids(where, "input_ids", input_ids, c.vocab_size, "vocabulary (vocab_size)")
            inputs_embeds = self.word_embeddings(ctx, input_ids)
        else:
            batch, seq_len = jnp.shape(inputs_embeds)[:2]
        if seq_len > c.max_position_embeddings and position_ids is None:
            raise ValueError(f"{where}: the sequence has {seq_len} tokens, longer than "
                             f"max_position_embeddings={c.max_position_embeddings}; truncate it "
                             f"(tokenizer(..., truncation=True, max_length={c.max_position_embeddings}))")
        if position_ids is None:
            position_ids = jnp.arange(seq_len)[None, :]
        else:
            _check_ids(where, "position_ids", position_ids, c.max_position_embeddings,
                       "position range (max_position_embeddings)")
        if token_type_ids is None:
            token_type_ids = jnp.zeros((batch, seq_len), dtype=jnp.int32)
        else:
            if jnp.shape(token_type_ids) != (batch, seq_len):
                _checks.fail(where, f"token_type_ids of the input's shape ({batch}, {seq_len})", token_type_ids)
            _check_ids(where, "token_type_ids", token_type_ids, c.type_vocab_size,
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
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_bias: jax.Array | None,
                need_weights: bool = False) -> tuple[jax.Array, jax.Array | None]:
        batch, seq_len, _ = hidden_states.shape
        heads, size = self.num_attention_heads, self.attention_head_size

        def split(x):  # (B, L, H*d) -> (B, H, L, d)
            return x.reshape(batch, seq_len, heads, size).transpose(0, 2, 1, 3)

        q = split(self.query(ctx, hidden_states))
        k = split(self.key(ctx, hidden_states))
        v = split(self.value(ctx, hidden_states))
        p = self.attention_probs_dropout_prob if ctx.train else 0.0
        context, weights = _attend(q, k, v, bias=attention_bias, scale=size ** -0.5, dropout_p=p,
                                   dropout_key=ctx.next_key() if p > 0 else None, safe=False,
                                   need_weights=need_weights)
        return context.transpose(0, 2, 1, 3).reshape(batch, seq_len, heads * size), weights


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

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_bias: jax.Array | None,
                need_weights: bool = False) -> tuple[jax.Array, jax.Array | None]:
        context, weights = self.self(ctx, hidden_states, attention_bias, need_weights)
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

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_bias: jax.Array | None,
                need_weights: bool = False) -> tuple[jax.Array, jax.Array | None]:
        attention_output, weights = self.attention(ctx, hidden_states, attention_bias, need_weights)
        layer_output = self.output(ctx, self.intermediate(ctx, attention_output), attention_output)
        return layer_output, weights


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, ctx: nn.Context, hidden_states: jax.Array, attention_bias: jax.Array | None,
                output_attentions: bool = False, output_hidden_states: bool = False
                ) -> tuple[jax.Array, tuple | None, tuple | None]:
        all_hidden = (hidden_states,) if output_hidden_states else None
        all_attn = () if output_attentions else None
        for layer in self.layer:
            hidden_states, weights = layer(ctx, hidden_states, attention_bias, output_attentions)
            if output_hidden_states:
                all_hidden = all_hidden + (hidden_states,)
            if output_attentions:
                all_attn = all_attn + (weights,)
        return hidden_states, all_hidden, all_attn


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


class BertPreTrainedModel(nn.Module):
    """Shared by every BERT model: transformers' weight init, ``from_pretrained``, ``save_pretrained``.

    ``init(key)`` draws what transformers' ``_init_weights`` draws: every Linear and
    Embedding weight ``N(0, initializer_range^2)``, biases 0, the padding row of the
    word embeddings 0, LayerNorm weight 1 and bias 0, the MLM output bias 0.
    """

    base_model_prefix = "bert"
    # checkpoint keys that are never parameters here (old persistent buffers, tied copies)
    _keys_to_ignore_on_load: tuple[str, ...] = ("embeddings.position_ids", "embeddings.token_type_ids")
    _tied_keys: tuple[str, ...] = ()

    def init(self, key: jax.Array) -> tuple[dict, dict]:
        """Fresh parameters with transformers' initialisation (``state`` is ``{}``).

        Compiled as one program: BERT has hundreds of small initialisers, which are
        much slower to dispatch one by one.
        """
        return _jit_init(self, key)

    def _init_tree(self, key: jax.Array, seen: set[int]) -> tuple[dict, dict]:
        params, state = super()._init_tree(key, seen)
        std = self.config.initializer_range
        counter = [0]

        def draw(shape, dtype):
            counter[0] += 1
            return init_.normal_(jax.random.fold_in(key, 104729 + counter[0]), shape, 0.0, std, dtype)

        def walk(module: nn.Module, tree: dict) -> dict:
            tree = dict(tree)
            if isinstance(module, nn.Linear):
                tree["weight"] = draw(tree["weight"].shape, tree["weight"].dtype)
                if "bias" in tree:
                    tree["bias"] = jnp.zeros_like(tree["bias"])
            elif isinstance(module, Embedding):
                weight = draw(tree["weight"].shape, tree["weight"].dtype)
                if module.padding_idx is not None:
                    weight = weight.at[module.padding_idx].set(0)
                tree["weight"] = weight
            elif isinstance(module, LayerNorm):
                tree = {k: (jnp.ones_like(v) if k == "weight" else jnp.zeros_like(v)) for k, v in tree.items()}
            for name, child in module.named_children():
                if name in tree:
                    tree[name] = walk(child, tree[name])
            return tree

        return walk(self, params), state

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        """Loads a Hugging Face checkpoint: see :func:`fnet.models.hub.from_pretrained`.

        Returns ``(model, params)`` (with ``.loading_info``), or
        ``(model, params, loading_info)`` with ``output_loading_info=True``.
        """
        from .hub import from_pretrained

        return from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike, params: Mapping) -> None:
        """Writes ``config.json`` + ``model.safetensors`` that transformers loads.

        ``transformers.AutoModel.from_pretrained(save_directory)`` (or the matching
        ``AutoModelFor...`` class) reads the result.
        """
        from .hub import save_pretrained

        save_pretrained(self, params, save_directory)

    def _bert_output(self, ctx: nn.Context, input_ids, attention_mask, token_type_ids, position_ids,
                     inputs_embeds, output_attentions, output_hidden_states) -> ModelOutput:
        return self.bert(ctx, input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         position_ids=position_ids, inputs_embeds=inputs_embeds,
                         output_attentions=output_attentions, output_hidden_states=output_hidden_states)


@functools.partial(jax.jit, static_argnums=0)
def _jit_init(model: BertPreTrainedModel, key: jax.Array) -> tuple[dict, dict]:
    return nn.Module.init(model, key)


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

    base_model_prefix = "bert"

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"{type(self).__name__}: expected a fnet.models.BertConfig, got "
                            f"{type(config).__name__} (use BertConfig.from_dict(hf_config.to_dict()))")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                output_attentions: bool = False, output_hidden_states: bool = False) -> ModelOutput:
        where = ctx.where(self)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(f"{where}: give exactly one of input_ids or inputs_embeds")
        if input_ids is not None and jnp.ndim(input_ids) != 2:
            _checks.fail(where, "input_ids (batch_size, sequence_length)", input_ids)
        if inputs_embeds is not None and (jnp.ndim(inputs_embeds) != 3
                                          or jnp.shape(inputs_embeds)[-1] != self.config.hidden_size):
            _checks.fail(where, f"inputs_embeds (batch_size, sequence_length, {self.config.hidden_size})",
                         inputs_embeds)
        shape = tuple(jnp.shape(input_ids if input_ids is not None else inputs_embeds)[:2])
        embedding_output = self.embeddings(ctx, input_ids=input_ids, token_type_ids=token_type_ids,
                                           position_ids=position_ids, inputs_embeds=inputs_embeds)
        bias = None
        if attention_mask is not None:
            if tuple(jnp.shape(attention_mask)) != shape:
                _checks.fail(where, f"attention_mask of the input's shape {_checks.fmt_shape(shape)} "
                                    f"(batch_size, sequence_length), 1 = token, 0 = padding", attention_mask)
            dtype = embedding_output.dtype
            # (B, L) -> additive (B, 1, 1, L): 0 for tokens, the dtype's minimum for padding
            keep = jnp.asarray(attention_mask) != 0
            bias = jnp.where(keep, jnp.asarray(0, dtype), jnp.asarray(jnp.finfo(dtype).min, dtype))[:, None, None, :]
        sequence_output, hidden_states, attentions = self.encoder(
            ctx, embedding_output, bias, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states)
        pooled = self.pooler(ctx, sequence_output) if self.pooler is not None else None
        return BaseModelOutputWithPooling(last_hidden_state=sequence_output, pooler_output=pooled,
                                          hidden_states=hidden_states, attentions=attentions)


def _classifier_dropout(config: BertConfig) -> float:
    return config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob


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
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        self.dropout = Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def problem_type(self, labels: jax.Array) -> str:
        """The loss transformers would pick for these labels."""
        if self.config.problem_type is not None:
            return self.config.problem_type
        if self.num_labels == 1:
            return "regression"
        if jnp.issubdtype(_checks.dtype_of(labels), jnp.integer):
            return "single_label_classification"
        return "multi_label_classification"

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._bert_output(ctx, input_ids, attention_mask, token_type_ids, position_ids,
                                    inputs_embeds, output_attentions, output_hidden_states)
        logits = self.classifier(ctx, self.dropout(ctx, outputs.pooler_output))
        loss = None
        if labels is not None:
            loss = self._loss(ctx.where(self), logits, jnp.asarray(labels))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.get("hidden_states"),
                                        attentions=outputs.get("attentions"))

    def _loss(self, where: str, logits: jax.Array, labels: jax.Array) -> jax.Array:
        kind = self.problem_type(labels)
        batch = logits.shape[0]
        if kind == "regression":
            if self.num_labels == 1:
                if labels.size != batch:
                    _checks.fail(where, f"regression labels ({batch},)", labels)
                return F.mse_loss(jnp.squeeze(logits), jnp.squeeze(labels).astype(logits.dtype))
            _checks.check_same_shape(where, logits, labels, ("logits", "labels"))
            return F.mse_loss(logits, labels.astype(logits.dtype))
        if kind == "single_label_classification":
            _checks.check_integer(where, labels, "labels (class indices)")
            if labels.size != batch:
                _checks.fail(where, f"one class index per example, labels ({batch},)", labels)
            _check_ids(where, "labels", labels, self.num_labels, "classes (num_labels)")
            return F.cross_entropy(logits.reshape(-1, self.num_labels), labels.reshape(-1))
        _checks.check_same_shape(where, logits, labels, ("logits", "labels (multi-label targets)"))
        return F.binary_cross_entropy_with_logits(logits, labels.astype(logits.dtype))


class BertForTokenClassification(BertPreTrainedModel):
    """BERT with a linear head on every token (NER, tagging).

    Forward: as :class:`BertModel` plus ``labels (B, L)`` (class indices, -100 ignored);
    returns ``logits (B, L, num_labels)`` and, with labels, the cross-entropy ``loss``.

    PyTorch equivalent: ``transformers.BertForTokenClassification``.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._bert_output(ctx, input_ids, attention_mask, token_type_ids, position_ids,
                                    inputs_embeds, output_attentions, output_hidden_states)
        logits = self.classifier(ctx, self.dropout(ctx, outputs.last_hidden_state))
        loss = None
        if labels is not None:
            where = ctx.where(self)
            labels = jnp.asarray(labels)
            _checks.check_integer(where, labels, "labels (class indices)")
            if labels.shape != logits.shape[:2]:
                _checks.fail(where, f"labels {_checks.fmt_shape(logits.shape[:2])} (batch_size, "
                                    f"sequence_length)", labels)
            loss = F.cross_entropy(logits.reshape(-1, self.num_labels), labels.reshape(-1))
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

    def __init__(self, config: BertConfig):
        super().__init__()
        if not config.tie_word_embeddings:
            raise ValueError("BertForMaskedLM: tie_word_embeddings=False (a separate decoder matrix) is not "
                             "supported; fnet ties the decoder to the word embeddings as BERT does")
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)

    def forward(self, ctx: nn.Context, input_ids: jax.Array | None = None,
                attention_mask: jax.Array | None = None, token_type_ids: jax.Array | None = None,
                position_ids: jax.Array | None = None, inputs_embeds: jax.Array | None = None,
                labels: jax.Array | None = None, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ModelOutput:
        outputs = self._bert_output(ctx, input_ids, attention_mask, token_type_ids, position_ids,
                                    inputs_embeds, output_attentions, output_hidden_states)
        word_embeddings = ctx.params["bert"]["embeddings"]["word_embeddings"]["weight"]
        logits = self.cls(ctx, outputs.last_hidden_state, word_embeddings)
        loss = None
        if labels is not None:
            where = ctx.where(self)
            labels = jnp.asarray(labels)
            _checks.check_integer(where, labels, "labels (token ids)")
            if labels.shape != logits.shape[:2]:
                _checks.fail(where, f"labels {_checks.fmt_shape(logits.shape[:2])} (batch_size, "
                                    f"sequence_length)", labels)
            loss = F.cross_entropy(logits.reshape(-1, self.config.vocab_size), labels.reshape(-1))
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.get("hidden_states"),
                              attentions=outputs.get("attentions"))


# architectures name -> class, for save_pretrained / loading by architecture
MODEL_CLASSES = {cls.__name__: cls for cls in (BertModel, BertForSequenceClassification,
                                               BertForTokenClassification, BertForMaskedLM)}
