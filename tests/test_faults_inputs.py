"""Fault table, part 4: what goes into a model. Checkpoint values of the wrong kind, names
that collide, another model's parameters, dataset files that lie about their contents,
and out-of-range ids and targets under ``jax.jit`` (where XLA would return NaN)."""

from __future__ import annotations

import ast
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import fnet
import fnet.functional as F
from fnet import data as D
from fnet import nn
from fnet import train as T
from fnet.debug import CheckError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, ctx, x):
        return self.bn(ctx, self.fc(ctx, x))


class TNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.bn = torch.nn.BatchNorm1d(3)


def _sd(**changes):
    torch.manual_seed(0)
    sd = {k: v.numpy().copy() for k, v in TNet().state_dict().items()}
    sd.update(changes)
    return sd


# -- names that collide --------------------------------------------------------------------------------

def test_save_refuses_two_tensors_that_flatten_to_one_name_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    fnet.save(path, {"w": jnp.ones(2)})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="'a.b'"):
        fnet.save(path, {"a.b": jnp.zeros(2), "a": {"b": jnp.ones(2)}})
    with pytest.raises(ValueError, match="'running_mean' is both a parameter and a buffer"):
        fnet.save(path, {"running_mean": jnp.zeros(2)}, {"running_mean": jnp.ones(2)})
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["ckpt.safetensors"]


def test_two_checkpoint_names_renamed_onto_one_parameter_are_refused():
    sd = _sd()
    sd["fc.gamma"] = sd["fc.weight"]
    with pytest.raises(fnet.StateDictError, match='keys "fc.weight" and "fc.gamma" both load "fc.weight"'):
        fnet.load_state_dict(Net(), sd, rename=lambda k: k.replace("gamma", "weight"))


# -- the dtype policy: torch's copy_, refusing what would silently change values --------------------------

def test_int8_weight_is_copied_into_the_models_float_dtype_as_torch_does():
    weight = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    params, state = fnet.load_state_dict(Net(), _sd(**{"fc.weight": weight}))
    assert params["fc"]["weight"].dtype == jnp.float32
    tnet = TNet()
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in _sd(**{"fc.weight": weight}).items()})
    np.testing.assert_array_equal(params["fc"]["weight"], tnet.fc.weight.detach().numpy())
    grad = jax.grad(lambda p: Net().apply(p, state, jnp.ones((2, 4)), train=True)[0].sum())(params)
    assert grad["fc"]["weight"].dtype == jnp.float32  # the later jax.grad works


def test_bool_and_int_values_become_float_and_whole_floats_become_the_buffer_int():
    params, state = fnet.load_state_dict(Net(), _sd(**{"fc.bias": np.array([True, False, True]),
                                                         "bn.num_batches_tracked": np.array(3.0, np.float32)}))
    np.testing.assert_array_equal(params["fc"]["bias"], [1.0, 0.0, 1.0])
    assert state["bn"]["num_batches_tracked"].dtype == jnp.int32 and int(state["bn"]["num_batches_tracked"]) == 3


@pytest.mark.parametrize("key,value,pattern", [
    ("bn.num_batches_tracked", np.array(3.7), r'"bn.num_batches_tracked".*not whole numbers \(e.g. 3.7\).*torch '
                                              r"would truncate"),
    ("bn.num_batches_tracked", np.array(np.nan, np.float32), r'"bn.num_batches_tracked".*not whole numbers'),
    ("bn.num_batches_tracked", np.array(2 ** 40, np.int64), r'"bn.num_batches_tracked": the checkpoint holds '
                                                            r"1099511627776, outside the range"),
    ("fc.weight", np.ones((3, 4), np.complex64), r'"fc.weight": the checkpoint holds complex values'),
    ("fc.bias", np.array(["a", "b", "c"]), r'"fc.bias": expected a numeric tensor'),
    ("fc.bias", np.array([object(), None, 1], dtype=object), r'"fc.bias": expected a numeric tensor'),
])
def test_values_the_model_cannot_hold_are_refused_naming_the_key(key, value, pattern):
    with pytest.raises(fnet.StateDictError, match=pattern):
        fnet.load_state_dict(Net(), _sd(**{key: value}))


def test_load_result_reports_like_torch_and_transformers():
    sd = _sd()
    del sd["fc.bias"]
    sd["extra"] = np.zeros(1)
    sd["fc.weight"] = np.zeros((5, 4), np.float32)
    result = fnet.load_state_dict(Net(), sd, strict=False, ignore_mismatched_sizes=True)
    params, state = result
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["extra"]
    assert result.mismatched_keys == [("fc.weight", (5, 4), (3, 4))]
    assert result.newly_initialized_keys == ["fc.bias", "fc.weight"]
    assert params["fc"]["weight"].shape == (3, 4) and isinstance(result, fnet.io.LoadResult)


