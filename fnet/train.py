"""Training: a jitted train-step builder, ``evaluate``, and ``fit`` with progress, NaN
checks, atomic checkpoints, exact resume and a plottable history.

    step = fnet.train.make_train_step(model, F.cross_entropy, fnet.optim.SGD(lr=0.1))
    params, state, opt_state, metrics = step(params, state, opt_state, (x, y), key)

    result = fnet.train.fit(model, params, state, optimizer, train_loader, F.cross_entropy,
                            epochs=5, eval_loader=test_loader, checkpoint_dir="ckpt")
    fnet.train.plot_history(result.history, "history.png")

A batch is ``(inputs, target)``: ``inputs`` is one array or a tuple of arrays given to
``model.apply``; ``loss_fn(output, target)`` is a torch-style criterion (any fnet loss
function or module). Models whose loss is computed differently (BERT heads that take
labels) pass ``compute_loss`` instead.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _tree
from ._safetensors import load_file, save_file
from .io import load as load_checkpoint
from .io import save as save_checkpoint
from .nn._module import Module

__all__ = ["make_train_step", "make_eval_step", "evaluate", "fit", "FitResult", "plot_history",
           "NonFiniteError", "latest_checkpoint", "batch_metrics"]

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
                    grad_scaler: Any = None, check_finite: bool = False) -> Callable:
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

    if not jit:
        return step
    return jax.jit(step, donate_argnums=(0, 1, 2) if donate else ())


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
                   jit: bool = True) -> Callable:
    """Builds ``eval_step(params, state, batch) -> metrics`` (``train=False``, no gradients)."""
    compute = compute_loss or default_compute_loss(loss_fn)

    def eval_step(params, state, batch):
        loss, _, output, target = compute(model, params, state, batch, False, None)
        return {"loss": loss, **batch_metrics(output, target)}

    return jax.jit(eval_step) if jit else eval_step


def _batch_size(batch: Any) -> int:
    leaves = jax.tree.leaves(batch)
    return int(np.shape(leaves[0])[0]) if leaves and np.ndim(leaves[0]) else 1


def evaluate(model: Module, params, state, loader, loss_fn: LossFn | None = None, *,
             compute_loss: ComputeLoss | None = None, eval_step: Callable | None = None) -> dict[str, float]:
    """Mean loss (and accuracy) over ``loader`` in eval mode, weighted by batch size.

    Losses with ``reduction='mean'`` are averaged per batch and re-weighted by batch
    size, which equals the dataset mean except with ``ignore_index``/class weights.
    """
    eval_step = eval_step or make_eval_step(model, loss_fn, compute_loss=compute_loss)
    totals: dict[str, float] = {}
    count = 0
    for batch in loader:
        n = _batch_size(batch)
        for name, value in eval_step(params, state, batch).items():
            totals[name] = totals.get(name, 0.0) + float(value) * n
        count += n
    if count == 0:
        raise ValueError("evaluate: the loader produced no batches")
    return {name: total / count for name, total in totals.items()}


class FitResult(NamedTuple):
    params: Any
    state: Any
    opt_state: Any
    history: dict[str, list]
    step: int


# -- checkpoints -------------------------------------------------------------------------------

_LATEST = "latest.json"


def _opt_names(opt_state) -> list[str]:
    return [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(opt_state)[0]]


def _save_training_checkpoint(directory: str, model: Module, params, state, opt_state, info: dict,
                              keep: int) -> None:
    os.makedirs(directory, exist_ok=True)
    step = info["step"]
    model_file = f"model-{step:09d}.safetensors"
    train_file = f"train-{step:09d}.safetensors"
    save_checkpoint(os.path.join(directory, model_file), params, state, model=model)
    leaves = jax.tree.leaves(opt_state)
    tensors = {f"{i:05d}{name}": np.asarray(leaf) for i, (name, leaf) in
               enumerate(zip(_opt_names(opt_state), leaves))}
    save_file(tensors, os.path.join(directory, train_file), {"fnet_train": json.dumps(info)})
    pointer = {"step": step, "model": model_file, "train": train_file}
    tmp = os.path.join(directory, _LATEST + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(pointer, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, os.path.join(directory, _LATEST))  # the checkpoint is complete only now
    steps = sorted(int(f[6:15]) for f in os.listdir(directory) if f.startswith("model-") and f.endswith(".safetensors"))
    for old in steps[:-keep] if keep > 0 else []:
        for prefix in ("model", "train"):
            path = os.path.join(directory, f"{prefix}-{old:09d}.safetensors")
            if os.path.exists(path):
                os.unlink(path)


def latest_checkpoint(directory: str) -> dict | None:
    """The last complete checkpoint of ``fit`` in ``directory`` (None if there is none)."""
    path = os.path.join(directory, _LATEST)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        pointer = json.load(handle)
    for key in ("model", "train"):
        if not os.path.exists(os.path.join(directory, pointer[key])):
            return None
    return pointer


def _restore(directory: str, pointer: dict, model: Module, opt_template):
    params, state = load_checkpoint(os.path.join(directory, pointer["model"]), model)
    tensors, meta = load_file(os.path.join(directory, pointer["train"]))
    leaves, treedef = jax.tree.flatten(opt_template)
    stored = [tensors[k] for k in sorted(tensors)]
    if len(stored) != len(leaves) or any(np.shape(a) != np.shape(b) for a, b in zip(stored, leaves)):
        raise ValueError(f"fit: the optimizer state in {pointer['train']} does not fit this optimizer "
                         f"({len(stored)} tensors stored, {len(leaves)} expected)")
    opt_state = jax.tree.unflatten(treedef, [jnp.asarray(a, dtype=jnp.asarray(b).dtype)
                                             for a, b in zip(stored, leaves)])
    return params, state, opt_state, json.loads(meta["fnet_train"])


# -- fit -----------------------------------------------------------------------------------------

def fit(model: Module, params, state, optimizer: optax.GradientTransformation, train_loader,
        loss_fn: LossFn | None = None, *, epochs: int = 1, eval_loader=None,
        key: jax.Array | None = None, opt_state=None, compute_loss: ComputeLoss | None = None,
        checkpoint_dir: str | None = None, checkpoint_every: int | None = None, resume: bool = True,
        keep_checkpoints: int = 2, progress: bool = True, check_finite: bool = True,
        train_step: Callable | None = None, plan: Any = None, accumulate_steps: int = 1,
        remat: bool = False, grad_scaler: Any = None) -> FitResult:
    """Trains ``model`` for ``epochs`` passes over ``train_loader``.

    Each step runs :func:`make_train_step` with the key ``fold_in(key, step)``, so a run is
    a function of its inputs. After each epoch the model is evaluated on ``eval_loader``
    (``train=False``, no gradients).

    Args:
        model, params, state: the model and its trees.
        optimizer: an optax transformation (``fnet.optim.AdamW(...)``).
        train_loader: an ``fnet.data.DataLoader`` (needs ``iter_epoch(epoch, start)`` and
            ``len``, which exact resume relies on) or any re-iterable of batches.
        loss_fn: torch-style criterion ``loss_fn(output, target)``.
        epochs: passes over the data.
        eval_loader: evaluated after every epoch (``val_loss``, ``val_accuracy``).
        key: base PRNG key (default ``jax.random.key(0)``).
        opt_state: optimizer state to continue from (default ``optimizer.init(params)``).
        compute_loss: see :func:`make_train_step`.
        checkpoint_dir: where checkpoints go; with ``resume=True`` an existing last complete
            checkpoint there is restored first and training continues from its step, with
            the same batches, keys and results as an uninterrupted run.
        checkpoint_every: save every N steps (default: at the end of each epoch).
        keep_checkpoints: how many checkpoints to keep.
        progress: a tqdm bar per epoch with loss and throughput.
        check_finite: stop with :class:`NonFiniteError` naming the step and the first
            non-finite tensor (input, output, loss, gradient or parameter) when one appears.
        train_step: a prebuilt step (default :func:`make_train_step` with the options here).
        plan: a :class:`fnet.sharding.ShardingPlan` (data parallel, FSDP, tensor parallel):
            parameters, buffers and optimizer state are placed by it and every batch is
            split over its data axis. ``len(batch)`` is the global batch size; each of
            the ``plan.data_parallel_size`` devices gets ``batch / n`` samples.
        accumulate_steps: gradient accumulation over micro-batches (see :func:`make_train_step`).
        remat: recompute activations in the backward pass (``jax.checkpoint``).
        grad_scaler: a :class:`fnet.precision.GradScaler` (float16 training).

    Returns:
        ``FitResult(params, state, opt_state, history, step)``; ``history`` has per-epoch
        lists ``epoch``, ``loss``, ``accuracy`` (when applicable), ``val_loss``,
        ``val_accuracy``, ``seconds``, ``samples_per_second``.
    """
    key = jax.random.key(0) if key is None else key
    if grad_scaler is not None:
        from .precision import scaled_optimizer

        optimizer = scaled_optimizer(optimizer, grad_scaler)
    opt_state = optimizer.init(params) if opt_state is None else opt_state
    step_fn = train_step or make_train_step(model, loss_fn, optimizer, compute_loss=compute_loss, plan=plan,
                                            accumulate_steps=accumulate_steps, remat=remat,
                                            grad_scaler=grad_scaler, check_finite=check_finite)
    eval_fn = make_eval_step(model, loss_fn, compute_loss=compute_loss) if eval_loader is not None else None
    steps_per_epoch = len(train_loader)
    history: dict[str, list] = {}
    step = 0
    partial = {"sums": {}, "count": 0, "seconds": 0.0}
    if checkpoint_dir and resume:
        pointer = latest_checkpoint(checkpoint_dir)
        if pointer is not None:
            params, state, opt_state, info = _restore(checkpoint_dir, pointer, model, opt_state)
            step, history, partial = info["step"], info["history"], info["partial"]
    start_epoch, start_batch = divmod(step, steps_per_epoch) if steps_per_epoch else (0, 0)
    # The step donates its buffers; copy once so the caller's arrays stay valid.
    params, state, opt_state = jax.tree.map(jnp.copy, (params, state, opt_state))
    if plan is not None:
        params, state = plan.shard_params(params), plan.shard_params(state)
        opt_state = plan.shard_opt_state(opt_state, params)

    def checkpoint(epoch_sums):
        if checkpoint_dir and jax.process_index() == 0:
            info = {"step": step, "history": history, "partial": epoch_sums}
            _save_training_checkpoint(checkpoint_dir, model, params, state, opt_state, info, keep_checkpoints)

    for epoch in range(start_epoch, epochs):
        first = start_batch if epoch == start_epoch else 0
        sums = dict(partial["sums"]) if epoch == start_epoch else {}
        count = partial["count"] if epoch == start_epoch else 0
        seconds = partial["seconds"] if epoch == start_epoch else 0.0
        batches = (train_loader.iter_epoch(epoch, first) if hasattr(train_loader, "iter_epoch")
                   else iter(train_loader))
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps_per_epoch, initial=first, desc=f"epoch {epoch + 1}/{epochs}",
                       leave=True, dynamic_ncols=True)
        t0 = time.perf_counter()
        for batch in batches:
            n = _batch_size(batch)
            if plan is not None:
                batch = plan.shard_batch(batch)
            step_key = jax.random.fold_in(key, step)
            new = step_fn(params, state, opt_state, batch, step_key)
            metrics = new[3]
            if check_finite:
                if "nonfinite" in metrics:
                    index = int(metrics["nonfinite"])
                    bad = index >= 0
                else:  # a train_step built with check_finite=False: only the loss can be checked
                    index, bad = None, not math.isfinite(float(metrics["loss"]))
                if bad:
                    if index is None:
                        what = "loss (the train_step was built with check_finite=False)"
                    else:
                        names = nonfinite_names(model, loss_fn, new[0], new[1], batch, step_key, compute_loss)
                        what = names[index] if index < len(names) else f"tensor #{index}"
                    if bar is not None:
                        bar.close()
                    raise NonFiniteError(f"fit: non-finite values at step {step} (epoch {epoch + 1}, batch "
                                         f"{step - epoch * steps_per_epoch}): first non-finite tensor: {what}; "
                                         f"loss = {float(metrics['loss'])}")
            params, state, opt_state = new[0], new[1], new[2]
            step += 1
            count += n
            for name, value in metrics.items():
                if name not in ("nonfinite", "loss_scale"):
                    sums[name] = sums.get(name, 0.0) + float(value) * n
            if bar is not None:
                elapsed = seconds + time.perf_counter() - t0
                bar.set_postfix(loss=f"{sums['loss'] / count:.4f}", samples_s=f"{count / max(elapsed, 1e-9):.0f}")
                bar.update(1)
            if checkpoint_every and step % checkpoint_every == 0:
                checkpoint({"sums": sums, "count": count, "seconds": seconds + time.perf_counter() - t0})
        seconds += time.perf_counter() - t0
        if bar is not None:
            bar.close()
        record = {"epoch": epoch + 1, "seconds": seconds,
                  "samples_per_second": count / seconds if seconds > 0 else float("nan")}
        record.update({name: total / max(count, 1) for name, total in sums.items()})
        if eval_fn is not None:
            for name, value in evaluate(model, params, state, eval_loader, eval_step=eval_fn).items():
                record[f"val_{name}"] = value
        for name, value in record.items():
            history.setdefault(name, []).append(value)
        if progress:
            text = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()
                             if k not in ("seconds",))
            print(text, flush=True)
        partial = {"sums": {}, "count": 0, "seconds": 0.0}
        if checkpoint_dir and not checkpoint_every:
            checkpoint(partial)
    return FitResult(params, state, opt_state, history, step)


def plot_history(history: Mapping[str, Sequence[float]], path: str) -> str:
    """Saves loss (and accuracy) curves of a :func:`fit` history as a PNG; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = history.get("epoch") or list(range(1, len(history.get("loss", [])) + 1))
    panels = [("loss", "val_loss")] + ([("accuracy", "val_accuracy")]
                                       if "accuracy" in history or "val_accuracy" in history else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, names in zip(axes[0], panels):
        for name in names:
            if name in history:
                ax.plot(epochs, history[name], marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.set_title(names[0])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
