"""Recurrent layers: errors, names, transformations, variable lengths, dropout, and a
training run against torch (outputs and gradients are in parity_tests/test_rnn.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnet
import fnet.functional as F
from fnet import nn

torch = pytest.importorskip("torch")


def _init(model, seed=0):
    return jax.jit(model.init)(jax.random.key(seed))[0]


def _zeros(model):
    """Parameters of the right names, shapes and dtypes without running init (error tests)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0))[0]
    return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)


def _x(*shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


# -- construction: names, shapes, init, repr ---------------------------------------------------

@pytest.mark.parametrize("kind,kwargs", [
    ("RNN", {}), ("RNN", dict(num_layers=3, nonlinearity="relu", bias=False)),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=3, batch_first=True, dropout=0.5)),
    ("GRU", dict(num_layers=2, bidirectional=True, bias=False)),
])
def test_parameter_names_shapes_and_repr_match_torch(kind, kwargs):
    ours = getattr(nn, kind)(5, 7, **kwargs)
    theirs = getattr(torch.nn, kind)(5, 7, **kwargs)
    params = _init(ours)
    flat = fnet.state_dict(params)
    want = {k: tuple(v.shape) for k, v in theirs.named_parameters()}
    assert [name for name, _ in ours._param_shapes()] == list(want)  # torch's order too
    assert {k: v.shape for k, v in flat.items()} == want
    assert repr(ours) == repr(theirs)
    # torch's init: everything U(-1/sqrt(hidden), 1/sqrt(hidden))
    bound = 1 / np.sqrt(7)
    for value in flat.values():
        assert value.dtype == np.float32
        assert np.all(np.abs(value) <= bound) and np.abs(value).max() > 0.6 * bound
    fnet.load_state_dict(ours, theirs.state_dict())  # strict: same names and shapes


@pytest.mark.parametrize("kind,kwargs", [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu", bias=False)),
                                         ("LSTMCell", {}), ("GRUCell", dict(bias=False))])
def test_cells_names_and_repr_match_torch(kind, kwargs):
    ours = getattr(nn, kind)(5, 7, **kwargs)
    theirs = getattr(torch.nn, kind)(5, 7, **kwargs)
    flat = fnet.state_dict(_init(ours))
    assert {k: v.shape for k, v in flat.items()} == {k: tuple(v.shape) for k, v in theirs.named_parameters()}
    assert repr(ours) == repr(theirs)


def test_dtype_argument_sets_parameter_dtype():
    with jax.enable_x64(True):
        params = _init(nn.GRU(3, 4, dtype=jnp.float64))
        assert all(v.dtype == np.float64 for v in fnet.state_dict(params).values())


