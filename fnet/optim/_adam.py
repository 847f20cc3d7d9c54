"""The Adam family: Adam, AdamW, Adamax, NAdam, RAdam, with torch's exact update rules.

State fields carry torch's ``optimizer.state`` names (``exp_avg``, ``exp_avg_sq``,
``max_exp_avg_sq``, ``exp_inf``, ``mu_product``); ``step`` is one int32 count shared by
all parameters (torch keeps one per parameter; they are always equal).

Step-dependent scalars (``1 - beta ** step``, RAdam's ``rho_t``, NAdam's ``mu``) are
computed in float64 when JAX's 64-bit mode is on and as accurately as float32 allows
otherwise (see :func:`fnet.optim._base.one_minus_pow`); torch computes them in double.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from . import _base, _groups
from ._base import like

__all__ = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"]


def _check_adam(where: str, lr, betas, eps, weight_decay):
    lr = _base.check_lr(where, lr)
    betas = _base.check_betas(where, betas)
    eps = _base.check_nonneg(where, "eps", eps, "epsilon")
    weight_decay = _base.check_nonneg(where, "weight_decay", weight_decay)
    return lr, betas, eps, weight_decay


def _moments(updates, state_m, state_v, b1, b2):
    """torch: ``exp_avg.lerp_(g, 1 - b1)``; ``exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)``."""
    m = jax.tree.map(lambda g, m: _base.lerp(m, g, 1.0 - b1), updates, state_m)
    v = jax.tree.map(lambda g, v: b2 * v + (1.0 - b2) * (g * g), updates, state_v)
    return m, v


# ---------------------------------------------------------------------------------------
# Adam / AdamW


class AdamState(NamedTuple):
    """Adam/AdamW/Adamax/NAdam/RAdam state with torch's names: the step count and both moments."""

    step: jax.Array  # int32
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


class AMSGradState(NamedTuple):
    """:class:`AdamState` plus torch's ``max_exp_avg_sq`` (``amsgrad=True``)."""

    step: jax.Array  # int32
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates
    max_exp_avg_sq: optax.Updates


def init_adam_state(params: optax.Params) -> AdamState:
    """Zero moments and step (torch's state before the first step)."""
    return AdamState(jnp.zeros([], jnp.int32), optax.tree.zeros_like(params), optax.tree.zeros_like(params))


def scale_by_torch_adam(b1: float, b2: float, eps: float, amsgrad: bool) -> optax.GradientTransformation:
    """Adam's direction ``(m / bc1) / (sqrt(v_or_vmax) / sqrt(bc2) + eps)``, torch's way.

    Differs from ``optax.scale_by_adam`` / ``scale_by_amsgrad`` where torch does:

    * AMSGrad: torch keeps the running max of the *raw* second moment and bias-corrects
      the max (``sqrt(max_exp_avg_sq) / sqrt(1 - b2**t)``); optax's ``scale_by_amsgrad``
      takes the max of the bias-corrected moment (or never corrects it).
    * precision: optax computes ``1 - b2 ** count`` with ``b2`` rounded to float32 when
      64-bit mode is off (1.3e-5 relative error for ``b2 = 0.999``, 6e-6 on every Adam
      step); fnet's :func:`~fnet.optim._base.one_minus_pow` keeps it to float32 ulps.
    """

    def init_fn(params):
        if amsgrad:
            return AMSGradState(*init_adam_state(params), optax.tree.zeros_like(params))
        return init_adam_state(params)

    def update_fn(updates, state, params=None):
        del params
        step = _base.safe_increment(state.step)
        t = _base.as_float(step)
        m, v = _moments(updates, state.exp_avg, state.exp_avg_sq, b1, b2)
        bc1 = _base.one_minus_pow(b1, t)
        bc2_sqrt = jnp.sqrt(_base.one_minus_pow(b2, t))
        if amsgrad:
            vmax = jax.tree.map(jnp.maximum, state.max_exp_avg_sq, v)
            second = vmax
        else:
            second = v
        direction = jax.tree.map(
            lambda m, s: (m / (jnp.sqrt(s) / like(bc2_sqrt, s) + eps)) / like(bc1, m), m, second)
        if amsgrad:
            return direction, AMSGradState(step, m, v, vmax)
        return direction, AdamState(step, m, v)

    return optax.GradientTransformation(init_fn, update_fn)


def _adam(where: str, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay):
    lr, (b1, b2), eps, weight_decay = _check_adam(where, lr, betas, eps, weight_decay)
    amsgrad = _base.check_bool(where, "amsgrad", amsgrad)
    maximize = _base.check_bool(where, "maximize", maximize)
    decoupled = _base.check_bool(where, "decoupled_weight_decay", decoupled_weight_decay)
    return _base.torch_chain(scale_by_torch_adam(b1, b2, eps, amsgrad), lr=lr, weight_decay=weight_decay,
                             decoupled=decoupled, maximize=maximize)


