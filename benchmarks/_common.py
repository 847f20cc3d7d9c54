"""Step loops shared by the model modules: every framework gets the same data, the same
loss (mean cross-entropy over class indices) and the same optimizer hyperparameters.

Each ``*_loop`` returns a runner: a zero-argument callable that runs one full training
step and blocks until it is done (what ``_harness.measure`` times).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from _harness import block


def classification_data(shape: tuple[int, ...], classes: int, seed: int = 0):
    """A fixed float batch ``shape`` and integer labels in ``[0, classes)``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, classes, shape[0]).astype(np.int32)
    return x, y


# -- fnet --------------------------------------------------------------------------------

def fnet_loop(model, batch: tuple, optimizer, loss_fn=None, compute_loss=None, needs_key: bool = False):
    """``fnet.train.make_train_step`` driven the way ``fit`` drives it."""
    import jax
    import jax.numpy as jnp

    from fnet import train as T

    params, state = model.init(jax.random.key(0))
    step = T.make_train_step(model, loss_fn, optimizer, compute_loss=compute_loss)
    batch = jax.tree.map(jnp.asarray, batch)
    carry = [params, state, optimizer.init(params)]
    key = jax.random.key(1)
    counter = [0]

    def run():
        # fit folds the step number into the key; do the same when the model draws randoms
        step_key = jax.random.fold_in(key, counter[0]) if needs_key else key
        counter[0] += 1
        carry[0], carry[1], carry[2], metrics = step(carry[0], carry[1], carry[2], batch, step_key)
        block(metrics["loss"])

    run.lower = lambda: step.lower(carry[0], carry[1], carry[2], batch, key)  # for zero_cost.py
    return run


# -- plain JAX ---------------------------------------------------------------------------

def jax_loop(loss_fn: Callable, params, optimizer, batch: tuple, needs_key: bool = False):
    """A hand-written ``jax.jit`` step: ``loss_fn(params, *batch[, key])``, ``optax`` update,
    buffers donated (what a careful JAX user writes)."""
    import jax
    import jax.numpy as jnp
    import optax

    def step(params, opt_state, batch, key):
        args = (*batch, key) if needs_key else batch
        loss, grads = jax.value_and_grad(loss_fn)(params, *args)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    batch = jax.tree.map(jnp.asarray, batch)
    carry = [params, optimizer.init(params)]
    key = jax.random.key(1)
    counter = [0]

    def run():
        step_key = jax.random.fold_in(key, counter[0]) if needs_key else key
        counter[0] += 1
        carry[0], carry[1], loss = step(carry[0], carry[1], batch, step_key)
        block(loss)

    run.lower = lambda: step.lower(carry[0], carry[1], batch, key)  # for zero_cost.py
    return run


def torch_linear_init(key, out_features: int, in_features: int, bias: bool = True):
    """torch's default ``nn.Linear`` initialisation, ``(out, in)`` layout."""
    import jax

    k1, k2 = jax.random.split(key)
    bound = 1 / np.sqrt(in_features)
    w = jax.random.uniform(k1, (out_features, in_features), minval=-bound, maxval=bound)
    if not bias:
        return w
    return w, jax.random.uniform(k2, (out_features,), minval=-bound, maxval=bound)


def torch_conv_init(key, out_channels: int, in_channels: int, k: int):
    """torch's default ``nn.Conv2d`` initialisation, ``OIHW`` layout."""
    import jax

    k1, k2 = jax.random.split(key)
    bound = 1 / np.sqrt(in_channels * k * k)
    w = jax.random.uniform(k1, (out_channels, in_channels, k, k), minval=-bound, maxval=bound)
    return w, jax.random.uniform(k2, (out_channels,), minval=-bound, maxval=bound)


def mean_cross_entropy(logits, labels):
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


# -- PyTorch -----------------------------------------------------------------------------

def torch_loop(model, batch: tuple, optimizer: str = "adam", lr: float = 1e-3, compile: bool = False,
               device: str = "cpu", compute: Callable | None = None, **opt_kwargs):
    """The classic loop ``zero_grad; loss = ce(model(x), y); backward; step``, eager or with
    the whole step under ``torch.compile``. ``compute(model, *inputs, target) -> loss``
    replaces the loss for models that compute it themselves (Hugging Face ``labels=``)."""
    import torch

    model = model.to(device).train()
    opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimizer]
    opt = opt_cls(model.parameters(), lr=lr, **opt_kwargs)
    batch = tuple(torch.as_tensor(b).to(device) for b in batch)
    *inputs, target = batch
    target = target.long()  # torch's cross-entropy wants int64 class indices
    loss_fn = torch.nn.CrossEntropyLoss()
    compute = compute or (lambda model, *inputs: loss_fn(model(*inputs[:-1]), inputs[-1]))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = compute(model, *inputs, target)
        loss.backward()
        opt.step()
        return loss

    step_fn = torch.compile(step) if compile else step

    def run():
        step_fn()
        if device != "cpu":
            torch.cuda.synchronize()

    return run


# -- Flax NNX ----------------------------------------------------------------------------

def flax_loop(model, optimizer, batch: tuple, forward: Callable | None = None):
    """``nnx.jit`` over ``(model, optimizer, batch)``: Flax's documented training step."""
    import jax.numpy as jnp
    from flax import nnx

    nnx_opt = nnx.Optimizer(model, optimizer, wrt=nnx.Param)
    forward = forward or (lambda model, *inputs: model(*inputs))

    @nnx.jit
    def step(model, nnx_opt, inputs, target):
        def loss_fn(model):
            return mean_cross_entropy(forward(model, *inputs), target)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        nnx_opt.update(model, grads)
        return loss

    *inputs, target = (jnp.asarray(b) for b in batch)
    inputs = tuple(inputs)

    def run():
        block(step(model, nnx_opt, inputs, target))

    return run


# -- Equinox -----------------------------------------------------------------------------

def equinox_loop(model, optimizer, batch: tuple, forward: Callable[..., Any], needs_key: bool = False):
    """``eqx.filter_jit`` step in Equinox's documented style; ``forward(model, *inputs[, key])``
    maps a batch to logits (usually ``jax.vmap`` of the per-example model)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit  # no donation: the batch is reused every step
    def step(model, opt_state, inputs, target, key):
        def loss_fn(model):
            args = (*inputs, key) if needs_key else inputs
            return mean_cross_entropy(forward(model, *args), target)

        loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    *inputs, target = (jnp.asarray(b) for b in batch)
    inputs = tuple(inputs)
    carry = [model, opt_state]
    key = jax.random.key(1)
    counter = [0]

    def run():
        step_key = jax.random.fold_in(key, counter[0]) if needs_key else key
        counter[0] += 1
        carry[0], carry[1], loss = step(carry[0], carry[1], inputs, target, step_key)
        block(loss)

    return run
