"""generate: compiled once per shape, sampling reproducible from a key, transformers' logits
warpers, clear errors. Token-for-token parity with transformers is in
parity_tests/test_generation.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnet import models
from fnet.models import generation
from fnet.parity import hf_configs

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def lm():
    hc = hf_configs.config("llama")
    config = models.LlamaConfig.from_dict(hc.to_dict())
    model = models.LlamaForCausalLM(config)
    return model.bind(model.init(jax.random.key(0))[0])


def _prompts(batch=2, length=5, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, 99, (batch, length))
    mask = np.ones((batch, length), np.int32)
    mask[1, :2] = 0
    ids[1, :2] = 0
    return ids, mask


def test_same_shapes_compile_once(lm):
    ids, mask = _prompts()
    first = lm.generate(ids, mask, max_new_tokens=6)
    sizes = generation._prefill._cache_size(), generation._decode._cache_size()
    other_ids, _ = _prompts(seed=1)
    second = lm.generate(other_ids, mask, max_new_tokens=6)
    assert (generation._prefill._cache_size(), generation._decode._cache_size()) == sizes
    assert first.shape == second.shape == (2, 11)
    assert not np.array_equal(first, second)
    lm.generate(ids, mask, max_new_tokens=7)  # a new budget is a new shape
    assert generation._decode._cache_size() == sizes[1] + 1


def test_sampling_is_reproducible_from_the_key(lm):
    ids, mask = _prompts()
    kw = dict(max_new_tokens=8, do_sample=True, temperature=1.5, top_k=20, top_p=0.95, eos_token_id=[])
    a = lm.generate(ids, mask, key=jax.random.key(1), **kw)
    b = lm.generate(ids, mask, key=jax.random.key(1), **kw)
    c = lm.generate(ids, mask, key=jax.random.key(2), **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    greedy = lm.generate(ids, mask, max_new_tokens=8, eos_token_id=[])
    top1 = lm.generate(ids, mask, key=jax.random.key(3), max_new_tokens=8, do_sample=True, top_k=1, eos_token_id=[])
    np.testing.assert_array_equal(greedy, top1)


def test_logits_warpers_are_transformers_warpers():
    from transformers.generation.logits_process import (TemperatureLogitsWarper, TopKLogitsWarper,
                                                        TopPLogitsWarper)

    scores = np.random.default_rng(0).standard_normal((4, 50)).astype(np.float32) * 3
    for temperature, top_k, top_p in [(0.7, 10, 0.9), (1.0, 0, 0.5), (2.0, 3, 1.0), (1.0, 50, 0.99)]:
        t = torch.from_numpy(scores.copy())
        if temperature != 1.0:
            t = TemperatureLogitsWarper(temperature)(None, t)
        if top_k:
            t = TopKLogitsWarper(top_k)(None, t)
        if top_p < 1.0:
            t = TopPLogitsWarper(top_p)(None, t)
        ours = generation.process_logits(jnp.asarray(scores), do_sample=True, temperature=temperature,
                                         top_k=top_k, top_p=top_p)
        np.testing.assert_array_equal(np.isinf(np.asarray(ours)), np.isinf(t.numpy()))
        kept = ~np.isinf(t.numpy())
        np.testing.assert_allclose(np.asarray(ours)[kept], t.numpy()[kept], rtol=1e-6)


def test_eos_list_pad_and_return_dict(lm):
    ids, mask = _prompts()
    out = lm.generate(ids, mask, max_new_tokens=6, output_logits=True, output_scores=True,
                      return_dict_in_generate=True, eos_token_id=[])
    assert out.sequences.shape == (2, 11) and len(out.logits) == len(out.scores) == 6
    assert out.logits[0].dtype == jnp.float32 and out.logits[0].shape == (2, 99)
    np.testing.assert_array_equal(out.sequences[:, :5], ids)
    stop = int(out.sequences[0, 6])  # row 0's second token as EOS: row 0 stops, row 1 continues padded
    again = lm.generate(ids, mask, max_new_tokens=6, eos_token_id=stop, pad_token_id=0)
    row0 = np.asarray(again[0, 5:])
    first = int(np.flatnonzero(row0 == stop)[0])
    assert (row0[first + 1:] == 0).all()


def test_generate_refuses_what_it_cannot_do(lm):
    ids, mask = _prompts()
    right = np.ones_like(mask)
    right[1, -2:] = 0
    with pytest.raises(ValueError, match="right-padded.*padding_side='left'"):
        lm.generate(ids, right, max_new_tokens=3)
    with pytest.raises(ValueError, match="nothing to generate: max_new_tokens=-5"):
        lm.generate(ids, mask, max_length=0)
    with pytest.raises(ValueError, match="exceed max_position_embeddings=64"):
        lm.generate(ids, mask, max_new_tokens=64)
    with pytest.raises(ValueError, match="attention_mask of input_ids' shape"):
        lm.generate(ids, mask[:, 1:], max_new_tokens=3)
    with pytest.raises(ValueError, match="temperature must be a positive float"):
        lm.generate(ids, mask, max_new_tokens=3, do_sample=True, temperature=0.0)
    module, params = lm
    cache = module.init_cache(2, 6)
    with pytest.raises(ValueError, match=r"attention_mask \(2, 6\) \(batch_size, max_length\), the whole cache"):
        module.apply(params, {}, ids, attention_mask=mask, cache=cache)
    with pytest.raises(ValueError, match="exceed the cache's max_length=6"):
        module.apply(params, {}, np.concatenate([ids, ids], 1), cache=cache)


def test_default_max_length_is_transformers_20(lm):
    ids, mask = _prompts()
    assert lm.generate(ids, mask, eos_token_id=[]).shape == (2, 20)
