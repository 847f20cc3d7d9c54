"""Activation functions (torch.nn.functional twins)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["relu"]


def relu(input: jax.Array, inplace: bool = False) -> jax.Array:
    """max(0, x). ``inplace`` is accepted for signature parity and ignored (arrays are immutable).

    PyTorch equivalent: ``torch.nn.functional.relu``.
    """
    return jax.nn.relu(input)
