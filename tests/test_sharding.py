"""Scale-out on 8 simulated CPU devices: data parallel, FSDP and tensor parallel training give
single-device results, parameters really are sharded, and checkpoints move between meshes."""

from __future__ import annotations

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

pytestmark = pytest.mark.skipif(len(jax.devices()) < 8, reason="needs 8 (simulated) devices")


def xent(logits, target):
    return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, ctx, x):
        return self.fc2(ctx, jax.nn.relu(self.fc1(ctx, x)))


def _data(n=160):
    x, y = D.make_classification(n, n_features=32, n_classes=10, separation=3.0).tensors
    return D.DataLoader(D.TensorDataset(x, y), batch_size=16, shuffle=True, seed=1)


def _train(model, plan, steps=10, **kw):
    params, state = model.init(jax.random.key(0))
    loader = _data()
    result = T.fit(model, params, state, optax.adam(1e-2), loader, xent, epochs=1, progress=False,
                   plan=plan, **kw)
    assert result.step == steps
    return result


def _spec(x) -> tuple:
    """The array's partition spec padded with None to its rank (XLA drops trailing Nones)."""
    spec = tuple(x.sharding.spec)
    return spec + (None,) * (x.ndim - len(spec))


def _assert_same(a, b, rtol=2e-5, atol=2e-6):
    for (name, x), (_, y) in zip(fnet.state_dict(a).items(), fnet.state_dict(b).items()):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=name)


def test_data_parallel_equals_single_device_and_replicates_parameters():
    single = _train(MLP(), None)
    dp = _train(MLP(), sharding.data_parallel(sharding.make_mesh((8,), ("data",))))
    _assert_same(single.params, dp.params)
    for leaf in jax.tree.leaves(dp.params):
        assert len(leaf.sharding.device_set) == 8 and _spec(leaf) == (None,) * leaf.ndim


def test_fsdp_equals_single_device_and_shards_parameters_and_optimizer_state():
    single = _train(MLP(), None)
    plan = sharding.fully_sharded(sharding.make_mesh((8,), ("data",)), min_size=64)
    fs = _train(MLP(), plan)
    _assert_same(single.params, fs.params)
    w = fs.params["fc1"]["weight"]  # (64, 32): split over its largest dim
    assert _spec(w) == ("data", None)
    assert {s.data.shape for s in w.addressable_shards} == {(8, 32)}
    assert _spec(fs.params["fc2"]["bias"]) == (None,)  # 10 elements: below min_size, replicated
    mu = fs.opt_state[0].mu["fc1"]["weight"]
    assert _spec(mu) == ("data", None)


def test_fsdp_checkpoint_restores_on_one_and_two_devices(tmp_path):
    plan8 = sharding.fully_sharded(sharding.make_mesh((8,), ("data",)), min_size=64)
    fs = _train(MLP(), plan8)
    path = tmp_path / "fsdp.safetensors"
    fnet.save(path, fs.params, fs.state)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((8, 32)), jnp.float32)
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
        # split the contraction differently per mesh, hence float32 tolerance here).
        out = np.asarray(forward(params, state, plan.shard_batch(x)))
        np.testing.assert_allclose(out, sharded_8, rtol=1e-6, atol=1e-6)


def test_tensor_parallel_rules_on_a_2d_mesh():
    mesh = sharding.make_mesh((4, 2), ("data", "model"))
    plan = sharding.tensor_parallel(mesh, sharding.MLP_TENSOR_PARALLEL_RULES)
    single = _train(MLP(), None)
    tp = _train(MLP(), plan)
    _assert_same(single.params, tp.params)
    assert _spec(tp.params["fc1"]["weight"]) == ("model", None)
    assert _spec(tp.params["fc2"]["weight"]) == (None, "model")


def test_gradient_accumulation_and_remat_match_the_full_batch():
    model = MLP()
    params, state = model.init(jax.random.key(0))
    opt = optax.sgd(0.1)
    batch = next(iter(_data()))
    full = T.make_train_step(model, xent, opt, donate=False)(params, state, opt.init(params), batch, None)
    acc = T.make_train_step(model, xent, opt, donate=False, accumulate_steps=4)(
        params, state, opt.init(params), batch, None)
    rem = T.make_train_step(model, xent, opt, donate=False, remat=True)(params, state, opt.init(params), batch, None)
    _assert_same(full[0], acc[0], rtol=1e-5, atol=1e-6)
    _assert_same(full[0], rem[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(full[3]["loss"], acc[3]["loss"], rtol=1e-6)
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
