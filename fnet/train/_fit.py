"""``fit``: epochs of jitted steps, evaluation after each epoch, checkpoints, exact resume.

The loop is :class:`_Loop`: ``_step`` runs one batch and turns the step's checks into
errors that name the step, ``_end_epoch`` evaluates and records the epoch (the place
where a per-epoch hook fed with the evaluation metrics, such as a metric-driven
learning-rate schedule, belongs), and ``_checkpoint`` hands the trees to
:mod:`fnet.train._checkpoint`. Progress display lives in :mod:`fnet.train._progress`.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..debug import CheckError
from ..nn._module import Module
from ._checkpoint import (CheckpointWriter, agree, check_fits, folder_lock, latest_checkpoint, loader_conditions,
                          new_run_id, read_manifest, restore)
from ._evaluate import batch_size, evaluate
from ._progress import Progress
from ._step import ComputeLoss, LossFn, NonFiniteError, make_eval_step, make_train_step, nonfinite_names


class FitResult(NamedTuple):
    """What ``fit`` returns: the trained trees, the history and the step reached.

    Attributes:
        params: the parameters after the last step.
        state: the buffers (BatchNorm statistics...) after the last step.
        opt_state: the optimizer state, to continue training.
        history: per-epoch lists by name (``epoch``, ``loss``, ``accuracy`` when
            applicable, ``val_loss``, ``val_accuracy``, ``seconds``,
            ``samples_per_second``), what ``plot_history`` draws.
        step: the number of optimizer steps taken, counting those before a resume.
    """

    params: Any
    state: Any
    opt_state: Any
    history: dict[str, list]
    step: int


def _no_partial() -> dict:
    """Running sums of an epoch that has not started."""
    return {"sums": {}, "count": 0, "seconds": 0.0}


def fit(model: Module, params, state, optimizer: optax.GradientTransformation, train_loader,
        loss_fn: LossFn | None = None, *, epochs: int = 1, eval_loader=None,
        key: jax.Array | None = None, opt_state=None, compute_loss: ComputeLoss | None = None,
        checkpoint_dir: str | None = None, checkpoint_every: int | None = None, resume: bool = True,
        keep_checkpoints: int | None = 2, progress: bool = True, check_finite: bool = True,
        check_values: bool = True, train_step: Callable | None = None, plan: Any = None,
        accumulate_steps: int = 1, remat: bool = False, grad_scaler: Any = None, plateau: Any = None,
        monitor: str = "val_loss") -> FitResult:
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
        checkpoint_dir: where training checkpoints go (see :mod:`fnet.train._checkpoint`:
            every process writes its own shards, process 0 commits). With
            ``resume=True`` the newest complete checkpoint there is restored first and
            training continues from its step, with the same batches, keys and results
            as an uninterrupted run; a checkpoint from a run with another model,
            optimizer, batch size or dataset is refused with :class:`ResumeError`.
            With ``resume=False`` a new run starts; the checkpoints already in the
            folder are kept. The folder must be visible to every process.
        checkpoint_every: save every N steps and at the end (default: at the end of each epoch).
        resume: continue from the folder's newest checkpoint (see ``checkpoint_dir``).
        keep_checkpoints: how many of this run's checkpoints to keep (None or 0: all);
            the newest is never removed, nor any other run's.
        progress: a tqdm bar per epoch with loss and throughput (process 0 only).
        check_finite: stop with :class:`NonFiniteError` naming the step and the first
            non-finite tensor (input, output, loss, gradient or parameter) when one appears.
        check_values: stop with :class:`fnet.debug.CheckError` naming the step, the layer
            or loss, the bad value and its index when an ``Embedding`` id or a class
            target is out of range (under ``jit`` these would become NaN); see
            :mod:`fnet.debug`.
        train_step: a prebuilt step (default :func:`make_train_step` with the options here).
        plan: a :class:`fnet.sharding.ShardingPlan` (data parallel, FSDP, tensor parallel):
            parameters, buffers and optimizer state are placed by it and every batch is
            split over its data axis. ``len(batch)`` is the global batch size; each of
            the ``plan.data_parallel_size`` devices gets ``batch / n`` samples.
        accumulate_steps: gradient accumulation over micro-batches (see :func:`make_train_step`).
        remat: recompute activations in the backward pass (``jax.checkpoint``).
        grad_scaler: a :class:`fnet.precision.GradScaler` (float16 training).
        plateau: a :class:`fnet.optim.lr_scheduler.ReduceLROnPlateau`, stepped after every
            epoch with the epoch's ``monitor`` value; its learning rate reaches the
            optimizer through ``lr_scheduler.set_lr``, so the optimizer must be built with
            ``optax.inject_hyperparams(fnet.optim.X)(lr=plateau.lr, ...)``. The history
            gets an ``lr`` entry per epoch (the lr the next epoch trains with), and the
            scheduler's state is part of the training checkpoint.
        monitor: the history entry ``plateau`` watches (default ``"val_loss"``; ``"loss"``
            for the training loss, or any ``val_`` metric).

    Returns:
        ``FitResult(params, state, opt_state, history, step)``; ``history`` has per-epoch
        lists ``epoch``, ``loss``, ``accuracy`` (when applicable), ``val_loss``,
        ``val_accuracy``, ``seconds``, ``samples_per_second``.

    Raises:
        NonFiniteError, fnet.debug.CheckError: see ``check_finite``, ``check_values``.
        ResumeError: the checkpoint to resume from belongs to a different run.
        ValueError: ``plateau`` with an optimizer whose lr was not injected, or a
            ``monitor`` the epoch does not record.
        CheckpointError: the folder's pointer or checkpoint is corrupt, or another
            ``fit`` is using the folder.
    """
    if keep_checkpoints is not None and keep_checkpoints < 0:
        raise ValueError(f"fit: keep_checkpoints must be >= 1 (or None/0 to keep all), got {keep_checkpoints}")
    if grad_scaler is not None:
        from ..precision import scaled_optimizer

        optimizer = scaled_optimizer(optimizer, grad_scaler)
    opt_state = optimizer.init(params) if opt_state is None else opt_state
    step_fn = train_step or make_train_step(model, loss_fn, optimizer, compute_loss=compute_loss, plan=plan,
                                            accumulate_steps=accumulate_steps, remat=remat,
                                            grad_scaler=grad_scaler, check_finite=check_finite,
                                            check_values=check_values)
    eval_fn = (make_eval_step(model, loss_fn, compute_loss=compute_loss, check_values=check_values)
               if eval_loader is not None else None)
    loop = _Loop(model, loss_fn, compute_loss, step_fn, eval_fn, train_loader, eval_loader, epochs,
                 jax.random.key(0) if key is None else key, check_finite, checkpoint_every, plan,
                 Progress(progress and jax.process_index() == 0, epochs, len(train_loader)))
    if plateau is not None:
        from ..optim.lr_scheduler import set_lr

        set_lr(opt_state, plateau.lr)  # refuses, before any step, an optimizer whose lr cannot change
        loop.plateau, loop.monitor, loop.plateau_state = plateau, monitor, plateau.init()
    if checkpoint_dir is None:
        return loop.run(*_place(params, state, opt_state, plan), 0, {}, _no_partial())
    with folder_lock(checkpoint_dir):
        conditions = loader_conditions(train_loader)
        entry = latest_checkpoint(checkpoint_dir) if resume else None
        (run,) = agree([int(entry["run"] if entry else new_run_id(), 16)])
        loop.writer = CheckpointWriter(checkpoint_dir, f"{run:08x}", keep_checkpoints or None, conditions)
        if entry is None:
            return loop.run(*_place(params, state, opt_state, plan), 0, {}, _no_partial())
        manifest = read_manifest(entry["path"])
        templates = {"params": params, "state": state, "opt_state": opt_state}
        check_fits(manifest, templates, conditions, entry["path"])
        shardings = {}
        if plan is not None:
            shardings = {"params": plan.param_shardings(params), "state": plan.param_shardings(state),
                         "opt_state": plan.opt_state_shardings(opt_state, params)}
        trees = restore(entry["path"], manifest, templates, shardings)
        progress_info = manifest["progress"]
        if plateau is not None and progress_info.get("plateau") is not None:
            loop.plateau_state = type(loop.plateau_state)(**progress_info["plateau"])
        return loop.run(trees["params"], trees["state"], trees["opt_state"], manifest["step"],
                        progress_info["history"], progress_info["partial"])


