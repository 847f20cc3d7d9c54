"""RMSprop with torch's eps placement, centering and momentum, composed from optax."""

from __future__ import annotations

from typing import Any, Sequence

import optax

from . import _base, _groups

__all__ = ["RMSprop"]


def _rmsprop(where: str, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    lr = _base.check_lr(where, lr)
    alpha = _base.check_nonneg(where, "alpha", alpha)
    eps = _base.check_nonneg(where, "eps", eps, "epsilon")
    weight_decay = _base.check_nonneg(where, "weight_decay", weight_decay)
    momentum = _base.check_nonneg(where, "momentum", momentum)
    centered = _base.check_bool(where, "centered", centered)
    maximize = _base.check_bool(where, "maximize", maximize)
    # eps_in_sqrt=False: torch divides by sqrt(v) + eps (optax.rmsprop's default is
    # sqrt(v + eps)). initial_scale=0: torch starts square_avg at zero (optax.rmsprop too).
    if centered:
        core = optax.scale_by_stddev(decay=alpha, eps=eps, initial_scale=0.0, eps_in_sqrt=False)
    else:
        core = optax.scale_by_rms(decay=alpha, eps=eps, initial_scale=0.0, eps_in_sqrt=False)
    if not _base.known_zero(momentum):
        # torch: buf = momentum * buf + g / avg with buf starting at zero: optax.trace.
        core = optax.chain(core, optax.trace(decay=momentum, nesterov=False))
    return _base.torch_chain(core, lr=lr, weight_decay=weight_decay, maximize=maximize)


def RMSprop(lr: _base.ScalarOrSchedule = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
            momentum: float = 0, centered: bool = False, *, capturable: bool = False,
            foreach: bool | None = None, maximize: bool = False, differentiable: bool = False,
            param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """RMSprop, torch's update rule, composed from optax's own transforms.

    ::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - gbar**2) + eps if centered (gbar = lerp(gbar, g, 1 - alpha))
              else sqrt(v) + eps                       # eps OUTSIDE the sqrt, as torch
        buf = momentum * buf + g / avg;  p -= lr * buf  (momentum > 0)
        p -= lr * g / avg                               (otherwise)

    optax's ``rmsprop`` puts ``eps`` inside the square root by default; fnet uses
    ``optax.scale_by_rms`` / ``scale_by_stddev`` with ``eps_in_sqrt=False`` and
    ``optax.trace`` for the momentum buffer.

    Args:
        lr: learning rate (default 1e-2, torch's), or a schedule.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator outside the square root.
        weight_decay: L2 penalty added to the gradient.
        momentum: momentum factor.
        centered: normalise by the estimated variance instead of the second moment.
        maximize: maximise the objective.
        capturable, foreach, differentiable: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    PyTorch equivalent: ``torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8,
    weight_decay=0, momentum=0, centered=False, maximize=False)``.
    """
    del capturable, foreach, differentiable
    defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                    centered=centered, maximize=maximize)
    return _groups.build("RMSprop", _rmsprop, defaults, param_groups)
