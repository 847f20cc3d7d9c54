"""TEMPORARY private stand-in for F.gelu (branch act), deleted when it lands on main."""

from __future__ import annotations

import jax


def gelu(input, approximate="none"):
    return jax.nn.gelu(input, approximate=approximate == "tanh")
