"""The module protocol: init/apply, frozen hashable layers, context routing, printing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
from fnet import nn


class Net(nn.Module):
    def __init__(self, hidden: int = 8):
        super().__init__()
        self.fc1 = nn.Linear(4, hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, 2)

    def forward(self, ctx, x):
        return self.fc2(ctx, self.act(ctx, self.fc1(ctx, x)))


def test_init_names_are_torch_state_dict_names():
    params, state = Net().init(jax.random.key(0))
    assert set(fnet.state_dict(params)) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert params["fc1"]["weight"].shape == (8, 4)
    assert state == {}


def test_apply_is_pure_and_jittable():
    model = Net()
    params, state = model.init(jax.random.key(1))
    x = jnp.ones((3, 4))
    out1, s1 = model.apply(params, state, x)
    out2, _ = jax.jit(model.apply)(params, state, x)
    np.testing.assert_allclose(out1, out2, rtol=1e-6)
    assert s1 == {}


def test_jit_with_model_as_static_argument():
    @jax.jit
    def run(params, x):
        return Net().apply(params, {}, x)[0]

    params, _ = Net().init(jax.random.key(0))
    assert run(params, jnp.ones((2, 4))).shape == (2, 2)


def test_vmap_grad_and_checkpoint_compose():
    model = Net()
    params, state = model.init(jax.random.key(0))
    xs = jnp.ones((5, 3, 4))
    outs = jax.vmap(lambda x: model.apply(params, state, x)[0])(xs)
    assert outs.shape == (5, 3, 2)
    grads = jax.grad(lambda p: jnp.sum(jax.checkpoint(lambda q: model.apply(q, state, xs[0])[0])(p)))(params)
    assert set(fnet.state_dict(grads)) == set(fnet.state_dict(params))


def test_modules_are_frozen_and_hashable():
    model = Net()
    assert hash(model) == hash(Net()) and model == Net()
    assert model != Net(hidden=16)
    with pytest.raises(AttributeError, match="frozen"):
        model.fc1 = nn.Linear(4, 4)
    with pytest.raises(AttributeError, match="frozen"):
        model.fc1.in_features = 3


def test_init_is_deterministic_and_key_dependent():
    a, _ = Net().init(jax.random.key(0))
    b, _ = Net().init(jax.random.key(0))
    c, _ = Net().init(jax.random.key(1))
    np.testing.assert_array_equal(a["fc1"]["weight"], b["fc1"]["weight"])
    assert not np.allclose(a["fc1"]["weight"], c["fc1"]["weight"])
    assert not np.allclose(a["fc1"]["weight"][:2, :2], a["fc2"]["weight"][:2, :2])


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(4, 8)
            self.act = torch.nn.ReLU()
            self.fc2 = torch.nn.Linear(8, 2)

    assert repr(Net()).replace("Net", "T") == repr(T())
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Identity())
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Identity())
    assert repr(seq) == repr(tseq)


def test_containers_name_children_like_torch():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    params, _ = seq.init(jax.random.key(0))
    assert sorted(fnet.state_dict(params)) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert isinstance(seq[0], nn.Linear) and len(seq) == 3
    assert list(seq[1:].named_children())[0][0] == "1"
    layers = nn.ModuleList()
    layers.append(nn.Linear(2, 2))
    layers.extend([nn.Linear(2, 2)])
    params, _ = layers.init(jax.random.key(0))
    assert sorted(fnet.state_dict(params)) == ["0.bias", "0.weight", "1.bias", "1.weight"]
    with pytest.raises(AttributeError, match="frozen"):
        layers.append(nn.Linear(2, 2))
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    assert heads.keys() == ["a", "b"] and "b" in heads
    params, _ = heads.init(jax.random.key(0))
    assert sorted(fnet.state_dict(params)) == ["a.bias", "a.weight", "b.bias", "b.weight"]


def test_parameters_and_buffers_of_a_custom_layer():
    class Scale(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.scale = nn.Parameter((n,), init=fnet.init.ones_)
            self.offset = nn.Parameter(np.arange(n, dtype=np.float32))
            self.count = nn.Buffer(np.zeros((), np.int32))

        def forward(self, ctx, x):
            ctx.update_state(count=ctx.state["count"] + 1)
            return x * ctx.params["scale"] + ctx.params["offset"]

    layer = Scale(3)
    params, state = layer.init(jax.random.key(0))
    assert set(params) == {"scale", "offset"} and set(state) == {"count"}
    out, new_state = layer.apply(params, state, jnp.ones(3), train=True)
    np.testing.assert_allclose(out, [1.0, 2.0, 3.0])
    assert int(new_state["count"]) == 1
    _, eval_state = layer.apply(params, state, jnp.ones(3), train=False)
    assert eval_state is state


def test_calling_a_module_with_parameters_outside_forward_explains_apply():
    with pytest.raises(TypeError, match="apply"):
        nn.Linear(2, 2)(jnp.ones(2))


def test_array_free_modules_are_callable_like_torch():
    np.testing.assert_array_equal(nn.ReLU()(jnp.array([-1.0, 2.0])), [0.0, 2.0])
    seq = nn.Sequential(nn.ReLU(), nn.Identity())
    np.testing.assert_array_equal(jax.jit(lambda x: seq(x))(jnp.array([-1.0, 2.0])), [0.0, 2.0])


def test_calling_a_module_that_is_not_a_child():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, ctx, x):
            return nn.Linear(2, 2)(ctx, x)

    params, state = Bad().init(jax.random.key(0))
    with pytest.raises(ValueError, match="not a child"):
        Bad().apply(params, state, jnp.ones(2))


def test_shape_bug_names_the_layer_and_both_shapes():
    """The seed article's `Linear(64*7*7, 128)` fed 32x32 feature maps."""

    class Port(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(64 * 7 * 7, 128)

        def forward(self, ctx, x):
            return self.fc1(ctx, x.reshape(x.shape[0], -1))

    params, state = Port().init(jax.random.key(0))
    with pytest.raises(ValueError) as err:
        Port().apply(params, state, jnp.ones((8, 64, 8, 8)))
    msg = str(err.value)
    assert "fc1" in msg and "Linear(in_features=3136" in msg and "(*, 3136)" in msg and "(8, 4096)" in msg


def test_linear_rejects_integer_input():
    params, state = nn.Linear(3, 2).init(jax.random.key(0))
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(3, 2).apply(params, state, jnp.ones((2, 3), jnp.int32))


def test_dropout_style_key_error_shows_the_call():
    class Noisy(nn.Module):
        def forward(self, ctx, x):
            return x + jax.random.normal(ctx.next_key(), x.shape)

    with pytest.raises(ValueError, match=r"key=jax.random.key"):
        Noisy().apply({}, {}, jnp.ones(2), train=True)
    out, _ = Noisy().apply({}, {}, jnp.ones(2), train=True, key=jax.random.key(0))
    assert out.shape == (2,)


def test_summary_lists_parameters_and_total():
    model = Net()
    params, _ = model.init(jax.random.key(0))
    text = fnet.summary(model, params)
    assert "fc1.weight" in text and "(8, 4)" in text
    assert "Total parameters: 58" in text


# -- ParameterList / ParameterDict --------------------------------------------------------------

def test_parameter_containers_names_printing_and_errors():
    torch = pytest.importorskip("torch")
    plist = nn.ParameterList([np.zeros((3, 4), np.float32)])
    plist.append(nn.Parameter((5,), init=fnet.init.ones_))
    assert repr(plist) == repr(torch.nn.ParameterList([torch.zeros(3, 4), torch.ones(5)]))
    params, state = plist.init(jax.random.key(0))
    assert sorted(params) == ["0", "1"] and state == {}
    assert [a.shape for a in plist.apply(params, state)[0]] == [(3, 4), (5,)]
    with pytest.raises(AttributeError, match=r"ParameterList.append: the container was already used"):
        plist.append(np.zeros(2))
    with pytest.raises(TypeError, match=r"ParameterList: entry 0 is a module; use ModuleList/ModuleDict"):
        nn.ParameterList([nn.Linear(2, 2)])
    with pytest.raises(TypeError, match=r"ParameterList: entry 0 must be an nn.Parameter \(a trainable array\), "
                                        r"got Buffer"):
        nn.ParameterList([nn.Buffer(np.zeros(2))])
    with pytest.raises(TypeError, match=r"ParameterDict: entry 'a' must be an nn.Parameter or an array, got object"):
        nn.ParameterDict({"a": object()})
    pdict = nn.ParameterDict({"w": np.ones((2, 2), np.float32)})
    pdict["b"] = np.zeros(2, np.float32)
    assert list(pdict) == ["w", "b"] and "b" in pdict and pdict["w"].shape == (2, 2)
    with pytest.raises(KeyError):
        pdict["missing"]
    tdict = torch.nn.ParameterDict({"w": torch.ones(2, 2)})
    tdict["b"] = torch.zeros(2)
    assert repr(pdict) == repr(tdict)
    # a plain dict is added in sorted key order, as torch does
    assert list(nn.ParameterDict({"w": np.ones(2), "b": np.ones(2)})) == \
        list(torch.nn.ParameterDict({"w": torch.ones(2), "b": torch.ones(2)})) == ["b", "w"]
    # state_dict names are torch's, and a torch state_dict loads
    model = torch.nn.Module()
    model.p = torch.nn.ParameterDict({"w": torch.nn.Parameter(torch.ones(2, 2)), "b": torch.zeros(2)})

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.ParameterDict({"w": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float32)})

        def forward(self, ctx):
            return self.p(ctx)

    params, _ = fnet.load_state_dict(Holder(), model.state_dict())
    assert sorted(fnet.state_dict(params)) == ["p.b", "p.w"]
