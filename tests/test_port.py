"""fnet.port beyond the parity family: errors, the module contract, dynamic batch, printing,
state, randomness and the recurrent kernels. Models are tiny; ports are shared per module."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import fnet
from fnet import nn
from fnet.parity.port_models import MODELS, torch_inputs


def _np(t):
    return t.detach().numpy()


class Small(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(3, 4, 3, padding=1)
        self.bn = tnn.BatchNorm2d(4)
        self.drop = tnn.Dropout(0.5)
        self.fc = tnn.Linear(4 * 4 * 4, 5)
        self.register_buffer("table", torch.arange(5.0), persistent=False)

    def forward(self, x):
        x = TF.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.drop(self.fc(x.flatten(1))) + self.table


@functools.lru_cache(maxsize=None)
def small_port():
    torch.manual_seed(0)
    module = Small()
    return module, fnet.port(module, (torch.randn(3, 3, 8, 8),), check=False)


def test_port_is_an_fnet_module_with_torch_names():
    module, ported = small_port()
    model, params, state = ported
    assert isinstance(model, nn.Module)
    assert sorted(fnet.state_dict(params)) == sorted(dict(module.named_parameters()))
    assert sorted(fnet.state_dict(state)) == sorted(dict(module.named_buffers()))
    assert isinstance(model.fc, nn.Linear) and isinstance(model.bn, nn.BatchNorm2d)  # torch-style access
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "conv", "bn", "drop", "fc"]
    assert hash(model) == hash(model) and model == model


def test_print_matches_torch():
    module, ported = small_port()
    assert repr(ported.model) == repr(module)


def test_print_matches_torch_for_transformers_models():
    entry = MODELS["hf.bert"]
    torch.manual_seed(0)
    module = entry.build(False)
    args, kwargs = torch_inputs(*entry.inputs(np.random.default_rng(0)))
    ported = fnet.port(module, args, kwargs, check=False)
    assert repr(ported.model) == repr(module)
    assert "(0-1): 2 x BertLayer(" in repr(ported.model)  # ModuleList folds equal layers like torch


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_one_port_serves_every_batch_size(batch):
    module, ported = small_port()
    model, params, state = ported
    x = torch.randn(batch, 3, 8, 8)
    module.eval()
    want = _np(module(x))
    got, _ = jax.jit(lambda p, s, x: model.apply(p, s, x))(params, state, jnp.asarray(x.numpy()))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_wrong_input_shape_and_dtype_are_clear_errors():
    _, ported = small_port()
    model, params, state = ported
    with pytest.raises(ValueError, match=r"expected shape \(\*, 3, 8, 8\).*got \(2, 3, 9, 8\)"):
        model.apply(params, state, jnp.zeros((2, 3, 9, 8)))
    with pytest.raises(TypeError, match="expected a floating array"):
        model.apply(params, state, jnp.zeros((2, 3, 8, 8), jnp.int32))
    with pytest.raises(TypeError, match="tuple of 1 entries"):
        model.apply(params, state, jnp.zeros((2, 3, 8, 8)), jnp.zeros((2, 3, 8, 8)))


def test_train_mode_batchnorm_statistics_and_dropout_keys():
    module, ported = small_port()
    model, params, state = ported
    x = jnp.asarray(np.random.default_rng(1).standard_normal((6, 3, 8, 8)), jnp.float32)
    with pytest.raises(ValueError, match="PRNG key"):
        model.apply(params, state, x, train=True)
    out1, new_state = model.apply(params, state, x, train=True, key=jax.random.key(1))
    out2, _ = model.apply(params, state, x, train=True, key=jax.random.key(1))
    out3, _ = model.apply(params, state, x, train=True, key=jax.random.key(2))
    np.testing.assert_array_equal(np.asarray(out1), np.asarray(out2))
    assert not np.array_equal(np.asarray(out1), np.asarray(out3))
    assert int(new_state["bn"]["num_batches_tracked"]) == 1
    twin = Small()
    twin.load_state_dict(module.state_dict())
    twin.train()
    twin(torch.from_numpy(np.asarray(x)))
    np.testing.assert_allclose(np.asarray(new_state["bn"]["running_var"]), _np(twin.bn.running_var), rtol=1e-5)
    # the eval program leaves the state alone
    _, same = model.apply(params, state, x, train=False)
    assert same is state


def test_dropout_statistics_in_a_port():
    torch.manual_seed(0)
    module = tnn.Sequential(tnn.Linear(4, 4), tnn.Dropout(0.3))
    model, params, state = fnet.port(module, (torch.randn(2, 4),), check=False)
    params = jax.tree.map(jnp.zeros_like, params)
    params["0"]["bias"] = jnp.ones(4)
    out, _ = model.apply(params, state, jnp.zeros((5000, 4)), train=True, key=jax.random.key(0))
    out = np.asarray(out)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01  # keep rate 1 - p
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)  # torch's 1/(1-p) scaling


def test_non_persistent_buffers_are_state_but_not_saved(tmp_path):
    module, ported = small_port()
    model, params, state = ported
    assert "table" in state
    assert model.non_persistent_buffers() == ["table"]
    sd = fnet.state_dict(params, state, model=model)
    assert "table" not in sd and "bn.running_mean" in sd
    assert sorted(sd) == sorted(module.state_dict())
    ported.save(tmp_path / "small.safetensors")
    twin = Small()
    from safetensors.torch import load_file

    twin.load_state_dict(load_file(tmp_path / "small.safetensors"), strict=True)
    loaded_params, loaded_state = fnet.load(tmp_path / "small.safetensors", model)
    np.testing.assert_array_equal(np.asarray(loaded_state["table"]), np.arange(5.0))
    with pytest.raises(fnet.StateDictError, match='Unexpected key.*"table"'):
        fnet.load_state_dict(model, {**module.state_dict(), "table": module.table})


def test_tied_weights_stay_one_parameter(tmp_path):
    entry = MODELS["hf.gpt2"]
    torch.manual_seed(0)
    module = entry.build(False)
    args, kwargs = torch_inputs(*entry.inputs(np.random.default_rng(0)))
    model, params, state = ported = fnet.port(module, args, kwargs, check=False)
    assert model.tied_parameters() == {"lm_head.weight": "transformer.wte.weight"}
    assert "lm_head" not in params
    init_params, _ = model.init(jax.random.key(0))
    assert jax.tree.structure(init_params) == jax.tree.structure(params)
    sd = fnet.state_dict(params, state, model=model)
    assert sorted(sd) == sorted(module.state_dict())
    np.testing.assert_array_equal(sd["lm_head.weight"], sd["transformer.wte.weight"])
    reloaded, _ = fnet.load_state_dict(model, module.state_dict())
    assert jax.tree.structure(reloaded) == jax.tree.structure(params)


def test_unsupported_ops_are_listed_together_with_source_lines():
    class TwoUnsupported(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc = tnn.Linear(4, 4)

        def forward(self, x):
            y = torch.special.bessel_j0(self.fc(x))
            z = torch.special.bessel_j1(y)
            return torch.special.bessel_j0(z) + y

    with pytest.raises(fnet.UnsupportedOpsError) as info:
        fnet.port(TwoUnsupported(), (torch.randn(2, 4),), check=False)
    err = info.value
    assert set(err.ops) == {"aten.special_bessel_j0.default", "aten.special_bessel_j1.default"}
    assert len(err.ops["aten.special_bessel_j0.default"]) == 2  # both uses, each with its line
    message = str(err)
    assert "2 operators of TwoUnsupported cannot be ported yet" in message
    assert "test_port.py" in message and "y = torch.special.bessel_j0(self.fc(x))" in message
    assert "z = torch.special.bessel_j1(y)" in message
    assert "README.md" in message


def test_batch_of_one_cannot_be_dynamic_and_says_why():
    module = tnn.Linear(3, 2)
    with pytest.raises(ValueError, match="example batch of 2 or more"):
        fnet.port(module, (torch.randn(1, 3),), check=False)
    model, params, state = fnet.port(module, (torch.randn(1, 3),), dynamic_batch=False, check=False)
    with pytest.raises(ValueError, match=r"expected shape \(1, 3\)"):
        model.apply(params, state, jnp.zeros((2, 3)))


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        fnet.port(lambda x: x, (torch.randn(2, 3),))
    with pytest.raises(ValueError, match="check_dtypes"):
        fnet.port(tnn.Linear(3, 2), (torch.randn(2, 3),), check_dtypes=("float16",))


def test_python_arguments_are_fixed_at_capture():
    class Scaled(tnn.Module):
        def forward(self, x, scale=2.0):
            return x * scale

    model, params, state = fnet.port(Scaled(), (torch.randn(2, 3),), {"scale": 3.0}, check=False)
    out, _ = model.apply(params, state, jnp.ones((2, 3)), scale=3.0)
    np.testing.assert_allclose(np.asarray(out), 3.0)
    with pytest.raises(ValueError, match="captured with 3.0"):
        model.apply(params, state, jnp.ones((2, 3)), scale=4.0)


def test_recurrent_layers_run_as_a_scan_not_unrolled():
    # torch.export fixes an LSTM's sequence length, so port it at two lengths: the
    # program (one scan) must not grow with the sequence, as torch's unrolled graph does
    def count(steps):
        torch.manual_seed(0)
        module = MODELS["lstm_classifier"].build(False)
        model, params, state = fnet.port(module, (torch.randn(2, steps, 8),), check=False)
        text = str(jax.make_jaxpr(lambda p, x: model.apply(p, state, x)[0])(params, jnp.zeros((2, steps, 8))))
        return text.count("scan["), text.count("dot_general")

    short, long = count(3), count(30)
    assert short == long and short[0] >= 1


def test_dynamic_sequence_length():
    entry = MODELS["hf.bert"]
    torch.manual_seed(0)
    module = entry.build(False).eval()
    args, kwargs = torch_inputs(*entry.inputs(np.random.default_rng(0)))
    auto = torch.export.Dim.AUTO
    dims = {"input_ids": {0: auto, 1: auto}, "attention_mask": {0: auto, 1: auto}}
    model, params, state = fnet.port(module, args, kwargs, dynamic_shapes=dims, check=False)
    rng = np.random.default_rng(1)
    ids, mask = rng.integers(3, 99, (2, 11)), np.ones((2, 11), np.int64)
    mask[0, 8:] = 0
    want = _np(module(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits)
    got = model.apply(params, state, input_ids=jnp.asarray(ids), attention_mask=jnp.asarray(mask))[0]
    np.testing.assert_allclose(np.asarray(got.logits), want, rtol=1e-5, atol=1e-5)


def test_grad_vmap_and_summary():
    _, ported = small_port()
    model, params, state = ported
    xs = jnp.asarray(np.random.default_rng(2).standard_normal((4, 2, 3, 8, 8)), jnp.float32)
    batched = jax.vmap(lambda x: model.apply(params, state, x)[0])(xs)
    looped = jnp.stack([model.apply(params, state, x)[0] for x in xs])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(looped), rtol=1e-5, atol=1e-6)
    grads = jax.grad(lambda p: jnp.sum(model.apply(p, state, xs[0])[0]))(params)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    table = fnet.summary(model, params, state)
    assert "conv.weight" in table and "Total parameters: 445" in table


def test_init_draws_fresh_layers_and_keeps_custom_values():
    torch.manual_seed(0)
    module = MODELS["custom_layer"].build(False)
    model, params, state = fnet.port(module, (torch.randn(2, 4),), check=False)
    fresh, _ = model.init(jax.random.key(3))
    # the mapped Linear draws torch's default init; the custom module keeps its port-time values
    assert not np.allclose(np.asarray(fresh["out"]["weight"]), np.asarray(params["out"]["weight"]))
    np.testing.assert_array_equal(np.asarray(fresh["gated"]["gate"]), np.asarray(params["gated"]["gate"]))
    with pytest.raises(TypeError, match="runs inside the whole port"):
        model.gated.apply(params["gated"], {}, jnp.zeros((2, 4)))


def test_in_place_writes_follow_torch_views():
    class Writes(tnn.Module):
        def forward(self, x):
            y = x * 1.0
            row = y[0]            # a view
            y[0, 1:] = 5.0        # write through another view of the same base
            t = y.t()
            t[2].zero_()          # write through a transpose
            y.add_(1)             # in place on the base: row and t see it
            return row * 1.0, t.sum(0), y

    x = torch.randn(3, 4)
    model, params, state = fnet.port(Writes(), (x,), dynamic_batch=False, check=False)
    got = model.apply(params, state, jnp.asarray(x.numpy()))[0]
    want = Writes()(x.clone())
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), _np(w), rtol=1e-6)


def test_in_place_view_operators_keep_other_views():
    class Reshapes(tnn.Module):
        def forward(self, x):
            y = x * 1.0
            first = y[0]
            y.unsqueeze_(0)       # y is now (1, 3, 4); `first` still views row 0
            y[0, 1] = 7.0         # write through the re-viewed name
            y.squeeze_(0)
            return first * 1.0, y * 1.0

    x = torch.randn(3, 4)
    model, params, state = fnet.port(Reshapes(), (x,), dynamic_batch=False, check=False)
    got = model.apply(params, state, jnp.asarray(x.numpy()))[0]
    for g, w in zip(got, Reshapes()(x.clone())):
        np.testing.assert_allclose(np.asarray(g), _np(w), rtol=1e-6)


def test_results_that_are_views_only_sometimes():
    class Maybe(tnn.Module):
        def forward(self, x):
            y = x * 1.0
            copied = y.t().reshape(-1)        # not viewable: torch copies
            viewed = y.reshape(-1)            # viewable: a view of y
            wider = y.to(torch.float64)       # a new tensor
            same = y.contiguous()             # y itself
            copied[0] = 100.0
            wider[0, 0] = -100.0
            same[1, 1] = 7.0                  # reaches y and viewed
            return y * 1.0, viewed * 1.0, copied * 1.0, wider * 1.0

    x = torch.randn(3, 4)
    model, params, state = fnet.port(Maybe(), (x,), dynamic_batch=False, check=False)
    with jax.enable_x64(True):
        got = model.apply(params, state, jnp.asarray(x.numpy()))[0]
        for g, w in zip(got, Maybe()(x.clone())):
            np.testing.assert_allclose(np.asarray(g), _np(w), rtol=1e-6)
