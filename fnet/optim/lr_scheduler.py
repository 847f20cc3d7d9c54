"""``torch.optim.lr_scheduler`` twins as optax schedules: ``step -> lr``, jit-safe.

Two differences from torch, both forced by purity:

* **fnet schedules take the base lr, not an optimizer.** torch's
  ``StepLR(optimizer, step_size=30)`` reads the optimizer's ``lr`` and rewrites it in
  place at each ``scheduler.step()``; fnet's ``StepLR(0.1, step_size=30)`` is a function
  of the step that returns the lr, passed to the optimizer as its ``lr``:
  ``fnet.optim.SGD(lr=StepLR(0.1, step_size=30), momentum=0.9)``.
* **the step is an argument, not hidden state.** ``schedule(n)`` is the lr torch's
  scheduler reports (``get_last_lr()``) after ``n`` calls of ``scheduler.step()``; the
  values match torch's for every ``n``. An fnet optimizer calls its schedule with the
  number of updates applied so far (0 for the first), which is torch's
  ``scheduler.step()`` after every batch. To step per epoch as most torch examples do,
  give the optimizer ``lr=lambda step: schedule(step // steps_per_epoch)``.

Every schedule works with a Python int or a traced int array (``jax.jit``), and returns
a scalar array in float64 when JAX's 64-bit mode is on, float32 otherwise. torch computes
some schedules recursively (``lr = lr * gamma`` each step); fnet uses the closed forms,
which agree to rounding (the parity suite compares 100+ steps of each).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import numbers
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._base import scalar_dtype

__all__ = ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
           "PolynomialLR", "CosineAnnealingLR", "LambdaLR", "SequentialLR", "OneCycleLR",
           "get_cosine_schedule_with_warmup", "get_linear_schedule_with_warmup"]


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _real(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: expected {name} to be a real number, got {value!r}")
    return float(value)


def _pos_int(where: str, name: str, value: Any, allow_zero: bool = False) -> int:
    if not _is_int(value) or value < (0 if allow_zero else 1):
        bound = ">= 0" if allow_zero else ">= 1"
        raise ValueError(f"{where}: expected {name} to be an integer {bound}, got {value!r}")
    return int(value)


def _concrete_step(step: Any) -> int | None:
    """The step as a Python int when it is known now (not a tracer), else None."""
    if _is_int(step):
        return int(step)
    if isinstance(step, jax.core.Tracer):
        return None
    arr = np.asarray(step)
    if arr.shape == () and np.issubdtype(arr.dtype, np.integer):
        return int(arr)
    return None


def _check_step(where: str, step: Any) -> None:
    known = _concrete_step(step)
    if known is not None and known < 0:
        raise ValueError(f"{where}: expected a step >= 0, got {known}")


@dataclasses.dataclass(frozen=True)
class LRSchedule:
    """Base class: a frozen, hashable callable ``step -> lr`` (an optax schedule).

    Subclasses implement :meth:`lr_at` with ``s`` an int array (the step) and ``t`` the
    same step as a float array.
    """

    def __call__(self, step: Any) -> jax.Array:
        _check_step(type(self).__name__, step)
        s = jnp.asarray(step)
        if not jnp.issubdtype(s.dtype, jnp.integer):
            raise TypeError(f"{type(self).__name__}: expected an integer step, got dtype {s.dtype}")
        return jnp.asarray(self.lr_at(s, s.astype(scalar_dtype())), scalar_dtype())

    def lr_at(self, s: jax.Array, t: jax.Array) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError


def _const(x: float) -> jax.Array:
    return jnp.asarray(x, scalar_dtype())


@dataclasses.dataclass(frozen=True)
class StepLR(LRSchedule):
    """``lr * gamma ** (step // step_size)``.

    PyTorch equivalent: ``torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma=0.1)``
    with ``lr`` the optimizer's learning rate.
    """

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        _real("StepLR", "lr", self.lr)
        _pos_int("StepLR", "step_size", self.step_size)
        _real("StepLR", "gamma", self.gamma)

    def lr_at(self, s, t):
        k = (s // self.step_size).astype(t.dtype)
        return self.lr * _const(self.gamma) ** k


@dataclasses.dataclass(frozen=True)
class MultiStepLR(LRSchedule):
    """``lr * gamma ** (number of milestones <= step)`` (a repeated milestone counts twice, as torch).

    PyTorch equivalent: ``torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, gamma=0.1)``.
    """

    lr: float
    milestones: Sequence[int]
    gamma: float = 0.1

    def __post_init__(self):
        _real("MultiStepLR", "lr", self.lr)
        milestones = tuple(self.milestones)
        for m in milestones:
            _pos_int("MultiStepLR", "each milestone", m, allow_zero=True)
        object.__setattr__(self, "milestones", tuple(sorted(int(m) for m in milestones)))
        _real("MultiStepLR", "gamma", self.gamma)

    def lr_at(self, s, t):
        k = sum((s >= m).astype(t.dtype) for m in self.milestones) if self.milestones else jnp.zeros_like(t)
        return self.lr * _const(self.gamma) ** k


@dataclasses.dataclass(frozen=True)
class ConstantLR(LRSchedule):
    """``lr * factor`` for ``step < total_iters``, then ``lr``.

    PyTorch equivalent: ``torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1/3, total_iters=5)``.
    """

    lr: float
    factor: float = 1.0 / 3
    total_iters: int = 5

    def __post_init__(self):
        _real("ConstantLR", "lr", self.lr)
        factor = _real("ConstantLR", "factor", self.factor)
        if factor > 1.0 or factor < 0:
            raise ValueError(f"ConstantLR: expected 0 <= factor <= 1 (constant multiplicative factor), got {factor!r}")
        _pos_int("ConstantLR", "total_iters", self.total_iters, allow_zero=True)

    def lr_at(self, s, t):
        return jnp.where(s < self.total_iters, self.lr * self.factor, self.lr)


@dataclasses.dataclass(frozen=True)
class LinearLR(LRSchedule):
    """``lr * (start + (end - start) * min(step, total_iters) / total_iters)``.

    PyTorch equivalent: ``torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1/3,
    end_factor=1.0, total_iters=5)``. ``total_iters=0`` (torch then keeps
    ``start_factor`` forever) is refused.
    """

    lr: float
    start_factor: float = 1.0 / 3
    end_factor: float = 1.0
    total_iters: int = 5

    def __post_init__(self):
        _real("LinearLR", "lr", self.lr)
        start = _real("LinearLR", "start_factor", self.start_factor)
        end = _real("LinearLR", "end_factor", self.end_factor)
        if start > 1.0 or start <= 0:
            raise ValueError(f"LinearLR: expected 0 < start_factor <= 1, got {start!r}")
        if end > 1.0 or end < 0:
            raise ValueError(f"LinearLR: expected 0 <= end_factor <= 1, got {end!r}")
        _pos_int("LinearLR", "total_iters", self.total_iters)

    def lr_at(self, s, t):
        frac = jnp.minimum(t, float(self.total_iters)) / self.total_iters
        return self.lr * (self.start_factor + (self.end_factor - self.start_factor) * frac)


@dataclasses.dataclass(frozen=True)
class ExponentialLR(LRSchedule):
    """``lr * gamma ** step``.

    PyTorch equivalent: ``torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)``.
    """

    lr: float
    gamma: float

    def __post_init__(self):
        _real("ExponentialLR", "lr", self.lr)
        _real("ExponentialLR", "gamma", self.gamma)

    def lr_at(self, s, t):
        return self.lr * _const(self.gamma) ** t


@dataclasses.dataclass(frozen=True)
class PolynomialLR(LRSchedule):
    """``lr * (1 - min(step, total_iters) / total_iters) ** power``.

    PyTorch equivalent: ``torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=5, power=1.0)``.
    """

    lr: float
    total_iters: int = 5
    power: float = 1.0

    def __post_init__(self):
        _real("PolynomialLR", "lr", self.lr)
        _pos_int("PolynomialLR", "total_iters", self.total_iters)
        _real("PolynomialLR", "power", self.power)

    def lr_at(self, s, t):
        # (T - min(s, T)) / T from integers: XLA turns x / T into x * (1 / T), which can
        # make 1 - s / T a tiny negative number at s = T (and nan for a fractional power).
        remaining = (self.total_iters - jnp.minimum(s, self.total_iters)).astype(t.dtype)
        return self.lr * (remaining / self.total_iters) ** self.power


@dataclasses.dataclass(frozen=True)
class CosineAnnealingLR(LRSchedule):
    """``eta_min + (lr - eta_min) * (1 + cos(pi * step / T_max)) / 2``.

    Past ``T_max`` the cosine continues (the lr rises again over the next ``T_max``
    steps), as torch's recursive form does.

    PyTorch equivalent: ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min=0.0)``.
    """

    lr: float
    T_max: int
    eta_min: float = 0.0

    def __post_init__(self):
        _real("CosineAnnealingLR", "lr", self.lr)
        _pos_int("CosineAnnealingLR", "T_max", self.T_max)
        _real("CosineAnnealingLR", "eta_min", self.eta_min)

    def lr_at(self, s, t):
        # cos has period 2 T_max: reduce the step exactly in integers first, so float32
        # does not lose the angle to rounding after many periods.
        phase = (s % (2 * self.T_max)).astype(t.dtype)
        return self.eta_min + (self.lr - self.eta_min) * (1.0 + jnp.cos(math.pi * phase / self.T_max)) / 2


@dataclasses.dataclass(frozen=True)
class LambdaLR(LRSchedule):
    """``lr * lr_lambda(step)``.

    ``lr_lambda`` receives the step as given: a Python int when you call the schedule
    with one, an int32 array inside an optimizer (traced under ``jit``), so write it with
    operators or ``jnp`` functions (``lambda e: 0.95 ** e``, ``lambda e: e // 30``), not
    ``math``/``if``.

    PyTorch equivalent: ``torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)`` (one
    lambda; for per-group lambdas give each param group its own ``LambdaLR`` as ``lr``).
    """

    lr: float
    lr_lambda: Callable[[Any], Any]

    def __post_init__(self):
        _real("LambdaLR", "lr", self.lr)
        if not callable(self.lr_lambda):
            raise TypeError(f"LambdaLR: expected lr_lambda to be a function of the step, got {self.lr_lambda!r}")

    def __call__(self, step):
        _check_step("LambdaLR", step)
        return jnp.asarray(self.lr * jnp.asarray(self.lr_lambda(step), scalar_dtype()), scalar_dtype())


@dataclasses.dataclass(frozen=True)
class SequentialLR(LRSchedule):
    """Schedule ``i`` for ``milestones[i-1] <= step < milestones[i]``, restarted at 0 at its milestone.

    ``SequentialLR([s0, s1], milestones=[m])(n)`` is ``s0(n)`` for ``n < m`` and
    ``s1(n - m)`` after, as torch's ``SequentialLR`` (which resets each scheduler to its
    step 0 at its milestone). In torch all schedulers share the optimizer's lr; here each
    carries its own ``lr`` (give them the same one to reproduce torch).

    PyTorch equivalent: ``torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers, milestones)``.
    """

    schedulers: Sequence[Callable[[Any], Any]]
    milestones: Sequence[int]

    def __post_init__(self):
        schedulers = tuple(self.schedulers)
        milestones = tuple(self.milestones)
        if not schedulers:
            raise ValueError("SequentialLR: expected at least one scheduler, got none")
        for i, sched in enumerate(schedulers):
            if not callable(sched):
                raise TypeError(f"SequentialLR: expected schedulers[{i}] to be a schedule (step -> lr), got {sched!r}")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} milestones (one fewer than the "
                             f"{len(schedulers)} schedulers), got {len(milestones)}")
        for m in milestones:
            _pos_int("SequentialLR", "each milestone", m, allow_zero=True)
        if list(milestones) != sorted(milestones):
            raise ValueError(f"SequentialLR: expected non-decreasing milestones, got {list(milestones)}")
        object.__setattr__(self, "schedulers", schedulers)
        object.__setattr__(self, "milestones", tuple(int(m) for m in milestones))

    def __call__(self, step):
        _check_step("SequentialLR", step)
        known = _concrete_step(step)
        if known is not None:  # a Python step: call only the active schedule (lambdas may need ints)
            idx = bisect.bisect_right(self.milestones, known)
            start = self.milestones[idx - 1] if idx > 0 else 0
            local = known - start if _is_int(step) else jnp.asarray(step) - start
            return jnp.asarray(self.schedulers[idx](local), scalar_dtype())
        s = jnp.asarray(step)
        idx = sum((s >= m).astype(jnp.int32) for m in self.milestones) if self.milestones else jnp.zeros((), jnp.int32)
        starts = (0,) + self.milestones
        values = [jnp.asarray(sched(jnp.maximum(s - start, 0)), scalar_dtype())
                  for sched, start in zip(self.schedulers, starts)]
        return jnp.asarray(jnp.select([idx == i for i in range(len(values))], values), scalar_dtype())


@dataclasses.dataclass(frozen=True)
class OneCycleLR(LRSchedule):
    """The 1cycle policy: warm up from ``max_lr / div_factor`` to ``max_lr``, anneal to a minimum.

    The learning rate of ``torch.optim.lr_scheduler.OneCycleLR`` for steps ``0 ..
    total_steps`` (torch raises past ``total_steps``; fnet raises for a Python step and
    holds the last value for a traced one). Like torch, the optimizer's own lr is
    ignored: ``max_lr`` sets the scale.

    Momentum cycling is not applied: torch also rewrites the optimizer's ``momentum`` (or
    ``betas[0]``) each step when ``cycle_momentum=True``, but fnet optimizers take a fixed
    momentum. :meth:`momentum` returns torch's cycled value at a step (``max_momentum``
    to ``base_momentum`` and back; checked against torch) for a custom optimizer; an fnet
    ``SGD``/``Adam`` given this schedule as ``lr`` matches torch's ``OneCycleLR`` with
    ``cycle_momentum=False``.

    PyTorch equivalent: ``torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr,
    total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
    anneal_strategy='cos', cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
    div_factor=25.0, final_div_factor=1e4, three_phase=False)``.
    """

    max_lr: float
    total_steps: int | None = None
    epochs: int | None = None
    steps_per_epoch: int | None = None
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    cycle_momentum: bool = True
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self):
        w = "OneCycleLR"
        _real(w, "max_lr", self.max_lr)
        if self.total_steps is not None:
            total = _pos_int(w, "total_steps (a positive integer)", self.total_steps)
        elif self.epochs is not None and self.steps_per_epoch is not None:
            total = _pos_int(w, "epochs", self.epochs) * _pos_int(w, "steps_per_epoch", self.steps_per_epoch)
        else:
            raise ValueError(f"{w}: expected total_steps, or both epochs and steps_per_epoch, got "
                             f"total_steps={self.total_steps}, epochs={self.epochs}, "
                             f"steps_per_epoch={self.steps_per_epoch}")
        pct = _real(w, "pct_start", self.pct_start)
        if not 0.0 <= pct <= 1.0:
            raise ValueError(f"{w}: expected 0 <= pct_start <= 1, got {pct!r}")
        if self.anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{w}: anneal_strategy must be 'cos' or 'linear', got {self.anneal_strategy!r}")
        for name in ("base_momentum", "max_momentum", "div_factor", "final_div_factor"):
            _real(w, name, getattr(self, name))
        object.__setattr__(self, "_total", total)
        # torch's phase boundaries, in Python floats exactly as torch computes them.
        if self.three_phase:
            ends = [float(pct * total) - 1, float(2 * pct * total) - 2, total - 1]
            lrs = [("initial", "max"), ("max", "initial"), ("initial", "min")]
            moms = [("max", "base"), ("base", "max"), ("max", "max")]
        else:
            ends = [float(pct * total) - 1, total - 1]
            lrs = [("initial", "max"), ("max", "min")]
            moms = [("max", "base"), ("base", "max")]
        if ends[0] == 0.0:
            raise ValueError(f"{w}: the warm-up phase has length 0 (pct_start * total_steps = 1), which "
                             "divides by zero in torch too; use a larger pct_start or total_steps")
        object.__setattr__(self, "_phases", tuple(zip(ends, lrs, moms)))

    @property
    def _lr_values(self) -> dict[str, float]:
        initial = self.max_lr / self.div_factor
        return {"initial": initial, "max": self.max_lr, "min": initial / self.final_div_factor}

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (jnp.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _interp(self, step, values: dict[str, float], which: int) -> jax.Array:
        known = _concrete_step(step)
        if known is not None and known > self._total:
            raise ValueError(f"OneCycleLR: tried to step {known} times; the specified number of total "
                             f"steps is {self._total}")
        _check_step("OneCycleLR", step)
        s = jnp.minimum(jnp.asarray(step), self._total)
        t = s.astype(scalar_dtype())
        out = None
        start = 0.0
        taken = jnp.zeros(s.shape, bool)
        for i, (end, lr_pair, mom_pair) in enumerate(self._phases):
            pair = (lr_pair, mom_pair)[which]
            last = i == len(self._phases) - 1
            # torch: step <= end_step (a float); for an integer step that is step <= floor(end).
            here = ~taken if last else (~taken & (s <= math.floor(end)))
            width = end - start
            pct = (t - start) / (width if width != 0 else 1.0)
            value = self._anneal(values[pair[0]], values[pair[1]], pct)
            out = value if out is None else jnp.where(here, value, out)
            taken = taken | here
            start = end
        return jnp.asarray(out, scalar_dtype())

    def __call__(self, step):
        return self._interp(step, self._lr_values, 0)

    def momentum(self, step: Any) -> jax.Array:
        """torch's cycled momentum (SGD's ``momentum`` or Adam's ``betas[0]``) at ``step``."""
        if not self.cycle_momentum:
            raise ValueError("OneCycleLR: momentum() is only defined with cycle_momentum=True "
                             "(torch leaves the optimizer's momentum alone otherwise)")
        return self._interp(step, {"max": self.max_momentum, "base": self.base_momentum}, 1)


