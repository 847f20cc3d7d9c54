"""Linear maps: ``linear``, ``bilinear`` and ``grouped_mm``."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks

__all__ = ["linear", "bilinear", "grouped_mm"]


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
    if weight.ndim != 2:
        out = jnp.matmul(input, weight)
    elif math.prod(_checks.shape_of(input)[:-1]) == 1:
        # One row: as W x. Written x W^T, XLA:CPU copies W into its matrix-vector kernel's
        # layout on every call (benchmark MLP at batch 1: 0.53 ms against 0.08 ms); from two
        # rows on both forms cost the same (benchmarks/README.md, *Inference*).
        out = jnp.matmul(weight, jnp.reshape(input, (in_features, 1))).reshape(*jnp.shape(input)[:-1], -1)
    else:
        out = jnp.matmul(input, weight.T)
    if bias is not None:
        out = out + bias
    return out


def bilinear(input1: jax.Array, input2: jax.Array, weight: jax.Array,
             bias: jax.Array | None = None) -> jax.Array:
    """Applies ``y_k = x1^T A_k x2 + b_k`` for each output feature ``k``.

    Args:
        input1: ``(*, in1_features)``.
        input2: ``(*, in2_features)`` with the same leading dimensions as ``input1``.
        weight: ``(out_features, in1_features, in2_features)``, torch's layout.
        bias: ``(out_features,)`` or None.

    Returns:
        ``(*, out_features)``.

    PyTorch equivalent: ``torch.nn.functional.bilinear``.
    """
    where = 'bilinear'
    s1, s2, sw = _checks.shape_of(input1), _checks.shape_of(input2), _checks.shape_of(weight)
    if len(sw) != 3:
        _checks.fail(where, "a 3-D weight (out_features, in1_features, in2_features)", weight)
    out_f, in1, in2 = sw
    if len(s1) != len(s2):
        raise ValueError(f"{where}: expected input1 and input2 with the same number of dimensions, "
                         f"got shapes {_checks.fmt_shape(s1)} and {_checks.fmt_shape(s2)}")
    if len(s1) < 1 or s1[:-1] != s2[:-1]:
        raise ValueError(f"{where}: expected input1 (*, {in1}) and input2 (*, {in2}) with the same "
                         f"batch dimensions *, got shapes {_checks.fmt_shape(s1)} and "
                         f"{_checks.fmt_shape(s2)}")
    if s1[-1] != in1:
        _checks.fail(where, f"input1 (*, {in1}) to match weight {_checks.fmt_shape(sw)}", input1)
    if s2[-1] != in2:
        _checks.fail(where, f"input2 (*, {in2}) to match weight {_checks.fmt_shape(sw)}", input2)
    if bias is not None and _checks.shape_of(bias) != (out_f,):
        _checks.fail(where, f"bias ({out_f},) to match weight {_checks.fmt_shape(sw)}", bias)
    # (*, i) x (o, i, j) -> (*, o, j), then contract j with input2: two matmuls, like torch.
    tmp = jnp.einsum("...i,oij->...oj", input1, weight)
    out = jnp.einsum("...oj,...j->...o", tmp, input2)
    if bias is not None:
        out = out + bias
    return out


def _group_sizes(where: str, offs: Any, length: int, groups: int | None) -> jax.Array:
    offs = jnp.asarray(offs)
    if offs.ndim != 1 or not jnp.issubdtype(offs.dtype, jnp.integer):
        raise TypeError(f"{where}: expected offs to be a 1-D integer array (torch: int32), got dtype "
                        f"{offs.dtype} and shape {_checks.fmt_shape(offs.shape)}")
    if groups is not None and offs.shape[0] != groups:
        raise ValueError(f"{where}: expected {groups} offsets, one per group of the 3-D operand, got "
                         f"{offs.shape[0]}")
    if not _checks.is_traced(offs):
        values = np.asarray(offs)
        if values.size and (np.any(np.diff(values) < 0) or values[0] < 0 or values[-1] > length):
            raise ValueError(f"{where}: offs must be non-decreasing ends of the groups within the "
                             f"sliced dimension of size {length}, got {values.tolist()}")
    return jnp.diff(offs.astype(jnp.int32), prepend=0)


def grouped_mm(mat_a: jax.Array, mat_b: jax.Array, *, offs: jax.Array | None = None,
               bias: jax.Array | None = None, out_dtype: Any = None) -> jax.Array:
    """Matrix products of groups of jagged sizes (mixture-of-experts layers), in one call.

    Four layouts, as torch's:

    * ``(M, K) x (G, K, N)`` with ``offs``: rows ``[offs[g-1], offs[g])`` of ``mat_a``
      use ``mat_b[g]`` -> ``(M, N)`` (the experts' forward pass);
    * ``(G, M, K) x (G, K, N)``: a batched product -> ``(G, M, N)``;
    * ``(M, K) x (K, N)`` with ``offs`` slicing ``K``: ``out[g] = a[:, K_g] @ b[K_g]`` ->
      ``(G, M, N)`` (the experts' weight gradient);
    * ``(G, M, K) x (K, N)`` with ``offs`` slicing ``N``: ``out[:, N_g] = a[g] @ b[:, N_g]``
      -> ``(M, N)``.

    Rows or columns past ``offs[-1]`` come out as zeros (torch's CPU kernel leaves them
    uninitialised). The first two layouts run as ``jax.lax.ragged_dot``; the
    ``K``-sliced one as ``G`` masked products (JAX has no gradient for a ragged
    contraction yet).

    Args:
        mat_a, mat_b: the operands (any floating dtype; torch's CPU kernel takes float32,
            bfloat16 and float16).
        offs: ``(G,)`` non-decreasing integer ends of the groups of the 2-D operand.
        bias: not supported, as in torch 2.13 (raises ``NotImplementedError``).
        out_dtype: dtype of the result (and of the accumulation).

    PyTorch equivalent: ``torch.nn.functional.grouped_mm``.
    """
    where = "grouped_mm"
    if bias is not None:
        raise NotImplementedError(f"{where}: bias is not supported (torch 2.13 raises 'Bias not "
                                  f"supported yet' too)")
    a, b = jnp.asarray(mat_a), jnp.asarray(mat_b)
    _checks.check_floating(where, a, "mat_a")
    _checks.check_floating(where, b, "mat_b")
    if a.ndim not in (2, 3) or b.ndim not in (2, 3):
        raise ValueError(f"{where}: expected 2-D or 3-D operands, got mat_a {_checks.fmt_shape(a.shape)} "
                         f"and mat_b {_checks.fmt_shape(b.shape)}")
    k_a = a.shape[-1]
    k_b = b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"{where}: contraction sizes differ: mat_a {_checks.fmt_shape(a.shape)} (K={k_a}) "
                         f"and mat_b {_checks.fmt_shape(b.shape)} (K={k_b})")
    if a.ndim == 3 and b.ndim == 3:
        if offs is not None:
            raise ValueError(f"{where}: offs must be None when both operands are 3-D (the groups are dim 0)")
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"{where}: expected the same number of groups, got {a.shape[0]} and {b.shape[0]}")
        return jnp.matmul(a, b, preferred_element_type=out_dtype)
    if offs is None:
        raise ValueError(f"{where}: offs is required when an operand is 2-D (it slices that operand)")
    dtype = out_dtype or jnp.result_type(a, b)
    if a.ndim == 2 and b.ndim == 3:
        sizes = _group_sizes(where, offs, a.shape[0], b.shape[0])
        return jax.lax.ragged_dot(a, b, sizes, preferred_element_type=dtype)
    if a.ndim == 3:  # (G, M, K) x (K, N): N is sliced; transposed, it is the first layout
        sizes = _group_sizes(where, offs, b.shape[1], a.shape[0])
        out_t = jax.lax.ragged_dot(b.T, jnp.swapaxes(a, 1, 2), sizes, preferred_element_type=dtype)
        return out_t.T
    sizes = _group_sizes(where, offs, k_a, None)  # (M, K) x (K, N), K sliced
    ends = jnp.cumsum(sizes)
    k = jnp.arange(k_a)
    masks = (k[None, :] >= (ends - sizes)[:, None]) & (k[None, :] < ends[:, None])  # (G, K)
    return jnp.einsum("mk,gk,kn->gmn", a, masks.astype(a.dtype), b, preferred_element_type=dtype)
