"""Reshaping layers: ``Flatten``, ``Unflatten``."""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from .. import _checks
from ._module import Context, Module

__all__ = ["Flatten", "Unflatten"]


def _wrap(name: str, dim: int, x: jax.Array) -> int:
    rank = max(x.ndim, 1)  # torch treats a 0-d tensor as having one dimension here
    if not -rank <= dim < rank:
        _checks.fail(None, f"{name}={dim} within the input's dimensions [{-rank}, {rank - 1}]", x)
    return dim % rank


class Flatten(Module):
    """Flattens dimensions ``start_dim..end_dim`` (inclusive) into one.

    Args:
        start_dim: first dimension to flatten (default 1, keeping the batch).
        end_dim: last dimension to flatten (default -1).

    Shape: ``(*, S_start, ..., S_end, *)`` to ``(*, prod(S_start..S_end), *)``; a 0-d
    input becomes ``(1,)`` as in torch.

    PyTorch equivalent: ``torch.nn.Flatten``.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        input = jnp.asarray(input)
        start = _wrap("start_dim", self.start_dim, input)
        end = _wrap("end_dim", self.end_dim, input)
        if start > end:
            raise ValueError(f"start_dim={self.start_dim} cannot come after end_dim="
                             f"{self.end_dim} (dimensions {start} > {end} of shape "
                             f"{_checks.fmt_shape(input.shape)})")
        if input.ndim == 0:
            return input.reshape(1)
        shape = input.shape
        return input.reshape(*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size`` (one entry may be -1, inferred).

    Args:
        dim: the dimension to split.
        unflattened_size: a tuple (or list) of ints whose product is the size of ``dim``.

    Shape: ``(*, S_dim, *)`` to ``(*, U_1, ..., U_n, *)``.

    PyTorch equivalent: ``torch.nn.Unflatten``.
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, int):
                raise TypeError(f"Unflatten: unflattened_size must be tuple of ints, but found "
                                f"element of type {type(elem).__name__} at pos {idx}")
        self.dim = dim
        self.unflattened_size = (tuple(unflattened_size) if isinstance(unflattened_size, tuple)
                                 else list(unflattened_size))

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        input = jnp.asarray(input)
        if input.ndim == 0:
            _checks.fail(None, f"an input with at least 1 dimension to split dim={self.dim}", input)
        dim = _wrap("dim", self.dim, input)
        sizes = list(self.unflattened_size)
        size = input.shape[dim]
        inferred = [i for i, s in enumerate(sizes) if s == -1]
        known = math.prod(s for s in sizes if s != -1)
        if len(inferred) > 1 or any(s < -1 for s in sizes):
            raise ValueError(f"unflattened_size may hold at most one -1 and no other negative "
                             f"size, got {tuple(sizes)}")
        if inferred:
            if known == 0 or size % known:
                _checks.fail(None, f"dimension {dim} divisible by {known} to split into "
                             f"{tuple(sizes)}", input)
            sizes[inferred[0]] = size // known
        elif known != size:
            _checks.fail(None, f"dimension {dim} of size {known} = prod{tuple(sizes)}", input)
        return input.reshape(*input.shape[:dim], *sizes, *input.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
