"""Mixed precision for any fnet model, without changing its code::

    policy = fnet.precision.Policy(compute_dtype="bfloat16")     # params stay float32
    fast = fnet.precision.mixed_precision(model, policy)         # same params, same names
    out, state = fast.apply(params, state, x)                    # bf16 compute, f32 output

What the policy does, and why:

* parameters are stored in ``param_dtype`` (float32) and cast to ``compute_dtype`` for the
  forward pass, so the optimizer updates float32 master weights (as torch autocast does);
* parameters and buffers of normalisation layers stay float32 and those layers compute
  their statistics in float32 (mean/variance in bf16 lose too much);
* floating-point outputs are cast to ``output_dtype`` (float32), so losses and metrics are
  computed in float32;
* for float16, a :class:`GradScaler` (torch's ``torch.amp.GradScaler`` defaults) scales the
  loss, unscales the gradients, skips steps with non-finite gradients and adapts the scale.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _tree
from .nn._module import Module

__all__ = ["Policy", "mixed_precision", "MixedPrecision", "GradScaler", "NORM_LAYERS"]

# Class names of layers whose parameters stay float32 and which normalise in float32.
NORM_LAYERS = ("LayerNorm", "RMSNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm",
               "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm")


@dataclasses.dataclass(frozen=True)
class Policy:
    """Dtypes for storage, compute and outputs.

    Attributes:
        param_dtype: dtype parameters are stored and updated in.
        compute_dtype: dtype of the forward pass (``"bfloat16"`` or ``"float16"``).
        output_dtype: dtype floating outputs are returned in (losses are computed in it).
        keep_norms_in_float32: normalisation layers keep float32 parameters.
    """

    param_dtype: Any = "float32"
    compute_dtype: Any = "bfloat16"
    output_dtype: Any = "float32"
    keep_norms_in_float32: bool = True


def _cast_floating(tree: Any, dtype: Any) -> Any:
    def cast(x):
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
            return x.astype(dtype)
        return x

    return jax.tree.map(cast, tree)


def _norm_prefixes(model: Module) -> list[str]:
    return [name for name, module in model.named_modules() if type(module).__name__ in NORM_LAYERS]


class MixedPrecision(Module):
    """Runs ``module`` under a :class:`Policy`; its parameter tree is ``module``'s own
    (no extra prefix), so checkpoints and optimizers see the same names."""

    def __init__(self, module: Module, policy: Policy):
        super().__init__()
        self.module = module
        self.policy = policy

    def init(self, key: jax.Array):
        params, state = self.module.init(key)
        return _cast_floating(params, self.policy.param_dtype), state

    def _compute_params(self, params: Mapping) -> dict:
        flat = _tree.flatten(params)
        norms = _norm_prefixes(self.module) if self.policy.keep_norms_in_float32 else []
        out = {}
        for name, value in flat.items():
            in_norm = any(name == p or name.startswith(p + ".") for p in norms if p) or ("" in norms)
            out[name] = value.astype(jnp.float32) if in_norm else _cast_floating(value, self.policy.compute_dtype)
        return _tree.unflatten(out)

    def apply(self, params: Mapping, state: Mapping, *inputs: Any, train: bool = False,
              key: jax.Array | None = None, **kwargs: Any):
        compute = self.policy.compute_dtype
        out, new_state = self.module.apply(self._compute_params(params), state,
                                           *_cast_floating(inputs, compute), train=train, key=key,
                                           **_cast_floating(kwargs, compute))
        # Buffers keep their own dtype (running statistics stay float32).
        new_state = jax.tree.map(lambda new, old: new.astype(old.dtype), new_state, state)
        return _cast_floating(out, self.policy.output_dtype), new_state

    def forward(self, ctx, *inputs, **kwargs):
        raise TypeError("MixedPrecision: use .apply(params, state, ...); it cannot be nested as a child")

    def extra_repr(self) -> str:
        p = self.policy
        return f"param_dtype={p.param_dtype}, compute_dtype={p.compute_dtype}, output_dtype={p.output_dtype}"


def mixed_precision(model: Module, policy: Policy | None = None) -> MixedPrecision:
    """Wraps ``model`` so that ``apply`` computes in ``policy.compute_dtype`` (bf16 by default)."""
    return MixedPrecision(model, policy or Policy())


class ScalerState(NamedTuple):
    scale: jax.Array
    growth_tracker: jax.Array


class GradScaler:
    """Dynamic loss scaling for float16 training (torch's ``torch.amp.GradScaler``).

    ``fnet.train.make_train_step(..., grad_scaler=GradScaler())`` multiplies the loss by
    ``scale``, divides the gradients by it, skips the update when a gradient is not
    finite (halving the scale), and doubles the scale after ``growth_interval``
    consecutive finite steps. bfloat16 has float32's range and needs no scaler.

    Args:
        init_scale, growth_factor, backoff_factor, growth_interval: torch's defaults.
    """

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000):
        self.init_scale = init_scale
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = growth_interval

    def init(self) -> ScalerState:
        return ScalerState(jnp.asarray(self.init_scale, jnp.float32), jnp.zeros((), jnp.int32))

    def update(self, state: ScalerState, grads_finite: jax.Array) -> ScalerState:
        tracker = jnp.where(grads_finite, state.growth_tracker + 1, 0)
        grow = tracker >= self.growth_interval
        scale = jnp.where(grads_finite, jnp.where(grow, state.scale * self.growth_factor, state.scale),
                          state.scale * self.backoff_factor)
        return ScalerState(scale, jnp.where(grow, 0, tracker))

    @staticmethod
    def all_finite(grads: Any) -> jax.Array:
        leaves = [jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)]
        return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def scaled_optimizer(optimizer: optax.GradientTransformation, scaler: GradScaler
                     ) -> optax.GradientTransformation:
    """``optimizer`` whose state also carries the loss scale; updates with non-finite
    gradients are skipped (zero update, optimizer state unchanged)."""

    def init(params):
        return (optimizer.init(params), scaler.init())

    def update(grads, state, params=None):
        inner, scale_state = state
        finite = GradScaler.all_finite(grads)
        safe = jax.tree.map(lambda g: jnp.where(finite, g, jnp.zeros_like(g)), grads)
        updates, new_inner = optimizer.update(safe, inner, params)
        updates = jax.tree.map(lambda u: jnp.where(finite, u, jnp.zeros_like(u)), updates)
        new_inner = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_inner, inner)
        return updates, (new_inner, scaler.update(scale_state, finite))

    return optax.GradientTransformation(init, update)
