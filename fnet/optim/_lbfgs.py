"""L-BFGS as torch runs it, with its strong-Wolfe line search, as a pure loop over a function.

torch's ``LBFGS.step(closure)`` calls the closure (loss and ``backward()``) as many times
as its inner iterations and line search need, and keeps its history in
``optimizer.state``. fnet's twin takes the loss *function* instead of a closure and the
state as an argument::

    opt = fnet.optim.LBFGS(lr=1, max_iter=20, line_search_fn="strong_wolfe")
    state = opt.init(params)
    params, state, loss = opt.step(loss_fn, params, state)   # torch: loss = opt.step(closure)

``step`` is one torch ``step()``: up to ``max_iter`` iterations, each a two-loop
recursion over the last ``history_size`` curvature pairs, then a fixed step
(``lr``, ``min(1, 1/|g|_1) * lr`` on the very first iteration) or a strong-Wolfe
line search. It is a ``lax.while_loop`` (the line search two more), compiled once
per loss function, and can itself be called inside ``jax.jit``.

The parameters are flattened into one vector in ``jax.tree`` leaf order (torch uses
the order it was given the parameters in); only the summation order of the dot
products differs from torch's.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

from . import _base

__all__ = ["LBFGS"]


class LBFGSState(NamedTuple):
    """torch's ``optimizer.state`` of LBFGS, as arrays.

    ``old_dirs``/``old_stps`` hold the curvature pairs ``y``/``s`` in their first
    ``num_old`` rows, oldest first (torch's lists, whose oldest entry is dropped when
    ``history_size`` is reached); ``ro`` is ``1 / (y . s)`` of each pair.
    """

    func_evals: jax.Array  # int32: loss evaluations over all steps
    n_iter: jax.Array  # int32: iterations over all steps
    d: jax.Array  # (n,) the last search direction
    t: jax.Array  # the last step length
    old_dirs: jax.Array  # (history_size, n)
    old_stps: jax.Array  # (history_size, n)
    ro: jax.Array  # (history_size,)
    num_old: jax.Array  # int32: pairs in use
    H_diag: jax.Array  # scaling of the initial inverse Hessian
    prev_flat_grad: jax.Array  # (n,)
    prev_loss: jax.Array


# ---------------------------------------------------------------------------------------
# the line search (torch.optim.lbfgs._cubic_interpolate / _strong_wolfe, as pure loops)


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through ``(x1, f1, g1)`` and ``(x2, f2, g2)``, clamped to ``bounds``."""
    if bounds is None:
        xmin_bound, xmax_bound = jnp.minimum(x1, x2), jnp.maximum(x1, x2)
    else:
        xmin_bound, xmax_bound = bounds
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    d2 = jnp.sqrt(jnp.maximum(d2_square, 0))
    left = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    right = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    min_pos = jnp.where(x1 <= x2, left, right)
    clamped = jnp.minimum(jnp.maximum(min_pos, xmin_bound), xmax_bound)
    return jnp.where(d2_square >= 0, clamped, (xmin_bound + xmax_bound) / 2.0)


class _Bracket(NamedTuple):
    t: jax.Array  # (2,)
    f: jax.Array  # (2,)
    g: jax.Array  # (2, n)
    gtd: jax.Array  # (2,)


