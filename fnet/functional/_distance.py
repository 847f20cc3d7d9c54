"""Distances (torch.nn.functional twins): ``cosine_similarity``, ``pairwise_distance``, ``pdist``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


@jax.custom_vjp
def _clamp_min_no_grad(x: jax.Array, minimum: float) -> jax.Array:
    """``max(x, minimum)`` whose gradient passes through unchanged.

    torch's cosine_similarity clamps the norms in place under ``no_grad``, so autograd
    differentiates the unclamped norm; this reproduces that gradient exactly.
    """
    return jnp.maximum(x, jnp.asarray(minimum, x.dtype))


def _clamp_fwd(x, minimum):
    return _clamp_min_no_grad(x, minimum), None


def _clamp_bwd(_, g):
    return g, None


_clamp_min_no_grad.defvjp(_clamp_fwd, _clamp_bwd)


def _abs(x: jax.Array) -> jax.Array:
    """``|x|`` with torch's gradient ``sign(x)`` (0 at 0; JAX's ``abs`` gives 1 there)."""
    return x * jax.lax.stop_gradient(jnp.sign(x))


def _vector_norm(x: jax.Array, p: float, axis: int, keepdims: bool) -> jax.Array:
    """``torch.norm(x, p, dim)`` with torch's gradient (0 where the norm is 0)."""
    if p == 0:
        return jnp.sum(x != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
    a = _abs(x)
    if p == float("inf"):
        return jnp.max(a, axis=axis, keepdims=keepdims)
    if p == float("-inf"):
        return jnp.min(a, axis=axis, keepdims=keepdims)
    if p == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    if p != 2:
        # torch's gradient of |x| ** p is 0 where x == 0, also for p < 1 (not 0 * inf)
        a = jnp.where(a > 0, jnp.where(a > 0, a, jnp.ones((), a.dtype)) ** p, jnp.zeros((), a.dtype))
    s = jnp.sum(x * x if p == 2 else a, axis=axis, keepdims=keepdims)
    nonzero = s > 0
    safe = jnp.where(nonzero, s, jnp.ones((), s.dtype))
    root = jnp.sqrt(safe) if p == 2 else safe ** (1.0 / p)
    return jnp.where(nonzero, root, jnp.zeros((), s.dtype))


def _wrap_dim(where: str, dim: int, ndim: int, shape: tuple[int, ...]) -> int:
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise ValueError(f"{where}: dim={dim} is out of range for the broadcast input shape "
                         f"{_checks.fmt_shape(shape)} (expected a dim in [{-rank}, {rank - 1}])")
    return dim % rank


def _broadcast(where: str, x1: Any, x2: Any, names=("x1", "x2")) -> tuple[jax.Array, jax.Array, tuple]:
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    try:
        shape = jnp.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"{where}: expected {names[0]} and {names[1]} of broadcastable shapes, got "
                         f"{_checks.fmt_shape(x1.shape)} and {_checks.fmt_shape(x2.shape)}") from None
    return x1, x2, shape


def cosine_similarity(x1: jax.Array, x2: jax.Array, dim: int = 1, eps: float = 1e-8) -> jax.Array:
    """Cosine similarity along ``dim`` of two broadcastable arrays.

    ``sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps), dim)``: torch's current
    formula, normalising each input before the dot product (so ``|result| <= 1``). As
    in torch the clamp does not enter the gradient (torch clamps the norms in place
    under no_grad), and a zero vector's norm has gradient 0.

    Args:
        x1, x2: broadcastable arrays; ``dim`` indexes their broadcast shape.
        dim: the dimension reduced (default 1).
        eps: lower bound of each norm.

    Returns:
        The broadcast shape without ``dim``.

    PyTorch equivalent: ``torch.nn.functional.cosine_similarity``.
    """
    where = 'cosine_similarity'
    x1, x2, shape = _broadcast(where, x1, x2)
    dtype = jnp.result_type(x1, x2)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{where}: expected floating-point inputs (their common dtype), got dtypes "
                        f"{x1.dtype} and {x2.dtype}")
    x1 = jnp.broadcast_to(x1.astype(dtype), shape)
    x2 = jnp.broadcast_to(x2.astype(dtype), shape)
    dim = _wrap_dim(where, dim, len(shape), shape)
    if not shape:  # 0-d: torch reduces over the single element
        x1, x2 = x1[None], x2[None]
    n1 = _clamp_min_no_grad(_vector_norm(x1, 2, dim, True), eps)
    n2 = _clamp_min_no_grad(_vector_norm(x2, 2, dim, True), eps)
    out = jnp.sum((x1 / n1) * (x2 / n2), axis=dim)
    return out


def _pairwise_distance(where: str, x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6,
                       keepdim: bool = False) -> jax.Array:
    x1, x2, shape = _broadcast(where, x1, x2)
    dtype = jnp.result_type(x1, x2)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)  # torch: integer difference + eps promotes to float
    diff = x1.astype(dtype) - x2.astype(dtype) + jnp.asarray(eps, dtype)
    if not shape:
        out = _vector_norm(diff[None], float(p), 0, keepdim)
        return out if keepdim else out.reshape(())
    return _vector_norm(diff, float(p), len(shape) - 1, keepdim)


def pairwise_distance(x1: jax.Array, x2: jax.Array, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> jax.Array:
    """p-norm of ``x1 - x2 + eps`` over the last dimension (of the broadcast shape).

    Args:
        x1, x2: ``(*, D)`` (or ``(D,)``), broadcastable.
        p: the norm degree (``inf``, ``0`` and negative values as in ``torch.norm``).
        eps: added to the difference (torch adds it before the norm, to avoid a zero norm).
        keepdim: keep the reduced dimension with size 1.

    Returns:
        ``(*)``, or ``(*, 1)`` with ``keepdim``.

    PyTorch equivalent: ``torch.nn.functional.pairwise_distance``.
    """
    return _pairwise_distance("pairwise_distance", x1, x2, p, eps, keepdim)


def pdist(input: jax.Array, p: float = 2) -> jax.Array:
    """p-norm distances between every pair of rows: the upper triangle (without the
    diagonal) of ``cdist(input, input)``, row-major.

    The gradient of a zero distance (two equal rows) is 0, as in torch.

    Args:
        input: ``(N, M)``.
        p: the norm degree, ``>= 0`` (``inf`` included).

    Returns:
        ``(N * (N - 1) / 2,)``: ``d(0, 1), d(0, 2), ..., d(1, 2), ...``.

    PyTorch equivalent: ``torch.nn.functional.pdist``.
    """
    where = "pdist"
    x = jnp.asarray(input)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")
    if x.ndim != 2:
        _checks.fail(where, "a 2-D input (N, M)", x)
    if p < 0:
        raise ValueError(f"{where}: only non-negative p values are supported, got p={p}")
    i, j = np.triu_indices(x.shape[0], k=1)
    return _vector_norm(x[i] - x[j], float(p), 1, False)
