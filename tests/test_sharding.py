"""Scale-out on 8 simulated CPU devices: data parallel, FSDP and tensor parallel training give
single-device results, parameters really are sharded, and checkpoints move between meshes.

The sharded and single-device runs train in float64. Splitting a reduction over devices
changes its summation order, and over ten steps float32 rounding differences of that
kind are amplified by an amount that depends on the processor's kernels (Adam's first
update, ``lr * g / (|g| + eps)``, turns a 3e-10 difference in a 1.8e-8 gradient of a
nearly dead ReLU feature into a 7e-3 relative parameter difference). In float64 the same
runs agree to about 1e-13 on any processor, so the comparison measures the sharding,
not the arithmetic.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import PartitionSpec as P

import fnet
from fnet import data as D
from fnet import nn, sharding
from fnet import train as T
from fnet.models.bert import BertConfig, BertForSequenceClassification

pytestmark = pytest.mark.skipif(len(jax.devices()) < 8, reason="needs 8 (simulated) devices")


@pytest.fixture(autouse=True)
def float64():
    with (jax.enable_x64(True) if hasattr(jax, "enable_x64") else jax.experimental.enable_x64()):
        yield


def _f64(tree):
    return jax.tree.map(lambda a: a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)


def xent(logits, target):
    return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, ctx, x):
        return self.fc2(ctx, jax.nn.relu(self.fc1(ctx, x)))


def lenet() -> nn.Module:
    """The CIFAR-10 LeNet of torch's tutorial (parameter names 0, 3, 7, 9, 11)."""
    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                         nn.ReLU(), nn.Linear(84, 10))


def tiny_bert() -> nn.Module:
    # No dropout, so single-device and sharded randomness cannot differ: the comparison then
    # rests on the arithmetic alone, not on how JAX draws random bits for arrays laid out
    # differently (today's default, jax_threefry_partitionable=True, happens to give the same
    # masks; with dropout 0.1 the runs agree within 2.5e-7, but that is JAX's setting, not fnet's).
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=32, num_labels=3,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertForSequenceClassification(config)


def bert_loss(model, params, state, batch, train, key):
    """``fit``'s ``compute_loss`` for ``(input_ids, attention_mask, labels)`` batches: the
    head computes the loss from ``labels=`` as in transformers."""
    ids, mask, labels = batch
    out, new_state = model.apply(params, state, ids, attention_mask=mask, labels=labels, train=train, key=key)
    return out.loss, new_state, None, None  # no accuracy: fit's metric reads (N, C, ...) class scores


def _loader(*tensors):
    # 160 samples in batches of 16: one epoch is the 10 steps compared below.
    tensors = [t.astype(np.float64) if np.issubdtype(t.dtype, np.floating) else t for t in tensors]
    return D.DataLoader(D.TensorDataset(*tensors), batch_size=16, shuffle=True, seed=1)


def _data(n=160):
    x, y = D.make_classification(n, n_features=32, n_classes=10, separation=3.0).tensors
    return _loader(x, y)


