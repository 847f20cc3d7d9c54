"""Recurrence kernels behind ``nn.RNN``/``nn.LSTM``/``nn.GRU`` and their cells.

``torch.nn.functional`` has no recurrent functions, so nothing here is public
(``__all__`` is empty); the layers in ``fnet/nn/_rnn.py`` are the API.

How a layer runs (one direction of one layer):

1. The input projection of every timestep is one matmul, hoisted out of the loop:
   ``xp = x @ W_ih^T + b`` with ``x`` time-major ``(T, B, I)``.
2. :func:`recurrence` scans over time with ``jax.lax.scan``; the loop body is one
   ``(B, P) @ (P, G)`` matmul plus fused pointwise gate math.
3. Its backward pass is written by hand (``jax.custom_vjp``). The local derivatives
   of the gates (``i (1 - i)``, ``1 - tanh(c)^2`` ...) are computed for all steps at
   once before the loop; the reverse scan keeps only what is truly sequential (``dh``,
   ``dc``: a few multiplies and one ``(B, G) @ (G, P)`` matmul per step) and stacks the
   gate gradients ``dG (T, B, G)``; the weight gradients ``dW_hh = dG^T h_prev`` (and
   ``dW_hr``, ``db_hh``) are then single large matmuls/reductions after it. Plain
   autodiff of ``scan`` would instead accumulate ``dW_hh`` inside the loop, one small
   matmul and one read-modify-write of the whole weight per step; avoiding that is
   what cuDNN and oneDNN do too. (Being a ``custom_vjp``, the recurrence supports
   reverse-mode ``jax.grad``/``vjp`` but not forward-mode ``jax.jvp``/``jacfwd``.)

Variable lengths are a ``(T, B)`` boolean mask: a masked step keeps the previous
state and writes a zero output (``pad_packed_sequence``'s padding), so padded steps
neither change the final states nor receive gradient. The reverse direction of a
bidirectional layer runs forward over the time-flipped sequence, where its padding
comes first: each sequence then starts from ``h_0`` at its own last valid step,
exactly what a packed sequence does. Both directions share one scan.

Gate orders are torch's: LSTM ``i, f, g, o``; GRU ``r, z, n`` with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

__all__: list[str] = []

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")


def num_gates(mode: str) -> int:
    return {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[mode]


def default_unroll() -> int:
    """Scan unroll per backend.

    On CPU each step is dominated by its matmul and unrolling only grows the program
    (measured: unroll 2 was ~10% slower on the benchmark LSTM). On GPUs several steps
    per loop iteration save kernel-launch and loop overhead: on an H100 the benchmark
    train step took 2.9 / 2.3 / 2.1 / 2.0 ms at unroll 1 / 2 / 4 / 8.
    """
    return 1 if jax.default_backend() == "cpu" else 8


# -- pointwise cell math, shared by the scan bodies and the single-step cells ----------

def _rnn_act(mode: str, pre: jax.Array) -> jax.Array:
    return jnp.tanh(pre) if mode == "rnn_tanh" else jax.nn.relu(pre)


def _lstm_pointwise(gates: jax.Array, c: jax.Array):
    """``gates (B, 4H)`` pre-activations -> (activated gates, new c, tanh(new c), new h)."""
    hidden = c.shape[-1]
    acts = jnp.concatenate([jax.nn.sigmoid(gates[..., :2 * hidden]),
                            jnp.tanh(gates[..., 2 * hidden:3 * hidden]),
                            jax.nn.sigmoid(gates[..., 3 * hidden:])], axis=-1)
    i, f, g, o = (acts[..., k * hidden:(k + 1) * hidden] for k in range(4))
    c_new = f * c + i * g
    tanh_c = jnp.tanh(c_new)
    return acts, c_new, tanh_c, o * tanh_c


def _gru_pointwise(xg: jax.Array, hg: jax.Array, h: jax.Array):
    """``xg = W_ih x + b_ih``, ``hg = W_hh h + b_hh`` (both ``(B, 3H)``) -> (r, z, n, new h)."""
    hidden = h.shape[-1]
    rz = jax.nn.sigmoid(xg[..., :2 * hidden] + hg[..., :2 * hidden])
    r, z = rz[..., :hidden], rz[..., hidden:]
    n = jnp.tanh(xg[..., 2 * hidden:] + r * hg[..., 2 * hidden:])
    return r, z, n, (1 - z) * n + z * h


def _mm(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.matmul(a, b)


def _add_bias(x: jax.Array, *biases: jax.Array | None) -> jax.Array:
    for b in biases:
        if b is not None:
            x = x + b
    return x


def cell(mode: str, x: jax.Array, h: jax.Array, c: jax.Array | None, w_ih: jax.Array,
         w_hh: jax.Array, b_ih: jax.Array | None, b_hh: jax.Array | None):
    """One step of a cell on batched ``x (B, I)``, ``h (B, H)``; returns ``h'`` or ``(h', c')``."""
    xg = _add_bias(_mm(x, w_ih.T), b_ih)
    hg = _add_bias(_mm(h, w_hh.T), b_hh)
    if mode == "lstm":
        _, c_new, _, h_new = _lstm_pointwise(xg + hg, c)
        return h_new, c_new
    if mode == "gru":
        return _gru_pointwise(xg, hg, h)[3]
    return _rnn_act(mode, xg + hg)


