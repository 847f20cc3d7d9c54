"""What every Hugging Face family shares: ``PreTrainedModel``, the bound ``Pretrained``
model that ``from_pretrained`` returns, transformers' initialisation, the task losses
and input checks.

A family file (``bert.py``, ``llama.py``...) holds its modules and model classes; each
model class names its ``config_class`` and ``base_model_prefix``, so the loader in
``hub.py`` knows no family (transformers' design).
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable, ClassVar, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks
from .. import functional as F
from .. import init as init_
from .. import nn
from ..functional._attention import model_attention
from ..nn import Embedding, LayerNorm, RMSNorm
from .configuration import PretrainedConfig

__all__ = ["PreTrainedModel", "Pretrained", "ACT2FN"]

logger = logging.getLogger("fnet.models")


def _gelu_tanh(x: jax.Array) -> jax.Array:
    return F.gelu(x, approximate="tanh")


# transformers' ACT2FN names -> fnet functions (the ones these families' checkpoints use)
ACT2FN: dict[str, Callable] = {
    "gelu": F.gelu,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": F.tanh,
}


def check_activation(config: PretrainedConfig, field: str) -> None:
    value = getattr(config, field)
    if value not in ACT2FN:
        raise ValueError(f"{type(config).__name__}: {field} must be one of {sorted(ACT2FN)}, got {value!r}")


# ---------------------------------------------------------------------------------------
# input checks (at trace time, or on concrete values when they are known)


def check_ids(name: str, ids: Any, limit: int, what: str) -> None:
    """Integer ids in ``[0, limit)``: checked at once on concrete values, under jit through
    ``fnet.debug.checked`` (and ``fit``)."""
    _checks.check_integer(None, ids, name)
    _checks.check_index_range(ids, limit, lambda value, index: (
        f"{name} contains {value}, outside the {what} [0, {limit - 1}] (at index {index})"))


def check_inputs(input_ids: Any, inputs_embeds: Any, hidden_size: int) -> tuple[int, int]:
    """Exactly one of ``input_ids (B, L)`` / ``inputs_embeds (B, L, hidden)``; returns ``(B, L)``."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("give exactly one of input_ids or inputs_embeds")
    if input_ids is not None and jnp.ndim(input_ids) != 2:
        _checks.fail(None, "input_ids (batch_size, sequence_length)", input_ids)
    if inputs_embeds is not None and (jnp.ndim(inputs_embeds) != 3 or jnp.shape(inputs_embeds)[-1] != hidden_size):
        _checks.fail(None, f"inputs_embeds (batch_size, sequence_length, {hidden_size})", inputs_embeds)
    shape = jnp.shape(input_ids if input_ids is not None else inputs_embeds)
    return int(shape[0]), int(shape[1])


def check_mask(attention_mask: Any, shape: tuple[int, ...], what: str = "the input's shape") -> None:
    if attention_mask is not None and tuple(jnp.shape(attention_mask)) != tuple(shape):
        _checks.fail(None, f"attention_mask of {what} {_checks.fmt_shape(shape)} (batch_size, "
                            f"sequence_length), 1 = token, 0 = padding", attention_mask)


# ---------------------------------------------------------------------------------------
# shared layer plumbing


