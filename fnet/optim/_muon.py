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
    momentum_buffer: optax.Updates  # torch's state["momentum_buffer"]


def _bf16(x: jax.Array) -> jax.Array:
    return x.astype(jnp.bfloat16)


def _f32(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32)


def zeropower_via_newtonschulz(grad: jax.Array, ns_coefficients: tuple[float, float, float], ns_steps: int,
                               eps: float) -> jax.Array:
    """torch's quintic Newton-Schulz orthogonalisation, in bfloat16 as torch computes it.

    torch casts the matrix to bfloat16 and runs ``X = a X + (b A + c A A) X`` with
    ``A = X X^T`` as bfloat16 ``addmm``s: each product accumulates in float32, is combined
    with its ``beta`` term in float32 and rounded to bfloat16 once. fnet does the same
    (``preferred_element_type=float32``), so the result equals torch's bit for bit on
    small matrices (large ones can differ in the last bfloat16 bit where float32
    accumulation orders differ).

    Args:
        grad: ``(A, B)`` matrix.

    Returns:
        ``(A, B)`` bfloat16 matrix, roughly ``U V^T`` of ``grad = U S V^T``.
    """
    a, b, c = ns_coefficients
    x = _bf16(grad)
    tall = grad.shape[0] > grad.shape[1]
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
                ns_steps: int, adjust_lr_fn: str | None, where: str) -> optax.GradientTransformation:
    def check(params):
        for path, p in jax.tree_util.tree_flatten_with_path(params)[0]:
            if p.ndim != 2:
                raise ValueError(f"{where}: only 2-D parameters (hidden-layer weight matrices) are supported; "
                                 f"expected {_groups.leaf_name(path)!r} to be 2-D, got shape {tuple(p.shape)}. "
                                 "Give the other parameters to another optimizer (optax.partition, as torch "
                                 "users pair Muon with AdamW)")

    def init_fn(params):
        check(params)
        return optax.ScaleByScheduleState(jnp.zeros([], jnp.int32)), MuonState(optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(f"{where}: update needs the parameters: call update(grads, state, params)")
        check(params)
        count, muon = state
        lr_now = jnp.asarray(_base.schedule_value(lr, count.count), _base.scalar_dtype())

        def leaf(p, g, buf):
            buf = _base.lerp(buf, g, 1.0 - momentum)
            direction = _base.lerp(g, buf, momentum) if nesterov else buf
            ortho = zeropower_via_newtonschulz(direction, ns_coefficients, ns_steps, eps)
            if not _base.known_zero(weight_decay):
                p = p * like(1.0 - lr_now * weight_decay, p)
            step = lr_now * _adjusted_ratio(adjust_lr_fn, p.shape)
            return p - like(step, p) * ortho.astype(p.dtype), buf

        new_params, bufs = _base.map_unzip(leaf, params, updates, muon.momentum_buffer) or (params, params)
        new_state = (optax.ScaleByScheduleState(_base.safe_increment(count.count)), MuonState(bufs))
        return _base.updates_to(new_params, params), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def _muon(where: str, lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn):
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
    return _torch_muon(lr, weight_decay, momentum, nesterov, coefficients, eps, ns_steps, adjust_lr_fn, where)


def Muon(lr: _base.ScalarOrSchedule = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
         nesterov: bool = True, ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
         eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None, *,
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
    (see :func:`zeropower_via_newtonschulz`), so a float64 run carries bfloat16-sized
    steps; only 2-D parameters are accepted (``init`` names any other). Pair it with
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
        param_groups: per-group overrides (see :mod:`fnet.optim._groups`).

    Returns:
        An ``optax.GradientTransformation`` (state: a step count and :class:`MuonState`).

    PyTorch equivalent: ``torch.optim.Muon(params, lr=1e-3, weight_decay=0.1, momentum=0.95,
    nesterov=True, ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5,
    adjust_lr_fn=None)``.
    """
    defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                    ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
    return _groups.build("Muon", _muon, defaults, param_groups)
