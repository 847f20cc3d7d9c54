"""Dropout (torch.nn.functional twins): elementwise, channel-wise and alpha dropout.

torch draws its mask from a hidden global generator; fnet takes an explicit ``key``
(keyword-only, after torch's arguments). Whenever a call would draw random numbers
(``training=True`` and ``0 < p < 1``) a missing key is an error that shows the call.
``training=False``, ``p == 0`` and ``p == 1`` are deterministic and need no key.

Every variant is a draw of a boolean keep-mask followed by one of two deterministic
maps (:func:`_apply_keep_mask`, :func:`_apply_alpha_mask`), written so that, given the
same mask, the arithmetic is torch's: ``input * noise`` with ``noise`` in ``{0,
1/(1-p)}`` (``p == 1`` gives ``input * 0``, so NaN/inf inputs stay NaN as in torch).
The parity suite feeds torch's own mask through these maps.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]

# SELU's negative saturation value -scale * alpha, which alpha dropout drops to.
_ALPHA = 1.7580993408473766


def _check_p(where: str, p: float) -> float:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"{where}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _scalar(value: float, dtype: Any) -> jax.Array:
    """A Python float as a 0-d array of ``dtype`` (torch casts scalars to the tensor dtype)."""
    return jnp.asarray(np.asarray(value, dtype=np.dtype(dtype)))


def _require_key(name: str, p: float, key: jax.Array | None) -> jax.Array:
    if key is None:
        raise ValueError(
            f"{name}: training=True with p={p} draws a random mask and needs a PRNG key "
            f"(fnet has no global generator); call F.{name}(x, p={p}, training=True, "
            f"key=jax.random.key(0)) with a new key each step (key, sub = jax.random.split(key)), "
            f"or training=False for the identity. Inside a module use key=ctx.dropout_key(p)."
        )
    return key


def _keep_mask(key: jax.Array, p: float, shape: tuple[int, ...]) -> jax.Array:
    """Boolean mask, True with probability ``1 - p`` (torch's ``bernoulli_(1 - p)``)."""
    return jax.random.bernoulli(key, 1.0 - p, shape)


def _apply_keep_mask(input: jax.Array, keep: jax.Array, p: float) -> jax.Array:
    """``input * noise`` with ``noise = keep / (1 - p)``: torch's dropout given its mask.

    Args:
        input: the array to drop from.
        keep: boolean (or 0/1) mask broadcastable to ``input``; True keeps the element.
        p: drop probability in ``[0, 1)``.
    """
    dtype = input.dtype
    noise = jnp.where(keep, jnp.ones((), dtype), jnp.zeros((), dtype))
    # torch: noise.div_(1 - p), the scalar cast to the tensor dtype before dividing.
    noise = noise / _scalar(1.0 - p, dtype)
    return input * noise


def _apply_alpha_mask(input: jax.Array, keep: jax.Array, p: float) -> jax.Array:
    """Alpha dropout given its mask: ``input * (keep * a) + b``, torch's arithmetic.

    Kept elements become ``a * x + alpha * a * p`` and dropped ones
    ``-alpha * a * (1 - p)``, which keeps zero mean and unit variance for SELU outputs.
    """
    dtype = input.dtype
    a = 1.0 / np.sqrt((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p))
    noise = jnp.where(keep, jnp.ones((), dtype), jnp.zeros((), dtype))
    b = (noise - _scalar(1.0, dtype)) * _scalar(_ALPHA * a, dtype) + _scalar(_ALPHA * a * p, dtype)
    return input * (noise * _scalar(a, dtype)) + b


def _feature_shape(name: str, input: jax.Array) -> tuple[int, ...]:
    """Mask shape ``(N, C, 1, ..., 1)`` that drops whole channels (torch's feature noise)."""
    if input.ndim < 2:
        _checks.fail(name, "an input with at least 2 dimensions (N, C, *) for channel-wise dropout",
                     input)
    return tuple(input.shape[:2]) + (1,) * (input.ndim - 2)


def _run(name: str, input: jax.Array, p: float, training: bool, key: jax.Array | None,
         feature: bool, alpha: bool) -> jax.Array:
    """torch's ``_dropout_impl``: identity, all-zero, or draw a mask and apply it."""
    p = _check_p(name, p)
    input = jnp.asarray(input)
    if p == 0.0 or not training or input.size == 0:
        return input  # torch returns the input untouched, whatever its dtype
    _checks.check_floating(name, input)
    if p == 1.0:
        return input * jnp.zeros((), input.dtype)
    shape = _feature_shape(name, input) if feature else tuple(input.shape)
    keep = _keep_mask(_require_key(name, p, key), p, shape)
    return _apply_alpha_mask(input, keep, p) if alpha else _apply_keep_mask(input, keep, p)


def dropout(input: jax.Array, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            key: jax.Array | None = None) -> jax.Array:
    """Zeroes each element with probability ``p`` and scales the rest by ``1/(1-p)``.

    Args:
        input: any shape ``(*)``, floating point.
        p: drop probability in ``[0, 1]`` (``p == 1`` returns ``input * 0``).
        training: torch's default True applies dropout; False returns ``input``.
        inplace: accepted for signature parity; arrays are immutable.
        key: PRNG key (keyword-only, fnet's addition), required when a mask is drawn.

    Returns:
        Same shape and dtype as ``input``.

    Example::

        y = F.dropout(x, p=0.1, training=True, key=jax.random.key(0))

    PyTorch equivalent: ``torch.nn.functional.dropout``.
    """
    return _run("dropout", input, p, training, key, feature=False, alpha=False)


def dropout1d(input: jax.Array, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              key: jax.Array | None = None) -> jax.Array:
    """Zeroes whole channels of ``(N, C, L)`` or unbatched ``(C, L)`` inputs.

    Each channel ``input[n, c]`` is dropped with probability ``p``; kept channels are
    scaled by ``1/(1-p)``. See :func:`dropout` for ``training``/``key``.

    PyTorch equivalent: ``torch.nn.functional.dropout1d``.
    """
    return _channel_dropout("dropout1d", input, p, training, key, (2, 3), "2D or 3D input (C, L) or (N, C, L)")


def dropout2d(input: jax.Array, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              key: jax.Array | None = None) -> jax.Array:
    """Zeroes whole channels of ``(N, C, H, W)`` inputs.

    Like torch, a 3-D input is treated as ``(N, C, L)`` (channel-wise 1-D dropout, with
    torch's warning), and other ranks warn and still drop along dimension 1.

    PyTorch equivalent: ``torch.nn.functional.dropout2d``.
    """
    p = _check_p("dropout2d", p)
    ndim = jnp.ndim(input)
    if ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated "
                      "and will result in an error in a future release (as in torch); use dropout "
                      "for elementwise masks. dropout2d expects (N, C, H, W).", stacklevel=2)
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L) "
                      "(torch's behaviour); use dropout1d to keep it.", stacklevel=2)
    return _run("dropout2d", input, p, training, key, feature=True, alpha=False)