def encoder_self_attention(ctx: nn.Context, hidden_states: jax.Array, projections: tuple, num_heads: int,
                           attention_mask: Any, dropout_p: float, need_weights: bool,
                           implementation: str | None) -> tuple[jax.Array, jax.Array | None]:
    """Bidirectional multi-head self-attention of the encoders (BERT, RoBERTa, DistilBERT).

    Args:
        ctx: the attention module's context (its query/key/value children are called through it).
        hidden_states: ``(B, L, E)``.
        projections: the query, key and value ``nn.Linear`` children, in that order.
        num_heads: ``H``; ``E / H`` is the head width.
        attention_mask: ``(B, L)``, 1 = token, 0 = padding, or None.
        dropout_p: dropout on the attention weights, applied in training.

    Returns:
        ``(context (B, L, E), weights (B, H, L, L) or None)``.
    """
    batch, seq_len, _ = hidden_states.shape

    def split(x):  # (B, L, H*d) -> (B, H, L, d)
        return x.reshape(batch, seq_len, num_heads, x.shape[-1] // num_heads).transpose(0, 2, 1, 3)

    q, k, v = (split(projection(ctx, hidden_states)) for projection in projections)
    p = dropout_p if ctx.train else 0.0
    context, weights = model_attention(q, k, v, attention_mask=attention_mask, dropout_p=p,
                                       dropout_key=ctx.dropout_key(p), need_weights=need_weights,
                                       implementation=implementation)
    return context.transpose(0, 2, 1, 3).reshape(batch, seq_len, -1), weights


def run_layers(layers: Any, hidden: jax.Array, step: Callable, *, output_attentions: bool,
               output_hidden_states: bool, final: Callable | None = None) -> tuple:
    """Runs ``step(index, layer, hidden) -> (hidden, weights, extra)`` over ``layers``.

    Returns ``(hidden, hidden_states, attentions, extras)``: ``hidden_states`` as
    transformers records them (the input of the first layer, then every layer's output,
    the last one after ``final`` when a final norm is given) or None, ``attentions`` every
    layer's weights or None, ``extras`` every layer's third result (a decoder's cache).
    """
    all_hidden = [hidden] if output_hidden_states else None
    all_attn = [] if output_attentions else None
    extras = []
    for i, layer in enumerate(layers):
        hidden, weights, extra = step(i, layer, hidden)
        extras.append(extra)
        if output_attentions:
            all_attn.append(weights)
        if output_hidden_states and (final is None or i < len(layers) - 1):
            all_hidden.append(hidden)
    if final is not None:
        hidden = final(hidden)
        if output_hidden_states:
            all_hidden.append(hidden)
    return (hidden, None if all_hidden is None else tuple(all_hidden),
            None if all_attn is None else tuple(all_attn), extras)


# ---------------------------------------------------------------------------------------
# task losses (transformers' loss_utils)


def problem_type(config: PretrainedConfig, labels: Any) -> str:
    """The loss transformers picks for sequence-classification ``labels``."""
    if config.problem_type is not None:
        return config.problem_type
    if config.num_labels == 1:
        return "regression"
    if jnp.issubdtype(_checks.dtype_of(labels), jnp.integer):
        return "single_label_classification"
    return "multi_label_classification"


def sequence_classification_loss(config: PretrainedConfig, logits: jax.Array,
                                 labels: Any) -> jax.Array:
    """MSE, cross-entropy or BCE-with-logits on ``logits (B, num_labels)``, chosen as transformers does."""
    labels = jnp.asarray(labels)
    kind = problem_type(config, labels)
    batch, num_labels = logits.shape[0], config.num_labels
    if kind == "regression":
        if num_labels == 1:
            if labels.size != batch:
                _checks.fail(None, f"regression labels ({batch},)", labels)
            return F.mse_loss(jnp.squeeze(logits), jnp.squeeze(labels).astype(logits.dtype))
        _checks.check_same_shape(None, logits, labels, ("logits", "labels"))
        return F.mse_loss(logits, labels.astype(logits.dtype))
    if kind == "single_label_classification":
        _checks.check_integer(None, labels, "labels (class indices)")
        if labels.size != batch:
            _checks.fail(None, f"one class index per example, labels ({batch},)", labels)
        check_ids("labels", labels, num_labels, "classes (num_labels)")
        return F.cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1))
    _checks.check_same_shape(None, logits, labels, ("logits", "labels (multi-label targets)"))
    return F.binary_cross_entropy_with_logits(logits, labels.astype(logits.dtype))