def test_constructor_errors_mirror_torch():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.RNN(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, 2, dropout=1.5)
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        nn.GRU(3, 4.0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.LSTM(3, 4, 0)
    with pytest.warns(UserWarning, match="dropout option adds dropout after all but last"):
        nn.LSTM(3, 4, 1, dropout=0.2)


# -- forward errors name the layer ----------------------------------------------------------

class _Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.LSTM(4, 6, 2, batch_first=True)

    def forward(self, ctx, x, hx=None, lengths=None):
        return self.encoder(ctx, x, hx, lengths=lengths)


def test_wrong_feature_size_names_the_layer_and_shapes():
    model = _Seq()
    params = _zeros(model)
    with pytest.raises(ValueError) as err:
        model.apply(params, {}, _x(2, 5, 3))
    msg = str(err.value)
    assert "encoder (LSTM(4, 6, num_layers=2, batch_first=True))" in msg
    assert "(N, L, 4)" in msg and "(2, 5, 3)" in msg


@pytest.mark.parametrize("shape", [(4,), (1, 2, 3, 4)])
def test_wrong_rank(shape):
    lstm = nn.GRU(4, 6)
    with pytest.raises(ValueError, match=r"GRU\(4, 6\): expected a 2-D unbatched input"):
        lstm.apply(_zeros(lstm), {}, jnp.ones(shape))


def test_wrong_initial_state_shapes():
    model = _Seq()
    params = _zeros(model)
    x = _x(3, 5, 4)
    h0, c0 = jnp.zeros((2, 3, 6)), jnp.zeros((2, 3, 6))
    with pytest.raises(ValueError, match=r"encoder .*expected h_0 \(hx\[0\]\) of shape \(2, 3, 6\), got shape \(1, 3, 6\)"):
        model.apply(params, {}, x, (h0[:1], c0))
    with pytest.raises(ValueError, match=r"expected c_0 \(hx\[1\]\) of shape \(2, 3, 6\), got shape \(2, 6\)"):
        model.apply(params, {}, x, (h0, c0[:, 0]))
    with pytest.raises(TypeError, match=r"expected hx = \(h_0, c_0\)"):
        model.apply(params, {}, x, h0)
    gru = nn.GRU(4, 6, bidirectional=True)
    with pytest.raises(ValueError, match=r"GRU\(4, 6, bidirectional=True\): expected h_0 \(hx\) of shape \(2, 6\)"):
        gru.apply(_zeros(gru), {}, _x(5, 4), jnp.zeros((1, 6)))  # unbatched input, batched h0
    with pytest.raises(TypeError, match="dtype"):
        gru.apply(_zeros(gru), {}, _x(5, 3, 4), jnp.zeros((2, 3, 6), jnp.int32))


def test_input_dtype_must_match_parameters():
    rnn = nn.RNN(4, 6)
    with pytest.raises(TypeError, match="floating-point input"):
        rnn.apply(_zeros(rnn), {}, jnp.ones((5, 2, 4), jnp.int32))
    with pytest.raises(TypeError, match="does not match the parameter dtype"):
        rnn.apply(_zeros(rnn), {}, jnp.ones((5, 2, 4), jnp.bfloat16))


def test_lengths_errors():
    model = _Seq()
    params = _zeros(model)
    x = _x(3, 5, 4)
    with pytest.raises(ValueError, match=r"encoder .*lengths must not exceed the sequence length 5, got a length of 7"):
        model.apply(params, {}, x, lengths=np.array([5, 7, 1]))
    with pytest.raises(ValueError, match="lengths must be at least 1"):
        model.apply(params, {}, x, lengths=[5, 0, 1])
    with pytest.raises(ValueError, match=r"expected lengths of shape \(3,\)"):
        model.apply(params, {}, x, lengths=np.array([5, 2]))
    with pytest.raises(TypeError, match="integer lengths"):
        model.apply(params, {}, x, lengths=np.array([5.0, 2.0, 1.0]))


def test_dropout_in_training_needs_a_key():
    lstm = nn.LSTM(4, 6, 2, dropout=0.3)
    params = _init(lstm)
    with pytest.raises(ValueError, match=r"LSTM\(4, 6, num_layers=2, dropout=0.3\): train=True draws random numbers"):
        lstm.apply(params, {}, _x(5, 2, 4), train=True)
    run = jax.jit(lambda p, x, train, key: lstm.apply(p, {}, x, train=train, key=key)[0][0],
                  static_argnums=2)
    out_eval = run(params, _x(5, 2, 4), False, None)  # eval: no key needed, no dropout
    out_train = run(params, _x(5, 2, 4), True, jax.random.key(1))
    assert not np.allclose(out_eval, out_train)
    np.testing.assert_array_equal(out_train, run(params, _x(5, 2, 4), True, jax.random.key(1)))


def test_dropout_drops_about_p_of_the_layer_outputs():
    from fnet.nn._rnn import _between_layer_dropout

    x = jnp.ones((50, 20, 30))
    y = _between_layer_dropout(jax.random.key(0), 0, x, 0.3)
    kept = np.asarray(y != 0)
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(np.asarray(y)[kept], 1 / 0.7, rtol=1e-6)
    assert not np.any(_between_layer_dropout(jax.random.key(0), 0, x, 1.0))


def test_cell_errors():
    cell = nn.LSTMCell(4, 6)
    params = _zeros(cell)
    with pytest.raises(ValueError, match=r"LSTMCell\(4, 6\): expected input \(N, 4\) or unbatched \(4,\), got shape \(2, 5\)"):
        cell.apply(params, {}, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"expected input \(N, 4\)"):
        cell.apply(params, {}, jnp.ones((1, 2, 4)))
    with pytest.raises(ValueError, match=r"expected hx\[1\] of shape \(2, 6\) to match input \(2, 4\), got shape \(3, 6\)"):
        cell.apply(params, {}, jnp.ones((2, 4)), (jnp.zeros((2, 6)), jnp.zeros((3, 6))))
    gru = nn.GRUCell(4, 6)
    with pytest.raises(ValueError, match=r"GRUCell\(4, 6\): expected hx of shape \(6,\)"):
        gru.apply(_zeros(gru), {}, jnp.ones(4), jnp.zeros((1, 6)))


# -- variable lengths ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_padding_neither_changes_results_nor_receives_gradient(kind):
    layer = getattr(nn, kind)(4, 5, 2, bidirectional=True, batch_first=True)
    params = _init(layer)
    lengths = jnp.array([2, 6, 4])
    x = _x(3, 6, 4)
    pad = jnp.arange(6)[None, :, None] >= lengths[:, None, None]
    noisy = jnp.where(pad, 100.0, x)

    @jax.jit
    def run(x):
        return layer.apply(params, {}, x, lengths=lengths)[0]

    a, b = run(x), run(noisy)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-6)
    out = a[0]
    assert not np.any(np.asarray(out)[np.asarray(pad[..., 0])])  # zero at padded steps
    grad = jax.grad(lambda x: sum(jnp.sum(jnp.sin(t)) for t in jax.tree.leaves(run(x))))(x)
    assert not np.any(np.asarray(grad)[np.asarray(pad[..., 0])])
    assert np.all(np.any(np.asarray(grad) != 0, axis=-1)[~np.asarray(pad[..., 0])])