def _strong_wolfe(obj, x, t, d, f, g, gtd, max_ls, c1=1e-4, c2=0.9, tolerance_change=1e-9):
    """torch's strong-Wolfe line search; returns ``(f_new, g_new, t, evaluations)``."""
    d_norm = jnp.max(jnp.abs(d))
    f_new, g_new = obj(x, t, d)
    gtd_new = jnp.dot(g_new, d)
    zero = jnp.zeros_like(t)

    # -- phase 1: grow the step until the interval [t_prev, t] brackets a Wolfe point.
    # status: 0 searching, 1 bracket [t_prev, t] found, 2 t satisfies the Wolfe conditions.
    class Grow(NamedTuple):
        t: Any
        t_prev: Any
        f_prev: Any
        g_prev: Any
        gtd_prev: Any
        f_new: Any
        g_new: Any
        gtd_new: Any
        ls_iter: Any
        evals: Any
        status: Any

    def grow_cond(c: Grow):
        return (c.status == 0) & (c.ls_iter < max_ls)

    def grow_body(c: Grow):
        armijo_fails = (c.f_new > f + c1 * c.t * gtd) | ((c.ls_iter > 1) & (c.f_new >= c.f_prev))
        curvature_ok = jnp.abs(c.gtd_new) <= -c2 * gtd
        status = jnp.where(armijo_fails, 1, jnp.where(curvature_ok, 2, jnp.where(c.gtd_new >= 0, 1, 0))).astype(jnp.int32)

        def extend(c: Grow):
            min_step = c.t + 0.01 * (c.t - c.t_prev)
            max_step = c.t * 10
            t_next = _cubic_interpolate(c.t_prev, c.f_prev, c.gtd_prev, c.t, c.f_new, c.gtd_new,
                                        bounds=(min_step, max_step))
            f_next, g_next = obj(x, t_next, d)
            return Grow(t_next, c.t, c.f_new, c.g_new, c.gtd_new, f_next, g_next, jnp.dot(g_next, d),
                        c.ls_iter + 1, c.evals + 1, c.status)

        return lax.cond(status == 0, extend, lambda c: c._replace(status=status), c)

    grown = lax.while_loop(grow_cond, grow_body,
                           Grow(t, zero, f, g, gtd, f_new, g_new, gtd_new, jnp.int32(0), jnp.int32(1), jnp.int32(0)))
    exhausted = grown.ls_iter == max_ls
    pair = _Bracket(jnp.stack([grown.t_prev, grown.t]), jnp.stack([grown.f_prev, grown.f_new]),
                    jnp.stack([grown.g_prev, grown.g_new]), jnp.stack([grown.gtd_prev, grown.gtd_new]))
    single = _Bracket(jnp.stack([grown.t, grown.t]), jnp.stack([grown.f_new, grown.f_new]),
                      jnp.stack([grown.g_new, grown.g_new]), jnp.stack([grown.gtd_new, grown.gtd_new]))
    ran_out = _Bracket(jnp.stack([zero, grown.t]), jnp.stack([f, grown.f_new]),
                       jnp.stack([g, grown.g_new]), jnp.stack([gtd, grown.gtd_new]))
    bracket = jax.tree.map(lambda a, b, c: jnp.where(exhausted, c, jnp.where(grown.status == 2, b, a)),
                           pair, single, ran_out)
    done = (grown.status == 2) & ~exhausted

    # -- phase 2: zoom into the bracket with cubic interpolation.
    class Zoom(NamedTuple):
        bracket: _Bracket
        low: Any  # index of the lower-loss end
        done: Any
        stop: Any  # the bracket became too small
        insuf_progress: Any
        ls_iter: Any
        evals: Any

    def order(bf):
        return jnp.where(bf[0] <= bf[-1], 0, 1)

    def zoom_cond(z: Zoom):
        return ~z.done & ~z.stop & (z.ls_iter < max_ls)

    def zoom_body(z: Zoom):
        b = z.bracket
        too_small = jnp.abs(b.t[1] - b.t[0]) * d_norm < tolerance_change

        def probe(z: Zoom):
            b = z.bracket
            hi_t, lo_t = jnp.max(b.t), jnp.min(b.t)
            t_try = _cubic_interpolate(b.t[0], b.f[0], b.gtd[0], b.t[1], b.f[1], b.gtd[1])
            eps = 0.1 * (hi_t - lo_t)
            close = jnp.minimum(hi_t - t_try, t_try - lo_t) < eps
            outside = z.insuf_progress | (t_try >= hi_t) | (t_try <= lo_t)
            moved = jnp.where(jnp.abs(t_try - hi_t) < jnp.abs(t_try - lo_t), hi_t - eps, lo_t + eps)
            t_new = jnp.where(close & outside, moved, t_try)
            insuf = close & ~outside
            f_new, g_new = obj(x, t_new, d)
            gtd_new = jnp.dot(g_new, d)
            low, high = z.low, 1 - z.low
            worse = (f_new > f + c1 * t_new * gtd) | (f_new >= b.f[low])
            wolfe = jnp.abs(gtd_new) <= -c2 * gtd
            # not worse: if the slope points past the high end, the high end takes the low's place
            swap = ~worse & ~wolfe & (gtd_new * (b.t[high] - b.t[low]) >= 0)
            target = jnp.where(worse, high, low)

            def put(arr, i, v):
                return arr.at[i].set(v)

            moved_b = jax.tree.map(lambda a: jnp.where(swap, put(a, high, a[low]), a), b)
            new_b = _Bracket(put(moved_b.t, target, t_new), put(moved_b.f, target, f_new),
                             put(moved_b.g, target, g_new), put(moved_b.gtd, target, gtd_new))
            new_low = jnp.where(worse, order(new_b.f), low)
            return Zoom(new_b, new_low, ~worse & wolfe, z.stop, insuf, z.ls_iter + 1, z.evals + 1)

        return lax.cond(too_small, lambda z: z._replace(stop=jnp.bool_(True)), probe, z)

    zoomed = lax.while_loop(zoom_cond, zoom_body,
                            Zoom(bracket, order(bracket.f), done, jnp.bool_(False), jnp.bool_(False),
                                 grown.ls_iter, grown.evals))
    b, low = zoomed.bracket, zoomed.low
    return b.f[low], b.g[low], b.t[low], zoomed.evals