def _images(n=160):
    rng = np.random.default_rng(0)
    return _loader(rng.standard_normal((n, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, n))


def _sentences(n=160, length=16):
    """Token ids with padding: each sequence has 4 to 16 real tokens, then pad id 0 (mask 0)."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(4, length + 1, n)
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    ids = rng.integers(1, 100, (n, length)).astype(np.int32) * mask
    assert (mask == 0).any()
    return _loader(ids, mask, rng.integers(0, 3, n).astype(np.int32))


class Case(NamedTuple):
    model: Callable[[], nn.Module]
    loader: Callable[[], Any]
    fit_kw: dict
    min_size: int
    # FSDP layout the rule must choose: parameter -> dimension split over 'data'. fsdp_rule
    # takes the largest dimension divisible by the 8 devices (ties: the first); parameters
    # below min_size or without such a dimension, and every one not listed, stay replicated.
    fsdp_dims: dict[str, int]


def _bert_fsdp_dims() -> dict[str, int]:
    dims = {"bert.embeddings.word_embeddings.weight": 1,      # (100, 32): 100 is not divisible by 8
            "bert.embeddings.position_embeddings.weight": 0,  # (32, 32): tie, the first
            "bert.pooler.dense.weight": 0}
    for i in range(2):
        layer = f"bert.encoder.layer.{i}."
        dims.update({layer + "attention.self.query.weight": 0, layer + "attention.self.key.weight": 0,
                     layer + "attention.self.value.weight": 0, layer + "attention.output.dense.weight": 0,
                     layer + "intermediate.dense.weight": 0,  # (64, 32)
                     layer + "output.dense.weight": 1})       # (32, 64)
    # Replicated: LayerNorms and biases (32 or 64 < 256), token_type_embeddings (2, 32) = 64
    # and classifier.weight (3, 32) = 96 elements.
    return dims


CASES = {
    # fc1.bias (64,) reaches min_size=64; fc2.weight (10, 64) splits its 64; fc2.bias is replicated.
    "mlp": Case(MLP, _data, {"loss_fn": xent}, 64, {"fc1.weight": 0, "fc1.bias": 0, "fc2.weight": 1}),
    # Replicated: conv1 (6, 3, 5, 5) has no dimension divisible by 8, fc3.weight (10, 84)
    # neither, fc2.bias (84,) neither, conv2.bias (16,) and the rest are below min_size=100.
    "lenet": Case(lenet, _images, {"loss_fn": xent}, 100,
                  {"3.weight": 0,     # (16, 6, 5, 5)
                   "7.weight": 1,     # (120, 400): 400 is the larger
                   "7.bias": 0,       # (120,)
                   "9.weight": 1}),   # (84, 120): 84 is not divisible by 8
    "bert": Case(tiny_bert, _sentences, {"compute_loss": bert_loss}, 256, _bert_fsdp_dims()),
}


def _optimizer():
    return optax.adam(1e-2)


def _train(model, plan, steps=10, loader=None, **kw):
    params, state = _f64(model.init(jax.random.key(0)))
    loader = loader if loader is not None else _data()
    kw = kw or {"loss_fn": xent}
    result = T.fit(model, params, state, _optimizer(), loader, epochs=1, progress=False, plan=plan, **kw)
    assert result.step == steps
    return result


@functools.lru_cache(maxsize=None)
def _single(name: str):
    """Single-device training of a case (shared by the tests that compare against it)."""
    case = CASES[name]
    return _train(case.model(), None, loader=case.loader(), **case.fit_kw)


def _spec(x) -> tuple:
    """The array's partition spec padded with None to its rank (XLA drops trailing Nones)."""
    spec = tuple(x.sharding.spec)
    return spec + (None,) * (x.ndim - len(spec))


def _named(tree) -> dict[str, jax.Array]:
    """``{"fc1.weight": leaf}`` for a nested dict of arrays, keeping the arrays (and shardings)."""
    return {".".join(str(k.key) for k in path): leaf
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _assert_same(a, b, rtol=1e-9, atol=1e-12):
    a, b = fnet.state_dict(a), fnet.state_dict(b)
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=atol, err_msg=name)


def _assert_layout(name: str, x: jax.Array, dim: int | None) -> None:
    """``x`` lives on all 8 devices, split over 'data' along ``dim`` (None: replicated)."""
    assert len(x.sharding.device_set) == 8, name
    expected = tuple("data" if d == dim else None for d in range(x.ndim))
    assert _spec(x) == expected, (name, _spec(x), expected)
    shard = tuple(s // 8 if d == dim else s for d, s in enumerate(x.shape))
    assert {s.data.shape for s in x.addressable_shards} == {shard}, name


@pytest.mark.parametrize("plan_name", ["data_parallel", "fully_sharded"])
@pytest.mark.parametrize("model_name", list(CASES))
def test_sharded_training_equals_single_device_and_lays_out_parameters(model_name, plan_name):
    case = CASES[model_name]
    mesh = sharding.make_mesh((8,), ("data",))
    if plan_name == "data_parallel":
        plan, dims = sharding.data_parallel(mesh), {}
    else:
        plan, dims = sharding.fully_sharded(mesh, min_size=case.min_size), case.fsdp_dims
    result = _train(case.model(), plan, loader=case.loader(), **case.fit_kw)
    single = _single(model_name)
    _assert_same(single.params, result.params)
    np.testing.assert_allclose(result.history["loss"], single.history["loss"], rtol=1e-12)
    params = _named(result.params)
    assert set(dims) <= set(params)
    adam = result.opt_state[0]
    mu, nu = _named(adam.mu), _named(adam.nu)
    for name in params:
        # Adam's moments follow their parameter's layout.
        for tree, what in ((params, ""), (mu, "mu of "), (nu, "nu of ")):
            _assert_layout(what + name, tree[name], dims.get(name))
    assert _spec(adam.count) == ()


def test_plans_accept_meshes_made_by_jax_make_mesh():
    """jax.make_mesh's meshes have Explicit axes by default; the plans use them as Auto."""
    mesh = jax.make_mesh((4, 2), ("data", "model"))
    assert jax.sharding.AxisType.Explicit in tuple(mesh.axis_types)
    plan = sharding.fully_sharded(jax.make_mesh((8,), ("data",)), min_size=64)
    assert plan.mesh.axis_types == (jax.sharding.AxisType.Auto,)
    _assert_same(_single("mlp").params, _train(MLP(), plan).params)
    tp = sharding.tensor_parallel(mesh, sharding.MLP_TENSOR_PARALLEL_RULES)
    assert tp.mesh.devices.tolist() == mesh.devices.tolist() and tp.mesh.axis_names == mesh.axis_names
    _assert_same(_single("mlp").params, _train(MLP(), tp).params)


def test_make_mesh_is_jax_make_mesh_with_auto_axes():
    mesh = sharding.make_mesh((4, 2), ("data", "model"))
    reference = jax.make_mesh((4, 2), ("data", "model"))
    assert mesh.devices.tolist() == reference.devices.tolist()
    assert mesh.axis_types == (jax.sharding.AxisType.Auto,) * 2
    with pytest.raises(ValueError, match=r"make_mesh: a mesh of shape \(3,\) needs 3 devices, got 8"):
        sharding.make_mesh((3,))
    with pytest.raises(ValueError, match=r"make_mesh: 2 axes need 2 names, got \('data',\)"):
        sharding.make_mesh((4, 2), ("data",))


def test_fsdp_checkpoint_restores_on_one_and_two_devices(tmp_path):
    plan8 = sharding.fully_sharded(sharding.make_mesh((8,), ("data",)), min_size=64)
    fs = _train(MLP(), plan8)
    path = tmp_path / "fsdp.safetensors"
    fnet.save(path, fs.params, fs.state)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((8, 32)), jnp.float64)
    forward = jax.jit(lambda p, s, x: MLP().apply(p, s, x)[0])
    saved = jax.device_get(fs.params)
    reference = np.asarray(forward(saved, {}, x))
    sharded_8 = np.asarray(forward(fs.params, fs.state, plan8.shard_batch(x)))
    for n in (1, 2):
        plan = sharding.fully_sharded(sharding.make_mesh((n,), ("data",), jax.devices()[:n]), min_size=64)
        params, state = fnet.load(path, MLP())
        params = plan.shard_params(params)
        assert len(params["fc1"]["weight"].sharding.device_set) == n
        # The restored parameters are the saved ones, bit for bit ...
        for a, b in zip(jax.tree.leaves(saved), jax.tree.leaves(jax.device_get(params))):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.asarray(forward(jax.device_get(params), {}, x)), reference)
        # ... and the sharded forward on the new mesh agrees with the 8-device one (XLA may
        # split the contraction differently per mesh, hence a rounding tolerance here).
        out = np.asarray(forward(params, state, plan.shard_batch(x)))
        np.testing.assert_allclose(out, sharded_8, rtol=1e-12, atol=1e-12)