def test_full_lengths_equal_no_lengths_and_traced_lengths_work_under_jit():
    lstm = nn.LSTM(4, 5, bidirectional=True)
    params = _init(lstm)
    x = _x(6, 3, 4)
    plain = lstm.apply(params, {}, x)[0]
    full = lstm.apply(params, {}, x, lengths=[6, 6, 6])[0]
    for u, v in zip(jax.tree.leaves(plain), jax.tree.leaves(full)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    lengths = jnp.array([3, 6, 1])
    eager = lstm.apply(params, {}, x, lengths=lengths)[0]
    jitted = jax.jit(lambda p, x, n: lstm.apply(p, {}, x, lengths=n)[0])(params, x, lengths)
    for u, v in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def test_unbatched_lengths():
    gru = nn.GRU(4, 5)
    params = _init(gru)
    x = _x(6, 4)
    out, h = gru.apply(params, {}, x, lengths=4)[0]
    ref_out, ref_h = gru.apply(params, {}, x[:4])[0]
    np.testing.assert_allclose(out[:4], ref_out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h, ref_h, rtol=1e-6, atol=1e-7)
    assert not np.any(np.asarray(out[4:]))


# -- JAX transformations ------------------------------------------------------------------------

@pytest.mark.parametrize("kind,layers", [("LSTM", 2), ("GRU", 1)])
def test_jit_grad_vmap_checkpoint(kind, layers):
    layer = getattr(nn, kind)(4, 5, layers, bidirectional=True)
    params = _init(layer)
    xs = _x(3, 6, 4)  # three unbatched sequences (L, H_in)

    def loss(p, x):
        return sum(jnp.sum(t ** 2) for t in jax.tree.leaves(layer.apply(p, {}, x)[0]))

    # vmap over unbatched sequences == the batched layer (batch on axis 1)
    per_seq = jax.jit(jax.vmap(lambda x: layer.apply(params, {}, x)[0]))(xs)
    batched = layer.apply(params, {}, jnp.swapaxes(xs, 0, 1))[0]
    np.testing.assert_allclose(per_seq[0], jnp.swapaxes(batched[0], 0, 1), rtol=1e-5, atol=1e-6)
    h_seq = jax.tree.leaves(per_seq[1])[0]
    h_bat = jax.tree.leaves(batched[1])[0]
    np.testing.assert_allclose(h_seq, jnp.swapaxes(h_bat, 0, 1), rtol=1e-5, atol=1e-6)

    g = jax.jit(jax.grad(loss))(params, xs[0])
    g_ckpt = jax.jit(jax.grad(jax.checkpoint(loss)))(params, xs[0])
    g_vmap = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0)))(params, xs)
    for name in fnet.state_dict(g):
        a = fnet.state_dict(g)[name]
        np.testing.assert_allclose(a, fnet.state_dict(g_ckpt)[name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a, fnet.state_dict(g_vmap)[name][0], rtol=1e-5, atol=1e-6)
        assert np.any(a != 0)


# -- training against torch ----------------------------------------------------------------------

class _Classifier(nn.Module):
    """The seed article's sequence classifier: LSTM then Linear on the last step."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(100, 256, 2, batch_first=True)
        self.fc = nn.Linear(256, 10)

    def forward(self, ctx, x):
        out, _ = self.lstm(ctx, x)
        return self.fc(ctx, out[:, -1])


class _TorchClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(100, 256, 2, batch_first=True)
        self.fc = torch.nn.Linear(256, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def test_lstm_classifier_trains_like_torch():
    """20 Adam steps from the same weights on the same batches end at the same parameters.

    optax.adam and torch.optim.Adam apply the same update, ``lr * m_hat / (sqrt(v_hat) + eps)``
    (eps outside the square root in both; optax's ``eps_root`` is 0). The runs are compared
    in float64 (``fnet.parity.compare_training``): in float32, Adam's normalised update
    passes each framework's rounding through wherever a gradient entry is tiny, and how far
    the runs drift then depends on the processor's kernels; in float64 they agree to about
    1e-13 on any processor, every step.
    """
    # One torch thread: on a shared 2-core machine torch's OpenMP workers spin-wait for
    # cores held by other processes and the 20 eager steps took ~25 s instead of ~1 s.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        steps, batch, length, lr = 20, 16, 12, 1e-3
        batches = list(zip(rng.standard_normal((steps, batch, length, 100)), rng.integers(0, 10, (steps, batch))))
        report = fnet.parity.compare_training(
            _Classifier(), _TorchClassifier(), (optax.adam(lr), lambda ps: torch.optim.Adam(ps, lr=lr)), batches,
            steps=steps, loss=(F.cross_entropy, torch.nn.CrossEntropyLoss()))
    finally:
        torch.set_num_threads(threads)
    report.assert_ok()
    assert report.steps[-1].fnet_loss < report.steps[0].fnet_loss
    assert report.max_param_diff < 1e-10


def test_bf16_mixed_precision_policy():
    """Under fnet.precision the recurrence runs in bfloat16 (inputs and weights cast alike)."""
    from fnet import precision

    model = precision.mixed_precision(nn.LSTM(4, 6, 2, batch_first=True))
    params, state = model.init(jax.random.key(0))
    x = _x(3, 5, 4)

    def loss(p):
        out, (h, c) = model.apply(p, state, x, lengths=jnp.array([5, 2, 3]))[0]
        return jnp.sum(out) + jnp.sum(h) + jnp.sum(c)

    value, grads = jax.jit(jax.value_and_grad(loss))(params)
    ref = nn.LSTM(4, 6, 2, batch_first=True).apply(params, {}, x, lengths=jnp.array([5, 2, 3]))[0]
    assert np.isfinite(float(value))
    assert abs(float(value) - float(jnp.sum(ref[0]) + jnp.sum(ref[1][0]) + jnp.sum(ref[1][1]))) < 0.1
    assert all(g.dtype == jnp.float32 and np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
