"""Rprop: sign-based steps with per-element step sizes, torch's update rule."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from . import _base, _groups
from ._base import like

__all__ = ["Rprop"]


class RpropState(NamedTuple):
    """torch's Rprop state: the last gradient and the per-element step sizes."""

    step: jax.Array  # int32
    prev: optax.Updates  # torch's state["prev"]: the last gradient, zeroed where its sign flipped
    step_size: optax.Updates  # torch's state["step_size"], starts at lr


def scale_by_torch_rprop(lr: Any, etaminus: float, etaplus: float, step_size_min: float,
                         step_size_max: float) -> optax.GradientTransformation:
    """Rprop's step ``sign(g) * step_size`` (positive: the caller negates it).

    Per element: ``s = sign(g * prev)``; the step size is multiplied by ``etaplus``
    (``s > 0``), ``etaminus`` (``s < 0``) or 1, clamped to ``[min, max]``; where the sign
    flipped the gradient is zeroed (no step, and ``prev = 0`` so the next step counts as
    neutral). optax has no Rprop.
    """

    def init_fn(params):
        return RpropState(jnp.zeros([], jnp.int32), optax.tree.zeros_like(params),
                          jax.tree.map(lambda p: jnp.full_like(p, lr), params))

    def update_fn(updates, state, params=None):
        del params

        def leaf(g, prev, size):
            s = jnp.sign(g * prev)
            factor = jnp.where(s > 0, like(etaplus, g), jnp.where(s < 0, like(etaminus, g), like(1.0, g)))
            size = jnp.clip(size * factor, like(step_size_min, g), like(step_size_max, g))
            g = jnp.where(s < 0, jnp.zeros_like(g), g)
            return jnp.sign(g) * size, g, size

        direction, prev, size = _base.map_unzip(leaf, updates, state.prev, state.step_size) or (updates,) * 3
        return direction, RpropState(_base.safe_increment(state.step), prev, size)

    return optax.GradientTransformation(init_fn, update_fn)


def _rprop(where: str, lr, etas, step_sizes, maximize):
    if callable(lr):
        raise TypeError(f"{where}: expected lr to be a number, got a schedule {lr!r}; torch's Rprop reads lr "
                        "once, as the initial step size of every element, so a schedule would change nothing")
    lr = _base.check_lr(where, lr)
    etaminus, etaplus = _base.check_pair(where, "etas", etas)
    if not 0.0 < etaminus < 1.0 < etaplus:
        raise ValueError(f"{where}: invalid eta values: expected 0 < etas[0] < 1 < etas[1], got {etas!r}")
    low, high = _base.check_pair(where, "step_sizes", step_sizes)
    if not 0.0 <= low <= high:
        raise ValueError(f"{where}: invalid step_sizes: expected 0 <= step_sizes[0] <= step_sizes[1], "
                         f"got {step_sizes!r}")
    maximize = _base.check_bool(where, "maximize", maximize)
    parts = [optax.scale(-1.0)] if maximize else []
    parts += [scale_by_torch_rprop(lr, etaminus, etaplus, low, high), optax.scale(-1.0)]
    return optax.chain(*parts)


def Rprop(lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2), step_sizes: tuple[float, float] = (1e-6, 50),
          *, capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
          differentiable: bool = False,
          param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Resilient backpropagation (Rprop), torch's update rule.

    ::

        g = -g if maximize else g
        s = sign(g * prev)
        step_size = clamp(step_size * (etaplus if s > 0 else etaminus if s < 0 else 1),
                          step_sizes[0], step_sizes[1])
        g = 0 where s < 0
        p = p - sign(g) * step_size;  prev = g

    ``lr`` is the initial step size of every element (``step_size`` starts at ``lr``);
    as in torch, it is read once, so it must be a number, not a schedule. Rprop has no
    weight decay (neither has torch's).

    Args:
        lr: initial step size.
        etas: ``(etaminus, etaplus)``, the factors applied to the step size when the
            gradient's sign flips / stays; ``0 < etaminus < 1 < etaplus``.
        step_sizes: ``(min, max)`` bounds of the step size.
        maximize: maximise the objective.
        capturable, foreach, differentiable: accepted for torch compatibility.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    Returns:
        An ``optax.GradientTransformation`` whose state holds :class:`RpropState`
        (torch's ``prev`` and ``step_size``).

    PyTorch equivalent: ``torch.optim.Rprop(params, lr=1e-2, etas=(0.5, 1.2),
    step_sizes=(1e-6, 50), *, maximize=False)``.
    """
    del capturable, foreach, differentiable
    defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
    return _groups.build("Rprop", _rprop, defaults, param_groups)
