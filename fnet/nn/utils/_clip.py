"""Gradient clipping: ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` /
``get_total_norm`` / ``clip_grads_with_norm_`` as pure functions.

torch clips ``p.grad`` in place and returns the total norm. JAX arrays are immutable, so
the fnet twins take the gradient tree and *return* the clipped tree (and the norm):
``grads, total_norm = clip_grad_norm_(grads, 1.0)``. The trailing underscore is kept so
torch code reads the same; nothing is mutated. For use inside an optimizer there are
optax transforms: ``optax.chain(fnet.optim.clip_grad_norm(1.0), fnet.optim.AdamW(...))``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ... import _checks

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_grad_value", "get_total_norm",
           "clip_grads_with_norm_"]


def _norm_type(where: str, norm_type: Any) -> float:
    if isinstance(norm_type, str):
        if norm_type.lower() not in ("inf", "+inf", "-inf"):
            raise ValueError(f"{where}: expected norm_type to be a number or 'inf', got {norm_type!r}")
        return float(norm_type)
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)):
        raise TypeError(f"{where}: expected norm_type to be a number or 'inf', got {norm_type!r}")
    return float(norm_type)


def _vector_norm(x: jax.Array, p: float) -> jax.Array:
    """``torch.linalg.vector_norm(x, p)`` of a flattened array."""
    a = jnp.abs(jnp.ravel(x))
    if a.size == 0:
        return jnp.zeros((), a.dtype) if p != -math.inf else jnp.full((), jnp.inf, a.dtype)
    if p == math.inf:
        return jnp.max(a)
    if p == -math.inf:
        return jnp.min(a)
    if p == 0:
        return jnp.sum(a != 0).astype(a.dtype)
    if p == 1:
        return jnp.sum(a)
    if p == 2:
        return jnp.sqrt(jnp.sum(a * a))
    return jnp.sum(a ** p) ** (1.0 / p)


def _total_norm(leaves: list, p: float) -> jax.Array:
    """torch: the p-norm of the stacked per-leaf p-norms (same as one norm over all elements)."""
    return _vector_norm(jnp.stack([_vector_norm(g, p) for g in leaves]), p)


def _scale_to(grads: Any, max_norm: float, total: jax.Array) -> Any:
    # torch: coef = max_norm / (norm + 1e-6), clamped to 1, multiplied in unconditionally.
    coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
    return jax.tree.map(lambda g: g * coef.astype(g.dtype), grads)


def _clip_by_total_norm(grads: Any, max_norm: float, p: float) -> tuple[Any, jax.Array]:
    leaves = [g for g in jax.tree.leaves(grads) if g is not None]
    if not leaves:
        return grads, jnp.zeros(())
    total = _total_norm(leaves, p)
    return _scale_to(grads, max_norm, total), total


def _check_finite(where: str, total: jax.Array, p: float) -> None:
    """torch's ``error_if_nonfinite`` (needs concrete values)."""
    if _checks.is_traced(total):
        raise TypeError(f"{where}: error_if_nonfinite=True needs concrete gradients, got traced "
                        "values (inside jit/grad/vmap); call it outside jit or test "
                        "jnp.isfinite(total_norm) on the returned norm")
    if not bool(jnp.isfinite(total)):
        raise RuntimeError(f"{where}: the total norm of order {p} of the gradients is {float(total)}, "
                           "so it cannot be clipped; pass error_if_nonfinite=False to scale the "
                           "gradients by the non-finite norm anyway (as torch)")