def test_tensor_parallel_rules_on_a_2d_mesh():
    mesh = sharding.make_mesh((4, 2), ("data", "model"))
    plan = sharding.tensor_parallel(mesh, sharding.MLP_TENSOR_PARALLEL_RULES)
    single = _single("mlp")
    tp = _train(MLP(), plan)
    _assert_same(single.params, tp.params)
    assert _spec(tp.params["fc1"]["weight"]) == ("model", None)
    assert _spec(tp.params["fc2"]["weight"]) == (None, "model")


def test_compute_layout_gathers_data_axis_splits_and_keeps_model_axis_splits():
    """FSDP storage splits are gathered for compute (ZeRO-3); tensor-parallel splits stay."""
    params = {"fc1": {"weight": jnp.zeros((64, 32))}, "fc2": {"weight": jnp.zeros((16, 64))}}
    both = sharding.ShardingPlan(sharding.make_mesh((4, 2), ("data", "model")), "data", [
        sharding.pattern_rules([("fc1.weight", (("data", "model"), None)), ("fc2.weight", ("data", "model"))])])
    compute = both.compute_shardings(params)
    assert tuple(compute["fc1"]["weight"].spec) == ("model", None)
    assert tuple(compute["fc2"]["weight"].spec) == (None, "model")
    fsdp = sharding.fully_sharded(sharding.make_mesh((8,), ("data",)), min_size=64)
    assert all(tuple(s.spec) == (None, None) for s in jax.tree.leaves(fsdp.compute_shardings(params)))


