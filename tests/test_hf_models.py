"""fnet.models beyond parity: save_pretrained directories that transformers loads (every
family), sharded and half-precision checkpoints, the Auto classes' dispatch and errors,
the bound model from_pretrained returns, and the model attention's fused path.

Outputs and gradients against transformers are in parity_tests/ (families, Auto classes,
generation); generation's own behaviour is in tests/test_generation.py.
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
from fnet import models
from fnet.functional._attention import model_attention
from fnet.io import StateDictError
from fnet.parity import hf_configs

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# (family, fnet class, transformers Auto class): one head per family, every family once
SAVED = [
    ("bert", "BertForMaskedLM", "AutoModelForMaskedLM"),
    ("roberta", "RobertaForSequenceClassification", "AutoModelForSequenceClassification"),
    ("distilbert", "DistilBertForTokenClassification", "AutoModelForTokenClassification"),
    ("gpt2", "GPT2LMHeadModel", "AutoModelForCausalLM"),
    ("llama", "LlamaForCausalLM", "AutoModelForCausalLM"),
    ("mistral", "MistralForSequenceClassification", "AutoModelForSequenceClassification"),
    ("qwen2", "Qwen2ForCausalLM", "AutoModelForCausalLM"),
]


def _config(family: str, **overrides):
    hc = hf_configs.config(family, **overrides)
    return getattr(models, type(hc).__name__).from_dict(hc.to_dict())


def _ids(config, batch=2, seq=6, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, config.vocab_size, (batch, seq))
    mask = np.ones((batch, seq), np.int64)
    mask[1, :2] = 0  # left padding (harmless for the encoders: a mask is a mask)
    return ids, mask


def _torch_logits(model, ids, mask):
    with torch.no_grad():
        return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()


@pytest.mark.parametrize("family,cls,auto", SAVED, ids=[s[0] for s in SAVED])
def test_save_pretrained_loads_in_transformers_with_the_same_logits(tmp_path, family, cls, auto):
    config = _config(family, num_labels=3)
    model = getattr(models, cls)(config)
    params, _ = model.init(jax.random.key(0))
    model.save_pretrained(tmp_path, params)
    ref, info = getattr(transformers, auto).from_pretrained(tmp_path, output_loading_info=True,
                                                            attn_implementation="eager")
    assert type(ref).__name__ == cls
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    ids, mask = _ids(config)
    ours = np.asarray(model.apply(params, {}, jnp.asarray(ids), attention_mask=jnp.asarray(mask))[0].logits)
    real = mask.astype(bool)
    theirs = _torch_logits(ref.eval(), ids, mask)
    if ours.ndim == 3:  # per-position logits: compare the real tokens
        ours, theirs = ours[real], theirs[real]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    # and back into fnet through the Auto class, bit for bit
    again = getattr(models, auto).from_pretrained(tmp_path)
    assert type(again.module) is type(model) and again.module.config == model.config.replace(architectures=[cls])
    for (k, a), (_, b) in zip(sorted(fnet.state_dict(params).items()), sorted(fnet.state_dict(again.params).items())):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_transformers_init_and_tied_weights():
    config = _config("gpt2")
    model = models.GPT2LMHeadModel(config)
    params, _ = model.init(jax.random.key(0))
    assert "lm_head" not in params  # tied to wte: one array, as transformers saves it
    std = config.initializer_range
    c_attn = np.asarray(params["transformer"]["h"]["0"]["attn"]["c_attn"]["weight"])
    c_proj = np.asarray(params["transformer"]["h"]["0"]["mlp"]["c_proj"]["weight"])
    assert c_attn.shape == (32, 96)  # Conv1D: (in, out)
    assert np.std(c_attn) == pytest.approx(std, rel=0.1)
    assert np.std(c_proj) == pytest.approx(std / np.sqrt(2 * config.n_layer), rel=0.1)  # GPT-2's scaled residuals
    llama = models.LlamaForCausalLM(_config("llama"))
    lp, _ = llama.init(jax.random.key(1))
    assert lp["lm_head"]["weight"].shape == (99, 32)  # untied by default
    np.testing.assert_array_equal(lp["model"]["norm"]["weight"], 1.0)
    np.testing.assert_array_equal(lp["model"]["embed_tokens"]["weight"][0], 0.0)  # padding row
    tied = models.LlamaForCausalLM(_config("llama", tie_word_embeddings=True))
    assert "lm_head" not in tied.init(jax.random.key(1))[0]


def test_sharded_checkpoint_with_index_loads_both_ways(tmp_path):
    config = _config("llama")
    model = models.LlamaForCausalLM(config)
    params, _ = model.init(jax.random.key(0))
    (tmp_path / "model.safetensors").write_bytes(b"stale")  # an earlier save must not shadow the shards
    model.save_pretrained(tmp_path, params, max_shard_size="20KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert sorted(index["weight_map"]) == sorted(fnet.state_dict(params))
    assert not (tmp_path / "model.safetensors").exists()
    ref = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    ids, mask = _ids(config)
    ours = np.asarray(model.apply(params, {}, jnp.asarray(ids), attention_mask=jnp.asarray(mask))[0].logits)
    np.testing.assert_allclose(ours[mask == 1], _torch_logits(ref, ids, mask)[mask == 1], rtol=1e-5, atol=1e-5)
    loaded = models.AutoModelForCausalLM.from_pretrained(tmp_path)
    np.testing.assert_array_equal(loaded.params["lm_head"]["weight"], params["lm_head"]["weight"])
    # saving unsharded again removes the shards and the index
    model.save_pretrained(tmp_path, params)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]


def test_half_precision_weights_are_kept_or_cast_on_request(tmp_path):
    config = _config("qwen2")
    model = models.Qwen2ForCausalLM(config)
    params, _ = model.init(jax.random.key(0))
    model.save_pretrained(tmp_path, params, dtype=jnp.bfloat16)
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "bfloat16"
    default = models.AutoModelForCausalLM.from_pretrained(tmp_path)
    kept = models.AutoModelForCausalLM.from_pretrained(tmp_path, dtype="auto")
    cast = models.AutoModelForCausalLM.from_pretrained(tmp_path, dtype=jnp.float16)
    leaf = ("model", "layers", "0", "self_attn", "q_proj", "weight")

    def get(p):
        for k in leaf:
            p = p[k]
        return p

    assert get(default.params).dtype == jnp.float32
    assert get(kept.params).dtype == jnp.bfloat16
    assert get(cast.params).dtype == jnp.float16
    np.testing.assert_array_equal(np.asarray(get(default.params)), np.asarray(get(kept.params), np.float32))
    # transformers reads the bf16 directory as bf16, and the bf16 models agree
    ref = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert ref.dtype == torch.bfloat16
    ids, mask = _ids(config)
    ours = np.asarray(kept(input_ids=ids, attention_mask=mask).logits, np.float32)
    with torch.no_grad():
        theirs = ref(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.float().numpy()
    real = mask == 1
    scale = np.abs(theirs[real]).max()
    assert np.abs(ours[real] - theirs[real]).max() < 0.03 * scale  # bf16 rounding (8 mantissa bits)
    with pytest.raises(ValueError, match="dtype must be None, 'auto' or a floating dtype"):
        models.AutoModelForCausalLM.from_pretrained(tmp_path, dtype="bfloat16")


def test_bound_model_is_callable_and_still_pure(tmp_path):
    config = _config("distilbert", num_labels=2)
    model = models.DistilBertForSequenceClassification(config)
    params, _ = model.init(jax.random.key(0))
    model.save_pretrained(tmp_path, params)
    bound = models.AutoModelForSequenceClassification.from_pretrained(tmp_path)
    ids, mask = _ids(config)
    out = bound(input_ids=ids, attention_mask=mask)                        # numpy, as a tokenizer gives
    out_torch = bound(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    np.testing.assert_array_equal(out.logits, out_torch.logits)
    module, tree = bound                                                   # the pure pieces
    assert module is bound.module and tree is bound.params and bound.config is module.config
    forward = jax.jit(lambda p, i, m: module.apply(p, {}, i, attention_mask=m)[0].logits)
    np.testing.assert_allclose(forward(tree, ids, mask), out.logits, rtol=1e-6, atol=1e-6)
    loss = jax.grad(lambda p: module.apply(p, {}, ids, attention_mask=mask, labels=jnp.array([0, 1]))[0].loss)
    assert jax.tree.structure(loss(tree)) == jax.tree.structure(tree)
    assert "newly" not in repr(bound) and bound.loading_info["missing_keys"] == []
    with pytest.raises(TypeError, match="does not generate text"):
        bound.generate(ids)


def test_auto_classes_dispatch_and_refuse_unknown_model_types(tmp_path):
    config = models.AutoConfig.for_model("mistral", vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, intermediate_size=24)
    assert type(config) is models.MistralConfig and config.sliding_window == 4096
    model = models.AutoModelForCausalLM.from_config(config)
    assert type(model) is models.MistralForCausalLM
    model.save_pretrained(tmp_path / "m", model.init(jax.random.key(0))[0])
    assert type(models.AutoConfig.from_pretrained(tmp_path / "m")) is models.MistralConfig
    assert type(models.AutoModel.from_pretrained(tmp_path / "m").module) is models.MistralModel
    # a config.json with architectures but no model_type (old checkpoints)
    data = json.loads((tmp_path / "m" / "config.json").read_text())
    data.pop("model_type")
    (tmp_path / "m" / "config.json").write_text(json.dumps(data))
    assert type(models.AutoConfig.from_pretrained(tmp_path / "m")) is models.MistralConfig
    bad = tmp_path / "bloom"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "bloom", "hidden_size": 8}))
    with pytest.raises(ValueError, match=r"model_type 'bloom' is not supported; fnet implements bert, distilbert, "
                                         r"gpt2, llama, mistral, qwen2, roberta"):
        models.AutoModelForCausalLM.from_pretrained(bad)
    with pytest.raises(ValueError, match=r"'gpt2' is known, but not for masked language modelling"):
        models.AutoModelForMaskedLM.from_config(_config("gpt2"))
    with pytest.raises(TypeError, match="is not instantiated"):
        models.AutoModel()
    with pytest.raises(TypeError, match=r"expected a fnet.models.LlamaConfig, got .*MistralConfig"):
        models.LlamaModel(config)


def test_configs_read_transformers_4_and_5_layouts():
    legacy = models.LlamaConfig(rope_theta=500000.0, rope_scaling={"type": "llama3", "factor": 8.0,
                                                                   "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                                   "original_max_position_embeddings": 8192},
                                eos_token_id=[128001, 128009], torch_dtype="bfloat16")
    assert legacy.rope_parameters["rope_type"] == "llama3" and legacy.rope_parameters["rope_theta"] == 500000.0
    assert legacy.eos_token_id == [128001, 128009] and legacy.dtype == "bfloat16"
    written = legacy.to_dict()
    assert "rope_scaling" not in written and written["rope_parameters"]["factor"] == 8.0
    assert transformers.LlamaConfig(**written).rope_parameters["rope_type"] == "llama3"
    gpt2 = models.GPT2Config(hidden_size=64, num_attention_heads=4)  # transformers' aliases
    assert gpt2.n_embd == 64 and gpt2.hidden_size == 64 and gpt2.n_head == 4
    with pytest.raises(ValueError, match="n_embd=65 is not a multiple of n_head=4"):
        models.GPT2Config(n_embd=65, n_head=4)
    with pytest.raises(ValueError, match="rope_type 'yarn' is not supported"):
        models.LlamaConfig(rope_parameters={"rope_type": "yarn", "factor": 4.0})
    qwen = models.Qwen2Config(num_hidden_layers=4, use_sliding_window=True, sliding_window=8, max_window_layers=2)
    assert qwen.layer_windows == (None, None, 8, 8)
    assert models.MistralConfig(num_hidden_layers=2, sliding_window=None).layer_windows == (None, None)


def test_roberta_numbers_positions_from_the_padding_index():
    config = _config("roberta")
    model = models.RobertaModel(config)
    ids = jnp.array([[0, 5, 6, 2, 1, 1]])  # <s> a b </s> <pad> <pad>
    positions = model.embeddings.default_position_ids(ids, 6, 1)
    np.testing.assert_array_equal(positions, [[2, 3, 4, 5, 1, 1]])
    params, _ = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="longer than max_position_embeddings=64 minus 2"):
        model.apply(params, {}, jnp.ones((1, 63), jnp.int32) * 5)


def test_fused_attention_path_equals_the_explicit_one_on_real_tokens():
    rng = np.random.default_rng(0)
    q = jnp.asarray(rng.standard_normal((2, 4, 5, 8)), jnp.float32)
    k = jnp.asarray(rng.standard_normal((2, 2, 9, 8)), jnp.float32)  # GQA: 2 key/value heads
    v = jnp.asarray(rng.standard_normal((2, 2, 9, 8)), jnp.float32)
    mask = jnp.asarray(np.array([[1] * 9, [0, 0, 0] + [1] * 6]))
    kw = dict(attention_mask=mask, causal=True, sliding_window=3, query_offset=4)
    eager, _ = model_attention(q, k, v, implementation="eager", **kw)
    fused, _ = model_attention(q, k, v, implementation="xla", **kw)
    np.testing.assert_allclose(fused, eager, rtol=1e-5, atol=1e-6)
    # grouped-query attention is attention against repeated key/value heads (transformers' repeat_kv)
    repeated, _ = model_attention(q, jnp.repeat(k, 2, axis=1), jnp.repeat(v, 2, axis=1), implementation="eager", **kw)
    np.testing.assert_allclose(eager, repeated, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="returns no weights"):
        model_attention(q, k, v, need_weights=True, implementation="xla")


def test_strict_loading_knows_the_base_model_from_the_class(tmp_path):
    config = _config("gpt2", num_labels=2)
    model = models.GPT2ForSequenceClassification(config)
    params, _ = model.init(jax.random.key(0))
    base = models.GPT2Model(config)
    base.save_pretrained(tmp_path, params["transformer"])
    # the head is new (transformers' rule), the transformer. prefix is added
    loaded = models.GPT2ForSequenceClassification.from_pretrained(tmp_path)
    assert loaded.loading_info["missing_keys"] == ["score.weight"]
    np.testing.assert_array_equal(loaded.params["transformer"]["wte"]["weight"], params["transformer"]["wte"]["weight"])
    assert model.is_required_key("transformer.h.0.attn.c_attn.weight") and not model.is_required_key("score.weight")
    tensors = fnet.state_dict(params["transformer"])
    del tensors["h.1.mlp.c_fc.weight"]
    fnet._safetensors.save_file(tensors, tmp_path / "model.safetensors", {"format": "pt"})
    with pytest.raises(StateDictError, match=r'(?s)GPT2ForSequenceClassification\.from_pretrained.*'
                                           r'Missing key\(s\) in state_dict: "transformer\.h\.1\.mlp\.c_fc\.weight"\.'
                                           r'.*strict=False'):
        models.GPT2ForSequenceClassification.from_pretrained(tmp_path)


def test_input_errors_name_the_layer_and_both_shapes():
    bert = models.BertModel(_config("bert"))
    params, _ = bert.init(jax.random.key(0))
    ids = jnp.ones((2, 3), jnp.int32)
    with pytest.raises(ValueError, match=r"embeddings \(BertEmbeddings\(\)\): expected token_type_ids of the input's "
                                         r"shape \(2, 3\), got shape \(2, 4\)"):
        bert.apply(params, {}, ids, token_type_ids=jnp.zeros((2, 4), jnp.int32))
    distil = models.DistilBertModel(_config("distilbert"))
    dparams, _ = distil.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"expected attention_mask of the input's shape \(2, 3\)"):
        distil.apply(dparams, {}, ids, attention_mask=jnp.ones((2, 5)))
    gpt2 = models.GPT2LMHeadModel(_config("gpt2"))
    gparams, _ = gpt2.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"input_ids contains 99, outside the vocabulary \(vocab_size\) \[0, 98\]"):
        gpt2.apply(gparams, {}, ids.at[0, 1].set(99))
    with pytest.raises(ValueError, match="give exactly one of input_ids or inputs_embeds"):
        gpt2.apply(gparams, {})
    with pytest.raises(ValueError, match=r"cannot handle batch sizes > 1 without a padding token"):
        cls = models.LlamaForSequenceClassification(_config("llama", pad_token_id=None))
        cls.apply(cls.init(jax.random.key(0))[0], {}, ids)