def Adam(lr: _base.ScalarOrSchedule = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
         weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
         maximize: bool = False, capturable: bool = False, differentiable: bool = False,
         fused: bool | None = None, decoupled_weight_decay: bool = False,
         param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Adam with torch's update rule, as an optax transformation.

    ::

        g = -g if maximize else g
        g = g + weight_decay * p                     # L2 (torch's Adam; AdamW decouples)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v) if amsgrad               # max of the raw v, as torch
        p = p - lr / (1 - beta1**t) * m / (sqrt(v or vmax) / sqrt(1 - beta2**t) + eps)

    ``weight_decay`` is L2 added to the gradient, as torch's Adam (optax's ``adamw`` is
    the decoupled form; use :func:`AdamW` or ``decoupled_weight_decay=True`` for it).

    Args:
        lr: learning rate, or a schedule ``step -> lr``.
        betas: decay rates of the first and second moments, each in ``[0, 1)``.
        eps: added to the denominator *outside* the square root (optax's ``eps``; not
            its ``eps_root``).
        weight_decay: L2 penalty (or decoupled decay with ``decoupled_weight_decay``).
        amsgrad: use the running maximum of the second moment (AMSGrad).
        maximize: maximise the objective.
        decoupled_weight_decay: AdamW's decay ``p -= lr * weight_decay * p``.
        foreach, capturable, differentiable, fused: accepted for torch compatibility;
            they change nothing here.
        param_groups: per-group overrides selected by state_dict name (see
            :mod:`fnet.optim._groups`).

    Returns:
        An ``optax.GradientTransformation`` (state: :class:`AdamState` or
        :class:`AMSGradState` inside an ``optax.chain``).

    PyTorch equivalent: ``torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, amsgrad=False, *, maximize=False, decoupled_weight_decay=False)``.
    """
    del foreach, capturable, differentiable, fused
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                    maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
    return _groups.build("Adam", _adam, defaults, param_groups)


def AdamW(lr: _base.ScalarOrSchedule = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
          foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
          fused: bool | None = None,
          param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """AdamW: Adam with decoupled, lr-scaled weight decay, torch's update rule.

    ``p = p - lr * weight_decay * p - lr * adam_direction`` (torch's
    ``param.mul_(1 - lr * weight_decay)`` before the Adam step; the decay is scaled by
    the scheduled ``lr`` of the step, as torch and ``optax.adamw``). Defaults are
    torch's, including ``weight_decay=1e-2`` (optax's ``adamw`` uses 1e-4).

    Args: as :func:`Adam`, without ``decoupled_weight_decay`` (always on).

    PyTorch equivalent: ``torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999),
    eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False)``.
    """
    del foreach, capturable, differentiable, fused
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                    maximize=maximize)
    return _groups.build("AdamW", lambda where, **kw: _adam(where, decoupled_weight_decay=True, **kw),
                         defaults, param_groups)


# ---------------------------------------------------------------------------------------
# Adamax


class AdamaxState(NamedTuple):
    step: jax.Array  # int32
    exp_avg: optax.Updates
    exp_inf: optax.Updates


def scale_by_torch_adamax(b1: float, b2: float, eps: float) -> optax.GradientTransformation:
    """Adamax's direction ``m / (1 - b1**t) / u`` with ``u = max(b2 * u, |g| + eps)``.

    Same rule as ``optax.scale_by_adamax``; fnet keeps its own for the bias correction's
    precision (:func:`~fnet.optim._base.one_minus_pow`) and torch's state names.
    """

    def init_fn(params):
        return AdamaxState(jnp.zeros([], jnp.int32), optax.tree.zeros_like(params),
                           optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        step = _base.safe_increment(state.step)
        bc1 = _base.one_minus_pow(b1, _base.as_float(step))
        m = jax.tree.map(lambda g, m: _base.lerp(m, g, 1.0 - b1), updates, state.exp_avg)
        u = jax.tree.map(lambda g, u: jnp.maximum(u * b2, jnp.abs(g) + eps), updates, state.exp_inf)
        direction = jax.tree.map(lambda m, u: (m / u) / like(bc1, m), m, u)
        return direction, AdamaxState(step, m, u)

    return optax.GradientTransformation(init_fn, update_fn)


def _adamax(where: str, lr, betas, eps, weight_decay, maximize):
    lr, (b1, b2), eps, weight_decay = _check_adam(where, lr, betas, eps, weight_decay)
    maximize = _base.check_bool(where, "maximize", maximize)
    return _base.torch_chain(scale_by_torch_adamax(b1, b2, eps), lr=lr, weight_decay=weight_decay,
                             maximize=maximize)


def Adamax(lr: _base.ScalarOrSchedule = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
           weight_decay: float = 0, foreach: bool | None = None, *, maximize: bool = False,
           differentiable: bool = False, capturable: bool = False,
           param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Adamax (Adam with the infinity norm), torch's update rule.

    ::

        g = g + weight_decay * p
        m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    Args:
        lr: learning rate (default 2e-3, torch's), or a schedule.
        betas: decay rates of the first moment and of the infinity norm.
        eps: added to ``|g|`` inside the max (torch's placement).
        weight_decay: L2 penalty added to the gradient.
        maximize: maximise the objective.
        foreach, differentiable, capturable: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    PyTorch equivalent: ``torch.optim.Adamax(params, lr=2e-3, betas=(0.9, 0.999),
    eps=1e-8, weight_decay=0, *, maximize=False)``.
    """
    del foreach, differentiable, capturable
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
    return _groups.build("Adamax", _adamax, defaults, param_groups)


