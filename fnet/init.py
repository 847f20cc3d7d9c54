"""Twins of ``torch.nn.init`` as pure functions of a PRNG key.

torch's initialisers fill a tensor in place (``init.kaiming_uniform_(w, a=5 ** 0.5)``);
fnet's take a key and a shape and return a new array with the same distribution::

    w = fnet.init.kaiming_uniform_(key, (128, 784), a=5 ** 0.5)

Every function has the signature ``fn(key, shape, *torch_args, dtype=jnp.float32)``,
so any of them can be given to ``nn.Parameter(shape, init=...)``. The trailing
underscore keeps torch's names; nothing is mutated. Random values differ from
torch's by design (different generators): the parity suite checks the distributions.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

Shape = Sequence[int]

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_", "trunc_normal_", "dirac_", "sparse_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
               "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    PyTorch equivalent: ``torch.nn.init.calculate_gain``.
    """
    if nonlinearity in _LINEAR_FNS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(shape: Shape, caller: str) -> tuple[int, int]:
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(
            f"{caller}: fan in and fan out need an array with at least 2 dimensions, "
            f"got shape {shape}"
        )
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform_(key: jax.Array, shape: Shape, a: float = 0.0, b: float = 1.0,
             dtype=jnp.float32) -> jax.Array:
    """Samples U(a, b). PyTorch equivalent: ``torch.nn.init.uniform_``."""
    return jax.random.uniform(key, tuple(shape), dtype, minval=a, maxval=b)


def normal_(key: jax.Array, shape: Shape, mean: float = 0.0, std: float = 1.0,
            dtype=jnp.float32) -> jax.Array:
    """Samples N(mean, std^2). PyTorch equivalent: ``torch.nn.init.normal_``."""
    return mean + std * jax.random.normal(key, tuple(shape), dtype)


def constant_(key: jax.Array | None, shape: Shape, val: float, dtype=jnp.float32) -> jax.Array:
    """Fills with ``val`` (the key is ignored). PyTorch equivalent: ``torch.nn.init.constant_``."""
    return jnp.full(tuple(shape), val, dtype)


def zeros_(key: jax.Array | None, shape: Shape, dtype=jnp.float32) -> jax.Array:
    """Fills with 0. PyTorch equivalent: ``torch.nn.init.zeros_``."""
    return jnp.zeros(tuple(shape), dtype)


def ones_(key: jax.Array | None, shape: Shape, dtype=jnp.float32) -> jax.Array:
    """Fills with 1. PyTorch equivalent: ``torch.nn.init.ones_``."""
    return jnp.ones(tuple(shape), dtype)


def eye_(key: jax.Array | None, shape: Shape, dtype=jnp.float32) -> jax.Array:
    """Identity matrix of a 2-D shape. PyTorch equivalent: ``torch.nn.init.eye_``."""
    if len(shape) != 2:
        raise ValueError(f"eye_: expected a 2-D shape, got {tuple(shape)}")
    return jnp.eye(shape[0], shape[1], dtype=dtype)


def xavier_uniform_(key: jax.Array, shape: Shape, gain: float = 1.0,
                    dtype=jnp.float32) -> jax.Array:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    PyTorch equivalent: ``torch.nn.init.xavier_uniform_``.
    """
    fan_in, fan_out = _fans(shape, "xavier_uniform_")
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(key, shape, -bound, bound, dtype)


def xavier_normal_(key: jax.Array, shape: Shape, gain: float = 1.0,
                   dtype=jnp.float32) -> jax.Array:
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).

    PyTorch equivalent: ``torch.nn.init.xavier_normal_``.
    """
    fan_in, fan_out = _fans(shape, "xavier_normal_")
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(key, shape, 0.0, std, dtype)