def test_gradient_accumulation_and_remat_match_the_full_batch():
    model = MLP()
    params, state = _f64(model.init(jax.random.key(0)))
    opt = optax.sgd(0.1)
    batch = next(iter(_data()))
    full = T.make_train_step(model, xent, opt, donate=False)(params, state, opt.init(params), batch, None)
    acc = T.make_train_step(model, xent, opt, donate=False, accumulate_steps=4)(
        params, state, opt.init(params), batch, None)
    rem = T.make_train_step(model, xent, opt, donate=False, remat=True)(params, state, opt.init(params), batch, None)
    _assert_same(full[0], acc[0], rtol=1e-12, atol=1e-14)
    _assert_same(full[0], rem[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(full[3]["loss"], acc[3]["loss"], rtol=1e-12)
    with pytest.raises(ValueError, match="accumulate_steps"):
        T.make_train_step(model, xent, opt, donate=False, accumulate_steps=3)(
            params, state, opt.init(params), batch, None)


def test_batch_must_split_over_the_data_axis():
    plan = sharding.data_parallel(sharding.make_mesh((8,), ("data",)))
    with pytest.raises(ValueError, match="not divisible"):
        plan.shard_batch(np.zeros((12, 3)))
    batch = plan.shard_batch(np.zeros((16, 3)))
    assert _spec(batch) == ("data", None)


def test_loader_shards_read_disjoint_slices_of_the_global_batch():
    ds = D.TensorDataset(np.arange(32))
    full = [b[0] for b in D.DataLoader(ds, batch_size=8, shuffle=True, seed=2)]
    parts = [[b[0] for b in D.DataLoader(ds, batch_size=8, shuffle=True, seed=2, num_shards=4, shard_index=i)]
             for i in range(4)]
    for step, global_batch in enumerate(full):
        np.testing.assert_array_equal(np.concatenate([p[step] for p in parts]), global_batch)
    with pytest.raises(ValueError, match="num_shards"):
        D.DataLoader(ds, batch_size=6, num_shards=4)


def test_rule_that_does_not_divide_is_refused():
    mesh = sharding.make_mesh((8,), ("data",))
    plan = sharding.ShardingPlan(mesh, "data", [lambda name, shape: P("data")])
    with pytest.raises(ValueError, match="not divisible"):
        plan.shard_params({"w": jnp.zeros(10)})


# -- SyncBatchNorm: statistics over the data axis ------------------------------------------------

def _sync_bn_data():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((16, 3, 4, 4)) * 2 + 1, jnp.float32)
    cot = jnp.asarray(rng.standard_normal((16, 3, 4, 4)), jnp.float32)
    return x, cot


def test_sync_batch_norm_in_shard_map_equals_batch_norm_on_the_global_batch():
    mesh = sharding.make_mesh((8,), ("data",))
    x, cot = _sync_bn_data()
    ref = nn.BatchNorm2d(3)
    sync = nn.SyncBatchNorm(3, process_group="data")
    params, state = ref.init(jax.random.key(0))
    params = jax.tree.map(lambda a: a + 0.5, params)

    def loss(layer, p, s, xs, cs):
        out, new_state = layer.apply(p, s, xs, train=True)
        return jnp.sum(out * cs), (out, new_state)

    (want_loss, (want_out, want_state)), want_grads = jax.value_and_grad(
        functools.partial(loss, ref), argnums=(0, 2), has_aux=True)(params, state, x, cot)

    def per_device(p, s, xs, cs):  # each device holds 2 of the 16 samples
        (value, (out, new_state)), grads = jax.value_and_grad(
            functools.partial(loss, sync), argnums=(0, 2), has_aux=True)(p, s, xs, cs)
        grads = (jax.lax.psum(grads[0], "data"), grads[1])  # parameter gradients of the global loss
        return jax.lax.psum(value, "data"), out, new_state, grads

    got_loss, got_out, got_state, got_grads = jax.jit(jax.shard_map(
        per_device, mesh=mesh, in_specs=(P(), P(), P("data"), P("data")),
        out_specs=(P(), P("data"), P(), (P(), P("data"))), check_vma=False))(params, state, x, cot)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-5, atol=1e-5)
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(got_state[key], want_state[key], rtol=1e-5, atol=1e-6)
    for key in ("weight", "bias"):
        np.testing.assert_allclose(got_grads[0][key], want_grads[0][key], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_grads[1], want_grads[1], rtol=1e-4, atol=1e-5)
    # without the axis, each device would normalise its own 2 samples: different outputs
    local = jax.jit(jax.shard_map(lambda p, s, xs: nn.BatchNorm2d(3).apply(p, s, xs, train=True)[0],
                                  mesh=mesh, in_specs=(P(), P(), P("data")), out_specs=P("data"),
                                  check_vma=False))(params, state, x)
    assert not np.allclose(local, want_out, atol=1e-3)


