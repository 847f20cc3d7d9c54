"""Adadelta: torch's rule is optax's ``scale_by_adadelta`` plus torch's lr."""

from __future__ import annotations

from typing import Any, Sequence

import optax

from . import _base, _groups

__all__ = ["Adadelta"]


def _adadelta(where: str, lr, rho, eps, weight_decay, maximize):
    lr = _base.check_lr(where, lr)
    rho = _base.check_real(where, "rho", rho)
    known = _base.known_value(rho)
    if known is not None and not 0.0 <= known <= 1.0:
        raise ValueError(f"{where}: invalid rho value: expected 0 <= rho <= 1, got {known!r}")
    eps = _base.check_nonneg(where, "eps", eps, "epsilon")
    weight_decay = _base.check_nonneg(where, "weight_decay", weight_decay)
    maximize = _base.check_bool(where, "maximize", maximize)
    return _base.torch_chain(optax.scale_by_adadelta(rho=rho, eps=eps), lr=lr, weight_decay=weight_decay,
                             maximize=maximize)


def Adadelta(lr: _base.ScalarOrSchedule = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
             foreach: bool | None = None, *, capturable: bool = False, maximize: bool = False,
             differentiable: bool = False,
             param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Adadelta, torch's update rule (``optax.scale_by_adadelta`` computes it exactly).

    ::

        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    Args:
        lr: coefficient scaling delta (default 1.0, torch's), or a schedule.
        rho: decay of the running averages, in ``[0, 1]``.
        eps: added inside both square roots (torch's placement).
        weight_decay: L2 penalty added to the gradient.
        maximize: maximise the objective.
        foreach, capturable, differentiable: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    PyTorch equivalent: ``torch.optim.Adadelta(params, lr=1.0, rho=0.9, eps=1e-6,
    weight_decay=0, *, maximize=False)``.
    """
    del foreach, capturable, differentiable
    defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
    return _groups.build("Adadelta", _adadelta, defaults, param_groups)
