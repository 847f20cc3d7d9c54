"""Linear layers: ``Identity``, ``Linear``, ``Bilinear``."""

from __future__ import annotations

import math
from typing import Any

import jax

from .. import _checks
from .. import functional as F
from .. import init as init_
from ._module import Context, Module

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored, as in torch.

    Shape: input ``(*)``, output ``(*)``.

    PyTorch equivalent: ``torch.nn.Identity``.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return input


class Linear(Module):
    """Affine map ``y = x W^T + b``.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default True).
        device: accepted for signature parity; placement is JAX's (``jax.device_put``).
        dtype: parameter dtype (default float32).

    Shape:
        input ``(*, in_features)``, output ``(*, out_features)``.

    Parameters: ``weight (out_features, in_features)`` and ``bias (out_features,)``,
    both ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` as in torch.

    PyTorch equivalent: ``torch.nn.Linear``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.bias = bool(bias)
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        k_weight, k_bias = jax.random.split(key)
        dtype = self.dtype or "float32"
        params = {"weight": init_.kaiming_uniform_(
            k_weight, (self.out_features, self.in_features), a=math.sqrt(5), dtype=dtype)}
        if self.bias:
            bound = init_.torch_default_bound(self.in_features)
            params["bias"] = init_.uniform_(k_bias, (self.out_features,), -bound, bound, dtype)
        return params, {}

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_floating(None, input)
        if input.ndim < 1 or input.shape[-1] != self.in_features:
            _checks.fail(None, f"input (*, {self.in_features})", input)
        return F.linear(input, ctx.params["weight"], ctx.params.get("bias"))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"


class Bilinear(Module):
    """Bilinear map ``y_k = x1^T A_k x2 + b_k``.

    Args:
        in1_features: size of each ``input1`` sample.
        in2_features: size of each ``input2`` sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default True).
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Shape:
        input1 ``(*, in1_features)``, input2 ``(*, in2_features)`` (same ``*``),
        output ``(*, out_features)``.

    Parameters: ``weight (out_features, in1_features, in2_features)`` and ``bias
    (out_features,)``, both ``U(-1/sqrt(in1_features), 1/sqrt(in1_features))`` as in torch.

    PyTorch equivalent: ``torch.nn.Bilinear``.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        self.in1_features = int(in1_features)
        self.in2_features = int(in2_features)
        self.out_features = int(out_features)
        self.bias = bool(bias)
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        if self.in1_features <= 0:
            raise ValueError(f"{self.describe()}: in1_features must be > 0, got {self.in1_features}")
        k_weight, k_bias = jax.random.split(key)
        dtype = self.dtype or "float32"
        bound = 1.0 / math.sqrt(self.in1_features)
        shape = (self.out_features, self.in1_features, self.in2_features)
        params = {"weight": init_.uniform_(k_weight, shape, -bound, bound, dtype)}
        if self.bias:
            params["bias"] = init_.uniform_(k_bias, (self.out_features,), -bound, bound, dtype)
        return params, {}

    def forward(self, ctx: Context, input1: jax.Array, input2: jax.Array) -> jax.Array:
        _checks.check_floating(None, input1, "input1")
        _checks.check_floating(None, input2, "input2")
        return F.bilinear(input1, input2, ctx.params["weight"], ctx.params.get("bias"))

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias}")