# -- another model's parameters ----------------------------------------------------------------------------

class Other(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, ctx, x):
        return self.bn(ctx, self.encoder(ctx, x))


def test_applying_another_models_params_names_the_module_and_the_keys():
    params, state = Net().init(jax.random.key(0))
    with pytest.raises(fnet.StateDictError) as err:
        Other().apply(params, state, jnp.ones((2, 4)))
    message = str(err.value)
    assert message.startswith("encoder (Linear(in_features=4, out_features=3, bias=True)): looking up")
    assert 'Missing key(s) in params: "encoder.bias", "encoder.weight".' in message
    assert 'Unexpected key(s) in params: "fc.weight", "fc.bias".' in message
    with pytest.raises(fnet.StateDictError, match="Missing key"):
        jax.jit(lambda p, s, x: Other().apply(p, s, x)[0])(params, state, jnp.ones((2, 4)))


def test_a_users_own_key_error_is_not_rewritten():
    class Lookup(nn.Module):
        def forward(self, ctx, table):
            return table["absent"]

    with pytest.raises(KeyError, match="absent"):
        Lookup().apply({}, {}, {"present": 1})


# -- dataset files -------------------------------------------------------------------------------------------

def test_cifar_batch_cut_at_a_record_boundary_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    record = np.zeros(3073, np.uint8)
    (folder / "test_batch.bin").write_bytes(np.tile(record, 9999).tobytes())  # one record short of 10000
    with pytest.raises(D.DatasetFileError, match=r"holds 9999 records .* holds 10000 .* truncated at a record"):
        D.CIFAR10(tmp_path, train=False)
    (folder / "test_batch.bin").write_bytes(np.tile(record, 10000).tobytes())
    assert len(D.CIFAR10(tmp_path, train=False)) == 10000


def test_mnist_label_outside_the_classes_is_refused(tmp_path):
    import struct

    def idx(array):
        return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()

    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx(np.zeros((3, 28, 28), np.uint8)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx(np.array([1, 200, 3], np.uint8)))
    with pytest.raises(D.DatasetFileError, match=r"label 200 at index 1 is outside the classes 0..9"):
        D.MNIST(tmp_path, train=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx(np.array([1, 2], np.uint8)))
    with pytest.raises(D.DatasetFileError, match="do not pair up"):
        D.MNIST(tmp_path, train=False)


# -- values under jit ------------------------------------------------------------------------------------------

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 3)

    def forward(self, ctx, ids):
        return self.fc(ctx, self.emb(ctx, ids)).mean(axis=1)


IDS = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [1, 1, 2, 2], [3, 3, 4, 4]], np.int32)


def test_without_the_switch_jit_gives_nan_as_xla_does():
    params, state = Tagger().init(jax.random.key(0))
    bad = IDS.copy()
    bad[1, 3] = 12
    out = jax.jit(lambda p, x: Tagger().apply(p, state, x)[0])(params, bad)
    assert np.isnan(np.asarray(out)[1]).all() and np.isfinite(np.asarray(out)[0]).all()


@pytest.mark.parametrize("fn,args,pattern", [
    (lambda p, s, x, y: F.cross_entropy(Tagger().apply(p, s, x)[0], y), (IDS, np.array([0, 1, 3, 2])),
     r"^cross_entropy: target 3 is out of bounds \(at index \[2\]\): class indices must be in \[0, 3\)"),
    (lambda p, s, x, y: F.nll_loss(F.log_softmax(Tagger().apply(p, s, x)[0], 1), y), (IDS, np.array([0, -2, 1, 2])),
     r"^nll_loss: target -2 is out of bounds \(at index \[1\]\)"),
    (lambda p, s, x, y: F.multi_margin_loss(Tagger().apply(p, s, x)[0], y), (IDS, np.array([0, 1, 2, 7])),
     r"^multi_margin_loss: target 7 is out of range \[0, 3\) \(at index \[3\]\)"),
    (lambda p, s, x, y: F.cross_entropy(Tagger().apply(p, s, x)[0], y), (np.where(IDS == 7, 12, IDS),
                                                                          np.array([0, 1, 2, 1])),
     r"^emb \(Embedding\(10, 4\)\): embedding: index out of range: expected ids in \[0, 9\] .* got 12 at index \[1, 2\]"),
])
def test_checked_names_the_layer_or_loss_the_value_and_its_index(fn, args, pattern):
    params, state = Tagger().init(jax.random.key(0))
    step = fnet.debug.checked(lambda p, x, y: jax.grad(lambda q: fn(q, state, x, y))(p))
    with pytest.raises(CheckError, match=pattern):
        step(params, *args)
    good = step(params, IDS, np.array([0, 1, 2, 1]))
    assert jax.tree.structure(good) == jax.tree.structure(params)


