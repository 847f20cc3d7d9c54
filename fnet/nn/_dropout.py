"""Dropout layers: ``Dropout``, ``Dropout1d/2d/3d``, ``AlphaDropout``, ``FeatureAlphaDropout``.

In training (``model.apply(..., train=True, key=key)``) each layer draws its mask from
``ctx.dropout_key(p)``; in evaluation it is the identity. A layer never needs a key in
evaluation, nor when ``p`` is 0 or 1.
"""

from __future__ import annotations

from typing import Callable

import jax

from .. import _checks
from .. import functional as F
from ._module import Context, Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """Shared configuration: ``p`` and ``inplace`` (accepted; arrays are immutable)."""

    _fn: Callable = staticmethod(F.dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, "
                             f"but got {p}")
        self.p = p
        self.inplace = inplace

    def _check(self, input: jax.Array) -> None:
        """Rank checks of the channel-wise variants (none for elementwise dropout)."""

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        self._check(input)
        return type(self)._fn(input, self.p, ctx.train, key=ctx.dropout_key(self.p))

    def _no_direct_call(self) -> str | None:
        # torch modules start in train mode, so `nn.Dropout(0.5)(x)` drops in torch but a
        # direct fnet call would run in eval mode: refuse rather than silently differ.
        name = {"Dropout": "dropout", "Dropout1d": "dropout1d", "Dropout2d": "dropout2d",
                "Dropout3d": "dropout3d", "AlphaDropout": "alpha_dropout",
                "FeatureAlphaDropout": "feature_alpha_dropout"}[type(self).__name__]
        return (f"a torch module starts in train mode, so a direct call would be ambiguous "
                f"(torch drops, an fnet direct call runs in eval mode). Use "
                f"F.{name}(x, p={self.p}, training=True, key=key) for a random mask (or "
                f"training=False for the identity)")

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability ``p`` in training; scales kept ones by ``1/(1-p)``.

    Args:
        p: drop probability (default 0.5).
        inplace: accepted for signature parity; arrays are immutable.

    Shape: ``(*)`` to ``(*)``.

    Training needs a key: ``model.apply(params, state, x, train=True, key=key)``.
    Calling ``nn.Dropout(p)(x)`` directly is refused (torch would be in train mode);
    use ``F.dropout(x, p, training=True, key=key)``.

    PyTorch equivalent: ``torch.nn.Dropout``.
    """

    _fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels: input ``(N, C, L)`` or ``(C, L)``, output the same shape.

    PyTorch equivalent: ``torch.nn.Dropout1d``.
    """

    _fn = staticmethod(F.dropout1d)

    def _check(self, input: jax.Array) -> None:
        _checks.check_ndim(None, input, (2, 3), "2D or 3D input (C, L) or (N, C, L)")


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of ``(N, C, H, W)`` inputs (a 3-D input is read as ``(N, C, L)``
    with torch's warning).

    PyTorch equivalent: ``torch.nn.Dropout2d``.
    """

    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs.

    PyTorch equivalent: ``torch.nn.Dropout3d``.
    """

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks (keeps zero mean, unit variance). Shape ``(*)``.

    PyTorch equivalent: ``torch.nn.AlphaDropout``.
    """

    _fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of an ``(N, C, *)`` input.

    PyTorch equivalent: ``torch.nn.FeatureAlphaDropout``.
    """

    _fn = staticmethod(F.feature_alpha_dropout)
