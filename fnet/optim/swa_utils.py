"""``torch.optim.swa_utils`` twins: weight averaging (SWA, EMA), ``SWALR`` and ``update_bn``.

    swa = fnet.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    avg_params, avg_state = swa.wrap(params, state)               # torch: deepcopy(model)
    ...each step: avg_params, avg_state = swa.update_parameters(avg_params, avg_state, params, state)
    out, _ = swa.apply(avg_params, avg_state, x)                  # the averaged model
    avg_state = update_bn(loader, swa, avg_params, avg_state)     # BatchNorm statistics for it

``AveragedModel`` is an ``nn.Module`` wrapping the model under ``module``, with torch's
``n_averaged`` buffer, so its trees are torch's ``AveragedModel.state_dict()``
(``module.fc.weight``, ``n_averaged``) and checkpoints move both ways. Averaging is a
pure function of the trees, as every fnet update.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, Callable, Iterable

import jax
import jax.numpy as jnp

from .. import _tree
from ..nn._module import _CACHE, Context, Module
from ..nn._norm import _BatchNorm, _count_dtype
from . import _base
from .lr_scheduler import LRSchedule, _check_step, _real

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]

AvgFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
MultiAvgFn = Callable[[list, list, jax.Array], list]


def _check_decay(where: str, decay: float) -> float:
    decay = _real(where, "decay", decay)
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"{where}: invalid decay: expected 0 <= decay <= 1, got {decay!r}")
    return decay


def _floating(x: jax.Array) -> bool:
    return jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.complexfloating)


def _as(value: jax.Array, like: jax.Array) -> jax.Array:
    """``like.copy_(value)``: a float result written into an integer buffer truncates, as torch."""
    return value.astype(like.dtype)


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """EMA over lists of arrays: ``ema = lerp(ema, current, 1 - decay)`` (integers: ``ema * decay +
    current * (1 - decay)``), returned as a new list.

    PyTorch equivalent: ``torch.optim.swa_utils.get_ema_multi_avg_fn(decay=0.999)`` (in place there).
    """
    decay = _check_decay("get_ema_multi_avg_fn", decay)

    def ema_update(ema_param_list, current_param_list, num_averaged):
        del num_averaged
        if ema_param_list and _floating(ema_param_list[0]):
            return [_base.lerp(e, c, 1.0 - decay) for e, c in zip(ema_param_list, current_param_list)]
        return [_as(e * decay + c * (1.0 - decay), e) for e, c in zip(ema_param_list, current_param_list)]

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """Equal-weight average over lists of arrays: ``avg = lerp(avg, current, 1 / (n + 1))``.

    PyTorch equivalent: ``torch.optim.swa_utils.get_swa_multi_avg_fn()`` (in place there).
    """

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if averaged_param_list and _floating(averaged_param_list[0]):
            return [_base.lerp(a, c, 1.0 / (num_averaged + 1).astype(a.dtype))
                    for a, c in zip(averaged_param_list, current_param_list)]
        return [_as(a + (c - a) / (num_averaged + 1), a) for a, c in zip(averaged_param_list, current_param_list)]

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """EMA of one array: ``decay * ema + (1 - decay) * current``.

    PyTorch equivalent: ``torch.optim.swa_utils.get_ema_avg_fn(decay=0.999)``.
    """
    decay = _check_decay("get_ema_avg_fn", decay)

    def ema_update(ema_param, current_param, num_averaged):
        del num_averaged
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> AvgFn:
    """Equal-weight average of one array: ``avg + (current - avg) / (n + 1)``.

    PyTorch equivalent: ``torch.optim.swa_utils.get_swa_avg_fn()``.
    """

    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A running average (SWA or EMA) of a model's parameters, as a module.

    Its parameter tree is ``{"module": <the model's>}`` and its state ``{"n_averaged": count,
    "module": <the model's buffers>}``: torch's ``AveragedModel`` state_dict. ``forward``
    runs the wrapped model. :meth:`update_parameters` is torch's ``update_parameters(model)``
    as a pure function: the first call copies the model, later ones average with
    ``multi_avg_fn(averaged_list, current_list, n_averaged)`` (a new list),
    ``avg_fn(averaged, current, n_averaged)`` per array, or the equal-weight average
    (torch's CPU default, :func:`get_swa_avg_fn`). With ``use_buffers=True`` the buffers
    are averaged too (torch's order: parameters, then buffers); otherwise they are copied
    from the model.

    Args:
        model: the fnet module whose parameters are averaged.
        device: accepted for torch compatibility (placement is JAX's).
        avg_fn, multi_avg_fn: averaging rules (at most one).
        use_buffers: average the buffers as well.

    PyTorch equivalent: ``torch.optim.swa_utils.AveragedModel(model, device=None,
    avg_fn=None, multi_avg_fn=None, use_buffers=False)``.
    """

    def __init__(self, model: Module, device: Any = None, avg_fn: AvgFn | None = None,
                 multi_avg_fn: MultiAvgFn | None = None, use_buffers: bool = False):
        super().__init__()
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: expected an fnet nn.Module, got {type(model).__name__}")
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: expected at most one of avg_fn and multi_avg_fn, got both")
        for name, fn in (("avg_fn", avg_fn), ("multi_avg_fn", multi_avg_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"AveragedModel: expected {name} to be a function, got {fn!r}")
        del device
        self.module = model
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = bool(use_buffers)

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        return {}, {"n_averaged": jnp.zeros((), _count_dtype())}

    def forward(self, ctx: Context, *args: Any, **kwargs: Any) -> Any:
        return self.module(ctx, *args, **kwargs)

    def wrap(self, params: dict, state: dict) -> tuple[dict, dict]:
        """The averaged model's trees holding a copy of ``model``'s (torch's ``deepcopy``), ``n_averaged = 0``."""
        return {"module": params}, {"n_averaged": jnp.zeros((), _count_dtype()), "module": state}

    def update_parameters(self, avg_params: dict, avg_state: dict, params: dict, state: dict) -> tuple[dict, dict]:
        """The averaged trees after averaging in ``(params, state)`` (torch's ``update_parameters(model)``).

        Args:
            avg_params, avg_state: this module's trees (from :meth:`wrap`, :meth:`init` or
                the previous update).
            params, state: the trained model's trees.

        Returns:
            ``(avg_params, avg_state)`` with ``n_averaged`` incremented. Jittable.
        """
        where = "AveragedModel.update_parameters"
        if "module" not in avg_params or "n_averaged" not in avg_state:
            raise ValueError(f"{where}: expected the averaged model's trees ({{'module': ...}} and "
                             f"{{'n_averaged': ..., 'module': ...}}, from wrap() or init()), got keys "
                             f"{sorted(avg_params)} and {sorted(avg_state)}")
        averaged = _tree.flatten(avg_params["module"])
        current = _tree.flatten(params)
        avg_buffers = _tree.flatten(avg_state.get("module", {}))
        buffers = _tree.flatten(state)
        for what, mine, theirs in (("parameters", averaged, current), ("buffers", avg_buffers, buffers)):
            if list(mine) != list(theirs) and set(mine) != set(theirs):
                raise ValueError(f"{where}: the model's {what} {sorted(set(theirs) ^ set(mine))[:5]} do not match "
                                 f"the averaged model's")
        names = list(averaged) + (list(avg_buffers) if self.use_buffers else [])
        old = [averaged[n] if n in averaged else avg_buffers[n] for n in names]
        new = [current[n] if n in current else buffers[n] for n in names]
        n = avg_state["n_averaged"]
        if self.multi_avg_fn is not None or self.avg_fn is None:
            if self.multi_avg_fn is not None:
                groups: dict[Any, list[int]] = {}
                for i, x in enumerate(old):  # torch groups by device and dtype
                    groups.setdefault(jnp.result_type(x), []).append(i)
                mixed: list[Any] = [None] * len(old)
                for indices in groups.values():
                    out = self.multi_avg_fn([old[i] for i in indices], [new[i] for i in indices], n)
                    for i, value in zip(indices, out):
                        mixed[i] = value
            else:
                swa = get_swa_avg_fn()
                mixed = [swa(a, c, n) for a, c in zip(old, new)]
        else:
            mixed = [self.avg_fn(a, c, n) for a, c in zip(old, new)]
        mixed = [jnp.where(n == 0, c, _as(m, a)).astype(a.dtype) for a, c, m in zip(old, new, mixed)]
        out = dict(zip(names, mixed))
        new_params = _tree.unflatten({k: out[k] for k in averaged})
        new_buffers = {k: (out[k] if k in out else buffers[k]) for k in avg_buffers}
        new_state = {"n_averaged": n + 1}
        if new_buffers:
            new_state["module"] = _tree.unflatten(new_buffers)
        return {"module": new_params}, new_state


@dataclasses.dataclass(frozen=True)
class SWALR(LRSchedule):
    """Anneal from ``lr`` to ``swa_lr`` over ``anneal_epochs`` steps, then hold ``swa_lr``.

    ``lr_t = swa_lr * a + lr * (1 - a)`` with ``a = f(min(1, t / anneal_epochs))``,
    ``f(x) = (1 - cos(pi x)) / 2`` (``"cos"``) or ``x`` (``"linear"``); ``anneal_epochs=0``
    jumps to ``swa_lr`` at once. The closed form of torch's recursion, as every fnet
    schedule (see :mod:`fnet.optim.lr_scheduler`).

    PyTorch equivalent: ``torch.optim.swa_utils.SWALR(optimizer, swa_lr, anneal_epochs=10,
    anneal_strategy='cos')`` with ``lr`` the optimizer's learning rate.
    """

    lr: float
    swa_lr: float
    anneal_epochs: int = 10
    anneal_strategy: str = "cos"

    def __post_init__(self):
        _real("SWALR", "lr", self.lr)
        _real("SWALR", "swa_lr", self.swa_lr)
        if self.anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be one of 'cos' or 'linear', got "
                             f"{self.anneal_strategy!r}")
        if isinstance(self.anneal_epochs, bool) or not isinstance(self.anneal_epochs, int) or self.anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be an integer >= 0, got {self.anneal_epochs!r}")

    def lr_at(self, s, t):
        if self.anneal_epochs == 0:
            x = jnp.ones_like(t)
        else:
            x = jnp.minimum(1.0, t / self.anneal_epochs)
        alpha = (1 - jnp.cos(math.pi * x)) / 2 if self.anneal_strategy == "cos" else x
        return self.swa_lr * alpha + self.lr * (1 - alpha)

    def __call__(self, step):
        _check_step("SWALR", step)
        return super().__call__(step)