def _kaiming_std(shape: Shape, a: float, mode: str, nonlinearity: str, caller: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{caller}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(shape, caller)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"{caller}: cannot initialise an array with zero {mode}, shape {tuple(shape)}")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(key: jax.Array, shape: Shape, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", dtype=jnp.float32) -> jax.Array:
    """He uniform: U(-b, b), b = gain(nonlinearity, a) * sqrt(3 / fan).

    torch's default Linear/Conv weight init is ``kaiming_uniform_(a=sqrt(5))``.

    PyTorch equivalent: ``torch.nn.init.kaiming_uniform_``.
    """
    if 0 in tuple(shape):  # torch: a no-op with a warning (e.g. Linear(in_features=0, ...))
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return jnp.zeros(tuple(shape), dtype)
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(key, shape, -bound, bound, dtype)


def kaiming_normal_(key: jax.Array, shape: Shape, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", dtype=jnp.float32) -> jax.Array:
    """He normal: N(0, std^2), std = gain(nonlinearity, a) / sqrt(fan).

    PyTorch equivalent: ``torch.nn.init.kaiming_normal_``.
    """
    if 0 in tuple(shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return jnp.zeros(tuple(shape), dtype)
    std = _kaiming_std(shape, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(key, shape, 0.0, std, dtype)


def orthogonal_(key: jax.Array, shape: Shape, gain: float = 1.0, dtype=jnp.float32) -> jax.Array:
    """A (semi-)orthogonal matrix, flattened over trailing dims, times ``gain``.

    PyTorch equivalent: ``torch.nn.init.orthogonal_``.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal_: expected at least 2 dimensions, got shape {shape}")
    rows = shape[0]
    cols = math.prod(shape) // rows if rows else 0
    flat = jax.random.normal(key, (rows, cols), jnp.float32)
    if rows < cols:
        flat = flat.T
    q, r = jnp.linalg.qr(flat)
    # Sign fix makes the distribution uniform (Haar), as torch does.
    q = q * jnp.sign(jnp.diagonal(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


def trunc_normal_(key: jax.Array, shape: Shape, mean: float = 0.0, std: float = 1.0,
                  a: float = -2.0, b: float = 2.0, dtype=jnp.float32) -> jax.Array:
    """N(mean, std^2) truncated to [a, b] (absolute bounds, as torch).

    PyTorch equivalent: ``torch.nn.init.trunc_normal_``.
    """
    lower, upper = (a - mean) / std, (b - mean) / std
    z = jax.random.truncated_normal(key, lower, upper, tuple(shape), jnp.float32)
    return (mean + std * z).astype(dtype)


def dirac_(key: jax.Array | None, shape: Shape, groups: int = 1, dtype=jnp.float32) -> jax.Array:
    """The Dirac delta: a convolution weight that passes its input channels through.

    For each of the ``groups`` groups, output channel ``d`` of the group takes input
    channel ``d`` at the kernel's centre (``min(C_out / groups, C_in)`` channels).

    Args:
        key: unused (deterministic), accepted so every initialiser has one signature.
        shape: ``(C_out, C_in, *kernel)`` with 1 to 3 kernel dims.
        groups: number of groups; ``C_out`` must be divisible by it.

    PyTorch equivalent: ``torch.nn.init.dirac_``.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"dirac_: only arrays with 3, 4, or 5 dimensions are supported, got shape {shape}")
    if groups < 1 or shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({shape[0]}) must be divisible by groups ({groups})")
    per_group = shape[0] // groups
    n = min(per_group, shape[1])
    out = np.zeros(shape, np.float64)
    centre = tuple(k // 2 for k in shape[2:])
    for g in range(groups):
        for d in range(n):
            out[(g * per_group + d, d) + centre] = 1.0
    return jnp.asarray(out, dtype)


def sparse_(key: jax.Array, shape: Shape, sparsity: float, std: float = 0.01,
            dtype=jnp.float32) -> jax.Array:
    """A sparse matrix: N(0, std^2) entries with ``ceil(sparsity * rows)`` zeros per column
    at random rows (Martens, 2010).

    Args:
        key: PRNG key.
        shape: ``(rows, cols)``.
        sparsity: fraction of each column set to zero.
        std: standard deviation of the non-zero entries.

    PyTorch equivalent: ``torch.nn.init.sparse_``.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2:
        raise ValueError(f"sparse_: only arrays with 2 dimensions are supported, got shape {shape}")
    rows, cols = shape
    num_zeros = int(math.ceil(sparsity * rows))
    k_values, k_rows = jax.random.split(key)
    values = normal_(k_values, shape, 0.0, std, dtype)
    # one random permutation of the rows per column; its first num_zeros rows are zeroed
    ranks = jnp.argsort(jax.random.uniform(k_rows, shape), axis=0).argsort(axis=0)
    return jnp.where(ranks < num_zeros, jnp.zeros((), dtype), values)


def torch_default_bound(fan_in: int) -> float:
    """``1/sqrt(fan_in)``: torch's default bias bound (and Linear/Conv weight bound)."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
