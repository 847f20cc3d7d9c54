"""Lazy layers: sizes inferred by model.init(key, x) or from a state_dict, errors, printing."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
from fnet import nn

torch = pytest.importorskip("torch")

LAZY = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
        "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
        "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.LazyConv2d(4, 3)
        self.norm = nn.LazyBatchNorm2d()
        self.head = nn.LazyLinear(3)

    def forward(self, ctx, x, scale=1.0):
        h = self.norm(ctx, self.conv(ctx, x))
        return self.head(ctx, h.reshape(h.shape[0], -1) * scale)


@pytest.mark.parametrize("name", LAZY)
def test_signature_and_repr_are_torchs(name):
    ours = inspect.signature(getattr(nn, name).__init__).parameters
    theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
           [(p.name, p.kind, p.default) for p in theirs.values()]
    args = (5,) if name == "LazyLinear" else (4, 3) if "Conv" in name else ()
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


def test_init_with_an_example_infers_every_size_and_draws_the_eager_distributions():
    x = jnp.ones((2, 3, 6, 6))
    params, state = Net().init(jax.random.key(0), x, scale=2.0)
    shapes = jax.tree.map(lambda a: a.shape, params)
    assert shapes == {"conv": {"weight": (4, 3, 3, 3), "bias": (4,)}, "norm": {"weight": (4,), "bias": (4,)},
                      "head": {"weight": (3, 64), "bias": (3,)}}
    assert sorted(fnet.state_dict(params, state)) == sorted(
        ["conv.weight", "conv.bias", "norm.weight", "norm.bias", "norm.running_mean", "norm.running_var",
         "norm.num_batches_tracked", "head.weight", "head.bias"])
    bound = 1 / np.sqrt(64)  # torch's Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w = np.asarray(params["head"]["weight"])
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    out, new_state = jax.jit(lambda p, s, v: Net().apply(p, s, v, train=True))(params, state, x)
    assert out.shape == (2, 3) and int(new_state["norm"]["num_batches_tracked"]) == 1


def test_missing_example_and_wrong_sizes_are_clear_errors():
    with pytest.raises(ValueError, match=r"LazyConv2d\(0, 4, kernel_size=\(3, 3\), stride=\(1, 1\)\): in_channels is "
                                         r"inferred from the input; create the parameters with an example input"):
        Net().init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"LazyLinear\(in_features=0, out_features=3, bias=True\): in_features"):
        nn.LazyLinear(3).init(jax.random.key(0))
    params, state = Net().init(jax.random.key(0), jnp.ones((2, 3, 6, 6)))
    with pytest.raises(ValueError, match=r"head \(Linear\(in_features=64, out_features=3, bias=True\)\): expected "
                                         r"input \(\*, 64\), got shape \(2, 100\)"):
        Net().apply(params, state, jnp.ones((2, 3, 7, 7)))
    with pytest.raises(TypeError, match="cannot be called like a function because it has parameters"):
        nn.LazyLinear(3)(jnp.ones((2, 4)))

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.LazyLinear(2)

        def forward(self, ctx, a, b):
            return self.fc(ctx, a), self.fc(ctx, b)

    with pytest.raises(ValueError, match=r"fc \(LazyLinear.*\): called with inputs of in_features 3 and 4"):
        Twice().init(jax.random.key(0), jnp.ones((1, 3)), jnp.ones((1, 4)))
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(0\)|groups"):
        nn.LazyConv2d(3, 3, groups=2)  # out_channels 3 not divisible by groups 2: refused now, as torch


def test_sizes_come_from_a_torch_state_dict():
    t = torch.nn.Sequential(torch.nn.LazyLinear(4), torch.nn.ReLU(), torch.nn.LazyLinear(2))
    t(torch.zeros(1, 7))
    model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    params, state = fnet.load_state_dict(model, t.state_dict())
    assert params["0"]["weight"].shape == (4, 7)
    out, _ = model.apply(params, state, jnp.ones((3, 7)))
    np.testing.assert_allclose(out, t(torch.ones(3, 7)).detach().numpy(), rtol=1e-6, atol=1e-6)
    # a state_dict with a missing key and strict=False: the missing array is drawn at the loaded size
    sd = dict(t.state_dict())
    del sd["2.bias"]
    loaded = fnet.load_state_dict(model, sd, strict=False)
    assert loaded.missing_keys == ["2.bias"] and loaded.params["2"]["bias"].shape == (2,)


def test_instance_norm_of_an_unbatched_input_sizes_from_its_channels():
    layer = nn.LazyInstanceNorm2d()
    params, state = layer.init(jax.random.key(0), jnp.ones((3, 5, 5)))
    assert params["weight"].shape == (3,)


def test_norm_without_arrays_needs_no_example():
    layer = nn.LazyBatchNorm1d(affine=False, track_running_stats=False)
    assert layer.init(jax.random.key(0)) == ({}, {})
    out, _ = layer.apply({}, {}, jnp.arange(12.0).reshape(4, 3))
    np.testing.assert_allclose(np.asarray(out).mean(0), 0, atol=1e-6)
