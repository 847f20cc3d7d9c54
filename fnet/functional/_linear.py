"""Linear maps: ``linear`` and ``bilinear``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _checks

__all__ = ["linear", "bilinear"]


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
    return _bilinear("bilinear", input1, input2, weight, bias)


def _bilinear(where: str, input1, input2, weight, bias):
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
