"""Bilinear: errors, initialisation and printing (parity cases in fnet/parity/cases/linear.py)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet.functional as F
from fnet import nn


def apply(layer, x1, x2):
    class Parent(nn.Module):
        def __init__(self):
            super().__init__()
            self.bil = layer

        def forward(self, ctx, a, b):
            return self.bil(ctx, a, b)

    params, state = Parent().init(jax.random.key(0))
    return Parent().apply(params, state, x1, x2)[0]


def test_wrong_feature_sizes_name_layer_expectation_and_shape():
    layer = nn.Bilinear(3, 4, 2)
    with pytest.raises(ValueError) as err:
        apply(layer, jnp.ones((5, 6)), jnp.ones((5, 4)))
    msg = str(err.value)
    assert "bil (Bilinear(in1_features=3, in2_features=4, out_features=2, bias=True))" in msg
    assert "input1 (*, 3)" in msg and "(5, 6)" in msg
    with pytest.raises(ValueError, match=r"input2 \(\*, 4\) .* got shape \(5, 3\)"):
        apply(layer, jnp.ones((5, 3)), jnp.ones((5, 3)))


def test_batch_and_rank_mismatch():
    layer = nn.Bilinear(3, 4, 2)
    with pytest.raises(ValueError, match=r"same batch dimensions \*, got shapes \(5, 3\) and \(6, 4\)"):
        apply(layer, jnp.ones((5, 3)), jnp.ones((6, 4)))
    with pytest.raises(ValueError, match=r"same number of dimensions, got shapes \(5, 3\) and \(2, 5, 4\)"):
        apply(layer, jnp.ones((5, 3)), jnp.ones((2, 5, 4)))
    with pytest.raises(ValueError, match=r"bias \(2,\) to match weight"):
        F.bilinear(jnp.ones((5, 3)), jnp.ones((5, 4)), jnp.ones((2, 3, 4)), jnp.ones(3))


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match=r"Bilinear\(.*\): expected a floating-point input2, got dtype int32"):
        apply(nn.Bilinear(3, 4, 2), jnp.ones((5, 3)), jnp.ones((5, 4), jnp.int32))


def test_init_bounds_follow_in1_features():
    params, _ = nn.Bilinear(16, 3, 200).init(jax.random.key(0))
    bound = 1 / math.sqrt(16)
    w, b = np.asarray(params["weight"]), np.asarray(params["bias"])
    assert w.shape == (200, 16, 3) and b.shape == (200,)
    assert w.min() >= -bound and w.max() <= bound and w.max() > 0.95 * bound
    assert b.min() >= -bound and b.max() <= bound and abs(b).max() > 0.9 * bound
    assert "bias" not in nn.Bilinear(2, 3, 4, bias=False).init(jax.random.key(0))[0]


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    assert repr(nn.Bilinear(3, 4, 2, bias=False)) == repr(torch.nn.Bilinear(3, 4, 2, bias=False))


def test_grouped_mm_errors():
    import fnet.functional as F

    a, b = jnp.ones((8, 4)), jnp.ones((2, 4, 3))
    offs = jnp.asarray([4, 8], jnp.int32)
    assert F.grouped_mm(a, b, offs=offs).shape == (8, 3)
    with pytest.raises(ValueError, match=r"^grouped_mm: offs is required when an operand is 2-D"):
        F.grouped_mm(a, b)
    with pytest.raises(ValueError, match=r"^grouped_mm: offs must be None when both operands are 3-D"):
        F.grouped_mm(jnp.ones((2, 3, 4)), b, offs=offs)
    with pytest.raises(ValueError, match=r"^grouped_mm: expected 2 offsets, one per group of the 3-D operand, got 3"):
        F.grouped_mm(a, b, offs=jnp.asarray([2, 4, 8], jnp.int32))
    with pytest.raises(ValueError, match=r"^grouped_mm: offs must be non-decreasing ends of the groups within the "
                                         r"sliced dimension of size 8, got \[6, 4\]"):
        F.grouped_mm(a, b, offs=jnp.asarray([6, 4], jnp.int32))
    with pytest.raises(ValueError, match=r"^grouped_mm: contraction sizes differ"):
        F.grouped_mm(a, jnp.ones((2, 5, 3)), offs=offs)
    with pytest.raises(TypeError, match=r"^grouped_mm: expected offs to be a 1-D integer array"):
        F.grouped_mm(a, b, offs=jnp.asarray([4.0, 8.0]))
    with pytest.raises(NotImplementedError, match=r"bias is not supported"):
        F.grouped_mm(a, b, offs=offs, bias=jnp.ones(3))
    # rows past offs[-1] are zeros (torch leaves them uninitialised)
    out = F.grouped_mm(a, b, offs=jnp.asarray([2, 6], jnp.int32))
    assert np.all(np.asarray(out[6:]) == 0)