# -- the recurrence with a hand-written backward ------------------------------------------
#
# Arrays carry a leading direction axis D (1, or 2 for a bidirectional layer). The reverse
# direction runs on time-flipped data, so both directions are one forward scan whose matmuls
# are batched over D: a bidirectional layer costs one loop, not two.

def _bmm(a: jax.Array, b: jax.Array, b_t: jax.Array | None = None) -> jax.Array:
    """``(D, M, K) @ (D, K, N)``; a plain 2-D matmul when D is 1.

    ``b_t`` is ``b`` transposed ``(D, N, K)``, made once outside the loop: with one row
    (a batch of one) the product is taken as ``b_t a^T``, because XLA:CPU copies ``b``
    into its matrix-vector kernel's layout on every step otherwise (as ``F.linear`` does).
    """
    if b_t is not None and a.shape[1] == 1:
        return jnp.swapaxes(_bmm(b_t, jnp.swapaxes(a, 1, 2)), 1, 2)
    if a.shape[0] == 1:
        return _mm(a[0], b[0])[None]
    return jnp.matmul(a, b)


def _one_row_form(h: jax.Array, b: jax.Array) -> jax.Array | None:
    """``_bmm``'s ``b_t`` for ``b`` when the batch of ``h (D, B, ·)`` is one, else None."""
    return jnp.swapaxes(b, 1, 2) if h.shape[1] == 1 else None


def _weight_grad(d_gates: jax.Array, h: jax.Array) -> jax.Array:
    """``sum_{t,b} d_gates[t, d, b, :]^T h[t, d, b, :]``: ``(T, D, B, G), (T, D, B, P) -> (D, G, P)``."""
    if d_gates.shape[1] == 1:
        g, p = d_gates.shape[-1], h.shape[-1]
        return _mm(d_gates.reshape(-1, g).T, h.reshape(-1, p))[None]
    return jnp.einsum("tdbg,tdbp->dgp", d_gates, h)


def _select(mask_t: jax.Array | None, new: jax.Array, old: jax.Array) -> jax.Array:
    return new if mask_t is None else jnp.where(mask_t[..., None], new, old)


def _forward(mode: str, unroll: int, xp, h0, c0, w_hh, b_hh, w_hr, mask):
    """Runs the scan; returns ``(out, h_T, c_T)`` and the per-step residuals."""
    w_hh_t = jnp.swapaxes(w_hh, 1, 2)  # (D, P, G): transposed once, outside the loop
    w_hh_rows = _one_row_form(h0, w_hh_t)
    w_hr_t = None if w_hr is None else jnp.swapaxes(w_hr, 1, 2)

    def body(carry, inputs):
        h, c = carry
        xp_t, m_t = inputs
        hg = _bmm(h, w_hh_t, w_hh_rows)
        if mode == "lstm":
            acts, c_new, _, h_new = _lstm_pointwise(xp_t + hg, c)
            if w_hr_t is not None:
                h_new = _bmm(h_new, w_hr_t)
            res = (acts, c_new)
            c_next = _select(m_t, c_new, c)
        elif mode == "gru":
            hg = _add_bias(hg, None if b_hh is None else b_hh[:, None])
            r, z, n, h_new = _gru_pointwise(xp_t, hg, h)
            hidden = h.shape[-1]
            res = (jnp.concatenate([r, z, n], axis=-1), hg[..., 2 * hidden:])
            c_next = c
        else:
            h_new = _rnn_act(mode, xp_t + hg)
            res = ()
            c_next = c
        out = h_new if m_t is None else jnp.where(m_t[..., None], h_new, 0)
        return (_select(m_t, h_new, h), c_next), (out, res)

    (h_t, c_t), (out, res) = jax.lax.scan(body, (h0, c0), (xp, mask), unroll=unroll)
    return (out, h_t, c_t), res


