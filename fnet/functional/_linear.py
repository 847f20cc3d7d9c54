"""Linear maps: ``linear`` and ``bilinear``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _checks

__all__ = ["linear"]


def linear(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None) -> jax.Array:
    """Applies ``y = x W^T + b``.

    Args:
        input: ``(*, in_features)``.
        weight: ``(out_features, in_features)``, torch's layout.
        bias: ``(out_features,)`` or None.

    Returns:
        ``(*, out_features)``.

    PyTorch equivalent: ``torch.nn.functional.linear``.
    """
    in_features = weight.shape[-1]
    if jnp.ndim(input) < 1 or _checks.shape_of(input)[-1] != in_features:
        _checks.fail("linear", f"input (*, {in_features}) to match weight "
                     f"{_checks.fmt_shape(weight.shape)}", input)
    out = jnp.matmul(input, weight.T) if weight.ndim == 2 else jnp.matmul(input, weight)
    if bias is not None:
        out = out + bias
    return out
