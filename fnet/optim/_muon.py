"""Muon: momentum orthogonalised by a Newton-Schulz iteration, torch's update rule and precision."""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from . import _base, _groups
from ._base import like

__all__ = ["Muon"]

_ADJUST = (None, "original", "match_rms_adamw")


class MuonState(NamedTuple):
    """torch's Muon state: the momentum buffer."""

    momentum_buffer: optax.Updates  # torch's state["momentum_buffer"]


def _bf16(x: jax.Array) -> jax.Array:
    return x.astype(jnp.bfloat16)


def _f32(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32)


def zeropower_via_newtonschulz(grad: jax.Array, ns_coefficients: tuple[float, float, float], ns_steps: int,
                               eps: float, dtype: Any = jnp.bfloat16) -> jax.Array:
    """torch's quintic Newton-Schulz orthogonalisation, in bfloat16 as torch computes it.

    ``X = a X + (b A + c A A) X`` with ``A = X X^T``, ``ns_steps`` times, from ``X = G /
    max(|G|, eps)`` (transposed when ``G`` is tall). torch casts ``G`` to bfloat16 and
    runs bfloat16 ``addmm``s: each product accumulates in float32, is combined with its
    ``beta`` term in float32 and rounded to bfloat16 once. fnet does the same
    (``preferred_element_type=float32``), which equals torch bit for bit when the two
    float32 accumulations sum in the same order; where they do not (torch's kernel and
    XLA's can differ), an entry can round to the neighbouring bfloat16 value, and the
    iteration carries that on, as torch's results also differ between CPUs.

    Args:
        grad: ``(A, B)`` matrix.
        dtype: ``bfloat16`` (torch's arithmetic), or another floating dtype to iterate
            in that precision (``None``: ``grad``'s dtype).

    Returns:
        ``(A, B)`` matrix of ``dtype``, roughly ``U V^T`` of ``grad = U S V^T``.
    """
    a, b, c = ns_coefficients
    tall = grad.shape[0] > grad.shape[1]
    dtype = grad.dtype if dtype is None else jnp.dtype(dtype)
    if dtype != jnp.bfloat16:
        x = grad.astype(dtype)
        x = x.T if tall else x
        x = x / jnp.maximum(jnp.sqrt(jnp.sum(jnp.square(x))), eps)
        for _ in range(ns_steps):
            gram = x @ x.T
            x = a * x + (b * gram + c * (gram @ gram)) @ x
        return x.T if tall else x
    x = _bf16(grad)
    if tall:
        x = x.T
    norm = _bf16(jnp.sqrt(jnp.sum(jnp.square(_f32(x)))))
    x = _bf16(_f32(x) / _f32(jnp.maximum(norm, _bf16(jnp.asarray(eps)))))
    for _ in range(ns_steps):
        gram = _bf16(jnp.dot(x, x.T, preferred_element_type=jnp.float32))
        update = _bf16(b * _f32(gram) + c * jnp.dot(gram, gram, preferred_element_type=jnp.float32))
        x = _bf16(a * _f32(x) + jnp.dot(update, x, preferred_element_type=jnp.float32))
    return x.T if tall else x


