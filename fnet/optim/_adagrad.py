"""Adagrad with torch's initial accumulator, eps placement and lr_decay."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from . import _base, _groups
from ._base import like

__all__ = ["Adagrad"]


class AdagradState(NamedTuple):
    step: jax.Array  # int32
    sum: optax.Updates  # torch's state["sum"]


def scale_by_torch_adagrad(lr_decay: float, initial_accumulator_value: float,
                           eps: float) -> optax.GradientTransformation:
    """``g / (sqrt(sum) + eps) / (1 + (t - 1) * lr_decay)`` with ``sum += g * g``.

    ``optax.scale_by_rss`` differs from torch in three ways: ``eps`` inside the square
    root (torch: outside), an initial accumulator of 0.1 by default (torch: 0), and a zero
    update where the sum is zero (torch divides by ``eps``). torch's ``lr_decay`` has no
    optax counterpart; it is folded in here as a factor on the direction.
    """

    def init_fn(params):
        return AdagradState(jnp.zeros([], jnp.int32), optax.tree.full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None):
        del params
        step = _base.safe_increment(state.step)
        total = jax.tree.map(lambda g, s: s + g * g, updates, state.sum)
        direction = jax.tree.map(lambda g, s: g / (jnp.sqrt(s) + eps), updates, total)
        if not _base.known_zero(lr_decay):
            factor = 1.0 / (1.0 + (_base.as_float(step) - 1.0) * lr_decay)
            direction = jax.tree.map(lambda d: d * like(factor, d), direction)
        return direction, AdagradState(step, total)

    return optax.GradientTransformation(init_fn, update_fn)


def _adagrad(where: str, lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize):
    lr = _base.check_lr(where, lr)
    lr_decay = _base.check_nonneg(where, "lr_decay", lr_decay)
    weight_decay = _base.check_nonneg(where, "weight_decay", weight_decay)
    initial_accumulator_value = _base.check_nonneg(where, "initial_accumulator_value",
                                                   initial_accumulator_value, "initial accumulator")
    eps = _base.check_nonneg(where, "eps", eps, "epsilon")
    maximize = _base.check_bool(where, "maximize", maximize)
    return _base.torch_chain(scale_by_torch_adagrad(lr_decay, initial_accumulator_value, eps), lr=lr,
                             weight_decay=weight_decay, maximize=maximize)


def Adagrad(lr: _base.ScalarOrSchedule = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
            initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
            maximize: bool = False, differentiable: bool = False, fused: bool | None = None,
            param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Adagrad, torch's update rule.

    ::

        g = g + weight_decay * p
        sum = sum + g * g                      # sum starts at initial_accumulator_value
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)

    Differs from ``optax.adagrad`` (eps inside the sqrt, initial accumulator 0.1).

    Args:
        lr: learning rate (default 1e-2), or a schedule (``lr_decay`` then applies on top,
            as torch applies it to the scheduled group lr).
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty added to the gradient.
        initial_accumulator_value: starting value of the squared-gradient sum.
        eps: added to the denominator outside the square root.
        maximize: maximise the objective.
        foreach, differentiable, fused: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    PyTorch equivalent: ``torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10, *, maximize=False)``.
    """
    del foreach, differentiable, fused
    defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                    initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
    return _groups.build("Adagrad", _adagrad, defaults, param_groups)
