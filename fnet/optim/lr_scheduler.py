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
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _checks
from ._base import scalar_dtype

__all__ = ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
           "PolynomialLR", "CosineAnnealingLR", "LambdaLR", "SequentialLR", "OneCycleLR",
           "MultiplicativeLR", "ChainedScheduler", "CyclicLR", "CosineAnnealingWarmRestarts",
           "ReduceLROnPlateau", "set_lr", "get_cosine_schedule_with_warmup", "get_linear_schedule_with_warmup"]


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
    arr = _checks.concrete(step)
    if arr is None:
        return None
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
        """The learning rate at step ``s`` (int array; ``t`` the same step as a float array)."""
        raise NotImplementedError


def _const(x: float) -> jax.Array:
    return jnp.asarray(x, scalar_dtype())


@dataclasses.dataclass(frozen=True)
class MultiplicativeSchedule(LRSchedule):
    """A schedule ``lr * factor(step)``: the ones torch's ``ChainedScheduler`` can chain.

    torch steps these recursively (``lr = lr * ratio`` each step), so chaining several on
    one optimizer multiplies their factors; fnet's :class:`ChainedScheduler` does the same
    with :meth:`factor_at`.
    """

    def lr_at(self, s, t):
        return self.lr * self.factor_at(s, t)

    def factor_at(self, s: jax.Array, t: jax.Array) -> jax.Array:  # pragma: no cover - abstract
        """The multiplier of the base ``lr`` at step ``s`` (``t`` the same step as a float)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class StepLR(MultiplicativeSchedule):
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

    def factor_at(self, s, t):
        k = (s // self.step_size).astype(t.dtype)
        return _const(self.gamma) ** k


@dataclasses.dataclass(frozen=True)
class MultiStepLR(MultiplicativeSchedule):
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

    def factor_at(self, s, t):
        k = sum((s >= m).astype(t.dtype) for m in self.milestones) if self.milestones else jnp.zeros_like(t)
        return _const(self.gamma) ** k


@dataclasses.dataclass(frozen=True)
class ConstantLR(MultiplicativeSchedule):
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

    def factor_at(self, s, t):
        return jnp.where(s < self.total_iters, _const(self.factor), _const(1.0))


@dataclasses.dataclass(frozen=True)
class LinearLR(MultiplicativeSchedule):
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

    def factor_at(self, s, t):
        frac = jnp.minimum(t, float(self.total_iters)) / self.total_iters
        return self.start_factor + (self.end_factor - self.start_factor) * frac


@dataclasses.dataclass(frozen=True)
class ExponentialLR(MultiplicativeSchedule):
    """``lr * gamma ** step``.

    PyTorch equivalent: ``torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma)``.
    """

    lr: float
    gamma: float

    def __post_init__(self):
        _real("ExponentialLR", "lr", self.lr)
        _real("ExponentialLR", "gamma", self.gamma)

    def factor_at(self, s, t):
        return _const(self.gamma) ** t


@dataclasses.dataclass(frozen=True)
class PolynomialLR(MultiplicativeSchedule):
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

    def factor_at(self, s, t):
        # (T - min(s, T)) / T from integers: XLA turns x / T into x * (1 / T), which can
        # make 1 - s / T a tiny negative number at s = T (and nan for a fractional power).
        remaining = (self.total_iters - jnp.minimum(s, self.total_iters)).astype(t.dtype)
        return (remaining / self.total_iters) ** self.power


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

    Momentum cycling: torch also rewrites the optimizer's ``momentum`` (or ``betas[0]``)
    each step when ``cycle_momentum=True``. :meth:`momentum` is that cycled value
    (``max_momentum`` to ``base_momentum`` and back); inject both schedules to cycle it,
    ``optax.inject_hyperparams(fnet.optim.SGD)(lr=sched, momentum=sched.momentum)``
    (checked against torch's SGD). An fnet optimizer given this schedule as ``lr`` only
    matches torch's ``OneCycleLR`` with ``cycle_momentum=False``; Adam's ``betas[0]``
    cannot be injected (its bias corrections need Python betas).

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


@dataclasses.dataclass(frozen=True)
class MultiplicativeLR(MultiplicativeSchedule):
    """``lr * lr_lambda(1) * lr_lambda(2) * ... * lr_lambda(step)``.

    torch multiplies the current lr by ``lr_lambda(epoch)`` at each ``step()``; the
    value after ``n`` steps is this product. A Python step runs a Python loop (the
    lambda receives Python ints); a traced step runs a ``lax.fori_loop`` over ``1..step``
    (the lambda receives int32 arrays, so write it with operators or ``jnp``). Either way
    the cost grows with the step: for a closed form over long per-batch schedules use
    :class:`LambdaLR`.

    PyTorch equivalent: ``torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lr_lambda)``.
    """

    lr: float
    lr_lambda: Callable[[Any], Any]

    def __post_init__(self):
        _real("MultiplicativeLR", "lr", self.lr)
        if not callable(self.lr_lambda):
            raise TypeError(f"MultiplicativeLR: expected lr_lambda to be a function of the epoch, "
                            f"got {self.lr_lambda!r}")

    def __call__(self, step):
        _check_step("MultiplicativeLR", step)
        known = _concrete_step(step)
        if known is not None and _is_int(step):
            factor = 1.0
            for k in range(1, known + 1):
                factor = factor * self.lr_lambda(k)
            return jnp.asarray(self.lr * jnp.asarray(factor, scalar_dtype()), scalar_dtype())
        return super().__call__(step)

    def factor_at(self, s, t):
        one = jnp.ones((), t.dtype)
        return lax.fori_loop(1, s + 1, lambda k, acc: acc * jnp.asarray(self.lr_lambda(k), t.dtype), one)


@dataclasses.dataclass(frozen=True)
class ChainedScheduler(LRSchedule):
    """The product of multiplicative schedules: torch's chain of them stepping one optimizer.

    ``ChainedScheduler([ConstantLR(0.05, factor=0.1, total_iters=20), ExponentialLR(0.05,
    gamma=0.9)])(n)`` is ``0.05 * 0.1 (n < 20) * 0.9 ** n``, as torch's chain. Each part
    carries the same ``lr`` (torch's optimizer lr), and must be a
    :class:`MultiplicativeSchedule` (``StepLR``, ``MultiStepLR``, ``ConstantLR``,
    ``LinearLR``, ``ExponentialLR``, ``PolynomialLR``, ``MultiplicativeLR``, or another
    ``ChainedScheduler``). Schedules that *set* the lr (``LambdaLR``,
    ``CosineAnnealingLR``, ``CyclicLR``, ``OneCycleLR``...) are refused: in a torch chain
    they overwrite what the others did, in an order-dependent way; combine them with
    :class:`SequentialLR` or a :class:`LambdaLR` instead.

    PyTorch equivalent: ``torch.optim.lr_scheduler.ChainedScheduler(schedulers, optimizer=None)``.
    """

    schedulers: Sequence[Any]

    def __post_init__(self):
        schedulers = tuple(self.schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: expected at least one scheduler to chain, got none")
        for i, sched in enumerate(schedulers):
            if not isinstance(sched, (MultiplicativeSchedule, ChainedScheduler)):
                raise TypeError(f"ChainedScheduler: expected schedulers[{i}] to be a multiplicative schedule "
                                f"(StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, "
                                f"MultiplicativeLR, ChainedScheduler), got {type(sched).__name__}; schedules "
                                "that set the lr absolutely go in SequentialLR or a LambdaLR")
        lrs = sorted({float(sched.lr) for sched in schedulers})
        if len(lrs) != 1:
            raise ValueError(f"ChainedScheduler: expected every scheduler to start from the same lr (torch's "
                             f"optimizer lr), got {lrs}")
        object.__setattr__(self, "schedulers", schedulers)

    @property
    def lr(self) -> float:
        return float(self.schedulers[0].lr)

    def lr_at(self, s, t):
        return self.lr * self.factor_at(s, t)

    def factor_at(self, s, t):
        factor = jnp.ones((), t.dtype)
        for sched in self.schedulers:
            factor = factor * jnp.asarray(sched.factor_at(s, t), t.dtype)
        return factor

    def __call__(self, step):
        if any(isinstance(sched, MultiplicativeLR) for sched in self.schedulers) and _is_int(step):
            _check_step("ChainedScheduler", step)  # Python lambdas get Python ints, as in MultiplicativeLR
            value = jnp.ones((), scalar_dtype())
            for sched in self.schedulers:
                value = value * sched(step) / sched.lr
            return jnp.asarray(self.lr * value, scalar_dtype())
        return super().__call__(step)


_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


@dataclasses.dataclass(frozen=True)
class CyclicLR(LRSchedule):
    """Cyclical learning rate between ``base_lr`` and ``max_lr``, with torch's momentum cycle.

    A cycle rises for ``step_size_up`` steps and falls for ``step_size_down``. With
    ``x`` the position in the cycle and ``s = x / up`` rising, ``(total - x) / down``
    falling, ``lr = base_lr + (max_lr - base_lr) * s * scale``, where ``scale`` is 1
    (``"triangular"``), ``1 / 2 ** (cycle - 1)`` (``"triangular2"``), ``gamma ** step``
    (``"exp_range"``) or ``scale_fn`` of the cycle number (``scale_mode="cycle"``) or the
    step (``"iterations"``). ``scale_fn`` receives arrays: write it with operators or
    ``jnp``.

    :meth:`momentum` is torch's inverse cycle between ``max_momentum`` and
    ``base_momentum`` (torch writes it into the optimizer's ``momentum``). To cycle it,
    inject both schedules::

        clr = CyclicLR(0.01, 0.1, step_size_up=50)
        opt = optax.inject_hyperparams(fnet.optim.SGD)(lr=clr, momentum=clr.momentum)

    which reproduces torch's ``SGD`` (or ``RMSprop``) with ``CyclicLR``; Adam's
    ``betas[0]`` cannot be injected this way (fnet's Adam needs Python betas for its
    bias corrections), so with Adam give ``cycle_momentum=False`` to torch to compare.

    PyTorch equivalent: ``torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr, max_lr,
    step_size_up=2000, step_size_down=None, mode='triangular', gamma=1.0, scale_fn=None,
    scale_mode='cycle', cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)``.
    """

    base_lr: float
    max_lr: float
    step_size_up: int = 2000
    step_size_down: int | None = None
    mode: str = "triangular"
    gamma: float = 1.0
    scale_fn: Callable[[Any], Any] | None = None
    scale_mode: str = "cycle"
    cycle_momentum: bool = True
    base_momentum: float = 0.8
    max_momentum: float = 0.9

    def __post_init__(self):
        w = "CyclicLR"
        for name in ("base_lr", "max_lr", "gamma", "base_momentum", "max_momentum"):
            _real(w, name, getattr(self, name))
        _pos_int(w, "step_size_up", self.step_size_up)
        if self.step_size_down is not None:
            _pos_int(w, "step_size_down", self.step_size_down)
        if self.scale_fn is None:
            if self.mode not in _CYCLIC_MODES:
                raise ValueError(f"{w}: mode is invalid and scale_fn is None: expected one of {_CYCLIC_MODES}, "
                                 f"got {self.mode!r}")
        elif not callable(self.scale_fn):
            raise TypeError(f"{w}: expected scale_fn to be a function, got {self.scale_fn!r}")
        elif self.scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"{w}: expected scale_mode 'cycle' or 'iterations', got {self.scale_mode!r}")

    @property
    def lr(self) -> float:
        return float(self.base_lr)

    def _phase(self, s, t):
        up = self.step_size_up
        down = up if self.step_size_down is None else self.step_size_down
        total = up + down
        cycle = (1 + s // total).astype(t.dtype)
        r = (s % total).astype(t.dtype)
        rising = (s % total) <= up
        height = jnp.where(rising, r / up, (total - r) / down)
        if self.scale_fn is not None:
            scale = self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        elif self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1.0 / 2.0 ** (cycle - 1)
        else:
            scale = _const(self.gamma) ** t
        return height * jnp.asarray(scale, t.dtype)

    def lr_at(self, s, t):
        return self.base_lr + (self.max_lr - self.base_lr) * self._phase(s, t)

    def momentum(self, step: Any) -> jax.Array:
        """torch's cycled momentum at ``step`` (``max_momentum`` at the cycle's start and end)."""
        if not self.cycle_momentum:
            raise ValueError("CyclicLR: momentum() is only defined with cycle_momentum=True "
                             "(torch leaves the optimizer's momentum alone otherwise)")
        _check_step("CyclicLR", step)
        s = jnp.asarray(step)
        t = s.astype(scalar_dtype())
        return jnp.asarray(self.max_momentum - (self.max_momentum - self.base_momentum) * self._phase(s, t),
                           scalar_dtype())


@dataclasses.dataclass(frozen=True)
class CosineAnnealingWarmRestarts(LRSchedule):
    """Cosine annealing from ``lr`` to ``eta_min`` over ``T_i`` steps, restarting at ``lr``.

    The first period lasts ``T_0`` steps and each next one ``T_mult`` times longer:
    ``lr_t = eta_min + (lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`` with ``T_cur``
    the steps since the last restart (computed exactly in integers, as torch's stepping).

    PyTorch equivalent: ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer,
    T_0, T_mult=1, eta_min=0.0)``.
    """

    lr: float
    T_0: int
    T_mult: int = 1
    eta_min: float = 0.0

    def __post_init__(self):
        w = "CosineAnnealingWarmRestarts"
        _real(w, "lr", self.lr)
        _pos_int(w, "T_0", self.T_0)
        _pos_int(w, "T_mult", self.T_mult)
        _real(w, "eta_min", self.eta_min)
        # restart steps T_0 (m^i - 1) / (m - 1) below int32's range (every step an int32 can hold)
        starts = [0]
        length = self.T_0
        while starts[-1] + length < 2 ** 31 and self.T_mult > 1:
            starts.append(starts[-1] + length)
            length *= self.T_mult
        object.__setattr__(self, "_starts", tuple(starts))

    def lr_at(self, s, t):
        if self.T_mult == 1:
            t_cur = (s % self.T_0).astype(t.dtype)
            t_i = jnp.asarray(float(self.T_0), t.dtype)
        else:
            i = sum((s >= start).astype(jnp.int32) for start in self._starts[1:]) if len(self._starts) > 1 \
                else jnp.zeros_like(s)
            start = jnp.asarray(self._starts, s.dtype)[i] if len(self._starts) > 1 else jnp.zeros_like(s)
            t_cur = (s - start).astype(t.dtype)
            t_i = float(self.T_0) * jnp.asarray(float(self.T_mult), t.dtype) ** i.astype(t.dtype)
        return self.eta_min + (self.lr - self.eta_min) * (1.0 + jnp.cos(math.pi * t_cur / t_i)) / 2


# ---------------------------------------------------------------------------------------
# ReduceLROnPlateau: a state machine fed with a metric, and the lr plumbing it needs


class PlateauState(NamedTuple):
    """:class:`ReduceLROnPlateau`'s state: torch's scheduler attributes, as Python numbers.

    Plain floats and ints, so the state goes into a JSON training checkpoint as is
    (``state._asdict()``; ``PlateauState(**d)`` restores it).
    """

    lr: float  # the learning rate to use now
    best: float  # the best metric so far (inf / -inf before the first)
    num_bad_epochs: int
    cooldown_counter: int
    last_epoch: int


@dataclasses.dataclass(frozen=True)
class ReduceLROnPlateau:
    """Reduce the lr by ``factor`` when a metric has stopped improving for ``patience`` epochs.

    A pure state machine: ``state = sched.init()``, then once per epoch
    ``state = sched.step(state, val_loss)``; ``state.lr`` is the learning rate to use.
    The optimizer must take its lr as a hyperparameter that can change between steps::

        sched = ReduceLROnPlateau(0.1, patience=2)
        opt = optax.inject_hyperparams(fnet.optim.SGD)(lr=sched.lr, momentum=0.9)
        plateau = sched.init()
        for epoch in ...:
            ...train with opt...
            plateau = sched.step(plateau, val_loss)
            opt_state = set_lr(opt_state, plateau.lr)

    The lr after each ``step`` equals torch's ``get_last_lr()`` for the same metrics
    (the arithmetic is torch's, in Python floats). The optimizer's param groups are
    reduced together only when they share this lr: a param group with its own ``lr``
    override keeps it.

    Args:
        lr: the initial learning rate (torch reads it from the optimizer).
        mode: ``"min"`` (the metric should decrease) or ``"max"``.
        factor: ``new_lr = lr * factor`` (< 1).
        patience: epochs without improvement tolerated before a reduction.
        threshold: what counts as an improvement, relative (``threshold_mode="rel"``:
            better than ``best * (1 -/+ threshold)``) or absolute (``"abs"``).
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: epochs to wait after a reduction before counting bad epochs again.
        min_lr: lower bound of the lr.
        eps: reductions smaller than this are ignored.

    PyTorch equivalent: ``torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min',
    factor=0.1, patience=10, threshold=1e-4, threshold_mode='rel', cooldown=0, min_lr=0,
    eps=1e-8)``; ``scheduler.step(metric)`` is ``state = scheduler.step(state, metric)``.
    """

    lr: float
    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8

    def __post_init__(self):
        w = "ReduceLROnPlateau"
        for name in ("lr", "factor", "threshold", "eps"):
            _real(w, name, getattr(self, name))
        if isinstance(self.min_lr, (list, tuple)):
            raise TypeError(f"{w}: expected min_lr to be one number, got {self.min_lr!r}; fnet's plateau "
                            "scheduler tracks one lr (give each param group that needs its own a scheduler)")
        _real(w, "min_lr", self.min_lr)
        if not self.factor < 1.0:
            raise ValueError(f"{w}: expected factor < 1.0, got {self.factor!r}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"{w}: expected mode 'min' or 'max', got {self.mode!r}")
        if self.threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{w}: expected threshold_mode 'rel' or 'abs', got {self.threshold_mode!r}")
        _pos_int(w, "patience", self.patience, allow_zero=True)
        _pos_int(w, "cooldown", self.cooldown, allow_zero=True)

    def init(self) -> PlateauState:
        """The state before the first epoch (torch's freshly built scheduler)."""
        worst = math.inf if self.mode == "min" else -math.inf
        return PlateauState(float(self.lr), worst, 0, 0, 0)

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return a < best * (1.0 - self.threshold) if self.threshold_mode == "rel" else a < best - self.threshold
        return a > best * (self.threshold + 1.0) if self.threshold_mode == "rel" else a > best + self.threshold

    def step(self, state: PlateauState, metrics: Any) -> PlateauState:
        """The state after an epoch whose monitored value was ``metrics`` (torch's ``step(metrics)``)."""
        if not isinstance(state, PlateauState):
            raise TypeError(f"ReduceLROnPlateau.step: expected the state from init() or a previous step, "
                            f"got {type(state).__name__}")
        try:
            current = float(metrics)
        except (TypeError, jax.errors.ConcretizationTypeError) as err:
            raise TypeError(f"ReduceLROnPlateau.step: expected the metric as a concrete number (call step once "
                            f"per epoch, outside jax.jit), got {metrics!r}") from err
        best, bad, cooldown = state.best, state.num_bad_epochs, state.cooldown_counter
        if self._is_better(current, best):
            best, bad = current, 0
        else:
            bad += 1
        if cooldown > 0:
            cooldown -= 1
            bad = 0  # bad epochs in cooldown are ignored
        lr = state.lr
        if bad > self.patience:
            new_lr = max(lr * self.factor, float(self.min_lr))
            if lr - new_lr > self.eps:
                lr = new_lr
            cooldown, bad = self.cooldown, 0
        return PlateauState(lr, best, bad, cooldown, state.last_epoch + 1)


def set_lr(opt_state: Any, lr: Any) -> Any:
    """``opt_state`` with its injected learning rate replaced by ``lr`` (pure; jit-safe).

    For an optimizer built with ``optax.inject_hyperparams(fnet.optim.X)(lr=...)``: the
    twin of torch's ``for g in optimizer.param_groups: g["lr"] = lr``, and how
    :class:`ReduceLROnPlateau`'s lr reaches the optimizer. The new value keeps the old
    one's dtype (so a jitted step does not recompile).

    PyTorch equivalent: ``for g in optimizer.param_groups: g["lr"] = lr``.

    Raises:
        ValueError: the state has no injected ``lr`` (the optimizer was not wrapped in
            ``optax.inject_hyperparams``).
    """
    import optax

    found = optax.tree.get_all_with_path(opt_state, "lr")
    hyper = [(path, value) for path, value in found if hasattr(value, "dtype")]
    if not hyper:
        raise ValueError("set_lr: the optimizer state has no injected 'lr' hyperparameter; build the optimizer "
                         "with optax.inject_hyperparams(fnet.optim.SGD)(lr=..., ...) so its lr can change")
    dtype = hyper[0][1].dtype
    return optax.tree.set(opt_state, lr=jnp.asarray(lr, dtype))


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