def _adjusted_ratio(adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    rows, cols = shape[:2]
    if adjust_lr_fn in (None, "original"):
        return math.sqrt(max(1, rows / cols))
    return 0.2 * math.sqrt(max(rows, cols))


def _torch_muon(lr: Any, weight_decay: Any, momentum: float, nesterov: bool, ns_coefficients, eps: float,
                ns_steps: int, adjust_lr_fn: str | None, ns_dtype: Any, where: str) -> optax.GradientTransformation:
    def check(params):
        for path, p in jax.tree_util.tree_flatten_with_path(params)[0]:
            if p.ndim != 2:
                raise ValueError(f"{where}: only 2-D parameters (hidden-layer weight matrices) are supported; "
                                 f"expected {_groups.leaf_name(path)!r} to be 2-D, got shape {tuple(p.shape)}. "
                                 "Give the other parameters to another optimizer (optax.partition, as torch "
                                 "users pair Muon with AdamW)")

    # A step count only when the lr is a schedule (torch's Muon keeps none).
    scheduled = callable(lr)

    def init_fn(params):
        check(params)
        muon = MuonState(optax.tree.zeros_like(params))
        return (optax.ScaleByScheduleState(jnp.zeros([], jnp.int32)), muon) if scheduled else (muon,)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(f"{where}: update needs the parameters: call update(grads, state, params)")
        check(params)
        count, muon = state if scheduled else (None, state[0])
        lr_now = jnp.asarray(lr(count.count) if scheduled else lr, _base.scalar_dtype())

        def leaf(p, g, buf):
            buf = _base.lerp(buf, g, 1.0 - momentum)
            direction = _base.lerp(g, buf, momentum) if nesterov else buf
            ortho = zeropower_via_newtonschulz(direction, ns_coefficients, ns_steps, eps, ns_dtype)
            if not _base.known_zero(weight_decay):
                p = p * like(1.0 - lr_now * weight_decay, p)
            step = lr_now * _adjusted_ratio(adjust_lr_fn, p.shape)
            return p - like(step, p) * ortho.astype(p.dtype), buf

        new_params, bufs = _base.map_unzip(leaf, params, updates, muon.momentum_buffer) or (params, params)
        new_state = ((optax.ScaleByScheduleState(_base.safe_increment(count.count)), MuonState(bufs)) if scheduled
                     else (MuonState(bufs),))
        return _base.updates_to(new_params, params), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def _muon(where: str, lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn, ns_dtype):
    lr = _base.check_lr(where, lr)
    weight_decay = _base.check_nonneg(where, "weight_decay", weight_decay)
    momentum = _base.check_real(where, "momentum", momentum)
    if not momentum >= 0.0:
        raise ValueError(f"{where}: invalid momentum value: expected momentum >= 0, got {momentum!r}")
    nesterov = _base.check_bool(where, "nesterov", nesterov)
    if isinstance(ns_coefficients, (str, bytes)) or not hasattr(ns_coefficients, "__len__") \
            or len(ns_coefficients) != 3:
        raise ValueError(f"{where}: expected ns_coefficients to be three numbers (a, b, c), "
                         f"got {ns_coefficients!r}")
    coefficients = tuple(_base.check_real(where, f"ns_coefficients[{i}]", c) for i, c in enumerate(ns_coefficients))
    eps = _base.check_nonneg(where, "eps", eps, "epsilon")
    ns_steps = _base.check_int(where, "ns_steps", ns_steps, 0)
    if ns_steps >= 100:
        raise ValueError(f"{where}: expected ns_steps < 100 (torch's limit), got {ns_steps}")
    if adjust_lr_fn not in _ADJUST:
        raise ValueError(f"{where}: unsupported adjust_lr_fn: expected None, 'original' or 'match_rms_adamw', "
                         f"got {adjust_lr_fn!r}")
    if ns_dtype is not None:
        try:
            floating = jnp.issubdtype(jnp.dtype(ns_dtype), jnp.floating)
        except TypeError:
            floating = False
        if not floating:
            raise TypeError(f"{where}: expected ns_dtype to be a floating dtype or None, got {ns_dtype!r}")
    return _torch_muon(lr, weight_decay, momentum, nesterov, coefficients, eps, ns_steps, adjust_lr_fn, ns_dtype, where)


def Muon(lr: _base.ScalarOrSchedule = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
         nesterov: bool = True, ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
         eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None, *, ns_dtype: Any = jnp.bfloat16,
         param_groups: Sequence[dict[str, Any]] | None = None) -> optax.GradientTransformation:
    """Muon (momentum + Newton-Schulz orthogonalisation) for 2-D weights, torch's update rule.

    For each ``(A, B)`` parameter::

        buf = lerp(buf, g, 1 - momentum)
        u = lerp(g, buf, momentum) if nesterov else buf
        O = NewtonSchulz(u)                    # bfloat16, ns_steps iterations, as torch
        p = p * (1 - lr * weight_decay)
        p = p - lr * ratio * O                 # ratio: sqrt(max(1, A / B)) ("original")
                                               #     or 0.2 * sqrt(max(A, B)) ("match_rms_adamw")

    Like torch, the orthogonalisation runs in bfloat16 whatever the parameter dtype
    (see ``zeropower_via_newtonschulz`` in ``fnet/optim/_muon.py``), so a float64 run carries bfloat16-sized
    steps; ``ns_dtype`` (an fnet extension) iterates in another precision. Only 2-D
    parameters are accepted (``init`` names any other). Pair it with
    another optimizer for biases and norms, e.g.
    ``optax.partition({"muon": Muon(...), "adamw": AdamW(...)}, lambda t: jax.tree.map(
    lambda p: "muon" if p.ndim == 2 else "adamw", t))``.

    Args:
        lr: learning rate, or a schedule.
        weight_decay: decoupled decay ``p *= 1 - lr * weight_decay`` (torch's default 0.1).
        momentum: momentum factor.
        nesterov: Nesterov momentum.
        ns_coefficients: ``(a, b, c)`` of the quintic iteration.
        eps: lower bound of the norm the matrix is divided by first.
        ns_steps: Newton-Schulz iterations (< 100).
        adjust_lr_fn: ``None``/``"original"`` or ``"match_rms_adamw"`` (see above).
        ns_dtype: the Newton-Schulz precision: ``bfloat16`` (torch's), another floating
            dtype, or ``None`` for the parameter's dtype.
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    Returns:
        An ``optax.GradientTransformation`` (state: :class:`MuonState`, after a step
        count when ``lr`` is a schedule).

    PyTorch equivalent: ``torch.optim.Muon(params, lr=1e-3, weight_decay=0.1, momentum=0.95,
    nesterov=True, ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5,
    adjust_lr_fn=None)``.
    """
    defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                    ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
                    ns_dtype=ns_dtype)
    return _groups.build("Muon", _muon, defaults, param_groups)
