"""Attention and transformer layers: errors, initialisation, dropout, torch's fast path.

Numerical agreement with torch is in parity_tests/test_attention.py.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
import fnet.functional as F
from fnet import nn

torch = pytest.importorskip("torch")


def _qkv(seed=0, q=(2, 3, 4, 8), kv=(2, 3, 5, 8)):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.standard_normal(q), jnp.float32), jnp.asarray(rng.standard_normal(kv), jnp.float32),
            jnp.asarray(rng.standard_normal(kv), jnp.float32))


# -- scaled_dot_product_attention --------------------------------------------------------

def test_sdpa_refuses_bad_inputs_with_clear_errors():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="dropout_key"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=0.1)
    with pytest.raises(ValueError, match="last dimension E=8"):
        F.scaled_dot_product_attention(q, k[..., :7], v)
    with pytest.raises(ValueError, match="sequence length S=5"):
        F.scaled_dot_product_attention(q, k, v[..., :4, :])
    with pytest.raises(TypeError, match="bool or floating attn_mask"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=jnp.ones((4, 5), jnp.int32))
    with pytest.raises(ValueError, match="attn_mask and the attention weights"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=jnp.ones((3, 5), bool))
    with pytest.raises(ValueError, match="number of key heads must divide"):
        F.scaled_dot_product_attention(jnp.zeros((2, 3, 4, 8)), jnp.zeros((2, 2, 5, 8)),
                                       jnp.zeros((2, 2, 5, 8)), enable_gqa=True)
    with pytest.raises(ValueError, match="batch dimensions"):
        F.scaled_dot_product_attention(jnp.zeros((2, 4, 4, 8)), jnp.zeros((2, 2, 5, 8)), jnp.zeros((2, 2, 5, 8)))
    with pytest.raises(TypeError, match="same dtype"):
        F.scaled_dot_product_attention(q, k.astype(jnp.bfloat16), v)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.scaled_dot_product_attention(q[0, 0, 0], k[0, 0, 0], v[0, 0, 0])


def test_sdpa_dropout_is_keyed_unbiased_and_jittable():
    q, k, v = _qkv()
    plain = F.scaled_dot_product_attention(q, k, v)
    fn = jax.jit(lambda key: F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, dropout_key=key))
    a, b = fn(jax.random.key(1)), fn(jax.random.key(1))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, fn(jax.random.key(2)))
    # dropout keeps the expectation: averaging many masks approaches the plain result
    mean = jnp.mean(jax.vmap(fn)(jax.random.split(jax.random.key(0), 400)), axis=0)
    np.testing.assert_allclose(mean, plain, atol=0.12)  # ~5 standard errors of a 400-sample mean
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.0, dropout_key=jax.random.key(0)), 0.0)


def test_sdpa_fully_masked_row_is_zero_with_finite_gradient():
    q, k, v = _qkv()
    mask = jnp.ones((4, 5), bool).at[2].set(False)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(out[:, :, 2], 0.0)
    grad = jax.grad(lambda q: jnp.sum(F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))(q)
    assert np.isfinite(np.asarray(grad)).all()


# -- MultiheadAttention --------------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"kdim": 5, "vdim": 3}, {"add_bias_kv": True, "bias": False},
                                {"add_zero_attn": True, "batch_first": True}])
def test_mha_parameter_names_shapes_and_repr_match_torch(kw):
    model = nn.MultiheadAttention(8, 2, **kw)
    params, state = model.init(jax.random.key(0))
    ref = torch.nn.MultiheadAttention(8, 2, **kw)
    flat = fnet.state_dict(params)
    assert {k: v.shape for k, v in flat.items()} == {k: tuple(v.shape) for k, v in ref.named_parameters()}
    assert state == {}
    assert repr(model) == repr(ref)


def test_mha_init_follows_torch():
    model = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    p, _ = model.init(jax.random.key(0))
    bound = math.sqrt(6.0 / (64 + 3 * 64))  # xavier_uniform on (3E, E)
    w = np.asarray(p["in_proj_weight"])
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    np.testing.assert_array_equal(p["in_proj_bias"], 0.0)
    np.testing.assert_array_equal(p["out_proj"]["bias"], 0.0)
    out_bound = 1 / math.sqrt(64)  # Linear's kaiming_uniform(a=sqrt(5)) bound
    assert np.abs(np.asarray(p["out_proj"]["weight"])).max() <= out_bound
    assert p["bias_k"].shape == (1, 1, 64) and 0.05 < float(np.std(p["bias_k"])) < 0.25  # xavier_normal std 0.125


def test_mha_errors_name_the_layer():
    model = nn.MultiheadAttention(8, 2)
    params, _ = model.init(jax.random.key(0))
    x = jnp.ones((4, 2, 8))
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match=r"MultiheadAttention.*query with embedding dimension 8"):
        model.apply(params, {}, jnp.ones((4, 2, 6)), jnp.ones((4, 2, 6)), jnp.ones((4, 2, 6)))
    with pytest.raises(ValueError, match="is_causal=True .* needs attn_mask"):
        model.apply(params, {}, x, x, x, is_causal=True)
    with pytest.raises(ValueError, match=r"key_padding_mask \(2, 4\)"):
        model.apply(params, {}, x, x, x, key_padding_mask=jnp.zeros((2, 3), bool))
    with pytest.raises(ValueError, match=r"2-D attn_mask \(4, 4\)"):
        model.apply(params, {}, x, x, x, attn_mask=jnp.zeros((4, 3), bool))
    with pytest.raises(ValueError, match="query .L, N, E. or unbatched"):
        model.apply(params, {}, x[None], x[None], x[None])
    dropping = nn.MultiheadAttention(8, 2, dropout=0.5)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        dropping.apply(params, {}, x, x, x, train=True)


def test_mha_dropout_only_in_training():
    model = nn.MultiheadAttention(8, 2, dropout=0.5)
    params, _ = model.init(jax.random.key(0))
    x = jnp.asarray(np.random.default_rng(0).standard_normal((4, 2, 8)), jnp.float32)
    eval_out, _ = model.apply(params, {}, x, x, x)[0]
    train = [model.apply(params, {}, x, x, x, train=True, key=jax.random.key(i))[0][0] for i in (0, 0, 1)]
    np.testing.assert_array_equal(train[0], train[1])
    assert not np.allclose(train[0], train[2]) and not np.allclose(train[0], eval_out)


# -- Transformer layers ---------------------------------------------------------------------

def test_encoder_layers_are_independent_copies_named_like_torch():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    params, _ = enc.init(jax.random.key(0))
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 3, norm=torch.nn.LayerNorm(8),
                                      enable_nested_tensor=False)
    flat = fnet.state_dict(params)
    assert list(flat) == list(ref.state_dict())
    w0, w1 = flat["layers.0.linear1.weight"], flat["layers.1.linear1.weight"]
    assert not np.allclose(w0, w1)
    # the prototype layer keeps working on its own
    p, _ = layer.init(jax.random.key(0))
    assert layer.apply(p, {}, jnp.ones((5, 2, 8)))[0].shape == (5, 2, 8)


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_reprs_match_torch(norm_first):
    for f, t in ((nn.TransformerEncoderLayer, torch.nn.TransformerEncoderLayer),
                 (nn.TransformerDecoderLayer, torch.nn.TransformerDecoderLayer)):
        kw = dict(dim_feedforward=16, dropout=0.2, norm_first=norm_first, layer_norm_eps=1e-6, bias=False)
        assert repr(f(8, 2, **kw)) == repr(t(8, 2, **kw))


def test_transformer_init_is_xavier_on_matrices():
    model = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32)
    params, _ = model.init(jax.random.key(0))
    w = np.asarray(params["encoder"]["layers"]["0"]["linear1"]["weight"])  # (32, 16)
    bound = math.sqrt(6.0 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert set(fnet.state_dict(params)) == set(dict(torch.nn.Transformer(
        16, 2, 1, 1, 32).named_parameters()))


def test_generate_square_subsequent_mask_matches_torch():
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(5),
                                  torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())


def test_transformer_errors():
    with pytest.raises(ValueError, match="activation should be 'relu' or 'gelu'"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8)
    params, _ = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="batch number of src and tgt must be equal"):
        model.apply(params, {}, jnp.ones((5, 2, 8)), jnp.ones((4, 3, 8)))
    with pytest.raises(ValueError, match="equal to d_model=8"):
        model.apply(params, {}, jnp.ones((5, 2, 6)), jnp.ones((4, 2, 6)))
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 8), 1)
    p, _ = enc.init(jax.random.key(0))
    with pytest.raises(ValueError, match="needs attn_mask"):
        enc.apply(p, {}, jnp.ones((5, 2, 8)), is_causal=True)


def test_torch_fast_path_zeros_padding_fnet_keeps_reference_values():
    """torch's eval fast path (no grad, nested tensors) returns 0 at padded positions.

    fnet always computes the reference result; it equals torch's fast path at every
    real token and torch's slow path everywhere.
    """
    torch.manual_seed(0)
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2).eval()
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2)
    params, state = fnet.load_state_dict(enc, ref.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    pad = np.zeros((2, 5), bool)
    pad[1, 3:] = True
    with torch.no_grad():
        fast = ref(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(pad)).numpy()
    slow = ref(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(pad)).detach().numpy()
    out = np.asarray(enc.apply(params, state, jnp.asarray(x), src_key_padding_mask=jnp.asarray(pad))[0])
    np.testing.assert_array_equal(fast[1, 3:], 0.0)
    np.testing.assert_allclose(out[~pad], fast[~pad], atol=1e-5)
    np.testing.assert_allclose(out, slow, atol=1e-5)