def token_loss(logits: jax.Array, labels: Any, what: str = "class indices") -> jax.Array:
    """Cross-entropy over every position of ``logits (B, L, C)``; label -100 is ignored."""
    labels = jnp.asarray(labels)
    _checks.check_integer(None, labels, f"labels ({what})")
    if labels.shape != logits.shape[:2]:
        _checks.fail(None, f"labels {_checks.fmt_shape(logits.shape[:2])} (batch_size, sequence_length)", labels)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def causal_lm_loss(logits: jax.Array, labels: Any) -> jax.Array:
    """Next-token cross-entropy: position ``t`` predicts ``labels[:, t + 1]`` (-100 ignored), in float32
    at least, as transformers' ``ForCausalLMLoss`` (labels are shifted inside, pass ``labels=input_ids``)."""
    labels = jnp.asarray(labels)
    _checks.check_integer(None, labels, "labels (token ids)")
    if labels.shape != logits.shape[:2]:
        _checks.fail(None, f"labels {_checks.fmt_shape(logits.shape[:2])} (batch_size, sequence_length)", labels)
    shifted = jnp.concatenate([labels[:, 1:], jnp.full((labels.shape[0], 1), -100, labels.dtype)], axis=1)
    logits = logits.astype(jnp.promote_types(logits.dtype, jnp.float32))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), shifted.reshape(-1))


def last_token_logits(config: PretrainedConfig, logits: jax.Array, input_ids: Any) -> jax.Array:
    """``logits (B, L, C)`` at each row's last non-padding token (transformers' decoder
    sequence classification: the rightmost token that is not ``pad_token_id``)."""
    batch = logits.shape[0]
    if config.pad_token_id is None and batch != 1:
        raise ValueError("cannot handle batch sizes > 1 without a padding token: set pad_token_id "
                         "in the config (transformers raises the same)")
    if config.pad_token_id is None or input_ids is None:
        return logits[:, -1]
    not_pad = (jnp.asarray(input_ids) != config.pad_token_id).astype(jnp.int32)
    last = jnp.argmax(jnp.arange(logits.shape[1], dtype=jnp.int32) * not_pad, axis=-1)
    return logits[jnp.arange(batch), last]


def classifier_dropout(config: PretrainedConfig, *fallbacks: float | None) -> float:
    """A head's dropout rate, by transformers' rule: ``config.classifier_dropout``, else the
    first of ``fallbacks`` that is not None (the last one is a number)."""
    for value in (config.get("classifier_dropout"), *fallbacks):
        if value is not None:
            return float(value)
    raise ValueError(f"{type(config).__name__}: no classifier dropout rate and no fallback")


# ---------------------------------------------------------------------------------------
# the model base class


