"""MLP 784-512-512-10 with ReLU, batch 64, Adam: the same step in every framework."""

from __future__ import annotations

from _common import (classification_data, equinox_loop, flax_loop, fnet_loop, jax_loop, mean_cross_entropy,
                     torch_linear_init, torch_loop)

NAME = "MLP 784-512-512-10, batch 64"
NOTES = ("A small, memory-bound step: per-call overhead and one extra pass over the parameters show "
         "here first. fnet times make_train_step's default step, which computes what the plain JAX step "
         "does; fit adds a non-finite check (check_finite=True) that re-reads the parameters.")
REPEATS = 60
BATCH = 64
SIZES = (784, 512, 512, 10)
LR = 1e-3


def data(batch: int = BATCH):
    return classification_data((batch, SIZES[0]), SIZES[-1])


def fnet_model():
    from fnet import nn

    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def fnet_runner():
    import fnet.functional as F
    from fnet import optim

    return fnet_loop(fnet_model(), data(), optim.Adam(lr=LR), F.cross_entropy)


def jax_runner():
    import jax
    import optax

    key = jax.random.key(0)
    params = [torch_linear_init(jax.random.fold_in(key, i), b, a)
              for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:]))]

    def loss_fn(params, x, y):
        for i, (w, b) in enumerate(params):
            x = x @ w.T + b
            if i < len(params) - 1:
                x = jax.nn.relu(x)
        return mean_cross_entropy(x, y)

    return jax_loop(loss_fn, params, optax.adam(LR), data())


def torch_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                               torch.nn.ReLU(), torch.nn.Linear(512, 10))


def torch_runner(compile=False, device="cpu"):
    return torch_loop(torch_model(), data(), "adam", LR, compile=compile, device=device)


def flax_runner():
    import optax
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.Linear(784, 512, rngs=rngs)
            self.l2 = nnx.Linear(512, 512, rngs=rngs)
            self.l3 = nnx.Linear(512, 10, rngs=rngs)

        def __call__(self, x):
            return self.l3(nnx.relu(self.l2(nnx.relu(self.l1(x)))))

    return flax_loop(MLP(nnx.Rngs(0)), optax.adam(LR), data())


def equinox_runner():
    import equinox as eqx
    import jax
    import optax

    model = eqx.nn.MLP(784, 10, 512, 2, activation=jax.nn.relu, key=jax.random.key(0))
    return equinox_loop(model, optax.adam(LR), data(), lambda m, x: jax.vmap(m)(x))