def test_checked_refuses_an_already_jitted_function():
    with pytest.raises(TypeError, match="before jax.jit"):
        fnet.debug.checked(jax.jit(lambda x: x))


def _loader(ids, labels):
    return D.DataLoader(D.TensorDataset(ids, labels), batch_size=2)


def test_fit_names_the_step_the_layer_the_value_and_its_index():
    params, state = Tagger().init(jax.random.key(0))
    ids = np.concatenate([IDS, np.where(IDS == 6, 10, IDS)])  # batch 2, row 1, column 1 holds 10
    labels = np.zeros(8, np.int32)
    with pytest.raises(CheckError, match=r"^fit: step 2 \(epoch 1, batch 2\): emb \(Embedding\(10, 4\)\): embedding: index out "
                                         r"of range: .* got 10 at index \[1, 1\]"):
        T.fit(Tagger(), params, state, optax.sgd(0.1), _loader(ids, labels), F.cross_entropy, progress=False)
    labels[5] = 3
    with pytest.raises(CheckError, match=r"^fit: step 2 \(epoch 1, batch 2\): cross_entropy: target 3 is out of "
                                         r"bounds \(at index \[1\]\)"):
        T.fit(Tagger(), params, state, optax.sgd(0.1), _loader(np.concatenate([IDS, IDS]), labels),
              F.cross_entropy, progress=False)
    # Without the value checks the same run stops later, on the NaN, far from the cause.
    with pytest.raises(T.NonFiniteError, match="step 2"):
        T.fit(Tagger(), params, state, optax.sgd(0.1), _loader(ids, np.zeros(8, np.int32)), F.cross_entropy,
              progress=False, check_values=False)


# -- one loading path ------------------------------------------------------------------------------------------

def test_hub_loads_through_the_io_loader_and_imports_no_private_io_helpers(tmp_path):
    from fnet.models import hub
    from fnet.models.bert import BertConfig, BertModel

    tree = ast.parse(open(hub.__file__).read())
    imported = [a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
                and node.module.endswith("io") for a in node.names]
    assert imported and not [n for n in imported if n.startswith("_")], imported
    config = BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=8)
    model = BertModel(config)
    params, _ = model.init(jax.random.key(0))
    model.save_pretrained(tmp_path, params)
    loaded = BertModel.from_pretrained(tmp_path)
    assert isinstance(loaded.result, fnet.io.LoadResult) and loaded.loading_info["missing_keys"] == []
    sd = dict(fnet.state_dict(params))
    sd["pooler.dense.bias"] = np.ones(8, np.complex64)
    os.remove(tmp_path / "model.safetensors")  # safetensors cannot hold complex values; a torch pickle can
    torch.save({k: torch.from_numpy(np.array(v)) for k, v in sd.items()}, tmp_path / "pytorch_model.bin")
    pattern = r'(?s)BertModel.from_pretrained.*"pooler.dense.bias": the checkpoint holds complex values'
    with pytest.raises(fnet.StateDictError, match=pattern):
        BertModel.from_pretrained(tmp_path)


def test_load_adopts_the_readers_buffers_but_never_a_callers_array(tmp_path):
    """fnet.load keeps one copy of the weights (benchmarks/load_memory.py measures 1.00x the
    file); arrays the caller still holds are copied, since JAX arrays must never change."""
    params, state = Net().init(jax.random.key(0))
    path = tmp_path / "net.safetensors"
    fnet.save(path, params, state)
    tensors = fnet.io.read_checkpoint(path)
    adopted = fnet.load_state_dict(Net(), tensors, copy=False).params["fc"]["weight"]
    assert adopted.unsafe_buffer_pointer() == tensors["fc.weight"].ctypes.data
    mine = {k: np.array(v) for k, v in fnet.state_dict(params, state).items()}
    copied = fnet.load_state_dict(Net(), mine).params["fc"]["weight"]
    assert copied.unsafe_buffer_pointer() != mine["fc.weight"].ctypes.data
    mine["fc.weight"][:] = 7.0
    np.testing.assert_array_equal(copied, params["fc"]["weight"])


def test_tied_tensors_of_a_torch_pickle_get_their_own_buffers(tmp_path):
    """torch stores a tied weight once; two parameters adopting one buffer would let a donated
    step overwrite the other."""
    tied = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    tied[1].weight = tied[0].weight
    torch.save(tied.state_dict(), tmp_path / "tied.pt")
    params, _ = fnet.load(tmp_path / "tied.pt", nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)))
    first, second = params["0"]["weight"], params["1"]["weight"]
    np.testing.assert_array_equal(first, second)
    assert first.unsafe_buffer_pointer() != second.unsafe_buffer_pointer()
