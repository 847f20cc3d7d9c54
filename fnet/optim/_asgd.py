"""ASGD (averaged SGD), torch's update rule, with torch's running average ``ax``."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from . import _base, _groups
from ._base import like

__all__ = ["ASGD"]


class ASGDState(NamedTuple):
    """torch's per-parameter ASGD state (``eta`` and ``mu`` are equal for every parameter)."""

    step: jax.Array  # int32: updates applied so far
    eta: jax.Array  # the step size of the next update (starts at lr)
    mu: jax.Array  # the averaging coefficient of the next update (starts at 1)
    ax: optax.Updates  # the averaged parameters: what ASGD's users evaluate


def _torch_asgd(lr: Any, lambd: float, alpha: float, t0: float) -> optax.GradientTransformation:
    """The whole ASGD step (the lr enters ``eta`` non-linearly, so no final ``-lr`` scaling).

    torch stores ``eta`` and ``mu`` computed in double and rounded to the scalar dtype
    (float32, or float64 in 64-bit mode); fnet computes them in that dtype.
    """

    def init_fn(params):
        dtype = _base.scalar_dtype()
        eta = jnp.asarray(_base.schedule_value(lr, jnp.zeros([], jnp.int32)), dtype)
        return ASGDState(jnp.zeros([], jnp.int32), eta, jnp.ones([], dtype), optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("ASGD: update needs the parameters: call update(grads, state, params)")
        step = _base.safe_increment(state.step)
        eta = state.eta
        decay = 1.0 - lambd * eta
        new_params = jax.tree.map(lambda p, g: p * like(decay, p) - like(eta, p) * g, params, updates)
        averaging = state.mu != 1
        ax = jax.tree.map(lambda a, p: jnp.where(averaging, a + (p - a) * like(state.mu, p), p),
                          state.ax, new_params)
        # The next eta from the lr of this step (torch reads group["lr"] now), the next mu.
        lr_now = jnp.asarray(_base.schedule_value(lr, state.step), eta.dtype)
        t = _base.as_float(step).astype(eta.dtype)
        new_eta = lr_now / (1.0 + lambd * lr_now * t) ** alpha
        new_mu = 1.0 / jnp.maximum(1.0, t - t0)
        return _base.updates_to(new_params, params), ASGDState(step, new_eta, new_mu.astype(eta.dtype), ax)

    return optax.GradientTransformation(init_fn, update_fn)


def _asgd(where: str, lr, lambd, alpha, t0, weight_decay, maximize):
    lr = _base.check_lr(where, lr)
    lambd = _base.check_nonneg(where, "lambd", lambd)
    alpha = _base.check_real(where, "alpha", alpha)
    t0 = _base.check_nonneg(where, "t0", t0)
    weight_decay = _base.check_nonneg(where, "weight_decay", weight_decay)
    maximize = _base.check_bool(where, "maximize", maximize)
    parts = [optax.scale(-1.0)] if maximize else []
    if not _base.known_zero(weight_decay):
        parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(_torch_asgd(lr, lambd, alpha, t0))
    return optax.chain(*parts)


def ASGD(lr: _base.ScalarOrSchedule = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
         weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
         differentiable: bool = False, capturable: bool = False,
         param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Averaged stochastic gradient descent, torch's update rule.

    ::

        g = -g if maximize else g
        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = p if mu == 1 else ax + (p - ax) * mu
        eta = lr / (1 + lambd * lr * t) ** alpha;  mu = 1 / max(1, t - t0)   # for step t + 1

    ``eta`` starts at ``lr`` and ``mu`` at 1. The averaged parameters ``ax`` live in the
    optimizer state (:class:`ASGDState`); averaging starts after ``t0`` steps. With a
    schedule as ``lr``, ``eta`` follows it as torch's does with an lr scheduler (the lr
    of step ``t`` sets the ``eta`` of step ``t + 1``).

    Args:
        lr: learning rate, or a schedule ``step -> lr``.
        lambd: decay term.
        alpha: power of the ``eta`` update.
        t0: the step at which averaging starts.
        weight_decay: L2 penalty added to the gradient.
        maximize: maximise the objective.
        foreach, differentiable, capturable: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    Returns:
        An ``optax.GradientTransformation``; the averaged parameters are the ``ax``
        field of its :class:`ASGDState`: ``optax.tree.get(opt_state, "ax")``.

    PyTorch equivalent: ``torch.optim.ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75,
    t0=1e6, weight_decay=0, maximize=False)``.
    """
    del foreach, differentiable, capturable
    defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize)
    return _groups.build("ASGD", _asgd, defaults, param_groups)
