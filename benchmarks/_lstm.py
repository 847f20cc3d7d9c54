"""LSTM classifier: LSTM(100 -> 256, 2 layers, batch_first) over T=50 steps, Linear(256, 10)
on the last step's output, batch 64, Adam: the same step in every framework."""

from __future__ import annotations

from _common import (classification_data, equinox_loop, flax_loop, fnet_loop, jax_loop, mean_cross_entropy,
                     torch_linear_init, torch_loop)

NAME = "LSTM 100-256x2, T=50, batch 64"
NOTES = ("PyTorch runs a fused oneDNN LSTM kernel per layer; fnet's nn.LSTM (the rnn family) is a "
         "lax.scan with hoisted input projections and a hand-written backward, ahead of the plain-JAX "
         "scan but behind the fused kernel on CPU.")
REPEATS = 10
BATCH, STEPS, INPUT, HIDDEN, LAYERS, CLASSES = 64, 50, 100, 256, 2, 10
LR = 1e-3


def data(batch: int = BATCH):
    return classification_data((batch, STEPS, INPUT), CLASSES)


def fnet_model():
    from fnet import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(INPUT, HIDDEN, LAYERS, batch_first=True)
            self.fc = nn.Linear(HIDDEN, CLASSES)

        def forward(self, ctx, x):
            out, _ = self.lstm(ctx, x)
            return self.fc(ctx, out[:, -1])

    return Net()


def fnet_runner():
    import fnet.functional as F
    from fnet import optim

    return fnet_loop(fnet_model(), data(), optim.Adam(lr=LR), F.cross_entropy)


def jax_runner():
    """torch's layout (``weight_ih_l{k} (4H, in)``, gates i, f, g, o), the input projection
    of all steps hoisted out of the ``lax.scan``."""
    import jax
    import jax.numpy as jnp
    import optax

    key = jax.random.key(0)
    layers = []
    for k in range(LAYERS):
        keys = jax.random.split(jax.random.fold_in(key, k), 4)
        size = INPUT if k == 0 else HIDDEN
        bound = HIDDEN ** -0.5
        u = lambda kk, shape: jax.random.uniform(kk, shape, minval=-bound, maxval=bound)  # noqa: E731
        layers.append({"w_ih": u(keys[0], (4 * HIDDEN, size)), "w_hh": u(keys[1], (4 * HIDDEN, HIDDEN)),
                       "b_ih": u(keys[2], (4 * HIDDEN,)), "b_hh": u(keys[3], (4 * HIDDEN,))})
    params = {"lstm": layers, "fc": torch_linear_init(jax.random.fold_in(key, 99), CLASSES, HIDDEN)}

    def lstm_layer(p, xs):  # xs (T, N, in) -> (T, N, H)
        proj = xs @ p["w_ih"].T + (p["b_ih"] + p["b_hh"])

        def cell(carry, gx):
            h, c = carry
            gates = gx + h @ p["w_hh"].T
            i, f, g, o = jnp.split(gates, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        zeros = jnp.zeros((xs.shape[1], HIDDEN), xs.dtype)
        _, hs = jax.lax.scan(cell, (zeros, zeros), proj)
        return hs

    def loss_fn(params, x, y):
        hs = x.transpose(1, 0, 2)  # (T, N, in)
        for p in params["lstm"]:
            hs = lstm_layer(p, hs)
        w, b = params["fc"]
        return mean_cross_entropy(hs[-1] @ w.T + b, y)

    return jax_loop(loss_fn, params, optax.adam(LR), data())


def torch_model():
    """The classifier as a ``torch.nn.Module`` (torch's default initialisation, seed 0)."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(INPUT, HIDDEN, LAYERS, batch_first=True)
            self.fc = torch.nn.Linear(HIDDEN, CLASSES)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1])

    torch.manual_seed(0)
    return Net()


def torch_runner(compile=False, device="cpu"):
    return torch_loop(torch_model(), data(), "adam", LR, compile=compile, device=device)


def flax_runner():
    import optax
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.layers = nnx.List([nnx.RNN(nnx.OptimizedLSTMCell(INPUT if k == 0 else HIDDEN, HIDDEN, rngs=rngs))
                                    for k in range(LAYERS)])
            self.fc = nnx.Linear(HIDDEN, CLASSES, rngs=rngs)

        def __call__(self, x):  # (N, T, in), Flax's RNN is batch-major by default
            for layer in self.layers:
                x = layer(x)
            return self.fc(x[:, -1])

    return flax_loop(Net(nnx.Rngs(0)), optax.adam(LR), data())


def equinox_runner():
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    class Net(eqx.Module):
        cells: list
        fc: eqx.nn.Linear

        def __init__(self, key):
            keys = jax.random.split(key, LAYERS + 1)
            self.cells = [eqx.nn.LSTMCell(INPUT if k == 0 else HIDDEN, HIDDEN, key=keys[k]) for k in range(LAYERS)]
            self.fc = eqx.nn.Linear(HIDDEN, CLASSES, key=keys[-1])

        def __call__(self, xs):  # one sequence (T, in)
            for cell in self.cells:
                def step(carry, x, cell=cell):
                    carry = cell(x, carry)
                    return carry, carry[0]

                zeros = jnp.zeros((HIDDEN,), xs.dtype)
                _, xs = jax.lax.scan(step, (zeros, zeros), xs)
            return self.fc(xs[-1])

    return equinox_loop(Net(jax.random.key(0)), optax.adam(LR), data(), lambda m, x: jax.vmap(m)(x))
