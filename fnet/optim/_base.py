"""Shared pieces of the torch.optim twins: argument checks, scalar precision, the chain.

Every fnet optimizer is ``optax.chain`` of the same steps torch takes inside
``Optimizer.step``, in torch's order:

1. ``maximize``: negate the gradient (torch negates before weight decay);
2. L2 ``weight_decay``: ``g + wd * p`` (``optax.add_decayed_weights``);
3. the optimizer's own rescaling (momentum, moments...), producing a *direction*;
4. decoupled ``weight_decay`` (AdamW, ``decoupled_weight_decay=True``): ``d + wd * p``;
5. ``-lr`` (``optax.scale_by_learning_rate``, a float or a schedule ``step -> lr``).

Step 4 then 5 gives ``-lr * wd * p``, torch's ``param.mul_(1 - lr * weight_decay)``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _checks

Schedule = Callable[[Any], Any]
ScalarOrSchedule = Union[float, Schedule]


# ---------------------------------------------------------------------------------------
# argument checks (torch's conditions, clearer messages)


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _is_scalar_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, np.generic)) and np.ndim(x) == 0 and not isinstance(x, bool)


def known_value(x: Any) -> float | None:
    """``x`` as a float when its value is known now: a number or a concrete scalar array."""
    if _is_real(x):
        return float(x)
    if _is_scalar_array(x) and (value := _checks.concrete(x)) is not None:
        return float(value)
    return None


def known_zero(x: Any) -> bool:
    """True only for a Python number equal to 0.

    Structural choices (skip the weight decay, plain momentum...) depend on Python
    numbers only: ``optax.inject_hyperparams`` passes arrays, concrete in ``init`` and
    traced in a jitted ``update``, and both calls must build the same state layout.
    """
    return _is_real(x) and x == 0


def check_real(where: str, name: str, value: Any) -> Any:
    """A real number (returned as float) or a scalar array (``optax.inject_hyperparams``)."""
    if _is_scalar_array(value):
        return value
    if not _is_real(value):
        raise TypeError(f"{where}: expected {name} to be a real number, got {value!r} "
                        f"({type(value).__name__})")
    return float(value)


def check_lr(where: str, lr: Any) -> Any:
    """A non-negative float, a schedule (any callable ``step -> lr``), or a scalar array.

    Scalar arrays are what ``optax.inject_hyperparams(fnet.optim.Adam)(lr=1e-3)`` passes
    (to change hyperparameters between steps, as torch users do through
    ``param_groups``); they are checked when their value is known (not under ``jit``).
    """
    if callable(lr):
        return lr
    if not (_is_real(lr) or _is_scalar_array(lr)):
        raise TypeError(f"{where}: expected lr to be a float or a schedule (a callable step -> lr), "
                        f"got {lr!r} ({type(lr).__name__})")
    value = known_value(lr)
    if value is not None and not value >= 0.0:
        raise ValueError(f"{where}: invalid learning rate: expected lr >= 0, got {value!r}")
    return float(lr) if _is_real(lr) else lr


def check_nonneg(where: str, name: str, value: Any, what: str | None = None) -> Any:
    value = check_real(where, name, value)
    known = known_value(value)
    if known is not None and not known >= 0.0:
        raise ValueError(f"{where}: invalid {what or name} value: expected {name} >= 0, got {known!r}")
    return value


def check_betas(where: str, betas: Any) -> tuple[float, float]:
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise TypeError(f"{where}: expected betas to be a pair (beta1, beta2), got {betas!r}")
    out = []
    for i, beta in enumerate(betas):
        if not _is_real(beta):  # the bias corrections need Python numbers (log(beta) in double)
            raise TypeError(f"{where}: expected betas[{i}] to be a real number, got {beta!r}")
        beta = float(beta)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{where}: invalid beta parameter at index {i}: "
                             f"expected 0 <= betas[{i}] < 1, got {beta!r}")
        out.append(beta)
    return out[0], out[1]


def check_pair(where: str, name: str, value: Any) -> tuple[float, float]:
    """A pair of Python real numbers (``etas``, ``step_sizes``...)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{where}: expected {name} to be a pair of numbers, got {value!r}")
    for i, x in enumerate(value):
        if not _is_real(x):
            raise TypeError(f"{where}: expected {name}[{i}] to be a real number, got {x!r}")
    return float(value[0]), float(value[1])


def check_int(where: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: expected {name} to be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: invalid {name}: expected {name} >= {minimum}, got {value!r}")
    return int(value)


def check_bool(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, int)):
        raise TypeError(f"{where}: expected {name} to be a bool, got {value!r}")
    return bool(value)


# ---------------------------------------------------------------------------------------
# precision of step-dependent scalars


def scalar_dtype():
    """dtype of step-dependent scalars (bias corrections, NAdam's mu_product...).

    torch computes them in Python floats (double). fnet uses float64 whenever JAX's
    64-bit mode is on (whatever the parameter dtype) and float32 otherwise; the values
    are cast to each parameter's dtype only where they multiply it.
    """
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def as_float(count: jax.Array) -> jax.Array:
    return jnp.asarray(count).astype(scalar_dtype())