def _with_cumulative_batch_norm(model: Module) -> Module:
    """A copy of ``model`` whose BatchNorm layers use ``momentum=None`` (cumulative averages).

    torch's ``update_bn`` sets the momentum of its BatchNorm modules in place for the pass;
    fnet modules are frozen configuration, so the pass runs on a copy.
    """
    clone = copy.deepcopy(model)
    for module in clone.modules():
        module.__dict__.pop(_CACHE, None)  # hashes and paths of the copy are its own
        if isinstance(module, _BatchNorm):
            module.__dict__["momentum"] = None
    return clone


def update_bn(loader: Iterable[Any], model: Module, params: dict, state: dict, device: Any = None, *,
              key: jax.Array | None = None) -> dict:
    """BatchNorm running statistics recomputed over ``loader`` for ``(params, state)``.

    One pass in training mode with every BatchNorm's statistics reset and averaged
    cumulatively (torch's ``momentum=None``), as torch's ``update_bn``; the returned state
    has the new ``running_mean``/``running_var``/``num_batches_tracked`` (and whatever
    else training mode updates, as in torch). A batch that is a tuple or list feeds its
    first element to the model.

    Args:
        loader: batches (an ``fnet.data.DataLoader`` or any iterable).
        model: the module (an :class:`AveragedModel` too).
        params, state: its trees.
        device: where batches are put first (``jax.device_put``), like torch's ``device``.
        key: PRNG key for models that draw random numbers in training (dropout).

    Returns:
        The new state tree.

    PyTorch equivalent: ``torch.optim.swa_utils.update_bn(loader, model, device=None)``
    (which updates the model's buffers in place).
    """
    if not isinstance(model, Module):
        raise TypeError(f"update_bn: expected an fnet nn.Module, got {type(model).__name__}")
    norms = [name for name, m in model.named_modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return state
    flat = dict(_tree.flatten(state))
    for name in norms:
        prefix = f"{name}." if name else ""
        if f"{prefix}running_mean" in flat:  # track_running_stats: torch's reset_running_stats()
            flat[f"{prefix}running_mean"] = jnp.zeros_like(flat[f"{prefix}running_mean"])
            flat[f"{prefix}running_var"] = jnp.ones_like(flat[f"{prefix}running_var"])
            flat[f"{prefix}num_batches_tracked"] = jnp.zeros_like(flat[f"{prefix}num_batches_tracked"])
    state = _tree.unflatten(flat)
    cumulative = _with_cumulative_batch_norm(model)

    @jax.jit
    def forward(params, state, x, k):
        return cumulative.apply(params, state, x, train=True, key=k)[1]

    for i, batch in enumerate(loader):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        if device is not None:
            x = jax.device_put(x, device)
        state = forward(params, state, x, None if key is None else jax.random.fold_in(key, i))
    return state