def dropout3d(input: jax.Array, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              key: jax.Array | None = None) -> jax.Array:
    """Zeroes whole channels of ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` inputs.

    Other ranks warn (as in torch) and drop along dimension 1.

    PyTorch equivalent: ``torch.nn.functional.dropout3d``.
    """
    p = _check_p("dropout3d", p)
    input = jnp.asarray(input)
    ndim = input.ndim
    if ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated "
                      "and will result in an error in a future release (as in torch). dropout3d "
                      "expects (N, C, D, H, W) or (C, D, H, W).", stacklevel=2)
    if ndim == 5:
        return _run("dropout3d", input, p, training, key, feature=True, alpha=False)
    return _run("dropout3d", input[None], p, training, key, feature=True, alpha=False)[0]


def _channel_dropout(name: str, input: jax.Array, p: float, training: bool, key: jax.Array | None,
                     ranks: tuple[int, int], expected: str) -> jax.Array:
    """Channel dropout with an optional batch dimension (``ranks = (unbatched, batched)``)."""
    p = _check_p(name, p)
    input = jnp.asarray(input)
    ndim = input.ndim
    if ndim not in ranks:
        _checks.fail(name, expected, input)
    if ndim == ranks[1]:
        return _run(name, input, p, training, key, feature=True, alpha=False)
    return _run(name, input[None], p, training, key, feature=True, alpha=False)[0]


def alpha_dropout(input: jax.Array, p: float = 0.5, training: bool = False, inplace: bool = False, *,
                  key: jax.Array | None = None) -> jax.Array:
    """Dropout for SELU networks: keeps zero mean and unit variance.

    Dropped elements are set to SELU's negative saturation and the result is affinely
    rescaled: kept elements become ``a * x + alpha * a * p``, dropped ones
    ``-alpha * a * (1 - p)`` (SELU's ``alpha``, ``a`` from ``p``). Note torch's default ``training=False``
    here, unlike :func:`dropout`; ``p == 1`` gives ``input * 0`` as in torch.

    PyTorch equivalent: ``torch.nn.functional.alpha_dropout``.
    """
    return _run("alpha_dropout", input, p, training, key, feature=False, alpha=True)


def feature_alpha_dropout(input: jax.Array, p: float = 0.5, training: bool = False,
                          inplace: bool = False, *, key: jax.Array | None = None) -> jax.Array:
    """Alpha dropout of whole channels (dimension 1 of an ``(N, C, *)`` input).

    PyTorch equivalent: ``torch.nn.functional.feature_alpha_dropout``.
    """
    return _run("feature_alpha_dropout", input, p, training, key, feature=True, alpha=True)
