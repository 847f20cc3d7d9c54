"""Initialisers: errors and properties not covered by the distribution cases in parity_tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnet import init


def test_dirac_errors():
    with pytest.raises(ValueError, match=r"^dirac_: only arrays with 3, 4, or 5 dimensions are supported, got shape \(4, 4\)"):
        init.dirac_(None, (4, 4))
    with pytest.raises(ValueError, match=r"^dirac_: dim 0 \(6\) must be divisible by groups \(4\)"):
        init.dirac_(None, (6, 3, 3), groups=4)


def test_dirac_convolution_is_the_identity():
    import fnet.functional as F

    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3, 5, 5)), jnp.float32)
    w = init.dirac_(None, (3, 3, 3, 3))
    np.testing.assert_array_equal(F.conv2d(x, w, padding=1), x)


def test_sparse_errors_and_properties():
    with pytest.raises(ValueError, match=r"^sparse_: only arrays with 2 dimensions are supported, got shape \(3, 4, 5\)"):
        init.sparse_(jax.random.key(0), (3, 4, 5), 0.5)
    w = np.asarray(init.sparse_(jax.random.key(0), (10, 7), 0.25))
    assert ((w == 0).sum(0) == 3).all()  # ceil(0.25 * 10) per column
    w2 = np.asarray(init.sparse_(jax.random.key(1), (10, 7), 0.25))
    assert not np.array_equal(w == 0, w2 == 0)


def test_kaiming_of_zero_element_arrays_is_a_no_op_with_a_warning():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(jax.random.key(0), (4, 0)).shape == (4, 0)
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_normal_(jax.random.key(0), (0, 4), mode="fan_out").shape == (0, 4)
