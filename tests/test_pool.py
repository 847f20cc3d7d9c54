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
