"""SGD with torch's momentum, dampening, Nesterov and L2 weight decay."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from . import _base, _groups

__all__ = ["SGD"]


class SGDDampenedMomentumState(NamedTuple):
    """State of :func:`scale_by_dampened_momentum` (torch's ``momentum_buffer``)."""

    step: jax.Array  # int32: steps taken, 0 before the first
    momentum_buffer: optax.Updates


def scale_by_dampened_momentum(momentum: Any, dampening: Any, nesterov: bool = False) -> optax.GradientTransformation:
    """torch's momentum buffer with dampening.

    ``buf = g`` on the first step, then ``buf = momentum * buf + (1 - dampening) * g``;
    the direction is ``buf``, or ``g + momentum * buf`` with Nesterov. optax's ``trace``
    has no dampening, and a zero-initialised buffer with dampening would give
    ``(1 - dampening) * g`` on the first step where torch copies ``g``. (For a Python
    ``dampening == 0`` both agree and fnet uses ``optax.trace``.)
    """

    def init_fn(params):
        return SGDDampenedMomentumState(jnp.zeros([], jnp.int32), optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        first = state.step == 0
        buf = jax.tree.map(
            lambda g, b: jnp.where(first, g, momentum * b + (1.0 - dampening) * g),
            updates, state.momentum_buffer)
        out = jax.tree.map(lambda g, b: g + momentum * b, updates, buf) if nesterov else buf
        return out, SGDDampenedMomentumState(_base.safe_increment(state.step), buf)

    return optax.GradientTransformation(init_fn, update_fn)


def _sgd(where: str, lr, momentum, dampening, weight_decay, nesterov, maximize) -> optax.GradientTransformation:
    lr = _base.check_lr(where, lr)
    momentum = _base.check_nonneg(where, "momentum", momentum)
    dampening = _base.check_real(where, "dampening", dampening)
    weight_decay = _base.check_nonneg(where, "weight_decay", weight_decay)
    nesterov = _base.check_bool(where, "nesterov", nesterov)
    maximize = _base.check_bool(where, "maximize", maximize)
    m, d = _base.known_value(momentum), _base.known_value(dampening)
    if nesterov and ((m is not None and m <= 0) or (d is not None and d != 0)):
        raise ValueError(f"{where}: Nesterov momentum requires a momentum and zero dampening: expected "
                         f"momentum > 0 and dampening == 0, got momentum={m}, dampening={d}")
    if _base.known_zero(momentum):
        core = optax.identity()
    elif _base.known_zero(dampening):
        # torch's first step copies g into the buffer; g + momentum * 0 is the same value.
        core = optax.trace(decay=momentum, nesterov=nesterov)
    else:
        core = scale_by_dampened_momentum(momentum, dampening, nesterov)
    return _base.torch_chain(core, lr=lr, weight_decay=weight_decay, maximize=maximize)


def SGD(lr: _base.ScalarOrSchedule = 1e-3, momentum: float = 0, dampening: float = 0,
        weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
        foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None,
        param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Stochastic gradient descent, torch's update rule, as an optax transformation.

    For each parameter ``p`` with gradient ``g``::

        g = -g if maximize else g
        g = g + weight_decay * p                       # L2, added to the gradient
        buf = g (first step) | momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf    # when momentum != 0
        p = p - lr * g

    Args:
        lr: learning rate (torch 2.13's default 1e-3), or a schedule ``step -> lr``
            (e.g. ``fnet.optim.lr_scheduler.StepLR(0.1, step_size=30)``); the step is the
            number of updates applied so far.
        momentum: momentum factor.
        dampening: dampening of the momentum (not applied on the first step, as torch).
        weight_decay: L2 penalty added to the gradient.
        nesterov: Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximise the objective instead of minimising it.
        foreach, differentiable, fused: accepted so torch code ports unchanged; XLA fuses
            the update and JAX differentiates through it anyway.
        param_groups: per-group overrides selected by state_dict name, see
            :mod:`fnet.optim._groups` (``[{"params": "*.bias", "weight_decay": 0.0}]``).

    Returns:
        An ``optax.GradientTransformation``: ``state = opt.init(params)``;
        ``updates, state = opt.update(grads, state, params)``;
        ``params = optax.apply_updates(params, updates)``.

    Raises:
        ValueError: negative ``lr``/``momentum``/``weight_decay``, or Nesterov without
            momentum or with dampening (as torch).

    PyTorch equivalent: ``torch.optim.SGD(params, lr=1e-3, momentum=0, dampening=0,
    weight_decay=0, nesterov=False, *, maximize=False)``.
    """
    del foreach, differentiable, fused
    defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                    nesterov=nesterov, maximize=maximize)
    return _groups.build("SGD", _sgd, defaults, param_groups)
