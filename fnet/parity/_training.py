"""``compare_training``: train fnet and PyTorch side by side and report how far they drift.

A single forward/backward comparison (:func:`~fnet.parity.compare`) proves one step.
A training run adds the optimizer and many steps, over which any difference compounds,
so this compares whole trajectories: the same initial weights, the same batches in the
same order, the same optimizer rule, and after every step the loss and every parameter.

Two ways to judge:

* ``dtype="float64"`` (the default, independent of the processor): both frameworks
  train in float64 (JAX x64, ``torch.float64``). Rounding is then about 1e-16 per
  operation, so over tens of steps fnet and torch agree to about 1e-12 whatever kernels
  and summation orders the CPU's libraries pick, while any real difference (a wrong
  update rule, a missing bias correction) is orders of magnitude larger. Every element
  of every parameter must satisfy ``|fnet - torch| <= atol + rtol * |torch|`` with
  rtol = atol = 1e-8 after every step (measured: below 1e-15 for the examples' models
  over 20 steps on an Intel Xeon; ``TRAINING_TOLERANCES``).
* ``dtype="float32"``: the run users train with. Two float32 runs of the same model
  drift apart by rounding alone, and the drift depends on the processor's kernels: with
  ReLUs and max pooling a rounding difference occasionally flips which unit is active,
  after which the runs separate by orders of magnitude more (measured on the CIFAR-10
  LeNet, seeds 0-3, 20 SGD-momentum steps, Intel Xeon: the relative parameter distance
  ``||fnet - torch|| / ||torch||`` is about 1e-7 without such a flip and reached 1.1e-4
  with one; either framework can be the one that flips first). No float32 tolerance is
  both tight and portable, so the float32 check is a sanity bound: every parameter
  tensor within ``||fnet - torch|| <= rtol * ||torch||`` with rtol 1e-3 (ten times the
  largest measured drift) and the loss within the same relative bound. torch is also run
  in float64 as a reference, and each line says how far each float32 run is from it, so
  a reader sees which framework drifted.

Dropout draws different masks in the two frameworks: compare with dropout off (``p=0``)
or ``train=False``.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from typing import Any, Callable, Iterator, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree
from ..io import load_state_dict, state_dict, to_numpy
from ..nn._module import Module
from ._engine import Diff, Report, _finite, _jax_input, _percent, _torch_dtype, diff, precision

__all__ = ["compare_training", "TrainingReport", "TrainingStep", "TRAINING_TOLERANCES"]

# float64: elementwise, every step; float32: per tensor, relative distance in norm (see
# the module docstring for the measurements behind both).
TRAINING_TOLERANCES = {
    "float64": {"rtol": 1e-8, "atol": 1e-8},
    "float32": {"rtol": 1e-3},
}

# (fnet compute_loss, torch compute_loss); see compare_training's `compute_loss`.
TorchComputeLoss = Callable[[Any, Any], Any]


@dataclasses.dataclass
class TrainingStep:
    """One step of a :class:`TrainingReport`.

    Attributes:
        step: 1 for the state after the first update.
        fnet_loss, torch_loss: the loss each framework computed on this step's batch
            (before its update, as a training loop reports it).
        loss: the loss comparison.
        worst: the parameter furthest from torch after the update.
    """

    step: int
    fnet_loss: float
    torch_loss: float
    loss: Diff
    worst: Diff

    @property
    def ok(self) -> bool:
        return self.loss.ok and self.worst.ok


@dataclasses.dataclass
class TrainingReport:
    """Per-step losses and parameter divergence of an fnet and a torch training run.

    ``print(report)`` shows a table (one row per step) and a verdict line ending in
    ``AGREE`` or ``DISAGREE``; ``final`` is a full :class:`Report` of every parameter
    after the last step; :meth:`assert_ok` raises with the printed report.
    """

    name: str
    dtype: str
    steps: list[TrainingStep]
    final: Report
    criterion: str

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps) and self.final.ok

    @property
    def max_param_diff(self) -> float:
        return max((s.worst.max_abs for s in self.steps), default=float("nan"))

    def verdict(self) -> str:
        """One line: steps, largest differences, the criterion and AGREE / DISAGREE."""
        last = self.steps[-1] if self.steps else None
        if last is None:
            return f"{self.name} [{self.dtype}]: no steps compared; DISAGREE"
        worst = max(self.steps, key=lambda s: s.worst._severity()).worst
        return (f"{self.name} [{self.dtype}]: {len(self.steps)} steps; final loss fnet {last.fnet_loss:.6g} vs "
                f"torch {last.torch_loss:.6g}; largest parameter difference {worst.max_abs:.1e} "
                f"({worst.name}); {self.criterion}; {'AGREE' if self.ok else 'DISAGREE'}")

    def table(self) -> str:
        rows = [f"{'step':>4}  {'fnet loss':>12}  {'torch loss':>12}  {'loss diff':>9}  "
                f"{'param diff':>10}  {'tol used':>8}  worst parameter"]
        for s in self.steps:
            used = "-" if s.worst.used is None else _percent(s.worst.used)
            rows.append(f"{s.step:>4}  {s.fnet_loss:>12.6g}  {s.torch_loss:>12.6g}  {s.loss.max_abs:>9.1e}  "
                        f"{s.worst.max_abs:>10.1e}  {used:>8}  {s.worst.name}{'' if s.ok else '  FAIL'}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.table() + "\n" + self.verdict()

    def assert_ok(self) -> None:
        """Raises ``AssertionError`` with the printed report unless every step and the final state agree."""
        if not self.ok:
            raise AssertionError(str(self) + "\n" + str(self.final))

    def to_markdown(self) -> str:
        lines = [f"**{self.name}** [{self.dtype}]: {'AGREE' if self.ok else 'DISAGREE'} ({self.criterion})", "",
                 "| step | fnet loss | torch loss | loss diff | largest parameter diff | parameter | verdict |",
                 "|---:|---:|---:|---:|---:|---|---|"]
        for s in self.steps:
            lines.append(f"| {s.step} | {s.fnet_loss:.6g} | {s.torch_loss:.6g} | {s.loss.max_abs:.1e} | "
                         f"{s.worst.max_abs:.1e} | `{s.worst.name}` | {'ok' if s.ok else '**FAIL**'} |")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "ok": self.ok, "criterion": self.criterion,
                "steps": [{"step": s.step, "fnet_loss": _finite(s.fnet_loss), "torch_loss": _finite(s.torch_loss),
                           "loss_abs": _finite(s.loss.max_abs), "param_abs": _finite(s.worst.max_abs),
                           "param": s.worst.name, "ok": s.ok} for s in self.steps],
                "final": self.final.to_json()}


def _take(loader: Any, steps: int) -> list:
    """The first ``steps`` batches a training loop would see (epoch after epoch)."""
    batches: list = []
    if hasattr(loader, "iter_epoch"):
        epoch = 0
        while len(batches) < steps:
            before = len(batches)
            batches.extend(itertools.islice(loader.iter_epoch(epoch), steps - len(batches)))
            if len(batches) == before:
                break
            epoch += 1
    else:
        batches = list(itertools.islice(iter(loader), steps))
    if not batches:
        raise ValueError("compare_training: the loader produced no batches")
    if len(batches) < steps:
        raise ValueError(f"compare_training: asked for {steps} steps, the loader gives {len(batches)} batches")
    return [jax.tree.map(np.asarray, b) for b in batches]


def _cast_batch(batch: Any, dtype: str) -> Any:
    """Floating leaves to the comparison dtype; integers unchanged (int64 on the torch side)."""
    def cast(x):
        x = np.asarray(x)
        return x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x

    return jax.tree.map(cast, batch)


def _to_torch(batch: Any) -> Any:
    import torch

    def convert(x):
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.int64)
        return torch.from_numpy(np.array(x))

    return jax.tree.map(convert, batch)


def _to_jax(batch: Any) -> Any:
    return jax.tree.map(lambda x: _jax_input(np.asarray(x)), batch)


def _default_torch_loss(criterion: Callable) -> TorchComputeLoss:
    def compute(module, batch):
        inputs, target = batch
        inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
        return criterion(module(*inputs), target)

    return compute


def _fnet_run(model: Module, optimizer: Any, params: Any, state: Any, batches: Sequence, dtype: str,
              loss_fn: Callable | None, compute_loss: Callable | None, train: bool, key: jax.Array
              ) -> Iterator[tuple[float, dict[str, np.ndarray]]]:
    from ..train._step import default_compute_loss, make_train_step

    compute = compute_loss or default_compute_loss(loss_fn)
    if not train:  # dropout off: every forward in eval mode, as torch's .eval()
        def compute(model, p, s, b, _train, k, _inner=compute):  # noqa: F811 - the eval-mode wrapper
            return _inner(model, p, s, b, False, k)
    cast = jax.tree.map(lambda x: jnp.asarray(x, dtype) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)
                        else jnp.asarray(x), (params, state))
    params, state = cast
    step = make_train_step(model, None, optimizer, compute_loss=compute, donate=False)
    opt_state = optimizer.init(params)
    for i, batch in enumerate(batches):
        params, state, opt_state, metrics = step(params, state, opt_state, _to_jax(_cast_batch(batch, dtype)),
                                                 jax.random.fold_in(key, i))
        yield float(metrics["loss"]), {k: np.asarray(v) for k, v in _tree.flatten(params).items()}


def _torch_run(module: Any, make_optimizer: Callable, batches: Sequence, dtype: str,
               torch_loss: TorchComputeLoss, train: bool) -> Iterator[tuple[float, dict[str, np.ndarray]]]:
    made = make_optimizer(module.parameters())
    optimizer, scheduler = made if isinstance(made, tuple) else (made, None)
    module.train(train)
    for batch in batches:
        optimizer.zero_grad()
        loss = torch_loss(module, _to_torch(_cast_batch(batch, dtype)))
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        yield float(loss.detach()), {k: p.detach().numpy().copy() for k, p in module.named_parameters()}


def _largest(diffs: list[Diff]) -> Diff:
    return max(diffs, key=lambda d: (d._severity(), d.max_abs))


def compare_training(fnet_model: Module, torch_module: Any, optimizers: tuple[Any, Callable], loader: Any, *,
                     steps: int = 20, loss: tuple[Callable, Callable] | None = None,
                     compute_loss: tuple[Callable, TorchComputeLoss] | None = None,
                     params: Mapping | None = None, state: Mapping | None = None, dtype: str = "float64",
                     train: bool = True, tol: Mapping[str, float] | None = None, name: str | None = None,
                     key: jax.Array | None = None) -> TrainingReport:
    """Trains fnet and torch ``steps`` steps from the same weights on the same batches and compares.

    Args:
        fnet_model: the fnet model.
        torch_module: the equivalent ``torch.nn.Module`` (copied, never modified).
        optimizers: ``(fnet_optimizer, make_torch_optimizer)``: an optax transformation
            (``fnet.optim.SGD(lr=0.01, momentum=0.9)``) and a function from the torch
            module's parameters to the torch optimizer
            (``lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9)``), which may also
            return ``(optimizer, lr_scheduler)`` to step a torch scheduler after every update.
        loader: an ``fnet.data.DataLoader`` (epochs follow one another through
            ``iter_epoch``) or any iterable of batches; both frameworks see its first
            ``steps`` batches.
        steps: how many updates to compare.
        loss: ``(fnet_loss_fn, torch_criterion)`` for ``(inputs, target)`` batches,
            e.g. ``(F.cross_entropy, torch.nn.CrossEntropyLoss())``.
        compute_loss: for other batch layouts, ``(fnet_compute_loss, torch_compute_loss)``:
            fnet's is ``fnet.train``'s ``(model, params, state, batch, train, key) ->
            (loss, new_state, output, target)``, torch's is ``(module, batch) -> loss``
            with the batch's arrays as tensors.
        params, state: fnet's initial trees, copied into torch (strict names and shapes).
            Default: torch's initial weights, loaded into fnet.
        dtype: ``"float64"`` (both frameworks in float64: the processor-independent
            proof) or ``"float32"`` (checked against a float64 torch reference run; see
            the module docstring).
        train: torch's ``.train()`` / fnet's ``train=True`` (default). ``False`` runs every
            forward in eval mode, which turns dropout off on both sides.
        tol: overrides of :data:`TRAINING_TOLERANCES` for ``dtype``.
        name: the report's title (default: the fnet model's class name).
        key: PRNG key for fnet's training steps (default ``jax.random.key(0)``).

    Returns:
        A :class:`TrainingReport`; ``report.ok`` is the verdict, ``print(report)`` the table.

    Example::

        import jax, torch
        import fnet
        import fnet.functional as F
        from fnet import data, nn, optim

        loader = data.DataLoader(data.make_classification(256, n_features=4, n_classes=3), batch_size=32,
                                 shuffle=True)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        twin = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        params, state = model.init(jax.random.key(0))       # copied into torch
        report = fnet.parity.compare_training(
            model, twin, (optim.SGD(lr=0.1, momentum=0.9), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
            loader, steps=20, loss=(F.cross_entropy, torch.nn.CrossEntropyLoss()), params=params, state=state)
        print(report)              # one row per step, then "... AGREE"
        report.assert_ok()
    """
    import torch

    if dtype not in TRAINING_TOLERANCES:
        raise ValueError(f"compare_training: dtype must be 'float64' or 'float32', got {dtype!r}")
    if (loss is None) == (compute_loss is None):
        raise ValueError("compare_training: give exactly one of loss=(fnet_loss_fn, torch_criterion) and "
                         "compute_loss=(fnet_compute_loss, torch_compute_loss)")
    if not (isinstance(optimizers, (tuple, list)) and len(optimizers) == 2 and callable(optimizers[1])):
        raise TypeError("compare_training: optimizers must be (fnet_optimizer, make_torch_optimizer), where "
                        "make_torch_optimizer(parameters) returns a torch optimizer, got "
                        f"{type(optimizers).__name__}")
    if int(steps) < 1:
        raise ValueError(f"compare_training: steps must be >= 1, got {steps}")
    tol = {**TRAINING_TOLERANCES[dtype], **(tol or {})}
    fnet_optimizer, make_torch_optimizer = optimizers
    fnet_loss, torch_loss = (loss[0], _default_torch_loss(loss[1])) if loss is not None else (None, None)
    fnet_compute, torch_compute = compute_loss if compute_loss is not None else (None, torch_loss)
    batches = _take(loader, int(steps))
    key = jax.random.key(0) if key is None else key
    name = name or type(fnet_model).__name__

    def torch_copy(torch_dtype):
        module = copy.deepcopy(torch_module).to(torch_dtype)
        if params is not None:
            sd = state_dict(params, state)
            module.load_state_dict({k: torch.from_numpy(np.array(v)).to(torch_dtype) if np.issubdtype(
                np.asarray(v).dtype, np.floating) else torch.from_numpy(np.array(v)) for k, v in sd.items()},
                strict=True)
        return module

    with precision(dtype):
        module = torch_copy(_torch_dtype(dtype))
        if params is None:
            start_params, start_state = load_state_dict(fnet_model, module.state_dict())
        else:
            start_params, start_state = params, (state or {})
        runs = [_fnet_run(fnet_model, fnet_optimizer, start_params, start_state, batches, dtype, fnet_loss,
                          fnet_compute, train, key),
                _torch_run(module, make_torch_optimizer, batches, dtype, torch_compute, train)]
        if dtype == "float32":
            runs.append(_torch_run(torch_copy(torch.float64), make_torch_optimizer, batches, "float64",
                                   torch_compute, train))
        records: list[TrainingStep] = []
        final: list[Diff] = []
        for i, results in enumerate(zip(*runs), start=1):
            (f_loss, f_params), (t_loss, t_params) = results[0], results[1]
            if dtype == "float64":
                loss_diff = diff("output", "loss", f_loss, t_loss, tol["rtol"], tol["atol"])
                final = [diff("param", k, f_params.get(k, np.full(np.shape(v), np.nan)), v, tol["rtol"],
                              tol["atol"]) for k, v in t_params.items()]
            else:
                reference_loss, reference = results[2]
                loss_diff = _drift("output", "loss", f_loss, t_loss, reference_loss, tol)
                final = [_drift("param", k, f_params.get(k, np.full(np.shape(v), np.nan)), t_params[k], v, tol)
                         for k, v in reference.items()]
            missing = sorted(set(f_params) - set(t_params))
            final += [Diff("param", k, math.inf, None, False, "fnet parameter unknown to torch") for k in missing]
            records.append(TrainingStep(i, f_loss, t_loss, loss_diff, _largest(final)))
    if dtype == "float64":
        criterion = f"|fnet - torch| <= {tol['atol']:.0e} + {tol['rtol']:.0e}*|torch| at every step"
    else:
        criterion = f"||fnet - torch|| <= {tol['rtol']:.0e} ||torch|| per tensor at every step"
    return TrainingReport(name, dtype, records, Report(f"{name} after {len(records)} steps", dtype, final),
                          criterion)


def _drift(kind: str, name: str, fnet32: Any, torch32: Any, reference: Any, tol: Mapping[str, float]) -> Diff:
    """A float32 tensor judged by its relative distance in norm, ``||fnet - torch|| / ||torch||``.

    The detail line gives each float32 run's distance to the float64 ``reference``.
    """
    f = np.asarray(to_numpy(fnet32), np.float64)
    t = np.asarray(to_numpy(torch32), np.float64)
    r = np.asarray(to_numpy(reference), np.float64)
    if f.shape != t.shape:
        return Diff(kind, name, math.inf, None, False, f"shape {f.shape} vs torch {t.shape}", used=math.inf)

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        gap = float(np.linalg.norm(a - b)) if a.size else 0.0
        return gap / max(float(np.linalg.norm(b)), np.finfo(np.float32).tiny) if gap else 0.0

    between = distance(f, t)
    between = between if math.isfinite(between) else math.inf
    return Diff(kind, name, float(np.max(np.abs(f - t), initial=0.0)), between, between <= tol["rtol"],
                f"to float64: fnet {distance(f, r):.1e}, torch {distance(t, r):.1e}",
                tol=f"||f - t|| <= {tol['rtol']:.0e} ||t||", used=between / tol["rtol"])
