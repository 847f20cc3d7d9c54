"""Dropout: keys, errors, direct-call refusal, printing (parity cases are in fnet/parity/cases/dropout.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet.functional as F
from fnet import nn

LAYERS = [nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout]


@pytest.mark.parametrize("fn", [F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout,
                                F.feature_alpha_dropout])
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_probability_outside_unit_interval_is_refused(fn, p):
    with pytest.raises(ValueError, match=rf"between 0 and 1, but got {p}"):
        fn(jnp.ones((2, 3, 4, 5)), p, training=True, key=jax.random.key(0))


@pytest.mark.parametrize("cls", LAYERS)
def test_layer_probability_checked_at_construction(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: dropout probability .* got 2"):
        cls(2)


def test_training_without_key_shows_the_right_call():
    with pytest.raises(ValueError) as err:
        F.dropout(jnp.ones(4), 0.3)
    msg = str(err.value)
    assert "F.dropout(x, p=0.3, training=True, key=jax.random.key(0))" in msg
    with pytest.raises(ValueError, match=r"F.dropout2d\(x, p=0.5, training=True, key="):
        F.dropout2d(jnp.ones((2, 3, 4, 4)), 0.5)


def test_no_key_needed_when_nothing_is_drawn():
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False), x)
    np.testing.assert_array_equal(F.dropout(x, 0.0), x)
    np.testing.assert_array_equal(F.dropout(x, 1.0), jnp.zeros_like(x))
    np.testing.assert_array_equal(F.alpha_dropout(x, 0.5), x)  # torch's default training=False
    out, _ = nn.Dropout(0.5).apply({}, {}, x, train=False)
    np.testing.assert_array_equal(out, x)


def test_p_one_keeps_nan_like_torch():
    out = F.dropout(jnp.array([1.0, jnp.nan, jnp.inf]), 1.0)
    assert out[0] == 0 and bool(jnp.isnan(out[1])) and bool(jnp.isnan(out[2]))


@pytest.mark.parametrize("cls", LAYERS)
def test_layer_in_training_without_key_names_the_layer(cls):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = cls(0.5)

        def forward(self, ctx, x):
            return self.drop(ctx, x)

    with pytest.raises(ValueError) as err:
        Net().apply({}, {}, jnp.ones((2, 3, 4, 5)) if cls is not nn.Dropout1d else jnp.ones((2, 3, 4)),
                    train=True)
    assert "drop (" in str(err.value) and "key=jax.random.key(0)" in str(err.value)


@pytest.mark.parametrize("cls", LAYERS)
def test_direct_call_is_refused_with_the_functional_call(cls):
    with pytest.raises(TypeError) as err:
        cls(0.25)(jnp.ones((2, 3, 4)))
    msg = str(err.value)
    assert "train mode" in msg and "p=0.25, training=True, key=key" in msg


def test_dropout1d_wrong_rank_names_layer_expectation_and_shape():
    with pytest.raises(ValueError) as err:
        nn.Dropout1d(0.5).apply({}, {}, jnp.ones((2, 3, 4, 5)), train=True, key=jax.random.key(0))
    msg = str(err.value)
    assert "Dropout1d(p=0.5, inplace=False)" in msg and "(N, C, L)" in msg and "(2, 3, 4, 5)" in msg
    with pytest.raises(ValueError, match=r"dropout1d: expected 2D or 3D input .* got shape \(5,\)"):
        F.dropout1d(jnp.ones(5), 0.5, key=jax.random.key(0))


def test_feature_dropout_needs_two_dimensions():
    with pytest.raises(ValueError, match=r"feature_alpha_dropout: expected an input with at least 2 "
                                         r"dimensions .* got shape \(5,\)"):
        F.feature_alpha_dropout(jnp.ones(5), 0.5, training=True, key=jax.random.key(0))


def test_integer_input_in_training_names_the_layer_and_dtype():
    with pytest.raises(TypeError, match=r"Dropout\(p=0.5, inplace=False\): dropout: expected a floating-point "
                                        r"input, got dtype int32"):
        nn.Dropout(0.5).apply({}, {}, jnp.ones((2, 3), jnp.int32), train=True, key=jax.random.key(0))
    with pytest.raises(TypeError, match="dropout: expected a floating-point input"):
        F.dropout(jnp.ones(3, jnp.int32), 0.5, key=jax.random.key(0))


def test_dropout2d_warns_like_torch_on_3d_input():
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        F.dropout2d(jnp.ones((2, 3, 4)), 0.5, key=jax.random.key(0))


def test_unbatched_channel_dropout_keeps_shape_and_drops_channels():
    x = jnp.ones((50, 4))
    out = F.dropout1d(x, 0.5, key=jax.random.key(1))
    assert out.shape == (50, 4)
    rows = np.asarray(out)
    assert np.all((rows == 0).all(1) | (rows == 2).all(1)) and 0 < (rows[:, 0] == 0).sum() < 50
    out3 = F.dropout3d(jnp.ones((30, 2, 2, 2)), 0.5, key=jax.random.key(1))
    flat = np.asarray(out3).reshape(30, -1)
    assert np.all((flat == 0).all(1) | (flat == 2).all(1))


def test_model_with_dropout_under_jit_and_grad():
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))
    params, state = model.init(jax.random.key(0))
    x = jnp.ones((4, 8))

    @jax.jit
    def loss(p, key):
        out, _ = model.apply(p, state, x, train=True, key=key)
        return jnp.sum(out ** 2)

    g1 = jax.grad(loss)(params, jax.random.key(1))
    g2 = jax.grad(loss)(params, jax.random.key(2))
    assert not np.allclose(g1["0"]["weight"], g2["0"]["weight"])
    np.testing.assert_array_equal(loss(params, jax.random.key(1)), loss(params, jax.random.key(1)))


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    for cls in LAYERS:
        assert repr(cls(0.3)) == repr(getattr(torch.nn, cls.__name__)(0.3))
        assert repr(cls(0.3, inplace=True)) == repr(getattr(torch.nn, cls.__name__)(0.3, inplace=True))