class PreTrainedModel(nn.Module):
    """Shared by every Hugging Face model class: transformers' weight init, loading and saving.

    Subclasses set:
        config_class: the family's :class:`PretrainedConfig` subclass (the hub reads
            ``config.json`` with it).
        base_model_prefix: the attribute name of the base model inside task models
            (``"bert"``, ``"model"``, ``"transformer"``); checkpoint keys gain or lose
            it so base and task checkpoints load into each other.
        _keys_to_ignore_on_load: checkpoint key suffixes that are never parameters
            (old persistent buffers such as ``embeddings.position_ids``).
        _tied_keys: checkpoint keys that are copies of tied weights (an LM head that
            reuses the word embeddings has no parameter of its own).
        _optional_keys: key prefixes inside the base model that a checkpoint may lack
            (a pooler); every other base-model key is required with ``strict=True``.
            Task heads outside the base model may always be newly initialised.

    ``init(key)`` draws what transformers' ``_init_weights`` draws: Linear (and GPT-2's
    Conv1D) weights and Embedding rows ``N(0, initializer_range^2)``, biases 0, padding
    rows 0, LayerNorm weight 1 and bias 0, RMSNorm weight 1; a family adds its own rules
    in its ``_init_family``.

    PyTorch equivalent: ``transformers.PreTrainedModel``.
    """

    config_class: ClassVar[type] = PretrainedConfig
    base_model_prefix: ClassVar[str] = ""
    _keys_to_ignore_on_load: ClassVar[tuple[str, ...]] = ()
    _tied_keys: ClassVar[tuple[str, ...]] = ()
    _optional_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        want = self.config_class
        if not isinstance(config, want) or config.model_type != want.model_type:
            raise TypeError(f"{type(self).__name__}: expected a fnet.models.{want.__name__}, got "
                            f"{type(config).__module__}.{type(config).__name__} (use "
                            f"{want.__name__}.from_dict(hf_config.to_dict()) or fnet.models.AutoConfig)")
        self.config = config

    # -- initialisation ---------------------------------------------------------------------
    def init(self, key: jax.Array) -> tuple[dict, dict]:
        """Fresh parameters with transformers' initialisation (``state`` is ``{}``).

        Compiled as one program: these models have hundreds of small initialisers,
        which are much slower to dispatch one by one.
        """
        return _jit_init(self, key)

    def _init_tree(self, key: jax.Array, seen: set[int]) -> tuple[dict, dict]:
        params, state = super()._init_tree(key, seen)
        std = self.config.initializer_range
        counter = [0]

        def draw(shape, dtype, scale=1.0):
            counter[0] += 1
            return init_.normal_(jax.random.fold_in(key, 104729 + counter[0]), shape, 0.0, std * scale, dtype)

        def walk(module: nn.Module, tree: dict) -> dict:
            tree = dict(tree)
            if isinstance(module, (nn.Linear, Conv1D)):
                tree["weight"] = draw(tree["weight"].shape, tree["weight"].dtype)
                if "bias" in tree:
                    tree["bias"] = jnp.zeros_like(tree["bias"])
            elif isinstance(module, Embedding):
                weight = draw(tree["weight"].shape, tree["weight"].dtype)
                if module.padding_idx is not None:
                    weight = weight.at[module.padding_idx].set(0)
                tree["weight"] = weight
            elif isinstance(module, (LayerNorm, RMSNorm)):
                tree = {k: (jnp.ones_like(v) if k == "weight" else jnp.zeros_like(v)) for k, v in tree.items()}
            for name, child in module.named_children():
                if name in tree:
                    tree[name] = walk(child, tree[name])
            return tree

        return self._init_family(walk(self, params), draw), state

    def _init_family(self, params: dict, draw: Callable) -> dict:
        """A family's extra init rules (GPT-2's scaled residual projections); ``draw(shape,
        dtype, scale)`` samples ``N(0, (scale * initializer_range)^2)``."""
        return params

    # -- loading rules ----------------------------------------------------------------------
    def _is_task_model(self) -> bool:
        return isinstance(getattr(self, self.base_model_prefix, None), nn.Module)

    def is_required_key(self, key: str) -> bool:
        """Whether a pretrained checkpoint must provide ``key`` (``strict=True`` loading).

        The base model's parameters are required, except its ``_optional_keys``; task
        heads outside the base model may be newly initialised, as in transformers.
        """
        if self._is_task_model():
            dotted = self.base_model_prefix + "."
            if not key.startswith(dotted):
                return False
            base = getattr(self, self.base_model_prefix)
            return not key[len(dotted):].startswith(type(base)._optional_keys)
        return not key.startswith(self._optional_keys)

    # -- Hugging Face directories ---------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        """Loads a Hugging Face checkpoint: see :func:`fnet.models.hub.from_pretrained`.

        Returns a :class:`Pretrained` model (callable like transformers' model, and
        unpacking as ``model, params``), or ``(model, params, loading_info)`` with
        ``output_loading_info=True``.
        """
        from .hub import from_pretrained

        return from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike, params: Mapping, **kwargs: Any) -> None:
        """Writes ``config.json`` + safetensors weights that transformers loads; see
        :func:`fnet.models.hub.save_pretrained` (``max_shard_size``, ``dtype``)."""
        from .hub import save_pretrained

        save_pretrained(self, params, save_directory, **kwargs)

    def bind(self, params: Mapping, loading_info: dict | None = None, result: Any = None) -> "Pretrained":
        """This model and ``params`` as one callable object (what ``from_pretrained`` returns)."""
        return Pretrained(self, params, loading_info or {}, result)


@functools.partial(jax.jit, static_argnums=0)
def _jit_init(model: PreTrainedModel, key: jax.Array) -> tuple[dict, dict]:
    return nn.Module.init(model, key)


class Conv1D(nn.Module):
    """GPT-2's projection: ``y = x @ weight + bias`` with ``weight (in_features, out_features)``,
    the transpose of ``nn.Linear``'s layout (the checkpoint layout of GPT-2).

    Args:
        nf: output features; nx: input features (transformers' order).

    PyTorch equivalent: ``transformers.pytorch_utils.Conv1D``.
    """

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf, self.nx = int(nf), int(nx)

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        return {"weight": init_.normal_(key, (self.nx, self.nf), 0.0, 0.02),
                "bias": jnp.zeros((self.nf,), jnp.float32)}, {}

    def forward(self, ctx: nn.Context, x: jax.Array) -> jax.Array:
        if jnp.shape(x)[-1] != self.nx:
            _checks.fail(None, f"input (*, {self.nx})", x)
        return jnp.matmul(x, ctx.params["weight"]) + ctx.params["bias"]

    def extra_repr(self) -> str:
        return f"nf={self.nf}, nx={self.nx}"


# ---------------------------------------------------------------------------------------
# the bound model


class Pretrained(tuple):
    """A model and its parameters, bound: what ``from_pretrained`` returns.

    Called like a transformers model, ``outputs = model(**tokenizer(text, return_tensors="np"))``
    (inference mode; ``train=True, key=...`` for dropout); ``model.generate(...)`` for
    causal LMs; ``model.save_pretrained(dir)``. Underneath it stays pure: it unpacks as
    ``module, params = model`` (``.module`` / ``.params``) for ``jax.jit``, ``jax.grad``
    and ``fnet.train.fit``; other attributes (``config``, ``apply``, ``init``) are the
    module's.

    Attributes:
        loading_info: ``{"missing_keys", "unexpected_keys", "mismatched_keys",
            "newly_initialized_keys"}``, as transformers' ``output_loading_info``.
        result: the :class:`fnet.io.LoadResult` of the load (None for a model bound by hand).
    """

    loading_info: dict[str, list]
    result: Any

    def __new__(cls, model: Any, params: Mapping, loading_info: dict | None = None, result: Any = None):
        self = super().__new__(cls, (model, params))
        self.loading_info = loading_info or {}
        self.result = result
        return self

    @property
    def module(self) -> Any:
        return self[0]

    @property
    def model(self) -> Any:
        return self[0]

    @property
    def params(self) -> dict:
        return self[1]

    def __call__(self, *args: Any, train: bool = False, key: jax.Array | None = None, **kwargs: Any) -> Any:
        args = tuple(_to_array(a) for a in args)
        kwargs = {k: _to_array(v) for k, v in kwargs.items()}
        return self[0].apply(self[1], {}, *args, train=train, key=key, **kwargs)[0]

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        """``module.generate(params, ...)``: see :func:`fnet.models.generation.generate`."""
        if not hasattr(self[0], "generate"):
            raise TypeError(f"{type(self[0]).__name__} does not generate text; load a causal LM "
                            f"(AutoModelForCausalLM)")
        return self[0].generate(self[1], *(_to_array(a) for a in args),
                                **{k: _to_array(v) for k, v in kwargs.items()})

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        self[0].save_pretrained(save_directory, self[1], **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self[0], name)

    def __repr__(self) -> str:
        return f"Pretrained({type(self[0]).__name__}, {len(jax.tree.leaves(self[1]))} parameter arrays)"


def _to_array(value: Any) -> Any:
    """Tokenizer outputs (numpy, lists, torch tensors) as arrays; other values unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        from ..io import to_numpy

        return to_numpy(value)
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (int, list)):
        return np.asarray(value)
    return value