def test_sync_batch_norm_under_jit_with_a_sharded_batch():
    mesh = sharding.make_mesh((8,), ("data",))
    plan = sharding.data_parallel(mesh)
    x, _ = _sync_bn_data()
    layer = nn.SyncBatchNorm(3)
    params, state = layer.init(jax.random.key(0))
    want, want_state = layer.apply(params, state, x, train=True)
    got, got_state = jax.jit(lambda p, s, xs: layer.apply(p, s, xs, train=True))(
        plan.shard_params(params), state, plan.shard_batch(x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_state["running_var"], want_state["running_var"], rtol=1e-5)
    # convert_sync_batchnorm swaps the layers and keeps the parameter names
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(model, "data")
    assert isinstance(synced[1], nn.SyncBatchNorm) and synced[1].process_group == "data"
    assert jax.tree.structure(synced.init(jax.random.key(0))) == jax.tree.structure(model.init(jax.random.key(0)))


def tiny_llama() -> nn.Module:
    from fnet.models import LlamaConfig, LlamaForCausalLM

    # grouped-query attention (4 query heads, 2 key/value heads), a vocabulary divisible by 8
    config = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32, pad_token_id=0)
    return LlamaForCausalLM(config)


def llama_loss(model, params, state, batch, train, key):
    """Next-token loss on right-padded token batches (labels -100 on padding)."""
    ids, mask = batch
    labels = jnp.where(mask == 1, ids, -100)
    out, new_state = model.apply(params, state, ids, attention_mask=mask, labels=labels, train=train, key=key)
    return out.loss, new_state, None, None  # no accuracy: fit's metric reads (N, C, ...) class scores


