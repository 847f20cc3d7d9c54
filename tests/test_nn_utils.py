"""fnet.nn.utils: clipping, parameter vectors, parametrizations and packed sequences:
errors, names, printing and transformations (parity is in parity_tests/test_utils.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
from fnet import nn, optim
from fnet.nn import utils
from fnet.nn.utils import parametrizations as P
from fnet.nn.utils import rnn as R

torch = pytest.importorskip("torch")


def test_clip_functions_live_in_nn_utils_and_optim_re_exports_them():
    assert optim.clip_grad_norm_ is utils.clip_grad_norm_
    assert optim.clip_grad_value_ is utils.clip_grad_value_
    grads = {"a": jnp.full((3,), 4.0), "b": jnp.full((4,), 3.0)}
    total = utils.get_total_norm(grads)
    np.testing.assert_allclose(total, np.sqrt(3 * 16 + 4 * 9), rtol=1e-6)
    clipped = utils.clip_grads_with_norm_(grads, 1.0, total)
    np.testing.assert_allclose(utils.get_total_norm(clipped), 1.0, rtol=1e-5)
    with pytest.raises(RuntimeError, match=r"^get_total_norm: the total norm of order 2.0 of the gradients is nan"):
        utils.get_total_norm({"a": jnp.asarray([jnp.nan])}, error_if_nonfinite=True)
    with pytest.raises(TypeError, match=r"^clip_grads_with_norm_: expected max_norm to be a number"):
        utils.clip_grads_with_norm_(grads, "1", total)


def test_parameter_vectors():
    tree = {"w": jnp.ones((2, 3)), "b": jnp.zeros(2)}
    vec = utils.parameters_to_vector(tree)
    assert vec.shape == (8,)
    back = utils.vector_to_parameters(jnp.arange(8.0), tree)
    assert back["b"].tolist() == [0.0, 1.0] and back["w"].shape == (2, 3)  # jax.tree order: b, then w
    with pytest.raises(ValueError, match=r"^vector_to_parameters: the vector has 7 elements, the parameters 8"):
        utils.vector_to_parameters(jnp.zeros(7), tree)
    with pytest.raises(TypeError, match=r"^vector_to_parameters: expected a 1-D vector"):
        utils.vector_to_parameters(jnp.zeros((2, 4)), tree)


@pytest.mark.parametrize("fn,kwargs", [("weight_norm", {}), ("spectral_norm", {}), ("orthogonal", {}),
                                       ("orthogonal", {"orthogonal_map": "householder"})])
def test_parametrized_layers_print_and_name_like_torch(fn, kwargs):
    ours = getattr(P, fn)(nn.Linear(4, 4), **kwargs)
    theirs = getattr(torch.nn.utils.parametrizations, fn)(torch.nn.Linear(4, 4), **kwargs)
    assert repr(ours) == repr(theirs)
    assert type(ours).__name__ == "ParametrizedLinear" and isinstance(ours, nn.Linear)
    params, state = ours.init(jax.random.key(0))
    assert sorted(fnet.state_dict(params, state)) == sorted(theirs.state_dict())
    # the same parametrized class each time: equal configurations hash alike (static jit args)
    assert type(getattr(P, fn)(nn.Linear(4, 4), **kwargs)) is type(ours)
    assert getattr(P, fn)(nn.Linear(4, 4), **kwargs) == ours


def test_parametrized_init_keeps_the_layers_weight_distribution():
    layer = P.weight_norm(nn.Linear(50, 40))
    params, _ = layer.init(jax.random.key(0))
    g, v = params["parametrizations"]["weight"]["original0"], params["parametrizations"]["weight"]["original1"]
    np.testing.assert_allclose(g[:, 0], jnp.linalg.norm(v, axis=1), rtol=1e-6)
    bound = 1 / np.sqrt(50)
    assert float(jnp.abs(v).max()) <= bound
    out = jax.jit(lambda p, x: layer.apply(p, {}, x)[0])(params, jnp.ones((2, 50)))
    assert out.shape == (2, 40)


def test_spectral_norm_updates_its_vectors_in_training_only():
    layer = P.spectral_norm(nn.Linear(6, 5))
    params, state = layer.init(jax.random.key(0))
    x = jnp.ones((3, 6))
    _, same = layer.apply(params, state, x)
    assert same is state
    _, new = layer.apply(params, state, x, train=True)
    u0, u1 = state["parametrizations"]["weight"]["0"]["_u"], new["parametrizations"]["weight"]["0"]["_u"]
    assert u1.shape == u0.shape == (5,)
    w = params["parametrizations"]["weight"]["original"]
    sigma = float(jnp.linalg.svd(w, compute_uv=False)[0])
    out = layer.apply(params, new, jnp.eye(6), train=False)[0] - params["bias"]
    assert abs(float(jnp.linalg.svd(out, compute_uv=False)[0]) - 1.0) < 1e-3 and sigma > 0


def test_parametrization_errors():
    with pytest.raises(ValueError, match=r"^Linear: module has no parameter 'kernel' of its own \(its parameters: "
                                         r"bias, weight\)"):
        P.weight_norm(nn.Linear(2, 3), name="kernel")
    with pytest.raises(ValueError, match=r"^orthogonal: expected a matrix or batch of matrices, got a parameter "
                                         r"'bias' of 1 dimensions"):
        P.orthogonal(nn.Linear(2, 3), name="bias")
    with pytest.raises(ValueError, match=r"orthogonal_map has to be one of"):
        P.orthogonal(nn.Linear(3, 3), orthogonal_map="qr")
    with pytest.raises(ValueError, match=r"expected n_power_iterations to be positive"):
        P.spectral_norm(nn.Linear(3, 3), n_power_iterations=0)
    with pytest.raises(NotImplementedError, match=r"'weight' is parametrized already"):
        P.spectral_norm(P.weight_norm(nn.Linear(3, 3)))
    both = P.weight_norm(P.spectral_norm(nn.Bilinear(2, 3, 4), name="weight"), name="bias", dim=None)
    params, state = both.init(jax.random.key(0))
    assert sorted(params["parametrizations"]) == ["bias", "weight"]


def test_packed_sequences():
    x = jnp.arange(24.0).reshape(6, 4, 1)
    with pytest.raises(ValueError, match=r"`lengths` array must be sorted in decreasing order when `enforce_sorted`"):
        R.pack_padded_sequence(x, [2, 6, 1, 4])
    with pytest.raises(ValueError, match=r"every length must be in \[1, 6\]"):
        R.pack_padded_sequence(x, [6, 3, 0, 0])
    with pytest.raises(ValueError, match=r"expected 4 lengths, one per sequence of the batch, got 3"):
        R.pack_padded_sequence(x, [6, 3, 1])
    with pytest.raises(TypeError, match=r"the lengths must be concrete"):
        jax.jit(lambda lens: R.pack_padded_sequence(x, lens))(jnp.asarray([6, 3, 2, 1]))
    packed = R.pack_padded_sequence(x, [2, 6, 1, 4], enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [4, 3, 2, 2, 1, 1] and packed.sorted_indices.tolist() == [1, 3, 0, 2]
    assert packed.lengths().tolist() == [2, 6, 1, 4]
    with pytest.raises(ValueError, match=r"expected total_length to be at least the length of the longest sequence"):
        R.pad_packed_sequence(packed, total_length=4)
    # a PackedSequence crosses jit: only its data is an array
    doubled = jax.jit(lambda p: R.PackedSequence(p.data * 2, p.batch_sizes, p.sorted_indices))(packed)
    np.testing.assert_array_equal(R.pad_packed_sequence(doubled)[0], 2 * R.pad_packed_sequence(packed)[0])
    with pytest.raises(ValueError, match=r"every sequence must be \(L, 2\) like the first"):
        R.pad_sequence([jnp.ones((3, 2)), jnp.ones((2, 3))])
    with pytest.raises(ValueError, match=r"padding_side must be 'left' or 'right'"):
        R.pad_sequence([jnp.ones(3)], padding_side="middle")
    lstm = nn.LSTM(1, 2)
    params, state = lstm.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"a PackedSequence carries its lengths; do not pass lengths="):
        lstm.apply(params, state, packed, lengths=[2, 6, 1, 4])
    out, (h, c) = lstm.apply(params, state, packed)[0]
    assert isinstance(out, R.PackedSequence) and out.data.shape == (13, 2) and h.shape == (1, 4, 2)
