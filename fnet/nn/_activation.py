"""Activation modules, one per ``fnet.functional`` activation."""

from __future__ import annotations

import jax

from .. import functional as F
from ._module import Context, Module

__all__ = ["ReLU"]


class ReLU(Module):
    """``max(0, x)`` elementwise. Shape: ``(*)`` to ``(*)``.

    Args:
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.ReLU``.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""
