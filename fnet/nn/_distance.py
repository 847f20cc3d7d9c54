"""Distance layers: ``CosineSimilarity``, ``PairwiseDistance``."""

from __future__ import annotations

import jax

from ..functional._distance import cosine_similarity, pairwise_distance
from ._module import Context, Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """Cosine similarity of two broadcastable inputs along ``dim``.

    Args:
        dim: the dimension reduced (default 1).
        eps: lower bound of each norm (default 1e-8).

    Shape: ``x1`` ``(*1, D, *2)``, ``x2`` broadcastable to it; output ``(*1, *2)``.

    PyTorch equivalent: ``torch.nn.CosineSimilarity``.
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, ctx: Context, x1: jax.Array, x2: jax.Array) -> jax.Array:
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """p-norm of ``x1 - x2 + eps`` over the last dimension.

    Args:
        p: the norm degree (default 2); stored as ``norm``, as in torch.
        eps: added to the difference (default 1e-6).
        keepdim: keep the reduced dimension.

    Shape: ``(N, D)`` or ``(D,)`` inputs (broadcastable); output ``(N)`` or ``()``
    (``(N, 1)`` with ``keepdim``).

    PyTorch equivalent: ``torch.nn.PairwiseDistance``.
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, ctx: Context, x1: jax.Array, x2: jax.Array) -> jax.Array:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