def _token_batches(n=160, length=12):
    rng = np.random.default_rng(1)
    lengths = rng.integers(4, length + 1, n)
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int32)
    ids = rng.integers(1, 128, (n, length)).astype(np.int32) * mask
    return _loader(ids, mask)


def test_llama_fsdp_and_tensor_parallel_training_equals_one_device():
    """A 4 x 2 mesh: batches and the parameters no rule covers are split 4 ways over 'data'
    (FSDP), attention and MLP projections and the LM head 2 ways over 'model' (Megatron
    column/row parallel, transformers' tp_plan); 10 AdamW steps equal one device's."""
    model = tiny_llama()
    single = _train(model, None, loader=_token_batches(), compute_loss=llama_loss)
    mesh = sharding.make_mesh((4, 2), ("data", "model"))
    plan = sharding.tensor_parallel(mesh, sharding.LLAMA_TENSOR_PARALLEL_RULES, fsdp_min_size=256)
    sharded = _train(model, plan, loader=_token_batches(), compute_loss=llama_loss)
    _assert_same(single.params, sharded.params)
    np.testing.assert_allclose(sharded.history["loss"], single.history["loss"], rtol=1e-5)
    params = _named(sharded.params)
    layer = "model.layers.0."
    assert _spec(params[layer + "self_attn.q_proj.weight"]) == ("model", None)
    assert _spec(params[layer + "self_attn.k_proj.weight"]) == ("model", None)   # (16, 32): 2 kv heads of 8
    assert _spec(params[layer + "self_attn.o_proj.weight"]) == (None, "model")
    assert _spec(params[layer + "mlp.down_proj.weight"]) == (None, "model")
    assert _spec(params["lm_head.weight"]) == ("model", None)
    assert _spec(params["model.embed_tokens.weight"]) == ("data", None)          # FSDP: (128, 32)
    assert _spec(params[layer + "input_layernorm.weight"]) == (None,)            # 32 < fsdp_min_size


@pytest.mark.parametrize("family,cls,projection,sizes", [
    ("gpt2", "GPT2LMHeadModel", "transformer.h.0.attn.c_attn.weight", {}),
    ("distilbert", "DistilBertForMaskedLM", "distilbert.transformer.layer.0.attention.q_lin.weight",
     {"hidden_dim": 64}),
    ("roberta", "RobertaForSequenceClassification", "roberta.encoder.layer.0.attention.self.query.weight",
     {"intermediate_size": 64}),
])
def test_hf_tensor_parallel_rules_split_every_family_and_keep_its_outputs(family, cls, projection, sizes):
    from fnet import models
    from fnet.parity import hf_configs

    hc = hf_configs.config(family, **sizes)  # feed-forward widths that split over the 2-way model axis
    model = getattr(models, cls)(getattr(models, type(hc).__name__).from_dict(hc.to_dict()))
    params, _ = model.init(jax.random.key(0))
    plan = sharding.tensor_parallel(sharding.make_mesh((4, 2), ("data", "model")), sharding.HF_TENSOR_PARALLEL_RULES)
    placed = plan.shard_params(params)
    assert "model" in _spec(_named(placed)[projection])
    ids = jnp.asarray(np.random.default_rng(0).integers(3, 90, (8, 6)))
    forward = jax.jit(lambda p, x: model.apply(p, {}, x)[0].logits)
    np.testing.assert_allclose(forward(placed, plan.shard_batch(ids)), forward(params, ids), rtol=2e-5, atol=2e-5)