def _previous(states: jax.Array, h0: jax.Array, mask: jax.Array | None) -> jax.Array:
    """The state each step started from, rebuilt from the states each step produced.

    ``states[t-1]`` when step ``t-1`` was valid, else the initial state: a (flipped)
    sequence whose first steps are padding starts from it at its first valid step. Only
    valid steps are ever read (masked steps receive no gradient).
    """
    prev = states[:-1]
    if mask is not None:
        prev = jnp.where(mask[:-1, ..., None], prev, h0[None])
    return jnp.concatenate([h0[None], prev], axis=0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def recurrence(mode: str, unroll: int, xp: jax.Array, h0: jax.Array, c0: jax.Array | None,
               w_hh: jax.Array, b_hh: jax.Array | None, w_hr: jax.Array | None,
               mask: jax.Array | None):
    """Scans the directions of one layer forward in time.

    Args:
        mode: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``.
        unroll: ``jax.lax.scan`` unroll.
        xp: hoisted input projection ``(T, D, B, G)``, the reverse direction already
            flipped in time. For RNN/LSTM it includes both biases; for GRU only ``b_ih``
            (``b_hn`` sits inside the reset gate).
        h0: ``(D, B, P)``; c0: ``(D, B, H)`` for LSTM else None.
        w_hh: ``(D, G, P)``; b_hh: ``(D, G)`` for GRU else None; w_hr: ``(D, P, H)`` for
            an LSTM with projections else None.
        mask: ``(T, D, B)`` bool (True = valid step) or None.

    Returns:
        ``(out (T, D, B, P), h_T (D, B, P), c_T (D, B, H) or None)``; ``out`` is zero at
        masked steps.
    """
    return _forward(mode, unroll, xp, h0, c0, w_hh, b_hh, w_hr, mask)[0]


def _recurrence_fwd(mode, unroll, xp, h0, c0, w_hh, b_hh, w_hr, mask):
    outputs, res = _forward(mode, unroll, xp, h0, c0, w_hh, b_hh, w_hr, mask)
    return outputs, (res, outputs[0], h0, c0, w_hh, b_hh, w_hr, mask)


def _recurrence_bwd(mode, unroll, saved, cotangents):
    # Everything that does not depend on the incoming gradient (the local derivatives of
    # the gates) is computed for all steps at once before the loop, in large vectorised
    # operations; the loop keeps only what is truly sequential: a few multiplies and the
    # (B, G) @ (G, P) matmul per step.
    res, out, h0, c0, w_hh, b_hh, w_hr, mask = saved
    d_out, d_ht, d_ct = cotangents
    w_hh_rows = _one_row_form(h0, w_hh)
    h_prev = _previous(out, h0, mask)
    hidden = w_hh.shape[-1] if w_hr is None else w_hr.shape[-1]

    def masked(m_t, g):
        return g if m_t is None else jnp.where(m_t[..., None], g, 0)

    def keep(m_t, g):  # gradient that flows past a masked step unchanged
        return 0 if m_t is None else jnp.where(m_t[..., None], 0, g)

    def gate(x, k):
        return x[..., k * hidden:(k + 1) * hidden]

    if mode == "lstm":
        acts, c_new = res
        i, f, g, o = (gate(acts, k) for k in range(4))
        tanh_c = jnp.tanh(c_new)
        # d_pre = [gc, gc, gc, dm] * coef, with gc = dc + dm * o * (1 - tanh(c)^2)
        c_prev = _previous(c_new, c0, mask)
        coef = jnp.concatenate([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g),
                                tanh_c * o * (1 - o)], axis=-1)
        dc_coef = o * (1 - tanh_c * tanh_c)

        def body(carry, inputs):
            dh, dc = carry
            coef_t, dc_coef_t, f_t, d_out_t, m_t = inputs
            gh = masked(m_t, dh + d_out_t)
            dm = gh if w_hr is None else _bmm(gh, w_hr)
            gc = masked(m_t, dc) + dm * dc_coef_t
            d_pre = jnp.concatenate([gc, gc, gc, dm], axis=-1) * coef_t
            dh_prev = _bmm(d_pre, w_hh, w_hh_rows) + keep(m_t, dh)
            dc_prev = gc * f_t + keep(m_t, dc)
            return (dh_prev, dc_prev), (d_pre, gh if w_hr is not None else None)

        (dh0, dc0), (d_pre, d_h) = jax.lax.scan(
            body, (d_ht, d_ct), (coef, dc_coef, f, d_out, mask), reverse=True, unroll=unroll)
        d_w_hr = None if w_hr is None else _weight_grad(d_h, o * tanh_c)
        return d_pre, dh0, dc0, _weight_grad(d_pre, h_prev), None, d_w_hr, None

    if mode == "gru":
        rzn, hn = res
        r, z, n = (gate(rzn, k) for k in range(3))
        # dn = gh (1-z)(1-n^2); dr = dn hn r(1-r); dz = gh (h_prev - n) z(1-z)
        dn_coef = (1 - z) * (1 - n * n)
        dr_coef = dn_coef * hn * r * (1 - r)
        dz_coef = (h_prev - n) * z * (1 - z)
        coef_h = jnp.concatenate([dr_coef, dz_coef, dn_coef * r], axis=-1)

        def body(dh, inputs):
            coef_t, z_t, d_out_t, m_t = inputs
            gh = masked(m_t, dh + d_out_t)
            d_h = jnp.concatenate([gh, gh, gh], axis=-1) * coef_t
            dh_prev = _bmm(d_h, w_hh, w_hh_rows) + gh * z_t + keep(m_t, dh)
            return dh_prev, gh

        dh0, gh = jax.lax.scan(body, d_ht, (coef_h, z, d_out, mask), reverse=True, unroll=unroll)
        gh3 = jnp.concatenate([gh, gh, gh], axis=-1)
        d_h = gh3 * coef_h
        d_x = gh3 * jnp.concatenate([dr_coef, dz_coef, dn_coef], axis=-1)
        d_b_hh = None if b_hh is None else jnp.sum(d_h, axis=(0, 2))
        return d_x, dh0, None, _weight_grad(d_h, h_prev), d_b_hh, None, None

    coef = (1 - out * out) if mode == "rnn_tanh" else (out > 0).astype(out.dtype)

    def body(dh, inputs):
        coef_t, d_out_t, m_t = inputs
        d_pre = masked(m_t, dh + d_out_t) * coef_t
        return _bmm(d_pre, w_hh, w_hh_rows) + keep(m_t, dh), d_pre

    dh0, d_pre = jax.lax.scan(body, d_ht, (coef, d_out, mask), reverse=True, unroll=unroll)
    return d_pre, dh0, None, _weight_grad(d_pre, h_prev), None, None, None


recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


def _stack(arrays: list[Any]) -> Any:
    if arrays[0] is None:
        return None
    return arrays[0][None] if len(arrays) == 1 else jnp.stack(arrays)


def layer(mode: str, x: jax.Array, weights: list[dict], h0: jax.Array, c0: jax.Array | None,
          mask: jax.Array | None, unroll: int | None = None) -> tuple[Any, ...]:
    """One layer, all its directions, on time-major ``x (T, B, I)``.

    Args:
        weights: per direction (forward, then reverse) a dict with ``w_ih``, ``w_hh`` and
            optionally ``b_ih``, ``b_hh``, ``w_hr`` (torch layouts).
        h0: ``(D, B, P)``; c0: ``(D, B, H)`` for LSTM else None.
        mask: ``(T, B)`` bool valid-step mask or None.

    Returns:
        ``(out (T, B, D * P), h_T (D, B, P), c_T (D, B, H) or None)``.
    """
    dirs = len(weights)
    # The reverse direction sees the sequence flipped in time (padding then comes first).
    xs = [x, x[::-1]][:dirs]
    xp = []
    b_hh = []
    for xd, w in zip(xs, weights):
        proj = jnp.einsum("tbi,gi->tbg", xd, w["w_ih"])
        if mode == "gru":  # b_hn cannot be hoisted: the reset gate multiplies it
            proj = _add_bias(proj, w.get("b_ih"))
            b_hh.append(w.get("b_hh"))
        else:
            proj = _add_bias(proj, w.get("b_ih"), w.get("b_hh"))
            b_hh.append(None)
        xp.append(proj)
    xp = xp[0][:, None] if dirs == 1 else jnp.stack(xp, axis=1)  # (T, D, B, G)
    if mask is not None:
        mask = mask[:, None] if dirs == 1 else jnp.stack([mask, mask[::-1]], axis=1)
    if unroll is None:
        unroll = default_unroll()
    out, h_t, c_t = recurrence(mode, unroll, xp, h0, c0, _stack([w["w_hh"] for w in weights]),
                               _stack(b_hh), _stack([w.get("w_hr") for w in weights]), mask)
    if dirs == 1:
        out = out[:, 0]
    else:
        out = jnp.concatenate([out[:, 0], out[::-1, 1]], axis=-1)
    return out, h_t, c_t
