"""Normalization layers: training against torch over many steps, buffers, errors, accuracy."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
import fnet.functional as F
from fnet import nn
from fnet.parity import precision

torch = pytest.importorskip("torch")


# -- 20 training steps against torch ------------------------------------------------------

class FnetNet(nn.Module):
    """Linear -> (N, 3, 2, 2) -> BatchNorm2d -> ReLU -> Linear -> BatchNorm1d(momentum=None)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 12)
        self.bn2d = nn.BatchNorm2d(3)
        self.mid = nn.Linear(12, 8)
        self.bn1d = nn.BatchNorm1d(8, momentum=None)
        self.head = nn.Linear(8, 2)

    def forward(self, ctx, x):
        h = self.fc(ctx, x).reshape(x.shape[0], 3, 2, 2)  # (N, C, H, W)
        h = F.relu(self.bn2d(ctx, h)).reshape(x.shape[0], 12)
        return self.head(ctx, F.relu(self.bn1d(ctx, self.mid(ctx, h))))


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 12)
        self.bn2d = torch.nn.BatchNorm2d(3)
        self.mid = torch.nn.Linear(12, 8)
        self.bn1d = torch.nn.BatchNorm1d(8, momentum=None)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x):
        h = self.fc(x).reshape(x.shape[0], 3, 2, 2)
        h = torch.relu(self.bn2d(h)).reshape(x.shape[0], 12)
        return self.head(torch.relu(self.bn1d(self.mid(h))))