# ---------------------------------------------------------------------------------------
# the optimizer


def _two_loop(g, state: LBFGSState, history_size: int):
    """torch's two-loop recursion: ``d = -H g`` from the stored pairs, oldest first."""
    q = -g
    al = jnp.zeros((history_size,), g.dtype)

    def backward(k, carry):
        q, al = carry
        i = history_size - 1 - k
        use = i < state.num_old
        a = jnp.dot(state.old_stps[i], q) * state.ro[i]
        return jnp.where(use, q - a * state.old_dirs[i], q), al.at[i].set(jnp.where(use, a, 0))

    q, al = lax.fori_loop(0, history_size, backward, (q, al))
    r = q * state.H_diag

    def forward(i, r):
        be = jnp.dot(state.old_dirs[i], r) * state.ro[i]
        return jnp.where(i < state.num_old, r + (al[i] - be) * state.old_stps[i], r)

    return lax.fori_loop(0, history_size, forward, r)


@dataclasses.dataclass(frozen=True)
class LBFGS:
    """L-BFGS, torch's algorithm (inner iterations, history, strong-Wolfe line search).

    Args:
        lr: step length (the line search's initial step).
        max_iter: iterations per :meth:`step`.
        max_eval: loss evaluations per :meth:`step` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when ``max |g| <= tolerance_grad``.
        tolerance_change: stop when the step, or the change in loss, is below it.
        history_size: curvature pairs kept.
        line_search_fn: ``None`` (fixed steps) or ``"strong_wolfe"``.

    Use :meth:`init` and :meth:`step` (not ``update``: L-BFGS re-evaluates the loss, so
    it is not an optax gradient transformation). Parameter groups are not supported
    (torch refuses them too).

    PyTorch equivalent: ``torch.optim.LBFGS(params, lr=1, max_iter=20, max_eval=None,
    tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100, line_search_fn=None)``.
    """

    lr: float = 1
    max_iter: int = 20
    max_eval: int | None = None
    tolerance_grad: float = 1e-7
    tolerance_change: float = 1e-9
    history_size: int = 100
    line_search_fn: str | None = None

    def __post_init__(self):
        w = "LBFGS"
        lr = _base.check_lr(w, self.lr)
        if callable(lr):
            raise TypeError(f"{w}: expected lr to be a number, got a schedule {lr!r}; one step() runs many "
                            "iterations, so call step() with a new LBFGS(lr=...) to change it")
        _base.check_int(w, "max_iter", self.max_iter, 1)
        max_eval = self.max_iter * 5 // 4 if self.max_eval is None else _base.check_int(w, "max_eval", self.max_eval, 1)
        object.__setattr__(self, "max_eval", max_eval)
        _base.check_nonneg(w, "tolerance_grad", self.tolerance_grad)
        _base.check_nonneg(w, "tolerance_change", self.tolerance_change)
        _base.check_int(w, "history_size", self.history_size, 1)
        if self.line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"{w}: only 'strong_wolfe' is supported as line_search_fn: expected None or "
                             f"'strong_wolfe', got {self.line_search_fn!r}")

    # -- state ---------------------------------------------------------------------------
    def init(self, params: Any) -> LBFGSState:
        """The empty state (torch's before the first ``step``) for ``params``."""
        flat = self._flatten(params)
        n, dtype = flat.shape[0], flat.dtype
        zero = jnp.zeros((), dtype)
        return LBFGSState(jnp.int32(0), jnp.int32(0), jnp.zeros((n,), dtype), zero,
                          jnp.zeros((self.history_size, n), dtype), jnp.zeros((self.history_size, n), dtype),
                          jnp.zeros((self.history_size,), dtype), jnp.int32(0), jnp.ones((), dtype),
                          jnp.zeros((n,), dtype), zero)

    @staticmethod
    def _flatten(params: Any) -> jax.Array:
        leaves = jax.tree.leaves(params)
        if not leaves:
            raise ValueError("LBFGS: expected at least one parameter, got an empty tree")
        dtypes = {jnp.result_type(x) for x in leaves}
        if len(dtypes) != 1 or not jnp.issubdtype(next(iter(dtypes)), jnp.floating):
            raise TypeError(f"LBFGS: expected parameters of one floating dtype (torch flattens them into one "
                            f"vector), got {sorted(str(d) for d in dtypes)}")
        return ravel_pytree(params)[0]

    # -- one torch step() ----------------------------------------------------------------
    def step(self, fun: Callable[[Any], Any], params: Any, state: LBFGSState) -> tuple[Any, LBFGSState, jax.Array]:
        """One ``optimizer.step(closure)``: up to ``max_iter`` iterations on ``fun``.

        Args:
            fun: ``params -> scalar loss`` (differentiable with ``jax.grad``; the closure's
                forward pass without ``backward``). It must be hashable (a function is),
                since ``step`` compiles once per function.
            params: the parameter tree.
            state: from :meth:`init` or the previous ``step``.

        Returns:
            ``(params, state, loss)`` with ``loss`` the loss at the *incoming* parameters,
            what torch's ``step`` returns.
        """
        if not callable(fun):
            raise TypeError(f"LBFGS.step: expected fun to be a function params -> loss, got {fun!r}")
        if not isinstance(state, LBFGSState):
            raise TypeError(f"LBFGS.step: expected the state from LBFGS.init or a previous step, got "
                            f"{type(state).__name__}")
        flat = self._flatten(params)
        if state.d.shape != flat.shape or state.d.dtype != flat.dtype:
            raise ValueError(f"LBFGS.step: the state was made for {state.d.shape[0]} {state.d.dtype} parameters, "
                             f"got {flat.shape[0]} {flat.dtype} ones")
        return _compiled_step(self, fun, params, state)

    def _run(self, fun, params, state: LBFGSState):
        x0, unravel = ravel_pytree(params)
        value_and_grad = jax.value_and_grad(lambda v: fun(unravel(v)))
        dtype = x0.dtype
        lr = jnp.asarray(self.lr, dtype)
        tol_grad, tol_change = self.tolerance_grad, self.tolerance_change
        history = self.history_size

        def evaluate(x):
            loss, grad = value_and_grad(x)
            return jnp.asarray(loss, dtype), grad.astype(dtype)

        orig_loss, flat_grad = evaluate(x0)
        state = state._replace(func_evals=state.func_evals + 1)
        converged = jnp.max(jnp.abs(flat_grad)) <= tol_grad

        class Loop(NamedTuple):
            x: Any
            loss: Any
            grad: Any
            state: LBFGSState
            n_iter: Any
            current_evals: Any
            stop: Any

        def body(c: Loop):
            s = c.state
            n_iter = c.n_iter + 1
            total = s.n_iter + 1
            first = total == 1

            # the new direction from the last step's curvature pair
            y = c.grad - s.prev_flat_grad
            st = s.d * s.t
            ys = jnp.dot(y, st)
            keep = ~first & (ys > 1e-10)
            full = s.num_old == history

            def push(buf, v):  # torch: pop(0) when full, then append
                rolled = jnp.where(full, jnp.roll(buf, -1, axis=0), buf)
                return jnp.where(keep, rolled.at[jnp.where(full, history - 1, s.num_old)].set(v), buf)

            hist = s._replace(
                old_dirs=push(s.old_dirs, y), old_stps=push(s.old_stps, st),
                ro=push(s.ro, 1.0 / jnp.where(keep, ys, 1)),
                num_old=jnp.where(keep & ~full, s.num_old + 1, s.num_old),
                H_diag=jnp.where(keep, ys / jnp.dot(y, y), s.H_diag))
            hist = jax.tree.map(lambda new, old: jnp.where(first, old, new), hist, s)
            hist = hist._replace(num_old=jnp.where(first, 0, hist.num_old), H_diag=jnp.where(first, 1, hist.H_diag))
            d = jnp.where(first, -c.grad, _two_loop(c.grad, hist, history))
            t = jnp.where(first, jnp.minimum(1.0, 1.0 / jnp.sum(jnp.abs(c.grad))) * lr, lr)
            s = hist._replace(d=d, t=t, prev_flat_grad=c.grad, prev_loss=c.loss, n_iter=total)
            gtd = jnp.dot(c.grad, d)
            no_descent = gtd > -tol_change

            def move(_):
                if self.line_search_fn == "strong_wolfe":
                    def obj(x, step, direction):
                        return evaluate(x + step * direction)

                    loss, grad, step, evals = _strong_wolfe(obj, c.x, t, d, c.loss, c.grad, gtd,
                                                            self.max_eval - c.current_evals)
                    x = c.x + step * d
                else:
                    step = t
                    x = c.x + t * d
                    last = n_iter == self.max_iter
                    loss, grad = lax.cond(last, lambda x: (c.loss, c.grad), evaluate, x)
                    evals = jnp.where(last, 0, 1).astype(jnp.int32)
                return x, loss, grad, step, evals

            x, loss, grad, step, evals = lax.cond(
                no_descent, lambda _: (c.x, c.loss, c.grad, t, jnp.int32(0)), move, None)
            s = s._replace(t=step, func_evals=s.func_evals + evals)
            current = c.current_evals + evals
            opt_cond = jnp.max(jnp.abs(grad)) <= tol_grad
            stop = (no_descent | (n_iter == self.max_iter) | (current >= self.max_eval) | opt_cond
                    | (jnp.max(jnp.abs(d * step)) <= tol_change) | (jnp.abs(loss - c.loss) < tol_change))
            return Loop(x, loss, grad, s, n_iter, current, stop)

        out = lax.while_loop(lambda c: ~c.stop, body,
                             Loop(x0, orig_loss, flat_grad, state, jnp.int32(0), jnp.int32(1), converged))
        return unravel(out.x), out.state, orig_loss


def _step_impl(opt: LBFGS, fun, params, state):
    return opt._run(fun, params, state)


# One compilation per (optimizer configuration, loss function); inside a user's jit it inlines.
_compiled_step = jax.jit(_step_impl, static_argnums=(0, 1))
