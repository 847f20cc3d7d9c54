"""Adafactor, torch's variant (``torch.optim.Adafactor``): factored second moments, relative steps."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from . import _base, _groups
from ._base import like

__all__ = ["Adafactor"]


class AdafactorState(NamedTuple):
    """torch's Adafactor state with its names.

    A parameter with two or more dimensions keeps ``row_var`` (shape ``(..., R, 1)``) and
    ``col_var`` (``(..., 1, C)``) over its last two dimensions, and an empty ``(0,)``
    ``variance``; a vector or scalar keeps ``variance`` (its own shape) and empty
    ``row_var``/``col_var`` (torch stores only the entries that exist).
    """

    step: jax.Array  # int32
    row_var: optax.Updates
    col_var: optax.Updates
    variance: optax.Updates


def _empty(p: jax.Array) -> jax.Array:
    return jnp.zeros((0,), p.dtype)


def _rms(x: jax.Array) -> jax.Array:
    """``x.norm(2) / sqrt(x.numel())`` (torch's per-tensor RMS)."""
    return jnp.sqrt(jnp.sum(jnp.square(x))) / (x.size ** 0.5)


def _torch_adafactor(lr: Any, beta2_decay: float, eps1: float | None, eps2: float, d: float,
                     weight_decay: Any) -> optax.GradientTransformation:
    """The whole Adafactor step (the lr enters through ``min(lr, 1/sqrt(t))``)."""

    def init_fn(params):
        def row(p):
            return jnp.zeros(p.shape[:-1] + (1,), p.dtype) if p.ndim > 1 else _empty(p)

        def col(p):
            return jnp.zeros(p.shape[:-2] + (1,) + p.shape[-1:], p.dtype) if p.ndim > 1 else _empty(p)

        def var(p):
            return _empty(p) if p.ndim > 1 else jnp.zeros_like(p)

        return AdafactorState(jnp.zeros([], jnp.int32), jax.tree.map(row, params), jax.tree.map(col, params),
                              jax.tree.map(var, params))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("Adafactor: update needs the parameters: call update(grads, state, params)")
        step = _base.safe_increment(state.step)
        t = _base.as_float(step)
        lr_now = jnp.asarray(_base.schedule_value(lr, state.step), t.dtype)
        one_minus_beta2 = t ** beta2_decay
        rho = jnp.minimum(lr_now, 1.0 / jnp.sqrt(t))

        def leaf(p, g, row_var, col_var, variance):
            e1 = jnp.finfo(p.dtype).eps if eps1 is None else eps1
            alpha = jnp.maximum(eps2, _rms(p).astype(t.dtype)) * rho
            if not _base.known_zero(weight_decay):
                p = p * like(1.0 - lr_now * weight_decay, p)
            if g.ndim > 1:
                row_mean = jnp.square(jnp.sqrt(jnp.sum(g * g, axis=-1, keepdims=True))) / g.shape[-1]
                row_var = _base.lerp(row_var, row_mean, one_minus_beta2)
                col_mean = jnp.square(jnp.sqrt(jnp.sum(g * g, axis=-2, keepdims=True))) / g.shape[-2]
                col_var = _base.lerp(col_var, col_mean, one_minus_beta2)
                estimate = (row_var @ col_var) / jnp.maximum(jnp.mean(row_var, axis=-2, keepdims=True), e1)
            else:
                variance = _base.lerp(variance, g * g, one_minus_beta2)
                estimate = variance
            u = jax.lax.rsqrt(jnp.maximum(estimate, e1 * e1)) * g
            denom = jnp.maximum(1.0, _rms(u).astype(t.dtype) / d)
            return p - like(alpha / denom, p) * u, row_var, col_var, variance

        new_params, row_var, col_var, variance = _base.map_unzip(
            leaf, params, updates, state.row_var, state.col_var, state.variance) or (params,) * 4
        return _base.updates_to(new_params, params), AdafactorState(step, row_var, col_var, variance)

    return optax.GradientTransformation(init_fn, update_fn)


def _adafactor(where: str, lr, beta2_decay, eps, d, weight_decay, maximize):
    lr = _base.check_lr(where, lr)
    beta2_decay = _base.check_real(where, "beta2_decay", beta2_decay)
    if not beta2_decay <= 0.0:
        raise ValueError(f"{where}: invalid beta2_decay: expected beta2_decay <= 0, got {beta2_decay!r}")
    if isinstance(eps, (str, bytes)) or not hasattr(eps, "__len__") or len(eps) != 2:
        raise TypeError(f"{where}: expected eps to be a pair (eps1 or None, eps2), got {eps!r}")
    eps1 = None if eps[0] is None else _base.check_nonneg(where, "eps[0]", eps[0], "epsilon1")
    eps2 = _base.check_nonneg(where, "eps[1]", eps[1], "epsilon2")
    d = _base.check_real(where, "d", d)
    if not d >= 1.0:
        raise ValueError(f"{where}: invalid clipping threshold d: expected d >= 1, got {d!r}")
    weight_decay = _base.check_nonneg(where, "weight_decay", weight_decay)
    maximize = _base.check_bool(where, "maximize", maximize)
    parts = [optax.scale(-1.0)] if maximize else []
    parts.append(_torch_adafactor(lr, beta2_decay, eps1, eps2, d, weight_decay))
    return optax.chain(*parts)


def Adafactor(lr: _base.ScalarOrSchedule = 1e-2, beta2_decay: float = -0.8,
              eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
              foreach: bool | None = None, maximize: bool = False,
              param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Adafactor as torch implements it (no first moment, factored second moment).

    For each parameter ``p`` (``t`` the step, from 1)::

        g = -g if maximize else g
        beta2_t = 1 - t ** beta2_decay;  rho_t = min(lr, 1 / sqrt(t))
        alpha = max(eps2, RMS(p)) * rho_t                       # RMS before the decay
        p = p * (1 - lr * weight_decay)
        if p.ndim >= 2:  (over the last two dimensions)
            row_var = lerp(row_var, mean(g*g, -1), 1 - beta2_t)
            col_var = lerp(col_var, mean(g*g, -2), 1 - beta2_t)
            v = row_var @ col_var / max(mean(row_var, -2), eps1)
        else:
            v = variance = lerp(variance, g * g, 1 - beta2_t)
        u = g / sqrt(max(v, eps1 ** 2))
        p = p - alpha / max(1, RMS(u) / d) * u

    This is torch's variant, not the paper's nor ``optax.adafactor``: no momentum, the
    relative step ``min(lr, 1/sqrt(t))`` always on, ``eps1`` clamping the row mean,
    and decoupled weight decay scaled by ``lr``. ``eps1=None`` is the parameter dtype's
    machine epsilon.

    Args:
        lr: learning rate (the cap of the relative step), or a schedule.
        beta2_decay: the decay exponent of ``beta2_t`` (<= 0).
        eps: ``(eps1, eps2)``: ``eps1`` bounds the second-moment estimate from below
            (``None``: ``finfo(dtype).eps``), ``eps2`` the parameter RMS of ``alpha``.
        d: clipping threshold of the update's RMS (>= 1).
        weight_decay: decoupled decay ``p *= 1 - lr * weight_decay``.
        maximize: maximise the objective.
        foreach: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    Returns:
        An ``optax.GradientTransformation`` (state :class:`AdafactorState`).

    PyTorch equivalent: ``torch.optim.Adafactor(params, lr=1e-2, beta2_decay=-0.8,
    eps=(None, 1e-3), d=1.0, weight_decay=0.0, *, maximize=False)``.
    """
    del foreach
    defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, maximize=maximize)
    return _groups.build("Adafactor", _adafactor, defaults, param_groups)
