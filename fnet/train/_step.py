"""The jitted train step and eval step, and the non-finite check that names the tensor.

    step = fnet.train.make_train_step(model, F.cross_entropy, fnet.optim.SGD(lr=0.1))
    params, state, opt_state, metrics = step(params, state, opt_state, (x, y), key)

A batch is ``(inputs, target)``: ``inputs`` is one array or a tuple of arrays given to
``model.apply``; ``loss_fn(output, target)`` is a torch-style criterion (any fnet loss
function or module). Models whose loss is computed differently (BERT heads that take
labels) pass ``compute_loss`` instead.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _tree
from ..debug import checked
from ..nn._module import Module

LossFn = Callable[[Any, Any], jax.Array]
# compute_loss(model, params, state, batch, train, key) -> (loss, new_state, output, target)
ComputeLoss = Callable[..., tuple]


class NonFiniteError(FloatingPointError):
    """The loss or a tensor of the step became NaN or infinite."""


def _split_batch(batch: Any) -> tuple[tuple, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        inputs, target = batch
    else:
        raise TypeError("fnet.train: a batch is (inputs, target); for other batch layouts pass "
                        f"compute_loss=..., got {type(batch).__name__}")
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    return inputs, target


def default_compute_loss(loss_fn: LossFn) -> ComputeLoss:
    """``compute_loss`` for ``(inputs, target)`` batches and a torch-style criterion."""

    def compute(model: Module, params, state, batch, train: bool, key):
        inputs, target = _split_batch(batch)
        output, new_state = model.apply(params, state, *inputs, train=train, key=key)
        return loss_fn(output, target), new_state, output, target

    return compute


def batch_metrics(output: Any, target: Any) -> dict[str, jax.Array]:
    """Accuracy when ``output`` looks like class scores ``(N, C, ...)`` and ``target`` holds
    class indices ``(N, ...)``; decided from shapes and dtypes at trace time."""
    if not (hasattr(output, "ndim") and hasattr(target, "ndim")):
        return {}
    if (jnp.issubdtype(output.dtype, jnp.floating) and jnp.issubdtype(target.dtype, jnp.integer)
            and output.ndim == target.ndim + 1 and output.ndim >= 2):
        pred = jnp.argmax(output, axis=1)
        return {"accuracy": jnp.mean((pred == target).astype(jnp.float32))}
    return {}


def _first_nonfinite(named: Sequence[tuple[str, Any]]) -> jax.Array:
    """Index of the first tensor with a NaN/inf (-1 when all are finite), inside jit."""
    flags = [jnp.logical_not(jnp.all(jnp.isfinite(v))) for _, v in named
             if hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.inexact)]
    if not flags:
        return jnp.asarray(-1)
    stacked = jnp.stack(flags)
    return jnp.where(jnp.any(stacked), jnp.argmax(stacked), -1)


def _nonfinite_index(batch, output, loss, grads, new_params) -> jax.Array:
    """``_first_nonfinite`` over every tensor of the step, paid for only when needed.

    Scanning every gradient and parameter each step costs a full extra pass over the
    model (a fifth of a small MLP's step on CPU). A cheap detector runs instead: the loss
    and one sum per updated parameter, which is non-finite whenever a NaN or inf reached
    the parameters (a non-finite gradient does through every optimizer that does not
    filter it out on purpose) and rarely otherwise (a sum can overflow). Only when it
    fires does ``lax.cond`` run the exact per-tensor scan that names the first
    non-finite input, output, loss, gradient or parameter.
    """
    finite = [jnp.isfinite(jnp.sum(v)) for v in jax.tree.leaves(new_params)
              if hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.inexact) and v.size]
    finite.append(jnp.all(jnp.isfinite(loss)))
    suspect = jnp.logical_not(jnp.all(jnp.stack(finite)))

    def scan():
        return _first_nonfinite(_named_tensors(batch, output, loss, grads, new_params)).astype(jnp.int32)

    return jax.lax.cond(suspect, scan, lambda: jnp.asarray(-1, jnp.int32))


def _named_tensors(batch, output, loss, grads, new_params) -> list[tuple[str, Any]]:
    named: list[tuple[str, Any]] = []
    for i, leaf in enumerate(jax.tree.leaves(batch)):
        named.append((f"input batch leaf {i}", leaf))
    for i, leaf in enumerate(jax.tree.leaves(output)):
        named.append((f"model output {i}", leaf))
    named.append(("loss", loss))
    named += [(f"gradient of {k}", v) for k, v in _tree.flatten(grads).items()]
    named += [(f"updated parameter {k}", v) for k, v in _tree.flatten(new_params).items()]
    return named


def make_train_step(model: Module, loss_fn: LossFn | None, optimizer: optax.GradientTransformation, *,
                    compute_loss: ComputeLoss | None = None, donate: bool = True, jit: bool = True,
                    plan: Any = None, accumulate_steps: int = 1, remat: bool = False,
                    grad_scaler: Any = None, check_finite: bool = False, check_values: bool = False) -> Callable:
    """Builds ``step(params, state, opt_state, batch, key) -> (params, state, opt_state, metrics)``.

    One jitted function: forward in training mode, backward, optimizer update. Its
    buffers are donated (``params``, ``state`` and ``opt_state`` are consumed: use the
    returned ones). ``metrics`` holds ``loss``, ``accuracy`` for classification outputs
    and, with ``check_finite=True``, ``nonfinite``: the index of the first non-finite
    tensor (-1 when all are finite), which :func:`fit` turns into an error that names it.
    By default the step computes what a hand-written ``jax.jit`` step would and nothing
    more (``benchmarks/`` holds it to plain JAX's speed); :func:`fit` turns the check on.

    Args:
        model: the fnet model.
        loss_fn: ``loss_fn(output, target)``, e.g. ``F.cross_entropy``.
        optimizer: an ``optax.GradientTransformation`` (``fnet.optim.SGD(...)``).
        compute_loss: replaces ``loss_fn`` for other batch layouts:
            ``(model, params, state, batch, train, key) -> (loss, new_state, output, target)``.
        donate: donate the input buffers (saves memory; set False to keep them).
        jit: compile the step (False for debugging).
        plan: a :class:`fnet.sharding.ShardingPlan`; gradients, parameters, buffers and
            optimizer state are constrained to its layout (the batch arrives sharded).
        accumulate_steps: split the batch into this many micro-batches along its first
            dimension, run them one after another (``lax.scan``) and apply one update with
            the mean gradient. Buffers (BatchNorm statistics) advance once per micro-batch,
            as they do in a torch accumulation loop.
        remat: recompute the forward pass during the backward pass (``jax.checkpoint``)
            to trade compute for activation memory.
        grad_scaler: a :class:`fnet.precision.GradScaler` for float16 training. The
            optimizer must then be ``fnet.precision.scaled_optimizer(optimizer, scaler)``
            (``fit`` wraps it for you); steps with non-finite gradients are skipped.
        check_finite: also compute ``metrics["nonfinite"]`` (default False; :func:`fit`
            sets it). It probes the loss and one sum per updated parameter, and scans
            every tensor only when a probe is non-finite; the probe re-reads the
            parameters, a few percent of a small MLP's step on CPU.
        check_values: compile the step with fnet's value checks (``fnet.debug.checked``):
            an out-of-range ``Embedding`` id or class target raises
            :class:`fnet.debug.CheckError` naming the layer or loss, the value and its
            index, instead of becoming a NaN (default False; :func:`fit` sets it).
    """
    compute = compute_loss or default_compute_loss(loss_fn)
    if accumulate_steps < 1:
        raise ValueError(f"make_train_step: accumulate_steps must be >= 1, got {accumulate_steps}")

    def grads_of(params, state, batch, key, scale=None):
        def objective(p):
            if plan is not None:  # FSDP: gather for use, reduce-scatter the gradient
                p = plan.constrain(p, plan.compute_shardings(p))
            loss, new_state, output, target = compute(model, p, state, batch, True, key)
            scaled = loss if scale is None else loss.astype(jnp.float32) * scale
            return scaled, (new_state, output, target, loss)

        if remat:
            objective = jax.checkpoint(objective)
        (_, (new_state, output, target, loss)), grads = jax.value_and_grad(objective, has_aux=True)(params)
        if scale is not None:
            grads = jax.tree.map(lambda g: (g / scale).astype(g.dtype), grads)
        return (loss, (new_state, output, target)), grads

    def accumulated(params, state, batch, key, scale):
        k = accumulate_steps

        def split(x):
            if np.shape(x)[0] % k:
                raise ValueError(f"make_train_step: batch dimension {np.shape(x)[0]} is not divisible by "
                                 f"accumulate_steps={k}")
            return x.reshape((k, x.shape[0] // k) + x.shape[1:])

        micro = jax.tree.map(split, batch)

        def body(carry, inputs):
            grad_sum, loss_sum, metric_sum, state = carry
            index, mb = inputs
            sub = None if key is None else jax.random.fold_in(key, index)
            (loss, (new_state, output, target)), grads = grads_of(params, state, mb, sub, scale)
            metrics = batch_metrics(output, target)
            carry = (jax.tree.map(jnp.add, grad_sum, grads), loss_sum + loss,
                     jax.tree.map(jnp.add, metric_sum, metrics), new_state)
            return carry, (output, target)

        first = jax.tree.map(lambda x: x[0], micro)
        shapes = jax.eval_shape(lambda: grads_of(params, state, first, key, scale))
        (loss_shape, (_, out_shape, tgt_shape)), _ = shapes
        zero_metrics = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                                    jax.eval_shape(batch_metrics, out_shape, tgt_shape))
        # the loss sum in the loss's own dtype (float64 under x64, float32 otherwise)
        init = (jax.tree.map(jnp.zeros_like, params), jnp.zeros((), loss_shape.dtype), zero_metrics, state)
        (grad_sum, loss_sum, metric_sum, new_state), (outputs, targets) = jax.lax.scan(
            body, init, (jnp.arange(k), micro))
        grads = jax.tree.map(lambda g: g / k, grad_sum)
        loss = loss_sum / k
        metrics = jax.tree.map(lambda m: m / k, metric_sum)
        return loss, new_state, jax.tree.map(lambda o: o[-1], outputs), grads, metrics

    def step(params, state, opt_state, batch, key):
        scale = opt_state[1].scale if grad_scaler is not None else None
        if accumulate_steps > 1:
            loss, new_state, output, grads, extra = accumulated(params, state, batch, key, scale)
        else:
            (loss, (new_state, output, target)), grads = grads_of(params, state, batch, key, scale)
            extra = batch_metrics(output, target)
        if plan is not None:
            grads = plan.constrain(grads, plan.param_shardings(grads))
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        if plan is not None:
            new_params = plan.constrain(new_params, plan.param_shardings(new_params))
            new_state = plan.constrain(new_state, plan.param_shardings(new_state))
            new_opt_state = plan.constrain(new_opt_state, plan.opt_state_shardings(new_opt_state, new_params))
        metrics = {"loss": loss, **extra}
        # With a loss scaler, overflowing gradients are expected now and then (the step is skipped).
        if check_finite:
            checked_grads = {} if grad_scaler is not None else grads
            metrics["nonfinite"] = _nonfinite_index(batch, output, loss, checked_grads, new_params)
        if grad_scaler is not None:
            metrics["loss_scale"] = new_opt_state[1].scale
        return new_params, new_state, new_opt_state, metrics

    donate_argnums = (0, 1, 2) if donate else ()
    if check_values:
        return checked(step, jit=jit, **({"donate_argnums": donate_argnums} if jit else {}))
    if not jit:
        return step
    return jax.jit(step, donate_argnums=donate_argnums)


def nonfinite_names(model: Module, loss_fn: LossFn | None, params, state, batch, key,
                    compute_loss: ComputeLoss | None = None) -> list[str]:
    """Names of the tensors that the step's ``nonfinite`` index counts, in order."""
    compute = compute_loss or default_compute_loss(loss_fn)
    named: list[str] = []

    def collect(p, s, b, k):
        def objective(q):
            loss, new_state, output, target = compute(model, q, s, b, True, k)
            return loss, (new_state, output, target)

        (loss, (_, output, _)), grads = jax.value_and_grad(objective, has_aux=True)(p)
        named.extend(n for n, v in _named_tensors(b, output, loss, grads, p)
                     if hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.inexact))
        return 0

    jax.eval_shape(collect, params, state, batch, key)
    return named


def make_eval_step(model: Module, loss_fn: LossFn | None, *, compute_loss: ComputeLoss | None = None,
                   jit: bool = True, check_values: bool = False) -> Callable:
    """Builds ``eval_step(params, state, batch) -> metrics`` (``train=False``, no gradients).

    ``check_values`` as in :func:`make_train_step`.
    """
    compute = compute_loss or default_compute_loss(loss_fn)

    def eval_step(params, state, batch):
        loss, _, output, target = compute(model, params, state, batch, False, None)
        return {"loss": loss, **batch_metrics(output, target)}

    if check_values:
        return checked(eval_step, jit=jit)
    return jax.jit(eval_step) if jit else eval_step
