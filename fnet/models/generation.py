"""Text generation for the decoder families: a static KV cache, a jitted prefill and a
jitted decode loop.

Greedy or sampled, from left-padded prompts::

    model = AutoModelForCausalLM.from_pretrained(path)
    enc = tokenizer(prompts, padding=True, padding_side="left", return_tensors="np")
    ids = model.generate(**enc, max_new_tokens=32)                       # greedy
    ids = model.generate(**enc, max_new_tokens=32, do_sample=True, top_p=0.9, key=jax.random.key(0))

Argument names and defaults are transformers' ``generate`` (``max_new_tokens``,
``max_length=20`` when neither is given, ``do_sample``, ``temperature``, ``top_k=50``,
``top_p``, ``eos_token_id``, ``pad_token_id``, ``attention_mask``, ``output_logits``,
``output_scores``, ``return_dict_in_generate``); the token ids default to the model
config's, as transformers' ``GenerationConfig`` does.

How it runs: the KV cache is allocated once at its final size
``(batch, kv_heads, prompt + max_new_tokens, head_dim)`` per layer
(:class:`StaticCache`), so every step has the same shapes. The prompt goes through
the model in one jitted *prefill* call that fills the cache; a second jitted function
runs the whole decode loop as a ``lax.while_loop`` (one token per iteration, stopping
when every row has produced an EOS or the budget is spent). Both are compiled once per
(model, batch size, prompt length, settings) and reused across calls. Prompts are
left-padded (``attention_mask`` 0 on the left); positions count real tokens only, as
transformers computes them from the mask.

Greedy decoding picks ``argmax`` of the float32 logits, transformers' rule (it casts
the step's logits to float32 too), so on the same weights the tokens are transformers'
tokens wherever the top-2 logit margin exceeds the rounding difference of the two
implementations (the generation parity tests measure it). Sampling draws from
``jax.random.categorical`` with the given ``key``: reproducible from the key, not the
same random numbers as torch.

PyTorch equivalent: ``transformers.GenerationMixin.generate`` with
``cache_implementation="static"``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks
from ..functional._attention import model_attention
from ._output import ModelOutput, register_output

__all__ = ["StaticCache", "GenerationMixin", "generate", "GenerateOutput", "attend_with_cache"]


class StaticCache(NamedTuple):
    """The keys and values of every layer at their final size, and how many positions are filled.

    Attributes:
        key, value: one array per layer, ``(batch, num_kv_heads, max_length, head_dim)``.
        length: int32 scalar, positions already written (the next write index).

    A pytree (a NamedTuple), so it passes through ``jax.jit`` and ``lax.while_loop``.

    PyTorch equivalent: ``transformers.StaticCache``.
    """

    key: tuple[jax.Array, ...]
    value: tuple[jax.Array, ...]
    length: jax.Array

    @classmethod
    def create(cls, num_layers: int, batch: int, num_kv_heads: int, max_length: int, head_dim: int,
               dtype: Any = jnp.float32) -> "StaticCache":
        shape = (batch, num_kv_heads, max_length, head_dim)
        zeros = tuple(jnp.zeros(shape, dtype) for _ in range(num_layers))
        return cls(zeros, tuple(jnp.zeros(shape, dtype) for _ in range(num_layers)), jnp.zeros((), jnp.int32))

    @property
    def max_length(self) -> int:
        return int(self.key[0].shape[2])


def attend_with_cache(query: jax.Array, key: jax.Array, value: jax.Array,
                      layer_cache: tuple[jax.Array, jax.Array] | None, length: Any, *,
                      attention_mask: jax.Array | None, sliding_window: int | None = None,
                      scale: float | None = None, dropout_p: float = 0.0, dropout_key: jax.Array | None = None,
                      need_weights: bool = False, implementation: str | None = None
                      ) -> tuple[jax.Array, jax.Array | None, tuple[jax.Array, jax.Array] | None]:
    """Causal self-attention of a decoder layer, writing this step's keys/values into the cache.

    Args:
        query: ``(B, Hq, L, D)``; key, value: ``(B, Hkv, L, D)`` of the ``L`` new positions.
        layer_cache: ``(cache_key, cache_value)`` each ``(B, Hkv, S_max, D)``, or None
            (no cache: attention over the ``L`` positions alone).
        length: positions already in the cache (where the new ones are written).
        attention_mask: ``(B, S_max)`` with a cache, ``(B, L)`` without (1 = token).
        sliding_window, scale, dropout_p, dropout_key, need_weights, implementation:
            see ``fnet.functional._attention.model_attention``.

    Returns:
        ``(output (B, Hq, L, D), weights or None, new layer cache or None)``.
    """
    kw = dict(attention_mask=attention_mask, causal=True, sliding_window=sliding_window, scale=scale,
              dropout_p=dropout_p, dropout_key=dropout_key, need_weights=need_weights,
              implementation=implementation)
    if layer_cache is None:
        out, weights = model_attention(query, key, value, **kw)
        return out, weights, None
    cache_key, cache_value = layer_cache
    length = jnp.asarray(length, jnp.int32)
    zero = jnp.zeros((), jnp.int32)
    start = (zero, zero, length, zero)
    cache_key = jax.lax.dynamic_update_slice(cache_key, key.astype(cache_key.dtype), start)
    cache_value = jax.lax.dynamic_update_slice(cache_value, value.astype(cache_value.dtype), start)
    out, weights = model_attention(query, cache_key.astype(query.dtype), cache_value.astype(query.dtype),
                                   query_offset=length, **kw)
    return out, weights, (cache_key, cache_value)


def decoder_positions(batch: int, length: int, cache: StaticCache | None,
                      position_ids: Any, attention_mask: Any) -> tuple[jax.Array, Any]:
    """Default position ids (``arange(L)`` after the cached positions) and the checked mask.

    With a cache the mask covers the whole cache, ``(B, max_length)``; without one the
    input, ``(B, L)``.
    """
    past = 0 if cache is None else cache.length
    if attention_mask is not None:
        keys = length if cache is None else cache.max_length
        what = "(batch_size, sequence_length)" if cache is None else "(batch_size, max_length), the whole cache"
        if tuple(jnp.shape(attention_mask)) != (batch, keys):
            _checks.fail(None, f"attention_mask {_checks.fmt_shape((batch, keys))} {what}, 1 = token, 0 = padding",
                         attention_mask)
    if cache is not None:
        if cache.key[0].shape[0] != batch:
            raise ValueError(f"the cache holds {cache.key[0].shape[0]} sequences, the input {batch}")
        if not _checks.is_traced(past) and int(past) + length > cache.max_length:
            raise ValueError(f"{length} new positions after {int(past)} cached ones exceed the cache's "
                             f"max_length={cache.max_length}")
    if position_ids is None:
        position_ids = (jnp.arange(length) + past)[None, :]
    return jnp.asarray(position_ids), attention_mask


@register_output
class GenerateOutput(ModelOutput):
    """``sequences (B, prompt + generated)`` and, when asked, per-step ``scores`` (after
    temperature/top-k/top-p) and ``logits`` (raw), tuples of ``(B, vocab)`` float32 arrays."""


# ---------------------------------------------------------------------------------------
# logits processing (transformers' warpers, in transformers' order)


def process_logits(logits: jax.Array, *, do_sample: bool, temperature: float, top_k: int | None,
                   top_p: float | None) -> jax.Array:
    """Temperature, then top-k, then top-p, as transformers applies them when sampling."""
    if not do_sample:
        return logits
    scores = logits
    if temperature is not None and temperature != 1.0:
        scores = scores / temperature
    if top_k is not None and top_k != 0:
        k = min(int(top_k), scores.shape[-1])
        kth = jax.lax.top_k(scores, k)[0][..., -1:]
        scores = jnp.where(scores < kth, -jnp.inf, scores)
    if top_p is not None and top_p < 1.0:
        order = jnp.argsort(scores, axis=-1)  # ascending, as transformers sorts
        sorted_scores = jnp.take_along_axis(scores, order, axis=-1)
        cumulative = jnp.cumsum(jax.nn.softmax(sorted_scores, axis=-1), axis=-1)
        remove_sorted = cumulative <= (1 - top_p)
        remove_sorted = remove_sorted.at[..., -1:].set(False)  # keep at least one token
        remove = jnp.zeros_like(remove_sorted).at[
            jnp.arange(scores.shape[0])[:, None], order].set(remove_sorted)
        scores = jnp.where(remove, -jnp.inf, scores)
    return scores


# ---------------------------------------------------------------------------------------
# the compiled pieces


@functools.partial(jax.jit, static_argnames=("model",))
def _prefill(model: Any, params: Any, input_ids: jax.Array, attention_mask: jax.Array,
             position_ids: jax.Array, cache: StaticCache) -> tuple[jax.Array, StaticCache]:
    """The prompt through the model, filling the cache; float32 logits of its last position."""
    out, _ = model.apply(params, {}, input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         cache=cache, logits_to_keep=1)
    return out.logits[:, -1].astype(jnp.float32), out.cache


@functools.partial(jax.jit, static_argnames=("model", "max_new_tokens", "do_sample", "temperature", "top_k",
                                             "top_p", "keep_logits", "keep_scores"))
def _decode(model: Any, params: Any, logits: jax.Array, cache: StaticCache, attention_mask: jax.Array,
            next_position: jax.Array, eos: jax.Array, pad: jax.Array, key: jax.Array, *, max_new_tokens: int,
            do_sample: bool, temperature: float, top_k: int | None, top_p: float | None,
            keep_logits: bool, keep_scores: bool):
    """The decode loop: pick a token from ``logits``, feed it back, until EOS everywhere or the budget."""
    batch, vocab = logits.shape
    tokens = jnp.broadcast_to(pad, (batch, max_new_tokens)).astype(jnp.int32)
    raw = jnp.zeros((max_new_tokens, batch, vocab), jnp.float32) if keep_logits else None
    processed = jnp.zeros((max_new_tokens, batch, vocab), jnp.float32) if keep_scores else None
    unfinished = jnp.ones((batch,), bool)
    has_eos = eos.shape[0] > 0

    def step_forward(token, position, cache):
        out, _ = model.apply(params, {}, token[:, None], attention_mask=attention_mask,
                             position_ids=position[:, None], cache=cache)
        return out.logits[:, -1].astype(jnp.float32), out.cache

    def cond(carry):
        t, _, _, _, unfinished, _, _, _ = carry
        return jnp.logical_and(t < max_new_tokens, jnp.any(unfinished))

    def body(carry):
        t, logits, cache, tokens, unfinished, key, raw, processed = carry
        scores = process_logits(logits, do_sample=do_sample, temperature=temperature, top_k=top_k, top_p=top_p)
        if do_sample:
            key, sub = jax.random.split(key)
            token = jax.random.categorical(sub, scores, axis=-1).astype(jnp.int32)
        else:
            token = jnp.argmax(scores, axis=-1).astype(jnp.int32)
        if has_eos:
            token = jnp.where(unfinished, token, pad)
            unfinished = jnp.logical_and(unfinished, ~jnp.any(token[:, None] == eos[None, :], axis=-1))
        tokens = tokens.at[:, t].set(token)
        if keep_logits:
            raw = raw.at[t].set(logits)
        if keep_scores:
            processed = processed.at[t].set(scores)
        more = jnp.logical_and(t + 1 < max_new_tokens, jnp.any(unfinished))
        logits, cache = jax.lax.cond(more, lambda: step_forward(token, next_position + t, cache),
                                     lambda: (logits, cache))
        return t + 1, logits, cache, tokens, unfinished, key, raw, processed

    init = (jnp.zeros((), jnp.int32), logits, cache, tokens, unfinished, key, raw, processed)
    steps, _, _, tokens, _, _, raw, processed = jax.lax.while_loop(cond, body, init)
    return steps, tokens, raw, processed


# ---------------------------------------------------------------------------------------
# the public entry point


def _token_list(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, (int, np.integer)):
        return [int(value)]
    return [int(v) for v in np.asarray(value).reshape(-1)]


def generate(model: Any, params: Any, input_ids: Any, attention_mask: Any = None, *,
             max_new_tokens: int | None = None, max_length: int | None = None, do_sample: bool = False,
             temperature: float = 1.0, top_k: int | None = 50, top_p: float = 1.0,
             eos_token_id: int | Sequence[int] | None = None, pad_token_id: int | None = None,
             key: jax.Array | None = None, output_logits: bool = False, output_scores: bool = False,
             return_dict_in_generate: bool = False, cache_dtype: Any = None) -> Any:
    """Generates continuations of left-padded prompts with a static KV cache.

    Args:
        model, params: a causal LM (``GPT2LMHeadModel``, ``LlamaForCausalLM``...) and its
            parameters (a bound model passes them itself: ``model.generate(...)``).
        input_ids: ``(B, P)`` prompt ids, left-padded when their lengths differ.
        attention_mask: ``(B, P)``, 0 on the left padding (default all ones).
        max_new_tokens: tokens to generate; ``max_length`` (prompt included) instead;
            neither: ``max_length=20`` (transformers' default).
        do_sample: sample instead of greedy decoding.
        temperature, top_k, top_p: sampling warpers (transformers' defaults 1.0, 50, 1.0).
        eos_token_id: int or list; a row stops at the first one (default: the config's).
        pad_token_id: fills finished rows (default: the config's, else the first EOS).
        key: PRNG key for sampling (default ``jax.random.key(0)``).
        output_logits / output_scores: keep each step's raw / processed float32 logits.
        return_dict_in_generate: return a :class:`GenerateOutput` instead of the ids.
        cache_dtype: dtype of the KV cache (default: the parameters' floating dtype).

    Returns:
        ``sequences (B, P + generated)`` (int32): the prompt then the new tokens; the
        generated length is shorter than ``max_new_tokens`` when every row stopped at an
        EOS, as in transformers. With ``return_dict_in_generate`` a
        :class:`GenerateOutput` with ``sequences`` and, when asked, ``logits``/``scores``.

    PyTorch equivalent: ``transformers.GenerationMixin.generate`` (greedy and
    multinomial sampling, ``num_beams=1``).
    """
    where = f"{type(model).__name__}.generate"
    input_ids = jnp.asarray(input_ids)
    if input_ids.ndim != 2:
        _checks.fail(where, "input_ids (batch_size, prompt_length)", input_ids)
    _checks.check_integer(where, input_ids, "input_ids")
    batch, prompt = int(input_ids.shape[0]), int(input_ids.shape[1])
    if attention_mask is None:
        attention_mask = jnp.ones((batch, prompt), jnp.int32)
    attention_mask = jnp.asarray(attention_mask).astype(jnp.int32)
    if attention_mask.shape != input_ids.shape:
        _checks.fail(where, f"attention_mask of input_ids' shape {_checks.fmt_shape(input_ids.shape)}",
                     attention_mask)
    mask_np = np.asarray(attention_mask)
    if (np.diff(mask_np, axis=1) < 0).any():
        raise ValueError(f"{where}: the prompts are right-padded (a 0 follows a 1 in attention_mask); pad on "
                         f"the left for generation (tokenizer(..., padding_side='left'))")
    if max_new_tokens is None:
        max_new_tokens = (20 if max_length is None else int(max_length)) - prompt
    max_new_tokens = int(max_new_tokens)
    if max_new_tokens < 1:
        raise ValueError(f"{where}: nothing to generate: max_new_tokens={max_new_tokens} (prompt length "
                         f"{prompt}); pass max_new_tokens=N")
    config = model.config
    limit = config.get("max_position_embeddings")
    if limit is not None and int(mask_np.sum(1).max()) + max_new_tokens > limit:
        raise ValueError(f"{where}: {int(mask_np.sum(1).max())} prompt tokens + {max_new_tokens} new ones exceed "
                         f"max_position_embeddings={limit}")
    eos = _token_list(eos_token_id if eos_token_id is not None else config.get("eos_token_id"))
    if pad_token_id is None:
        pad_token_id = config.get("pad_token_id")
    if pad_token_id is None:
        pad_token_id = eos[0] if eos else 0
    if do_sample and (temperature is None or float(temperature) <= 0):
        raise ValueError(f"{where}: temperature must be a positive float when sampling, got {temperature!r}")
    if do_sample and not 0 < float(top_p) <= 1:
        raise ValueError(f"{where}: top_p must be in (0, 1], got {top_p!r}")
    if cache_dtype is None:
        floats = [x.dtype for x in jax.tree.leaves(params) if jnp.issubdtype(x.dtype, jnp.floating)]
        cache_dtype = floats[0] if floats else jnp.float32
    total = prompt + max_new_tokens
    cache = model.init_cache(batch, total, cache_dtype)
    positions = jnp.where(attention_mask != 0, jnp.cumsum(attention_mask, axis=1) - 1, 0)
    full_mask = jnp.concatenate([attention_mask, jnp.ones((batch, max_new_tokens), jnp.int32)], axis=1)
    logits, cache = _prefill(model, params, input_ids, full_mask, positions, cache)
    next_position = jnp.sum(attention_mask, axis=1).astype(jnp.int32)
    steps, tokens, raw, processed = _decode(
        model, params, logits, cache, full_mask, next_position, jnp.asarray(eos, jnp.int32),
        jnp.asarray(pad_token_id, jnp.int32), key if key is not None else jax.random.key(0),
        max_new_tokens=max_new_tokens, do_sample=bool(do_sample),
        temperature=float(temperature) if do_sample else 1.0, top_k=(int(top_k) if top_k else None) if do_sample
        else None, top_p=float(top_p) if do_sample else 1.0, keep_logits=bool(output_logits),
        keep_scores=bool(output_scores))
    steps = int(steps)
    sequences = jnp.concatenate([input_ids.astype(jnp.int32), tokens[:, :steps]], axis=1)
    if not return_dict_in_generate:
        return sequences
    return GenerateOutput(sequences=sequences,
                          scores=tuple(processed[i] for i in range(steps)) if output_scores else None,
                          logits=tuple(raw[i] for i in range(steps)) if output_logits else None)


class GenerationMixin:
    """``generate`` and ``init_cache`` for the causal LM classes.

    A model using it defines ``_cache_shape() -> (num_layers, num_kv_heads, head_dim)``
    and accepts ``cache=``, ``position_ids=`` and ``logits_to_keep=`` in its forward.
    """

    def init_cache(self, batch_size: int, max_length: int, dtype: Any = jnp.float32) -> StaticCache:
        """An empty :class:`StaticCache` for ``batch_size`` sequences of up to ``max_length`` positions."""
        layers, heads, head_dim = self._cache_shape()
        return StaticCache.create(layers, batch_size, heads, max_length, head_dim, dtype)

    def generate(self, params: Any, input_ids: Any, attention_mask: Any = None, **kwargs: Any) -> Any:
        """See :func:`fnet.models.generation.generate`."""
        return generate(self, params, input_ids, attention_mask, **kwargs)