# float32: 20 SGD steps compound rounding differences of ~1e-7 per step; 1e-5 is the
# gradient tolerance of DESIGN.md. float64 shows the computations are the same.
TRAIN_TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-10)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batchnorm2d_model_trained_20_steps_matches_torch(dtype):
    """A BatchNorm2d model trained for 20 steps in fnet and in torch from the same weights
    ends with the same parameters and the same running statistics."""
    import optax

    steps, lr = 20, 0.1
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((steps, 8, 6)) * 2 + 1
    ys = rng.standard_normal((steps, 8, 2))
    torch.manual_seed(0)
    with precision(dtype):
        tmodel = TorchNet().to(getattr(torch, dtype))
        model = FnetNet()
        params, state = fnet.load_state_dict(model, tmodel.state_dict())
        opt = optax.sgd(lr)
        opt_state = opt.init(params)

        @jax.jit
        def step(params, state, opt_state, x, y):
            def loss_fn(p):
                out, new_state = model.apply(p, state, x, train=True)
                return jnp.mean((out - y) ** 2), new_state

            (_, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), state, opt_state

        topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
        tmodel.train()
        for x, y in zip(xs.astype(dtype), ys.astype(dtype)):
            params, state, opt_state = step(params, state, opt_state, jnp.asarray(x), jnp.asarray(y))
            topt.zero_grad()
            torch.mean((tmodel(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).backward()
            topt.step()

        got = fnet.state_dict(params, state)
        want = {k: v.detach().numpy() for k, v in tmodel.state_dict().items()}
        assert set(got) == set(want)
        assert int(got["bn2d.num_batches_tracked"]) == int(got["bn1d.num_batches_tracked"]) == steps
        for name, value in want.items():
            np.testing.assert_allclose(got[name], value, err_msg=name, **TRAIN_TOL[dtype])
        # Training moved the affine parameters and the running statistics.
        for name in ("bn2d.weight", "bn2d.bias", "bn1d.weight", "bn1d.bias", "bn2d.running_mean",
                     "bn1d.running_mean"):
            assert np.abs(got[name] - (name.endswith("weight"))).max() > 1e-3, name
        assert np.abs(got["bn2d.running_var"] - 1).max() > 1e-2


# -- buffers and modes --------------------------------------------------------------------

def test_batchnorm_buffers_and_eval_leaves_state_alone():
    bn = nn.BatchNorm2d(3)
    params, state = bn.init(jax.random.key(0))
    assert set(params) == {"weight", "bias"}
    assert set(state) == {"running_mean", "running_var", "num_batches_tracked"}
    assert state["num_batches_tracked"].dtype == jax.dtypes.canonicalize_dtype(np.int64)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((4, 3, 2, 2)), jnp.float32)
    _, eval_state = bn.apply(params, state, x, train=False)
    assert eval_state is state
    _, new_state = bn.apply(params, state, x, train=True)
    assert int(new_state["num_batches_tracked"]) == 1
    assert nn.BatchNorm2d(3, affine=False).init(jax.random.key(0))[0] == {}
    assert nn.BatchNorm2d(3, track_running_stats=False).init(jax.random.key(0))[1] == {}
    assert nn.InstanceNorm2d(3).init(jax.random.key(0)) == ({}, {})


def test_momentum_none_is_the_cumulative_average_of_batch_statistics():
    bn = nn.BatchNorm1d(2, momentum=None)
    params, state = bn.init(jax.random.key(0))
    rng = np.random.default_rng(1)
    batches = [jnp.asarray(rng.standard_normal((5, 2)) + i, jnp.float32) for i in range(4)]
    step = jax.jit(lambda s, x: bn.apply(params, s, x, train=True)[1])
    for x in batches:
        state = step(state, x)
    means = np.mean([np.asarray(x).mean(0) for x in batches], axis=0)
    variances = np.mean([np.asarray(x).var(0, ddof=1) for x in batches], axis=0)
    np.testing.assert_allclose(state["running_mean"], means, rtol=1e-5)
    np.testing.assert_allclose(state["running_var"], variances, rtol=1e-5)


def test_functional_batch_norm_with_stats_uses_torch_momentum_convention():
    x = jnp.asarray(np.random.default_rng(2).standard_normal((6, 2)), jnp.float32)
    out, mean, var = F.batch_norm_with_stats(x, jnp.zeros(2), jnp.ones(2), training=True,
                                             momentum=0.25)
    np.testing.assert_allclose(mean, 0.25 * np.asarray(x).mean(0), rtol=1e-5)
    np.testing.assert_allclose(var, 0.75 + 0.25 * np.asarray(x).var(0, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(out, F.batch_norm(x, None, None, training=True))


def test_reprs_match_torch():
    pairs = [
        (nn.BatchNorm1d(4, momentum=None), torch.nn.BatchNorm1d(4, momentum=None)),
        (nn.BatchNorm3d(4, eps=1e-3, affine=False), torch.nn.BatchNorm3d(4, eps=1e-3, affine=False)),
        (nn.InstanceNorm1d(4, affine=True, track_running_stats=True),
         torch.nn.InstanceNorm1d(4, affine=True, track_running_stats=True)),
        (nn.LayerNorm([2, 3], elementwise_affine=False), torch.nn.LayerNorm([2, 3], elementwise_affine=False)),
        (nn.RMSNorm(5, eps=1e-6), torch.nn.RMSNorm(5, eps=1e-6)),
        (nn.GroupNorm(2, 4, bias=False), torch.nn.GroupNorm(2, 4, bias=False)),
        (nn.LocalResponseNorm(3, k=2.0), torch.nn.LocalResponseNorm(3, k=2.0)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_parameters_keep_the_requested_dtype():
    with precision("float64"):
        params, state = nn.BatchNorm1d(3, dtype=jnp.float64).init(jax.random.key(0))
        assert params["weight"].dtype == jnp.float64 and state["running_var"].dtype == jnp.float64
        assert state["num_batches_tracked"].dtype == jnp.int64
    params, _ = nn.LayerNorm(3, dtype=jnp.bfloat16).init(jax.random.key(0))
    assert params["weight"].dtype == jnp.bfloat16


# -- accuracy on inputs with a large offset -----------------------------------------------

@pytest.mark.parametrize("kind", ["batch_norm", "layer_norm", "group_norm", "instance_norm"])
def test_float32_statistics_survive_a_large_offset(kind):
    """Inputs around 1e3: fnet's float32 result is at least as close to the float64 truth as
    torch's float32 kernel (the reason for OFFSET_TOL in the parity cases)."""
    x64 = np.random.default_rng(3).standard_normal((8, 4, 5, 5)) + 1e3
    x32 = x64.astype(np.float32)
    fns = {
        "batch_norm": (lambda x: F.batch_norm(x, None, None, training=True),
                       lambda x: torch.nn.functional.batch_norm(x, None, None, training=True)),
        "layer_norm": (lambda x: F.layer_norm(x, (5,)), lambda x: torch.nn.functional.layer_norm(x, (5,))),
        "group_norm": (lambda x: F.group_norm(x, 2), lambda x: torch.nn.functional.group_norm(x, 2)),
        "instance_norm": (F.instance_norm, torch.nn.functional.instance_norm),
    }
    ours, theirs = fns[kind]
    truth = theirs(torch.from_numpy(x32.astype(np.float64))).numpy()
    err_fnet = np.abs(np.asarray(ours(jnp.asarray(x32))) - truth).max()
    err_torch = np.abs(theirs(torch.from_numpy(x32)).numpy() - truth).max()
    assert err_fnet < 2e-6, err_fnet
    assert err_fnet <= err_torch


# -- errors -------------------------------------------------------------------------------

class WithBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)

    def forward(self, ctx, x):
        return self.bn(ctx, x)


def _run(module, x, train=False):
    params, state = module.init(jax.random.key(0))
    return module.apply(params, state, jnp.asarray(x, jnp.float32), train=train)


def test_wrong_channel_count_names_layer_expectation_and_shape():
    with pytest.raises(ValueError) as err:
        _run(WithBN(), np.ones((2, 4, 5, 5)))
    msg = str(err.value)
    assert "bn (BatchNorm2d(3, eps=1e-05" in msg and "3 channels at dim 1" in msg and "(2, 4, 5, 5)" in msg
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4.*4 channels.*\(2, 6, 3\)"):
        _run(nn.GroupNorm(2, 4), np.ones((2, 6, 3)))
    with pytest.raises(ValueError, match=r"InstanceNorm1d.*3 channels at dim 1.*\(2, 5, 4\)"):
        _run(nn.InstanceNorm1d(3, affine=True), np.ones((2, 5, 4)))
    with pytest.warns(UserWarning, match="channels"):  # torch warns too: nothing to check against
        _run(nn.InstanceNorm1d(3), np.ones((2, 5, 4)))


def test_wrong_rank_names_layer_expectation_and_shape():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3.*expected 4D input \(N, C, H, W\), got shape \(3, 5, 5\)"):
        _run(nn.BatchNorm2d(3), np.ones((3, 5, 5)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*2D input \(N, C\) or 3D input \(N, C, L\).*\(2, 3, 4, 4\)"):
        _run(nn.BatchNorm1d(3), np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm3d.*5D input.*\(2, 3, 4, 4\)"):
        _run(nn.BatchNorm3d(3), np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"InstanceNorm2d.*3D input \(C, H, W\) or 4D.*\(2, 3\)"):
        _run(nn.InstanceNorm2d(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"LocalResponseNorm.*3 or more dimensions.*\(2, 3\)"):
        _run(nn.LocalResponseNorm(2), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"GroupNorm.*at least 2 dimensions.*\(4,\)"):
        _run(nn.GroupNorm(2, 4), np.ones(4))


def test_batch_of_one_refused_in_training_like_torch():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*Expected more than 1 value per channel when training.*\(1, 3\)"):
        _run(nn.BatchNorm1d(3), np.ones((1, 3)), train=True)
    out, _ = _run(nn.BatchNorm1d(3), np.ones((1, 3)), train=False)  # running statistics: fine
    assert out.shape == (1, 3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):  # batch stats in eval too
        _run(nn.BatchNorm1d(3, track_running_stats=False), np.ones((1, 3)), train=False)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        _run(nn.BatchNorm2d(3), np.ones((1, 3, 1, 1)), train=True)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        _run(nn.InstanceNorm1d(3), np.ones((4, 3, 1)), train=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(jnp.ones((1, 3)), None, None, training=True)


def test_groupnorm_divisibility():
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"group_norm.*divisible by num_groups=4.*\(2, 6, 3\)"):
        F.group_norm(jnp.ones((2, 6, 3)), 4)
    with pytest.raises(ValueError, match=r"divisible by num_groups=4"):
        _run(nn.GroupNorm(4, 4, affine=False), np.ones((2, 6, 3)))


def test_layernorm_trailing_shape_mismatch():
    with pytest.raises(ValueError, match=r"LayerNorm\(\(3, 4\).*\(\*, 3, 4\).*\(2, 4, 3\)"):
        _run(nn.LayerNorm((3, 4)), np.ones((2, 4, 3)))
    with pytest.raises(ValueError, match=r"RMSNorm\(\(5,\).*\(\*, 5\).*\(2, 4\)"):
        _run(nn.RMSNorm(5), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"layer_norm.*\(\*, 4\).*\(2, 3\)"):
        F.layer_norm(jnp.ones((2, 3)), 4)
    with pytest.raises(ValueError, match=r"layer_norm.*weight of shape.*\(3,\), got shape \(4,\)"):
        F.layer_norm(jnp.ones((2, 3)), 3, weight=jnp.ones(4))


def test_other_refusals():
    params, state = nn.LayerNorm(3).init(jax.random.key(0))
    with pytest.raises(TypeError, match=r"LayerNorm\(\(3,\).*floating-point input, got dtype int32"):
        nn.LayerNorm(3).apply(params, state, jnp.ones((2, 3), jnp.int32))
    with pytest.raises(TypeError, match="out= is not supported"):
        F.normalize(jnp.ones((2, 3)), out=jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="running_mean and running_var must be given"):
        F.batch_norm(jnp.ones((2, 3)), None, None, training=False)
    with pytest.raises(ValueError, match=r"running_mean of shape \(3,\)"):
        F.batch_norm(jnp.ones((2, 3)), jnp.zeros(4), jnp.ones(4))
    with pytest.raises(ValueError, match="eps must be positive"):
        F.batch_norm(jnp.ones((2, 3)), None, None, training=True, eps=0.0)
    with pytest.raises(ValueError, match="use_input_stats=False"):
        F.instance_norm(jnp.ones((2, 3, 4)), use_input_stats=False)


def test_normalize_zero_vector_has_finite_gradient():
    grad = jax.grad(lambda x: F.normalize(x, dim=0).sum())(jnp.zeros(3))
    assert np.all(np.isfinite(grad))


def test_no_warning_for_matching_channels():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(nn.InstanceNorm2d(3), np.random.default_rng(0).standard_normal((2, 3, 4, 4)), train=True)


def test_bf16_inputs_normalise_in_float32_under_mixed_precision():
    from fnet import precision as P

    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.LayerNorm(8), nn.GroupNorm(2, 8))
    fast = P.mixed_precision(model)
    params, state = fast.init(jax.random.key(0))
    x = jnp.asarray(np.random.default_rng(4).standard_normal((16, 6)), jnp.float32)
    out, new_state = fast.apply(params, state, x, train=True)
    ref, ref_state = model.apply(params, state, x, train=True)
    assert out.dtype == jnp.float32
    assert all(v.dtype == state["1"][k].dtype for k, v in new_state["1"].items())
    assert float(jnp.max(jnp.abs(out - ref))) < 0.1  # bf16 Linear; the statistics are float32
    np.testing.assert_allclose(new_state["1"]["running_var"], ref_state["1"]["running_var"], rtol=2e-2)
    y = F.layer_norm(jnp.asarray(np.arange(8) + 1000.0, jnp.bfloat16), 8)
    assert y.dtype == jnp.bfloat16 and float(jnp.abs(y.astype(jnp.float32)).max()) < 2.0


def test_cross_map_lrn2d_errors_and_printing():
    layer = nn.CrossMapLRN2d(5, alpha=1e-3)
    assert repr(layer) == repr(torch.nn.CrossMapLRN2d(5, alpha=1e-3))
    with pytest.raises(ValueError, match=r"^CrossMapLRN2d\(5, alpha=0.001, beta=0.75, k=1\): expected a 4-D input "
                                         r"\(N, C, H, W\), got shape \(2, 3, 4\)"):
        layer(jnp.ones((2, 3, 4)))
    with pytest.raises(TypeError, match=r"expected a floating-point input"):
        layer(jnp.ones((1, 2, 3, 4), jnp.int32))
    out = jax.jit(lambda x: layer(x))(jnp.ones((1, 6, 2, 2)))
    assert out.shape == (1, 6, 2, 2)


def test_sync_batch_norm_errors_and_printing():
    layer = nn.SyncBatchNorm(3)
    assert repr(layer) == repr(torch.nn.SyncBatchNorm(3))
    with pytest.raises(TypeError, match=r"^SyncBatchNorm: process_group must be None or a mesh axis name"):
        nn.SyncBatchNorm(3, process_group=object())
    params, state = layer.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"^SyncBatchNorm\(3, .*\): expected input \(N, C, \*\) with at least 2 "
                                         r"dimensions, got shape \(3,\)"):
        layer.apply(params, state, jnp.ones(3))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        layer.apply(params, state, jnp.ones((1, 3)), train=True)
    # an axis name outside shard_map/pmap is JAX's unbound-axis error
    with pytest.raises(NameError):
        nn.SyncBatchNorm(3, process_group="data").apply(params, state, jnp.ones((4, 3)), train=True)