def pow_of(base: float, exponent: jax.Array) -> jax.Array:
    """``base ** exponent`` for a Python ``base > 0`` and a float array exponent.

    Evaluated as ``exp(exponent * log(base))`` with ``log(base)`` in double precision:
    ``base`` itself is never rounded to float32 (0.999 in float32 is 0.99900001).
    """
    if base == 0.0:
        return jnp.where(exponent == 0, 1.0, 0.0).astype(exponent.dtype)
    return jnp.exp(exponent * math.log(base))


def one_minus_pow(beta: float, exponent: jax.Array) -> jax.Array:
    """``1 - beta ** exponent`` (Adam's bias correction) without cancellation.

    ``-expm1(t * log(beta))`` is accurate to a few ulps in float32 too, where optax's
    ``1 - beta ** count`` with float32 ``beta = 0.999`` is off by 1.3e-5 relative
    (``beta`` is rounded before the power). torch computes it in double.
    """
    if beta == 0.0:
        return jnp.where(exponent == 0, 0.0, 1.0).astype(exponent.dtype)
    return -jnp.expm1(exponent * math.log(beta))


def like(scalar: jax.Array, x: jax.Array) -> jax.Array:
    """A step scalar cast to ``x``'s dtype, so float32 leaves stay float32."""
    return jnp.asarray(scalar).astype(x.dtype)


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1`` that saturates at int32's maximum instead of wrapping."""
    big = jnp.iinfo(count.dtype).max
    return jnp.where(count < big, count + 1, big).astype(count.dtype)


def lerp(start: jax.Array, end: jax.Array, weight: Any) -> jax.Array:
    """torch's ``start.lerp_(end, weight)``, in torch's two forms.

    torch evaluates ``start + w * (end - start)`` for ``|w| < 0.5`` and
    ``end - (end - start) * (1 - w)`` otherwise (the rounding differs, not the value).
    ``weight`` is a Python number (the form is chosen now) or a scalar array, such as
    Adafactor's step-dependent ``t ** beta2_decay`` (both forms, selected per step).
    """
    if _is_real(weight):
        if abs(weight) < 0.5:
            return start + weight * (end - start)
        return end - (end - start) * (1.0 - weight)
    w = like(weight, start)
    return jnp.where(jnp.abs(w) < 0.5, start + w * (end - start), end - (end - start) * (1 - w))


def schedule_value(lr: ScalarOrSchedule, count: jax.Array) -> Any:
    """``lr`` at ``count`` updates applied so far: a schedule is called, a number returned.

    For the optimizers whose rule uses the lr *inside* the step (Adafactor's
    ``min(lr, 1/sqrt(t))``, ASGD's ``eta``, Muon's decay), where the chain's final
    ``-lr`` scaling cannot express it.
    """
    return lr(count) if callable(lr) else lr


def map_unzip(fn: Callable[..., tuple], tree: Any, *rest: Any) -> tuple:
    """``jax.tree.map`` of a function returning a tuple, as a tuple of trees shaped like ``tree``."""
    treedef = jax.tree.structure(tree)
    leaves = [treedef.flatten_up_to(r) for r in rest]
    outs = [fn(x, *others) for x, *others in zip(treedef.flatten_up_to(tree), *leaves)]
    if not outs:
        return None
    return tuple(treedef.unflatten(list(col)) for col in zip(*outs))


def updates_to(new_params: Any, params: Any) -> Any:
    """The additive update taking ``params`` to ``new_params`` (optax applies ``p + u``).

    Used by optimizers that write their new parameters torch's way (``p.mul_(...)``
    then ``p.add_(...)``): ``new - p`` is exact whenever ``new`` and ``p`` are within a
    factor two of each other (Sterbenz), so ``p + (new - p)`` gives back ``new`` bit for
    bit for every ordinary step.
    """
    if params is None:
        raise ValueError("this optimizer needs the parameters: call update(grads, state, params)")
    return jax.tree.map(lambda n, p: (n - p).astype(p.dtype), new_params, params)


# ---------------------------------------------------------------------------------------
# the chain


def torch_chain(core: optax.GradientTransformation, *, lr: ScalarOrSchedule,
                weight_decay: float = 0.0, decoupled: bool = False,
                maximize: bool = False) -> optax.GradientTransformation:
    """maximize -> L2 decay -> core -> decoupled decay -> -lr (see the module docstring)."""
    parts = []
    if maximize:
        parts.append(optax.scale(-1.0))
    if not known_zero(weight_decay) and not decoupled:
        parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(core)
    if not known_zero(weight_decay) and decoupled:
        parts.append(optax.add_decayed_weights(weight_decay))
    parts.append(optax.scale_by_learning_rate(lr))
    return optax.chain(*parts)
