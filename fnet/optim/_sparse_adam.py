"""SparseAdam's rule for dense gradients: Adam on the rows the gradient touches."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import optax

from . import _base, _groups
from ._adam import AdamState, init_adam_state
from ._base import like

__all__ = ["SparseAdam"]


def present_rows(g: jax.Array) -> jax.Array:
    """Where a sparse gradient would have entries, as a mask broadcastable to ``g``.

    A row (index along the first axis) is present when any of its entries is non-zero:
    the layout of ``nn.Embedding(sparse=True)``'s gradient, whose rows are the looked-up
    tokens. Vectors and scalars are masked element by element.
    """
    if g.ndim < 2:
        return g != 0
    return jnp.any(g.reshape(g.shape[0], -1) != 0, axis=1).reshape((-1,) + (1,) * (g.ndim - 1))


def scale_by_torch_sparse_adam(b1: float, b2: float, eps: float) -> optax.GradientTransformation:
    """torch's SparseAdam direction on the present rows, zero elsewhere (moments untouched there).

    On present entries: ``m += (g - m) * (1 - b1)``, ``v += (g*g - v) * (1 - b2)``,
    direction ``sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`` with torch's
    step-size factor folded in before the division, as torch does. ``t`` counts every
    update, present or not (torch counts steps per parameter, not per row).
    """

    def update_fn(updates, state, params=None):
        del params
        step = _base.safe_increment(state.step)
        t = _base.as_float(step)
        factor = jnp.sqrt(_base.one_minus_pow(b2, t)) / _base.one_minus_pow(b1, t)

        def leaf(g, m, v):
            here = present_rows(g)
            m_new = m + (g - m) * (1.0 - b1)
            v_new = v + (g * g - v) * (1.0 - b2)
            direction = like(factor, g) * (m_new / (jnp.sqrt(v_new) + eps))
            zero = jnp.zeros_like(g)
            return jnp.where(here, direction, zero), jnp.where(here, m_new, m), jnp.where(here, v_new, v)

        out = _base.map_unzip(leaf, updates, state.exp_avg, state.exp_avg_sq)
        direction, m, v = out if out is not None else (updates,) * 3
        return direction, AdamState(step, m, v)

    return optax.GradientTransformation(init_adam_state, update_fn)


def _sparse_adam(where: str, lr, betas, eps, maximize):
    lr = _base.check_lr(where, lr)
    value = _base.known_value(lr)
    if value is not None and value == 0.0:
        raise ValueError(f"{where}: invalid learning rate: expected lr > 0, got {value!r}")
    b1, b2 = _base.check_betas(where, betas)
    eps = _base.check_real(where, "eps", eps)
    if not eps > 0.0:
        raise ValueError(f"{where}: invalid epsilon value: expected eps > 0, got {eps!r}")
    maximize = _base.check_bool(where, "maximize", maximize)
    return _base.torch_chain(scale_by_torch_sparse_adam(b1, b2, eps), lr=lr, maximize=maximize)


def SparseAdam(lr: _base.ScalarOrSchedule = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
               maximize: bool = False, *,
               param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """SparseAdam for dense gradients: Adam updates on the rows the gradient touches only.

    torch's SparseAdam takes the sparse gradients of ``nn.Embedding(sparse=True)`` and
    updates the moments and the parameter only at their entries. JAX gradients are dense,
    so fnet's twin finds the entries itself: a row (first axis) is present when any of
    its values is non-zero (``present_rows`` in ``fnet/optim/_sparse_adam.py``); vectors are masked per element.
    On present rows::

        m += (g - m) * (1 - beta1);  v += (g*g - v) * (1 - beta2)
        p -= lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + eps)

    Other rows keep their parameters and moments. The step ``t`` counts every update.

    Difference from torch: a looked-up row whose gradient is exactly zero in every entry
    is a row torch updates (its moments decay, the parameter moves with ``m``) and fnet
    treats as absent. Pass such a model's gradients to :func:`~fnet.optim.Adam` if every
    row should move, as the dense ``Adam`` torch recommends for dense gradients.

    Args:
        lr: learning rate (> 0), or a schedule.
        betas: decay rates of the moments, each in ``[0, 1)``.
        eps: added to the denominator (> 0).
        maximize: maximise the objective.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    Returns:
        An ``optax.GradientTransformation`` (state: :class:`~fnet.optim._adam.AdamState`,
        torch's ``exp_avg``/``exp_avg_sq``).

    PyTorch equivalent: ``torch.optim.SparseAdam(params, lr=1e-3, betas=(0.9, 0.999),
    eps=1e-8, maximize=False)`` with ``nn.Embedding(sparse=True)`` gradients.
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
    return _groups.build("SparseAdam", _sparse_adam, defaults, param_groups)