# ---------------------------------------------------------------------------------------
# NAdam


class NAdamState(NamedTuple):
    step: jax.Array  # int32
    mu_product: jax.Array  # prod of mu_1..mu_t (scalar, float64 in 64-bit mode)
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


def scale_by_torch_nadam(b1: float, b2: float, eps: float, momentum_decay: float) -> optax.GradientTransformation:
    """torch's NAdam direction, with its momentum schedule.

    ``mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))`` and the running product
    ``mu_product``; the direction is ``(1 - mu_t) / (1 - mu_product) * g / d +
    mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / d`` with ``d = sqrt(v / (1 - b2**t)) +
    eps``. ``optax.nadam`` is Dozat's NAdam without the momentum schedule: a different
    algorithm with the same name.
    """
    log96 = math.log(0.96)

    def mu_at(t):
        return b1 * (1.0 - 0.5 * jnp.exp(t * (momentum_decay * log96)))

    def init_fn(params):
        return NAdamState(jnp.zeros([], jnp.int32), jnp.ones([], _base.scalar_dtype()),
                          optax.tree.zeros_like(params), optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        step = _base.safe_increment(state.step)
        t = _base.as_float(step)
        bc2 = _base.one_minus_pow(b2, t)
        mu, mu_next = mu_at(t), mu_at(t + 1.0)
        mu_product = state.mu_product * mu.astype(state.mu_product.dtype)
        c_grad = (1.0 - mu) / (1.0 - mu_product)
        c_avg = mu_next / (1.0 - mu_product * mu_next)
        m, v = _moments(updates, state.exp_avg, state.exp_avg_sq, b1, b2)
        direction = jax.tree.map(
            lambda g, m, v: _nadam_leaf(g, m, jnp.sqrt(v / like(bc2, v)) + eps, c_grad, c_avg),
            updates, m, v)
        return direction, NAdamState(step, mu_product, m, v)

    return optax.GradientTransformation(init_fn, update_fn)


def _nadam_leaf(g, m, denom, c_grad, c_avg):
    return like(c_grad, g) * (g / denom) + like(c_avg, m) * (m / denom)


def _nadam(where: str, lr, betas, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize):
    lr, (b1, b2), eps, weight_decay = _check_adam(where, lr, betas, eps, weight_decay)
    momentum_decay = _base.check_nonneg(where, "momentum_decay", momentum_decay)
    decoupled = _base.check_bool(where, "decoupled_weight_decay", decoupled_weight_decay)
    maximize = _base.check_bool(where, "maximize", maximize)
    return _base.torch_chain(scale_by_torch_nadam(b1, b2, eps, momentum_decay), lr=lr,
                             weight_decay=weight_decay, decoupled=decoupled, maximize=maximize)


def NAdam(lr: _base.ScalarOrSchedule = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
          foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
          differentiable: bool = False,
          param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """NAdam (Adam with Nesterov momentum and torch's momentum schedule).

    ::

        g = g + weight_decay * p          (or p -= lr * weight_decay * p if decoupled)
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay));  mu_product *= mu_t
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_product) * g / d
              - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / d

    Not ``optax.nadam`` (no momentum schedule there).

    Args:
        lr: learning rate (default 2e-3), or a schedule.
        betas, eps: as :func:`Adam` (``eps`` outside the square root).
        weight_decay: L2 penalty, or decoupled decay with ``decoupled_weight_decay``.
        momentum_decay: the momentum schedule's decay (torch's ``psi``).
        maximize: maximise the objective.
        foreach, capturable, differentiable: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    PyTorch equivalent: ``torch.optim.NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False)``.
    """
    del foreach, capturable, differentiable
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                    decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    return _groups.build("NAdam", _nadam, defaults, param_groups)


# ---------------------------------------------------------------------------------------
# RAdam


# 1 - x / (e^x - 1) = x / 2 - sum_k c_k x^(2k), c_k = B_2k / (2k)! (Bernoulli numbers);
# ten terms are exact to double precision for |x| <= 1 (the next one is 5e-18).
_BERNOULLI = (1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160, -691 / 1307674368000,
              1.3382536530684679e-11, -3.3896802963225827e-13, 8.586062056277845e-15, -2.174868698558062e-16)


def _radam_rho(b2: float, t: jax.Array) -> jax.Array:
    """``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)`` without cancelling two numbers near ``rho_inf``.

    With ``L = -log(b2)`` and ``x = t L``: ``2 t b2^t / (1 - b2^t) = (2 / L) * x / expm1(x)``,
    so ``rho_t = C - 1 + (2 / L) * h(x)`` where ``C = 2 / (1 - b2) - 2 / L`` is a double
    constant near 1 and ``h(x) = 1 - x / expm1(x)``, evaluated by its Bernoulli series for
    ``x <= 1``. The direct formula loses ~2e-4 absolute in float32 (``rho_inf = 1999``),
    a 1e-4 relative error in the rectification of the first steps; torch uses double.
    """
    if b2 == 0.0:  # rho_inf = 1, rho_t = 1: never rectified
        return jnp.ones_like(t)
    L = -math.log(b2)
    c = 2.0 / (1.0 - b2) - 2.0 / L
    x = t * L
    xs = jnp.minimum(x, 1.0)
    x2 = xs * xs
    poly = jnp.zeros_like(x2)
    for coef in reversed(_BERNOULLI):
        poly = coef + x2 * poly
    series = xs / 2 - x2 * poly
    direct = 1.0 - x / jnp.expm1(jnp.maximum(x, 1.0))
    h = jnp.where(x <= 1.0, series, direct)
    return (c - 1.0) + (2.0 / L) * h


def scale_by_torch_radam(b1: float, b2: float, eps: float) -> optax.GradientTransformation:
    """torch's RAdam direction: rectified Adam when ``rho_t > 5``, bias-corrected momentum otherwise.

    Differs from ``optax.scale_by_radam``: torch's threshold is strict (``rho_t > 5``;
    optax ``>=``), and ``rho_t`` and the bias corrections keep double-like accuracy (see
    :func:`_radam_rho`).
    """
    rho_inf = 2.0 / (1.0 - b2) - 1.0

    def update_fn(updates, state, params=None):
        del params
        step = _base.safe_increment(state.step)
        t = _base.as_float(step)
        m, v = _moments(updates, state.exp_avg, state.exp_avg_sq, b1, b2)
        bc1 = _base.one_minus_pow(b1, t)
        bc2_sqrt = jnp.sqrt(_base.one_minus_pow(b2, t))
        rho = _radam_rho(b2, t)
        on = rho > 5.0
        safe_rho = jnp.where(on, rho, 6.0)
        rect = jnp.sqrt((safe_rho - 4.0) * (safe_rho - 2.0) * rho_inf
                        / ((rho_inf - 4.0) * (rho_inf - 2.0) * safe_rho))

        def leaf(m, v):
            m_hat = m / like(bc1, m)
            adaptive = like(bc2_sqrt, v) / (jnp.sqrt(v) + eps)
            return jnp.where(on, m_hat * adaptive * like(rect, m), m_hat)

        return jax.tree.map(leaf, m, v), AdamState(step, m, v)

    return optax.GradientTransformation(init_adam_state, update_fn)


def _radam(where: str, lr, betas, eps, weight_decay, decoupled_weight_decay, maximize):
    lr, (b1, b2), eps, weight_decay = _check_adam(where, lr, betas, eps, weight_decay)
    decoupled = _base.check_bool(where, "decoupled_weight_decay", decoupled_weight_decay)
    maximize = _base.check_bool(where, "maximize", maximize)
    return _base.torch_chain(scale_by_torch_radam(b1, b2, eps), lr=lr, weight_decay=weight_decay,
                             decoupled=decoupled, maximize=maximize)


def RAdam(lr: _base.ScalarOrSchedule = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 0, decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
          maximize: bool = False, capturable: bool = False, differentiable: bool = False,
          param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """RAdam (rectified Adam), torch's update rule.

    ::

        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:  p -= lr * m_hat * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        else:          p -= lr * m_hat                      # m_hat = m / (1 - beta1^t)

    with ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.

    Args:
        lr: learning rate, or a schedule.
        betas, eps: as :func:`Adam`.
        weight_decay: L2 penalty, or decoupled decay with ``decoupled_weight_decay``.
        maximize: maximise the objective.
        foreach, capturable, differentiable: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    PyTorch equivalent: ``torch.optim.RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, decoupled_weight_decay=False, *, maximize=False)``.
    """
    del foreach, capturable, differentiable
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    return _groups.build("RAdam", _radam, defaults, param_groups)
