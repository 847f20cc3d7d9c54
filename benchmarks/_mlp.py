"""MLP 784-512-512-10, batch 64, Adam: the same step in every framework."""

from __future__ import annotations

import numpy as np

from _harness import block

NAME = "MLP 784-512-512-10, batch 64"
BATCH = 64
SIZES = (784, 512, 512, 10)


def data(rng=np.random.default_rng(0)):
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    return x, y


def fnet_runner(device=None):
    import jax
    import jax.numpy as jnp

    import fnet.functional as F
    from fnet import nn, optim
    from fnet import train as T

    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    params, state = model.init(jax.random.key(0))
    opt = optim.Adam(lr=1e-3)
    step = T.make_train_step(model, F.cross_entropy, opt)
    x, y = data()
    batch = (jnp.asarray(x), jnp.asarray(y))
    carry = [params, state, opt.init(params)]
    key = jax.random.key(1)

    def run():
        carry[0], carry[1], carry[2], metrics = step(carry[0], carry[1], carry[2], batch, key)
        block(metrics["loss"])

    return run


def jax_runner(device=None):
    import jax
    import jax.numpy as jnp
    import optax

    key = jax.random.key(0)
    params = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        k1, k2 = jax.random.split(jax.random.fold_in(key, i))
        bound = 1 / np.sqrt(a)
        params.append((jax.random.uniform(k1, (b, a), minval=-bound, maxval=bound),
                       jax.random.uniform(k2, (b,), minval=-bound, maxval=bound)))
    opt = optax.adam(1e-3)

    def loss_fn(params, x, y):
        for i, (w, b) in enumerate(params):
            x = x @ w.T + b
            if i < len(params) - 1:
                x = jax.nn.relu(x)
        return optax.softmax_cross_entropy_with_integer_labels(x, y).mean()

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    x, y = data()
    x, y = jnp.asarray(x), jnp.asarray(y)
    carry = [params, opt.init(params)]

    def run():
        carry[0], carry[1], loss = step(carry[0], carry[1], x, y)
        block(loss)

    return run


def torch_runner(compile=False, device="cpu"):
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data()
    x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step_fn = torch.compile(step) if compile else step

    def run():
        step_fn()
        if device != "cpu":
            torch.cuda.synchronize()

    return run


def flax_runner(device=None):
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.l1 = nnx.Linear(784, 512, rngs=rngs)
            self.l2 = nnx.Linear(512, 512, rngs=rngs)
            self.l3 = nnx.Linear(512, 10, rngs=rngs)

        def __call__(self, x):
            return self.l3(nnx.relu(self.l2(nnx.relu(self.l1(x)))))

    model = MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x, y):
        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    x, y = data()
    x, y = jnp.asarray(x), jnp.asarray(y)

    def run():
        block(step(model, optimizer, x, y))

    return run


def equinox_runner(device=None):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    model = eqx.nn.MLP(784, 10, 512, 2, activation=jax.nn.relu, key=jax.random.key(0))
    opt = optax.adam(1e-3)
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit
    def step(model, opt_state, x, y):
        def loss_fn(model):
            logits = jax.vmap(model)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    x, y = data()
    x, y = jnp.asarray(x), jnp.asarray(y)
    carry = [model, opt_state]

    def run():
        carry[0], carry[1], loss = step(carry[0], carry[1], x, y)
        block(loss)

    return run