# ---------------------------------------------------------------------------------------
# Hugging Face transformers' warm-up schedules (``transformers.get_*_schedule_with_warmup``)


@dataclasses.dataclass(frozen=True)
class _CosineWithWarmup:
    num_warmup_steps: int
    num_training_steps: int
    num_cycles: float

    def __call__(self, step):
        t = jnp.asarray(step).astype(scalar_dtype())
        warm = t / max(1, self.num_warmup_steps)
        progress = (t - self.num_warmup_steps) / max(1, self.num_training_steps - self.num_warmup_steps)
        decay = jnp.maximum(0.0, 0.5 * (1.0 + jnp.cos(math.pi * float(self.num_cycles) * 2.0 * progress)))
        return jnp.where(t < self.num_warmup_steps, warm, decay)


@dataclasses.dataclass(frozen=True)
class _LinearWithWarmup:
    num_warmup_steps: int
    num_training_steps: int

    def __call__(self, step):
        t = jnp.asarray(step).astype(scalar_dtype())
        warm = t / max(1, self.num_warmup_steps)
        decay = jnp.maximum(0.0, (self.num_training_steps - t)
                            / max(1, self.num_training_steps - self.num_warmup_steps))
        return jnp.where(t < self.num_warmup_steps, warm, decay)


def get_cosine_schedule_with_warmup(lr: float, num_warmup_steps: int, num_training_steps: int,
                                    num_cycles: float = 0.5) -> LambdaLR:
    """Linear warm-up from 0 to ``lr`` over ``num_warmup_steps``, then a cosine decay to 0.

    The values of ``transformers.get_cosine_schedule_with_warmup`` (a ``LambdaLR``):
    ``step / max(1, W)`` during warm-up, then ``max(0, (1 + cos(2 pi num_cycles p)) / 2)``
    with ``p = (step - W) / max(1, N - W)``, times ``lr``.

    Args:
        lr: the peak learning rate (torch/transformers read it from the optimizer).
        num_warmup_steps: ``W``.
        num_training_steps: ``N``, the total number of steps.
        num_cycles: number of cosine waves (0.5: one decay from ``lr`` to 0).

    PyTorch equivalent: ``transformers.get_cosine_schedule_with_warmup(optimizer,
    num_warmup_steps, num_training_steps, num_cycles=0.5)``.
    """
    w = "get_cosine_schedule_with_warmup"
    _pos_int(w, "num_warmup_steps", num_warmup_steps, allow_zero=True)
    _pos_int(w, "num_training_steps", num_training_steps, allow_zero=True)
    return LambdaLR(_real(w, "lr", lr), _CosineWithWarmup(int(num_warmup_steps), int(num_training_steps),
                                                          _real(w, "num_cycles", num_cycles)))


def get_linear_schedule_with_warmup(lr: float, num_warmup_steps: int, num_training_steps: int) -> LambdaLR:
    """Linear warm-up from 0 to ``lr`` over ``num_warmup_steps``, then linear decay to 0 at ``num_training_steps``.

    The values of ``transformers.get_linear_schedule_with_warmup`` (BERT's fine-tuning
    schedule): ``step / max(1, W)``, then ``max(0, (N - step) / max(1, N - W))``, times ``lr``.

    PyTorch equivalent: ``transformers.get_linear_schedule_with_warmup(optimizer,
    num_warmup_steps, num_training_steps)``.
    """
    w = "get_linear_schedule_with_warmup"
    _pos_int(w, "num_warmup_steps", num_warmup_steps, allow_zero=True)
    _pos_int(w, "num_training_steps", num_training_steps, allow_zero=True)
    return LambdaLR(_real(w, "lr", lr), _LinearWithWarmup(int(num_warmup_steps), int(num_training_steps)))
