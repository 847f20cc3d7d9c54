"""Embedding and one_hot: errors, initialisation, from_pretrained, jit behaviour, printing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
import fnet.functional as F
from fnet import nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4, padding_idx=0)

    def forward(self, ctx, ids):
        return self.embed(ctx, ids)


def test_float_ids_are_refused_naming_the_layer():
    params, state = Tagger().init(jax.random.key(0))
    with pytest.raises(TypeError) as err:
        Tagger().apply(params, state, jnp.ones((2, 3)))
    msg = str(err.value)
    assert "embed (Embedding(10, 4, padding_idx=0))" in msg and "integer indices" in msg and "float32" in msg


@pytest.mark.parametrize("bad", [10, -1, 42])
def test_out_of_range_ids_raise_with_the_range(bad):
    params, state = Tagger().init(jax.random.key(0))
    ids = jnp.array([[1, 2, bad]])
    with pytest.raises(IndexError) as err:
        Tagger().apply(params, state, ids)
    msg = str(err.value)
    assert "Embedding(10, 4" in msg and "[0, 9]" in msg and str(bad) in msg
    assert isinstance(err.value, ValueError)


def test_under_jit_an_out_of_range_id_gives_a_nan_row():
    weight = jnp.arange(12.0).reshape(4, 3)
    out = jax.jit(F.embedding)(jnp.array([1, 4, -1]), weight)
    np.testing.assert_array_equal(out[0], [3.0, 4.0, 5.0])
    assert bool(jnp.all(jnp.isnan(out[1]))) and bool(jnp.all(jnp.isnan(out[2])))


def test_padding_idx_checks_and_normalisation():
    with pytest.raises(ValueError, match=r"Embedding: padding_idx must be within num_embeddings.*got 10"):
        nn.Embedding(10, 4, padding_idx=10)
    with pytest.raises(ValueError, match="got -11"):
        nn.Embedding(10, 4, padding_idx=-11)
    layer = nn.Embedding(10, 4, padding_idx=-1)
    assert layer.padding_idx == 9
    params, _ = layer.init(jax.random.key(0))
    np.testing.assert_array_equal(params["weight"][9], np.zeros(4))
    with pytest.raises(ValueError, match="embedding: padding_idx must be within"):
        F.embedding(jnp.array([0]), jnp.ones((3, 2)), padding_idx=3)


def test_default_init_is_standard_normal():
    params, _ = nn.Embedding(2000, 64).init(jax.random.key(0))
    w = np.asarray(params["weight"])
    assert w.shape == (2000, 64) and w.dtype == np.float32
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


def test_padding_row_gets_no_gradient():
    params, state = Tagger().init(jax.random.key(0))
    ids = jnp.array([[0, 1, 0, 2]])
    grads = jax.grad(lambda p: jnp.sum(Tagger().apply(p, state, ids)[0]))(params)
    g = np.asarray(grads["embed"]["weight"])
    np.testing.assert_array_equal(g[0], 0)
    np.testing.assert_array_equal(g[1], 1)


def test_weight_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"embedding: expected a 2-D weight .* got shape \(5,\)"):
        F.embedding(jnp.array([1]), jnp.ones(5))


def test_from_pretrained_returns_the_table_and_freezes_it():
    table = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    frozen = nn.Embedding.from_pretrained(table)
    params, state = frozen.init(jax.random.key(0))
    np.testing.assert_array_equal(params["weight"], table)
    ids = jnp.array([1, 2, 2])
    g = jax.grad(lambda p: jnp.sum(frozen.apply(p, state, ids)[0]))(params)
    np.testing.assert_array_equal(g["weight"], 0)
    trainable = nn.Embedding.from_pretrained(table, freeze=False)
    g = jax.grad(lambda p: jnp.sum(trainable.apply(p, state, ids)[0]))(params)
    np.testing.assert_array_equal(g["weight"][2], 2)
    with pytest.raises(ValueError, match=r"expected 2-dimensional embeddings .* got shape \(6,\)"):
        nn.Embedding.from_pretrained(np.ones(6))
    with pytest.raises(ValueError, match=r"expected \(4, 3\), got \(6, 3\)"):
        nn.Embedding(4, 3, _weight=table)


def test_max_norm_renormalises_the_output_not_the_parameters():
    layer = nn.Embedding(5, 3, max_norm=1.0)
    params, state = layer.init(jax.random.key(0))
    before = np.asarray(params["weight"]).copy()
    out, _ = layer.apply(params, state, jnp.arange(5))
    assert np.all(np.linalg.norm(np.asarray(out), axis=-1) <= 1.0 + 1e-6)
    np.testing.assert_array_equal(params["weight"], before)


def test_embedding_loads_a_torch_state_dict():
    torch = pytest.importorskip("torch")
    t = torch.nn.Embedding(5, 2)
    pretrained = nn.Embedding.from_pretrained(t.weight)  # a parameter that requires grad
    np.testing.assert_array_equal(pretrained.init(jax.random.key(0))[0]["weight"], t.weight.detach().numpy())
    t = torch.nn.Embedding(7, 3, padding_idx=2)
    params, state = fnet.load_state_dict(nn.Embedding(7, 3, padding_idx=2), t.state_dict())
    ids = np.array([[0, 2, 6]])
    out, _ = nn.Embedding(7, 3, padding_idx=2).apply(params, state, jnp.asarray(ids))
    np.testing.assert_allclose(out, t(torch.from_numpy(ids)).detach().numpy(), rtol=1e-6)


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    for args, kw in [((10, 4), {}), ((10, 4), {"padding_idx": -1}),
                     ((10, 4), {"max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True, "sparse": True})]:
        assert repr(nn.Embedding(*args, **kw)) == repr(torch.nn.Embedding(*args, **kw))


# -- one_hot -----------------------------------------------------------------------------------


def test_one_hot_infers_classes_eagerly_and_needs_them_under_jit():
    np.testing.assert_array_equal(F.one_hot(jnp.array([0, 2])), [[1, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"pass it explicitly, F.one_hot\(x, num_classes=10\)"):
        jax.jit(F.one_hot)(jnp.array([0, 2]))
    out = jax.jit(lambda t: F.one_hot(t, num_classes=4))(jnp.array([3, 1]))
    np.testing.assert_array_equal(out, [[0, 0, 0, 1], [0, 1, 0, 0]])


def test_one_hot_errors():
    with pytest.raises(ValueError, match="non-negative, got -1"):
        F.one_hot(jnp.array([1, -1]))
    with pytest.raises(ValueError, match="smaller than num_classes=3, got 3"):
        F.one_hot(jnp.array([1, 3]), 3)
    with pytest.raises(ValueError, match="empty tensor"):
        F.one_hot(jnp.zeros((0,), jnp.int32))
    with pytest.raises(TypeError, match="expected integer class ids .* got dtype float32"):
        F.one_hot(jnp.array([1.0]))
    assert F.one_hot(jnp.zeros((0,), jnp.int32), 3).shape == (0, 3)


def test_one_hot_dtype_is_the_default_integer():
    assert F.one_hot(jnp.array([1]), 2).dtype == jnp.int32
    with jax.enable_x64(True):
        assert F.one_hot(jnp.array([1]), 2).dtype == jnp.int64


# -- embedding_bag / EmbeddingBag ---------------------------------------------------------------

def test_embedding_bag_errors():
    w = jnp.ones((10, 3))
    ids = jnp.asarray([1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"^embedding_bag: mode has to be one of 'sum', 'mean' or 'max', got 'min'"):
        F.embedding_bag(ids, w, jnp.asarray([0]), mode="min")
    with pytest.raises(ValueError, match=r"^embedding_bag: a 1-D input needs offsets"):
        F.embedding_bag(ids, w)
    with pytest.raises(ValueError, match=r"^embedding_bag: if input is 2-D \(B, N\), offsets has to be None"):
        F.embedding_bag(ids.reshape(2, 2), w, jnp.asarray([0, 1]))
    with pytest.raises(ValueError, match=r"^embedding_bag: offsets\[0\] has to be 0"):
        F.embedding_bag(ids, w, jnp.asarray([1, 2]))
    with pytest.raises(ValueError, match=r"offsets must be non-decreasing, got \[0, 3, 2\]"):
        F.embedding_bag(ids, w, jnp.asarray([0, 3, 2]))
    with pytest.raises(ValueError, match=r"with include_last_offset=True the last offset must be the input's length 4"):
        F.embedding_bag(ids, w, jnp.asarray([0, 2, 3]), include_last_offset=True)
    with pytest.raises(NotImplementedError, match=r"per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(ids, w, jnp.asarray([0]), per_sample_weights=jnp.ones(4))
    with pytest.raises(ValueError, match=r"expected per_sample_weights of the input's shape \(4,\), got \(3,\)"):
        F.embedding_bag(ids, w, jnp.asarray([0]), mode="sum", per_sample_weights=jnp.ones(3))
    with pytest.raises(ValueError, match=r"max mode does not support scaling the gradient by the frequency"):
        F.embedding_bag(ids, w, jnp.asarray([0]), mode="max", scale_grad_by_freq=True)
    with pytest.raises(TypeError, match=r"^embedding_bag: expected integer indices"):
        F.embedding_bag(ids.astype(jnp.float32), w, jnp.asarray([0]))
    with pytest.raises(IndexError, match=r"index out of range"):
        F.embedding_bag(jnp.asarray([1, 12]), w, jnp.asarray([0]))
    with pytest.raises(ValueError, match=r"^EmbeddingBag: mode has to be one of"):
        nn.EmbeddingBag(10, 3, mode="min")
    layer = nn.EmbeddingBag(10, 3, mode="sum", padding_idx=-1)
    assert layer.padding_idx == 9
    params, _ = layer.init(jax.random.key(0))
    assert np.all(np.asarray(params["weight"][9]) == 0)
    with pytest.raises(ValueError, match=r"^EmbeddingBag\(10, 3, mode='sum', padding_idx=9\): embedding_bag: a 1-D input needs offsets"):
        layer.apply(params, {}, ids)
    # empty bags give zeros, in every mode
    for mode in ("sum", "mean", "max"):
        out = F.embedding_bag(ids, w, jnp.asarray([0, 0, 4]), mode=mode)
        assert np.all(np.asarray(out[0]) == 0) and np.all(np.asarray(out[2]) == 0)


def test_embedding_bag_repr_and_signature_match_torch():
    import inspect

    torch = pytest.importorskip("torch")

    for kw in [{}, dict(mode="max", padding_idx=2), dict(max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True)]:
        assert repr(nn.EmbeddingBag(10, 3, **kw)) == repr(torch.nn.EmbeddingBag(10, 3, **kw))
    assert list(inspect.signature(F.embedding_bag).parameters) == \
        list(inspect.signature(torch.nn.functional.embedding_bag).parameters)
    assert list(inspect.signature(nn.EmbeddingBag.__init__).parameters) == \
        list(inspect.signature(torch.nn.EmbeddingBag.__init__).parameters)
