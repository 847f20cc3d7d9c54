"""state_dict interop and safetensors checkpoints, both directions with torch."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import torch

import fnet
from fnet import _safetensors, nn


class FNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, ctx, x):
        return self.fc2(ctx, self.act(ctx, self.fc1(ctx, x)))


class TNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def _x():
    return np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)


def test_torch_to_fnet_gives_the_same_outputs():
    torch.manual_seed(0)
    tnet = TNet()
    params, state = fnet.load_state_dict(FNet(), tnet.state_dict())
    out, _ = FNet().apply(params, state, jnp.asarray(_x()))
    np.testing.assert_allclose(out, tnet(torch.from_numpy(_x())).detach().numpy(), rtol=1.3e-6, atol=1e-5)


def test_fnet_save_loads_into_torch_strict(tmp_path):
    from safetensors.torch import load_file

    model = FNet()
    params, state = model.init(jax.random.key(3))
    path = tmp_path / "ckpt.safetensors"
    fnet.save(path, params, state)
    tnet = TNet()
    tnet.load_state_dict(load_file(str(path)), strict=True)
    out, _ = model.apply(params, state, jnp.asarray(_x()))
    np.testing.assert_allclose(out, tnet(torch.from_numpy(_x())).detach().numpy(), rtol=1.3e-6, atol=1e-5)


def test_torch_save_file_loads_into_fnet(tmp_path):
    from safetensors.torch import save_file

    tnet = TNet()
    path = tmp_path / "torch.safetensors"
    save_file(tnet.state_dict(), str(path))
    params, state = fnet.load(path, FNet())
    out, _ = FNet().apply(params, state, jnp.asarray(_x()))
    np.testing.assert_allclose(out, tnet(torch.from_numpy(_x())).detach().numpy(), rtol=1.3e-6, atol=1e-5)


def test_torch_pt_file_is_read_with_weights_only(tmp_path):
    tnet = TNet()
    path = tmp_path / "model.pt"
    torch.save(tnet.state_dict(), path)
    params, _ = fnet.load(path, FNet())
    np.testing.assert_array_equal(params["fc2"]["bias"], tnet.fc2.bias.detach().numpy())
    # A pickle with arbitrary objects is refused by weights_only=True.
    evil = tmp_path / "evil.pt"
    torch.save({"fc1.weight": object()}, evil)
    with pytest.raises(fnet.CheckpointError, match="weights_only"):
        fnet.load(evil, FNet())


def test_strict_lists_every_missing_unexpected_and_mismatched_key():
    sd = TNet().state_dict()
    del sd["fc1.bias"]
    sd["extra.weight"] = torch.zeros(2)
    sd["fc2.weight"] = torch.zeros(3, 9)
    with pytest.raises(fnet.StateDictError) as err:
        fnet.load_state_dict(FNet(), sd)
    msg = str(err.value)
    assert '"fc1.bias"' in msg and '"extra.weight"' in msg
    assert "size mismatch for fc2.weight" in msg and "(3, 9)" in msg and "(3, 8)" in msg


def test_non_strict_returns_what_it_could_not_match():
    sd = TNet().state_dict()
    del sd["fc1.bias"]
    sd["extra"] = torch.zeros(1)
    result = fnet.load_state_dict(FNet(), sd, strict=False)
    params, state = result
    assert result.missing_keys == ["fc1.bias"] and result.unexpected_keys == ["extra"]
    assert params["fc1"]["bias"].shape == (8,)
    np.testing.assert_array_equal(params["fc1"]["weight"], sd["fc1.weight"].numpy())


def test_dtypes_are_kept_faithfully():
    sd = {k: v.to(torch.bfloat16) for k, v in TNet().state_dict().items()}
    params, _ = fnet.load_state_dict(FNet(), sd)
    assert params["fc1"]["weight"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(params["fc1"]["weight"], np.float32),
                                  sd["fc1.weight"].float().numpy())
    with jax.enable_x64(True):
        sd64 = {k: v.double() for k, v in TNet().state_dict().items()}
        params, _ = fnet.load_state_dict(FNet(), sd64)
        assert params["fc1"]["weight"].dtype == jnp.float64
    params, _ = fnet.load_state_dict(FNet(), sd64)  # without x64: explicit narrowing
    assert params["fc1"]["weight"].dtype == jnp.float32
    params, _ = fnet.load_state_dict(FNet(), sd, dtype=jnp.float32)
    assert params["fc1"]["weight"].dtype == jnp.float32


def test_bfloat16_checkpoint_round_trip_through_torch(tmp_path):
    from safetensors.torch import load_file

    params, state = FNet().init(jax.random.key(0))
    params = jax.tree.map(lambda a: a.astype(jnp.bfloat16), params)
    path = tmp_path / "bf16.safetensors"
    fnet.save(path, params, state)
    loaded = load_file(str(path))
    assert loaded["fc1.weight"].dtype == torch.bfloat16
    back, _ = fnet.load(path, FNet())
    np.testing.assert_array_equal(np.asarray(back["fc1"]["weight"]).view(np.uint16),
                                  np.asarray(params["fc1"]["weight"]).view(np.uint16))


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = FNet()
    old_params, state = model.init(jax.random.key(0))
    new_params, _ = model.init(jax.random.key(1))
    path = tmp_path / "ckpt.safetensors"
    fnet.save(path, old_params, state)
    before = path.read_bytes()

    calls = {"n": 0}
    real_write = _safetensors.write_tensor

    def crash_half_way(handle, array):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed during save")
        real_write(handle, array)

    monkeypatch.setattr(_safetensors, "write_tensor", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        fnet.save(path, new_params, state)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"], "no temporary file is left behind"
    params, _ = fnet.load(path, model)
    np.testing.assert_array_equal(params["fc1"]["weight"], old_params["fc1"]["weight"])


@pytest.mark.parametrize("cut", [4, 20, -7])
def test_truncated_file_raises_a_clear_error(tmp_path, cut):
    params, state = FNet().init(jax.random.key(0))
    path = tmp_path / "ckpt.safetensors"
    fnet.save(path, params, state)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(fnet.CheckpointError, match="truncated|corrupt"):
        fnet.load(path, FNet())


def test_corrupt_header_and_missing_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes((16).to_bytes(8, "little") + b"{not json at all")
    with pytest.raises(fnet.CheckpointError, match="corrupt header"):
        fnet.load(path, FNet())
    with pytest.raises(fnet.CheckpointError, match="no checkpoint"):
        fnet.load(tmp_path / "nothing.safetensors", FNet())


def test_checkpoint_of_another_model_names_the_keys(tmp_path):
    params, state = nn.Linear(4, 8).init(jax.random.key(0))
    path = tmp_path / "linear.safetensors"
    fnet.save(path, params, state)
    with pytest.raises(fnet.StateDictError, match="Missing key"):
        fnet.load(path, FNet())


def test_state_dict_of_shared_module_lists_both_names_like_torch():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    params, state = model.init(jax.random.key(0))
    assert sorted(fnet.state_dict(params)) == ["0.bias", "0.weight"]
    tseq_shared = torch.nn.Linear(2, 2)
    tseq = torch.nn.Sequential(tseq_shared, torch.nn.ReLU(), tseq_shared)
    assert set(fnet.state_dict(params, state, model=model)) == set(tseq.state_dict())
    loaded, _ = fnet.load_state_dict(model, tseq.state_dict())
    np.testing.assert_array_equal(loaded["0"]["weight"], tseq_shared.weight.detach().numpy())


def test_safetensors_reader_agrees_with_the_reference_library(tmp_path):
    from safetensors.numpy import load_file

    tensors = {"a": np.arange(6, dtype=np.int64).reshape(2, 3), "b": np.ones(3, np.float16),
               "c": np.array([True, False])}
    path = tmp_path / "t.safetensors"
    _safetensors.save_file(tensors, path, {"format": "pt"})
    ref = load_file(str(path))
    ours, meta = _safetensors.load_file(path)
    assert meta == {"format": "pt"}
    for name in tensors:
        np.testing.assert_array_equal(ref[name], tensors[name])
        np.testing.assert_array_equal(ours[name], tensors[name])
        assert ours[name].dtype == tensors[name].dtype
    assert np.dtype(ml_dtypes.bfloat16) in _safetensors._NAMES