def _check_max(where: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{where}: expected {name} to be a number, got {value!r}")
    return float(value)


def clip_grad_norm_(grads: Any, max_norm: float, norm_type: float | str = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> tuple[Any, jax.Array]:
    """Scales a gradient tree so its total norm is at most ``max_norm`` (pure twin).

    The total norm is the ``norm_type``-norm of the per-leaf norms (all leaves viewed as
    one vector); every leaf is multiplied by ``min(max_norm / (total_norm + 1e-6), 1)``.

    Args:
        grads: a pytree of gradient arrays (or a single array).
        max_norm: the largest allowed total norm.
        norm_type: ``p`` of the p-norm; ``float('inf')`` or ``'inf'`` for the max norm.
        error_if_nonfinite: raise ``RuntimeError`` (torch's type) when the total norm is
            nan or inf. The check needs concrete values, so it works outside ``jit``;
            under ``jit`` it raises at trace time: check the returned norm instead.
        foreach: accepted for torch compatibility (XLA fuses the loop anyway).

    Returns:
        ``(clipped_grads, total_norm)``: torch mutates the ``.grad`` tensors in place and
        returns the norm; fnet returns the new tree as well. ``total_norm`` is the norm
        before clipping.

    PyTorch equivalent: ``torch.nn.utils.clip_grad_norm_(parameters, max_norm,
    norm_type=2.0, error_if_nonfinite=False, foreach=None)``.
    """
    del foreach
    where = "clip_grad_norm_"
    max_norm = _check_max(where, "max_norm", max_norm)
    p = _norm_type(where, norm_type)
    clipped, total = _clip_by_total_norm(grads, max_norm, p)
    if error_if_nonfinite:
        _check_finite(where, total, p)
    return clipped, total


def get_total_norm(tensors: Any, norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> jax.Array:
    """The ``norm_type``-norm of all the arrays of a tree, viewed as one vector.

    Args:
        tensors: a pytree of arrays (or a single array).
        norm_type: ``p``; ``float('inf')`` or ``'inf'`` for the max norm.
        error_if_nonfinite: raise ``RuntimeError`` when the norm is nan or inf (needs
            concrete values, as :func:`clip_grad_norm_`).
        foreach: accepted for torch compatibility.

    PyTorch equivalent: ``torch.nn.utils.get_total_norm``.
    """
    del foreach
    where = "get_total_norm"
    p = _norm_type(where, norm_type)
    leaves = [g for g in jax.tree.leaves(tensors) if g is not None]
    total = _total_norm(leaves, p) if leaves else jnp.zeros(())
    if error_if_nonfinite:
        _check_finite(where, total, p)
    return total


def clip_grads_with_norm_(parameters: Any, max_norm: float, total_norm: jax.Array,
                          foreach: bool | None = None) -> Any:
    """Scales a gradient tree by ``min(max_norm / (total_norm + 1e-6), 1)`` (pure twin).

    The second half of :func:`clip_grad_norm_`, for a norm computed elsewhere (e.g. by
    :func:`get_total_norm` over several models).

    Args:
        parameters: a pytree of gradient arrays (torch passes the parameters whose
            ``.grad`` it scales in place; fnet takes the gradients and returns them).
        max_norm: the largest allowed total norm.
        total_norm: the norm to scale by.
        foreach: accepted for torch compatibility.

    Returns:
        The scaled tree.

    PyTorch equivalent: ``torch.nn.utils.clip_grads_with_norm_``.
    """
    del foreach
    max_norm = _check_max("clip_grads_with_norm_", "max_norm", max_norm)
    return _scale_to(parameters, max_norm, jnp.asarray(total_norm))


def clip_grad_value_(grads: Any, clip_value: float, foreach: bool | None = None) -> Any:
    """Clamps every gradient element to ``[-clip_value, clip_value]`` (pure twin).

    Args:
        grads: a pytree of gradient arrays (or a single array).
        clip_value: the bound (torch clamps to ``-clip_value`` first, then to
            ``clip_value``; fnet does the same, so a negative value behaves as in torch).
        foreach: accepted for torch compatibility.

    Returns:
        The clipped tree (torch mutates ``.grad`` in place and returns None).

    PyTorch equivalent: ``torch.nn.utils.clip_grad_value_(parameters, clip_value, foreach=None)``.
    """
    del foreach
    v = _check_max("clip_grad_value_", "clip_value", clip_value)
    return jax.tree.map(lambda g: jnp.minimum(jnp.maximum(g, -v), v).astype(g.dtype), grads)


def clip_grad_norm(max_norm: float, norm_type: float | str = 2.0) -> optax.GradientTransformation:
    """An optax transform applying :func:`clip_grad_norm_` to the updates.

    ``optax.clip_by_global_norm`` differs slightly: it divides by the norm itself
    (``g * max_norm / norm`` when ``norm > max_norm``) where torch multiplies by
    ``min(max_norm / (norm + 1e-6), 1)`` always, and it has no ``norm_type``.

    Use it first in a chain: ``optax.chain(fnet.optim.clip_grad_norm(1.0),
    fnet.optim.AdamW(lr=1e-4))``, the same as torch's ``clip_grad_norm_`` before
    ``optimizer.step()``.

    PyTorch equivalent: ``torch.nn.utils.clip_grad_norm_`` before each ``optimizer.step()``.
    """
    where = "clip_grad_norm"
    max_norm = _check_max(where, "max_norm", max_norm)
    p = _norm_type(where, norm_type)

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return _clip_by_total_norm(updates, max_norm, p)[0], state

    return optax.GradientTransformation(init_fn, update_fn)


def clip_grad_value(clip_value: float) -> optax.GradientTransformation:
    """An optax transform clamping each update element to ``[-clip_value, clip_value]``.

    This is ``optax.clip(clip_value)``, which computes torch's clamp exactly for
    ``clip_value >= 0``.

    PyTorch equivalent: ``torch.nn.utils.clip_grad_value_`` before each ``optimizer.step()``.
    """
    v = _check_max("clip_grad_value", "clip_value", clip_value)
    if v < 0:
        raise ValueError(f"clip_grad_value: expected clip_value >= 0, got {clip_value!r}")
    return optax.clip(v)
