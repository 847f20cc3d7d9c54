"""Pooling layers: errors, printing, NaN/-inf/tie semantics against torch, transformations
(comparisons of outputs and gradients with torch are in parity_tests/test_pool.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnet.functional as F
from fnet import nn

TF = torch.nn.functional


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _apply(layer, x):
    params, state = layer.init(jax.random.key(0))
    return layer.apply(params, state, jnp.asarray(x))[0]


# -- errors ---------------------------------------------------------------------------------------

def test_wrong_rank_names_the_layer_and_the_shape():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2.*\(N, C, H, W\) or unbatched \(C, H, W\).*got shape \(4, 4\)"):
        _apply(nn.MaxPool2d(2), _x(4, 4))
    with pytest.raises(ValueError, match=r"avg_pool1d: expected a 3-D input \(N, C, L\).*got shape \(1, 2, 3, 4\)"):
        F.avg_pool1d(jnp.asarray(_x(1, 2, 3, 4)), 2)
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d\(output_size=3\).*got shape \(2, 3, 4, 5, 6\)"):
        _apply(nn.AdaptiveAvgPool2d(3), _x(2, 3, 4, 5, 6))


def test_padding_at_most_half_the_kernel():
    with pytest.raises(ValueError, match=r"MaxPool2d.*padding should be at most half of the kernel size.*padding=\(2, 2\), kernel_size=\(3, 3\)"):
        _apply(nn.MaxPool2d(3, padding=2), _x(1, 1, 8, 8))
    with pytest.raises(ValueError, match="padding should be at most half"):
        F.avg_pool2d(jnp.asarray(_x(1, 1, 8, 8)), 2, padding=2)
    assert _apply(nn.MaxPool2d(2, padding=1), _x(1, 1, 8, 8)).shape == (1, 1, 5, 5)


def test_output_too_small_and_bad_arguments():
    with pytest.raises(ValueError, match=r"max_pool2d: output size is too small.*gives \(0, 0\)"):
        F.max_pool2d(jnp.asarray(_x(1, 2, 2, 2)), 3)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        F.max_pool1d(jnp.asarray(_x(1, 2, 8)), 2, stride=0)
    with pytest.raises(ValueError, match="divisor_override must be non-zero"):
        F.avg_pool2d(jnp.asarray(_x(1, 2, 4, 4)), 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size must be positive"):
        F.adaptive_max_pool2d(jnp.asarray(_x(1, 2, 4, 4)), (0, 2))
    with pytest.raises(ValueError, match="expected output_size to be an int or a tuple of 2"):
        F.adaptive_avg_pool2d(jnp.asarray(_x(1, 2, 4, 4)), (1, 2, 3))
    with pytest.raises(ValueError, match="non-zero channel and spatial sizes.*got shape \\(1, 1, 0, 4\\)"):
        F.adaptive_avg_pool2d(jnp.zeros((1, 1, 0, 4)), 2)
    with pytest.raises(TypeError, match="floating-point input"):
        F.max_pool2d(jnp.ones((1, 1, 4, 4), jnp.int32), 2)


# -- printing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,args,kwargs", [
    ("MaxPool1d", (3,), dict(stride=2, padding=1, dilation=2, ceil_mode=True)),
    ("MaxPool2d", ((2, 3),), dict(return_indices=True)),
    ("MaxPool3d", (2,), {}),
    ("AvgPool1d", (3,), dict(padding=1)),
    ("AvgPool2d", (3,), dict(stride=2, divisor_override=2)),
    ("AvgPool3d", ((1, 2, 2),), {}),
    ("AdaptiveAvgPool1d", (5,), {}),
    ("AdaptiveAvgPool2d", ((None, 7),), {}),
    ("AdaptiveMaxPool2d", (3,), dict(return_indices=True)),
    ("AdaptiveMaxPool3d", ((2, 3, 4),), {}),
])
def test_repr_matches_torch(name, args, kwargs):
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


# -- semantics against torch ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)])
def test_nan_propagates_with_torch_indices(kwargs):
    x = _x(1, 2, 6, 7)
    x[0, 0, 1, 1] = np.nan
    x[0, 1, 0, :2] = np.nan
    x[0, 1, 2:4, 2:4] = -np.inf
    want, want_idx = TF.max_pool2d(torch.from_numpy(x), return_indices=True, **kwargs)
    got, got_idx = F.max_pool2d(jnp.asarray(x), return_indices=True, **kwargs)
    np.testing.assert_array_equal(np.asarray(got), want.numpy())
    np.testing.assert_array_equal(np.asarray(got_idx), want_idx.numpy())


def test_all_minus_inf_window_points_at_its_first_element_like_torch():
    x = np.full((1, 1, 4, 4), -np.inf, np.float32)
    want, want_idx = TF.max_pool2d(torch.from_numpy(x), 3, stride=2, padding=1, return_indices=True)
    got, got_idx = F.max_pool2d(jnp.asarray(x), 3, stride=2, padding=1, return_indices=True)
    np.testing.assert_array_equal(np.asarray(got), want.numpy())
    np.testing.assert_array_equal(np.asarray(got_idx), want_idx.numpy())


def test_gradient_of_a_tie_goes_to_the_first_maximum_only():
    x = jnp.zeros((1, 1, 2, 2))
    g = jax.grad(lambda x: jnp.sum(F.max_pool2d(x, 2)))(x)
    np.testing.assert_array_equal(np.asarray(g)[0, 0], [[1.0, 0.0], [0.0, 0.0]])
    g = jax.grad(lambda x: jnp.sum(F.adaptive_max_pool1d(x, 1)))(jnp.ones((1, 1, 3)))
    np.testing.assert_array_equal(np.asarray(g)[0, 0], [1.0, 0.0, 0.0])


def test_unbatched_matches_batched_and_modules_return_indices():
    x = _x(3, 7, 6)
    out, idx = _apply(nn.MaxPool2d(3, stride=2, padding=1, return_indices=True), x)
    out_b, idx_b = F.max_pool2d(jnp.asarray(x)[None], 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(out, out_b[0])
    np.testing.assert_array_equal(idx, idx_b[0])
    assert jnp.issubdtype(idx.dtype, jnp.integer)


def test_jit_vmap_and_grad():
    x = jnp.asarray(_x(4, 2, 9, 9))
    f = jax.jit(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))
    np.testing.assert_allclose(jax.vmap(lambda xi: f(xi[None])[0])(x), f(x), rtol=1e-6)
    g = jax.grad(lambda x: jnp.sum(F.adaptive_avg_pool2d(x, (4, 5)) ** 2))(x)
    assert g.shape == x.shape and bool(jnp.all(jnp.isfinite(g)))


# -- LPPool, MaxUnpool, FractionalMaxPool, *_with_indices ------------------------------------------

@pytest.mark.parametrize("name,args,kwargs", [
    ("LPPool1d", (2, 3), dict(stride=2)), ("LPPool2d", (1.5, (2, 3)), {}), ("LPPool3d", (2, 2), dict(ceil_mode=True)),
    ("MaxUnpool1d", (2,), {}), ("MaxUnpool2d", (3, 2, 1), {}), ("MaxUnpool3d", ((1, 2, 2),), {}),
    ("FractionalMaxPool2d", (2,), dict(output_size=3)), ("FractionalMaxPool3d", (2,), dict(output_ratio=0.5)),
])
def test_new_pool_layers_print_like_torch(name, args, kwargs):
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_lp_pool_errors_and_zero_windows():
    with pytest.raises(TypeError, match=r"^lp_pool2d: expected norm_type to be a number, got '2'"):
        F.lp_pool2d(jnp.ones((1, 1, 4, 4)), "2", 2)
    with pytest.raises(ValueError, match=r"^LPPool2d\(norm_type=2, kernel_size=2.*got shape \(4, 4\)"):
        _apply(nn.LPPool2d(2, 2), _x(4, 4))
    with pytest.raises(TypeError, match=r"^lp_pool1d: expected a floating-point input"):
        F.lp_pool1d(jnp.ones((1, 2, 4), jnp.int32), 2, 2)
    # a window of zeros: torch's gradient is nan there (0 ** (1/p - 1) times 0), and so is fnet's
    x = np.zeros((1, 1, 4), np.float32)
    x[0, 0, 2:] = [1.0, 2.0]
    t = torch.from_numpy(x).requires_grad_(True)
    TF.lp_pool1d(t, 2, 2).sum().backward()
    g = jax.grad(lambda v: F.lp_pool1d(v, 2, 2).sum())(jnp.asarray(x))
    np.testing.assert_array_equal(np.isnan(np.asarray(g)), np.isnan(t.grad.numpy()))
    np.testing.assert_allclose(np.asarray(g)[0, 0, 2:], t.grad.numpy()[0, 0, 2:], rtol=1e-6)


def test_max_unpool_errors():
    x, idx = F.max_pool2d(jnp.asarray(_x(1, 2, 4, 4)), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"^max_unpool2d: found an invalid max index 99 \(output volumes are "
                                         r"of size 4x4\)"):
        F.max_unpool2d(x, idx.at[0, 0, 0, 0].set(99), 2)
    with pytest.raises(ValueError, match=r"^max_unpool2d: invalid output_size \(9, 9\) \(dim 0 must be between "
                                         r"2 and 6\)"):
        F.max_unpool2d(x, idx, 2, output_size=(9, 9))
    with pytest.raises(ValueError, match=r"output_size should be a sequence containing 2 or 4 elements"):
        F.max_unpool2d(x, idx, 2, output_size=(4, 4, 4))
    with pytest.raises(ValueError, match=r"^max_unpool2d: expected indices of the input's shape \(1, 2, 2, 2\), "
                                         r"got \(2, 2, 2\)"):
        F.max_unpool2d(x, idx[0], 2)
    with pytest.raises(TypeError, match=r"^max_unpool2d: expected integer indices"):
        F.max_unpool2d(x, idx.astype(jnp.float32), 2)
    with pytest.raises(ValueError, match=r"^MaxUnpool2d\(kernel_size=\(2, 2\).*expected \(N, C, H, W\) or unbatched"):
        nn.MaxUnpool2d(2).apply({}, {}, jnp.zeros((2, 2)), jnp.zeros((2, 2), jnp.int32))
    layer = nn.MaxUnpool2d(2)
    with pytest.raises(ValueError, match=r"^MaxUnpool2d\(kernel_size=\(2, 2\), stride=\(2, 2\), padding=\(0, 0\)\): "
                                         r"max_unpool2d: invalid output_size"):
        layer.apply({}, {}, x, idx, output_size=(1, 1))
    # under jit an out-of-range index cannot be checked: its value is dropped
    out = jax.jit(lambda v, i: F.max_unpool2d(v, i, 2))(x, idx.at[0, 0, 0, 0].set(99))
    assert out.shape == (1, 2, 4, 4)


def test_fractional_max_pool_errors():
    x = jnp.asarray(_x(1, 2, 6, 6))
    with pytest.raises(ValueError, match=r"^fractional_max_pool2d: draws random pooling regions and needs a PRNG key"):
        F.fractional_max_pool2d(x, 2, output_size=3)
    with pytest.raises(ValueError, match=r"requires specifying either an output_size or an output_ratio"):
        F.fractional_max_pool2d(x, 2, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"kernel_size 3 is too large relative to the input size 6 of spatial dim 0 "
                                         r"for an output of size 5"):
        F.fractional_max_pool2d(x, 3, output_size=5, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"output \+ kernel - 1 < input"):  # 3-D is strict, as torch
        F.fractional_max_pool3d(jnp.ones((1, 1, 4, 4, 4)), 2, output_size=3, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"expected _random_samples of shape \(N >= 1, 2, 2\), got \(1, 3, 2\)"):
        F.fractional_max_pool2d(x, 2, output_size=3, _random_samples=jnp.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match=r"FractionalMaxPool2d requires specifying either an output size"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match=r"only one of output_size and output_ratio may be specified"):
        nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)
    with pytest.raises(ValueError, match=r"output_ratio must be between 0 and 1 \(got 1.5\)"):
        nn.FractionalMaxPool3d(2, output_ratio=1.5)
    layer = nn.FractionalMaxPool2d(2, output_size=3)
    with pytest.raises(ValueError, match=r"^FractionalMaxPool2d\(\): draws random pooling regions in every call"):
        layer.apply({}, {}, x)
    with pytest.raises(TypeError, match=r"cannot be called like a function because it draws random pooling regions"):
        layer(x)
    fixed = nn.FractionalMaxPool2d(2, output_size=3, _random_samples=np.full((1, 2, 2), 0.5, np.float32))
    params, state = fixed.init(jax.random.key(0))
    assert set(state) == {"_random_samples"}
    np.testing.assert_array_equal(np.asarray(fixed.apply(params, state, x)[0]), np.asarray(fixed(x)))


def test_with_indices_always_return_indices():
    x = jnp.asarray(_x(1, 2, 6, 6))
    out, idx = F.max_pool2d_with_indices(x, 2)
    assert out.shape == idx.shape == (1, 2, 3, 3)
    out, idx = F.adaptive_max_pool1d_with_indices(x[0, 0], 3)  # unbatched (C, L)
    assert idx.shape == (6, 3)
    out, idx = F.fractional_max_pool2d_with_indices(x, 2, output_size=3, key=jax.random.key(0))
    assert jnp.issubdtype(idx.dtype, jnp.integer)