def _place(params, state, opt_state, plan):
    """The caller's trees, copied (the step donates its buffers) and placed by ``plan``."""
    params, state, opt_state = jax.tree.map(jnp.copy, (params, state, opt_state))
    if plan is not None:
        params, state = plan.shard_params(params), plan.shard_params(state)
        opt_state = plan.shard_opt_state(opt_state, params)
    return params, state, opt_state


class _Loop:
    """One ``fit`` call: the trees it trains and the pieces it calls."""

    writer: CheckpointWriter | None = None
    plateau: Any = None  # a ReduceLROnPlateau fed after every epoch
    plateau_state: Any = None
    monitor: str = "val_loss"

    def __init__(self, model, loss_fn, compute_loss, step_fn, eval_fn, train_loader, eval_loader, epochs, key,
                 check_finite, checkpoint_every, plan, progress: Progress):
        self.model, self.loss_fn, self.compute_loss = model, loss_fn, compute_loss
        self.step_fn, self.eval_fn = step_fn, eval_fn
        self.train_loader, self.eval_loader = train_loader, eval_loader
        self.epochs, self.key = epochs, key
        self.check_finite, self.checkpoint_every, self.plan = check_finite, checkpoint_every, plan
        self.progress = progress
        self.steps_per_epoch = len(train_loader)

    def run(self, params, state, opt_state, step: int, history: dict, partial: dict) -> FitResult:
        self.params, self.state, self.opt_state = params, state, opt_state
        self.step, self.history = step, history
        start_epoch, start_batch = divmod(step, self.steps_per_epoch) if self.steps_per_epoch else (0, 0)
        try:
            for epoch in range(start_epoch, self.epochs):
                resumed = epoch == start_epoch
                self._epoch(epoch, start_batch if resumed else 0, dict(partial) if resumed else _no_partial())
        finally:
            self.progress.close()
        return FitResult(self.params, self.state, self.opt_state, self.history, self.step)

    def _epoch(self, epoch: int, first: int, running: dict) -> None:
        loader = self.train_loader
        batches = loader.iter_epoch(epoch, first) if hasattr(loader, "iter_epoch") else iter(loader)
        sums, count = dict(running["sums"]), running["count"]
        self.progress.start(epoch, first)
        t0 = time.perf_counter()
        for batch in batches:
            n = batch_size(batch)
            metrics = self._step(batch, epoch)
            count += n
            for name, value in metrics.items():
                if name not in ("nonfinite", "loss_scale"):
                    sums[name] = sums.get(name, 0.0) + float(value) * n
            seconds = running["seconds"] + time.perf_counter() - t0
            self.progress.step(sums["loss"] / count, count / max(seconds, 1e-9))
            # A save due at the epoch's last step waits for the epoch's record (below), so
            # that a run resumed from it neither loses nor double-counts that epoch.
            if self._checkpoint_due() and self.step % self.steps_per_epoch:
                self._checkpoint({"sums": sums, "count": count, "seconds": seconds})
        self.progress.close()
        self._end_epoch(epoch, sums, count, running["seconds"] + time.perf_counter() - t0)
        if not self.checkpoint_every or self._checkpoint_due() or epoch == self.epochs - 1:
            self._checkpoint(_no_partial())  # every epoch, or every N steps and at the end

    def _checkpoint_due(self) -> bool:
        return bool(self.checkpoint_every) and self.step % self.checkpoint_every == 0

    def _step(self, batch: Any, epoch: int) -> dict:
        """One training step; the step's checks become errors naming the step."""
        plan_batch = batch if self.plan is None else self.plan.shard_batch(batch)
        step_key = jax.random.fold_in(self.key, self.step)
        where = f"step {self.step} (epoch {epoch + 1}, batch {self.step - epoch * self.steps_per_epoch})"
        try:
            new = self.step_fn(self.params, self.state, self.opt_state, plan_batch, step_key)
        except CheckError as err:
            raise CheckError(f"fit: {where}: {err}") from None
        metrics = new[3]
        if self.check_finite:
            self._check_finite(new, metrics, plan_batch, step_key, where)
        self.params, self.state, self.opt_state = new[0], new[1], new[2]
        self.step += 1
        return metrics

    def _check_finite(self, new, metrics, batch, step_key, where: str) -> None:
        if "nonfinite" in metrics:
            index = int(metrics["nonfinite"])
            if index < 0:
                return
            names = nonfinite_names(self.model, self.loss_fn, new[0], new[1], batch, step_key, self.compute_loss)
            what = names[index] if index < len(names) else f"tensor #{index}"
        elif math.isfinite(float(metrics["loss"])):
            return
        else:  # a train_step built with check_finite=False: only the loss can be checked
            what = "loss (the train_step was built with check_finite=False)"
        raise NonFiniteError(f"fit: non-finite values at {where}: first non-finite tensor: {what}; "
                             f"loss = {float(metrics['loss'])}")

    def _end_epoch(self, epoch: int, sums: dict, count: int, seconds: float) -> dict:
        """Evaluates and records the epoch; returns the record (train and ``val_`` metrics)."""
        record = {"epoch": epoch + 1, "seconds": seconds,
                  "samples_per_second": count / seconds if seconds > 0 else float("nan")}
        record.update({name: total / max(count, 1) for name, total in sums.items()})
        if self.eval_fn is not None:
            try:
                metrics = evaluate(self.model, self.params, self.state, self.eval_loader, eval_step=self.eval_fn)
            except CheckError as err:
                raise CheckError(f"fit: evaluation after epoch {epoch + 1}: {err}") from None
            record.update({f"val_{name}": value for name, value in metrics.items()})
        if self.plateau is not None:
            self._step_plateau(record)
        for name, value in record.items():
            self.history.setdefault(name, []).append(value)
        self.progress.epoch_done(record)
        return record

    def _step_plateau(self, record: dict) -> None:
        """Feeds the epoch's monitored value to ReduceLROnPlateau and hands its lr to the optimizer."""
        from ..optim.lr_scheduler import set_lr

        if self.monitor not in record:
            raise ValueError(f"fit: plateau monitors {self.monitor!r}, which this epoch did not record; recorded: "
                             f"{', '.join(sorted(record))}" + ("" if self.eval_fn is not None else
                                                             " (val_ metrics need an eval_loader)"))
        self.plateau_state = self.plateau.step(self.plateau_state, record[self.monitor])
        self.opt_state = set_lr(self.opt_state, self.plateau_state.lr)
        if self.plan is not None:  # the new scalar joins the optimizer state's layout
            self.opt_state = self.plan.shard_opt_state(self.opt_state, self.params)
        record["lr"] = self.plateau_state.lr

    def _checkpoint(self, partial: dict) -> None:
        if self.writer is not None:
            self.writer.save(self.step, {"params": self.params, "state": self.state, "opt_state": self.opt_state},
                             {"history": self.history, "partial": partial,
                              "plateau": None if self.plateau_state is None else self.plateau_state._asdict()})
