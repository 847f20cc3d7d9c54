"""Elementwise ATen operators: arithmetic, comparisons, logic and activations.

Activations with a ``torch.nn.functional`` twin run through ``fnet.functional`` (one
implementation of each); plain math runs through ``jax.numpy``/``lax``. Type promotion
is settled by the interpreter, which casts every result to the dtype torch recorded for
that node, so these functions only compute.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy import special

from .. import functional as F
from ._optable import op


def _scaled(other, alpha):
    return other if alpha == 1 else other * alpha


# -- arithmetic ---------------------------------------------------------------------------

@op("aten.add.Tensor", "aten.add.Scalar")
def add(self, other, alpha=1):
    return self + _scaled(other, alpha)


@op("aten.sub.Tensor", "aten.sub.Scalar")
def sub(self, other, alpha=1):
    return self - _scaled(other, alpha)


@op("aten.rsub.Tensor", "aten.rsub.Scalar")
def rsub(self, other, alpha=1):
    return other - _scaled(self, alpha)


@op("aten.mul.Tensor", "aten.mul.Scalar")
def mul(self, other):
    return self * other


@op("aten.div.Tensor", "aten.div.Scalar", "aten.true_divide.Tensor", "aten.true_divide.Scalar")
def div(self, other):
    return jnp.true_divide(self, other)


@op("aten.div.Tensor_mode", "aten.div.Scalar_mode")
def div_mode(self, other, rounding_mode=None):
    if rounding_mode is None:
        return jnp.true_divide(self, other)
    if rounding_mode == "floor":
        return jnp.floor_divide(self, other)
    if rounding_mode == "trunc":
        if jnp.issubdtype(jnp.result_type(self, other), jnp.integer):
            return lax.div(*jnp.broadcast_arrays(jnp.asarray(self), jnp.asarray(other, jnp.result_type(self))))
        return jnp.trunc(jnp.true_divide(self, other))
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


@op("aten.floor_divide.default", "aten.floor_divide.Scalar")
def floor_divide(self, other):
    return jnp.floor_divide(self, other)


@op("aten.remainder.Tensor", "aten.remainder.Scalar", "aten.remainder.Scalar_Tensor")
def remainder(self, other):
    return jnp.remainder(self, other)


@op("aten.fmod.Tensor", "aten.fmod.Scalar")
def fmod(self, other):
    return jnp.fmod(self, other)


@op("aten.pow.Tensor_Scalar", "aten.pow.Tensor_Tensor", "aten.float_power.Tensor_Scalar",
    "aten.float_power.Tensor_Tensor")
def pow_(self, exponent):
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        if exponent == 2:
            return self * self  # torch computes x**2 as x*x: exact, and the same gradient
        if exponent == 0.5:
            return jnp.sqrt(self)
    return jnp.power(self, exponent)


@op("aten.pow.Scalar", "aten.float_power.Scalar")
def pow_scalar(self, exponent):
    return jnp.power(self, exponent)


@op("aten.maximum.default", "aten.max.other")
def maximum(self, other):
    return jnp.maximum(self, other)


@op("aten.minimum.default", "aten.min.other")
def minimum(self, other):
    return jnp.minimum(self, other)


@op("aten.fmax.default")
def fmax(self, other):
    return jnp.fmax(self, other)


@op("aten.fmin.default")
def fmin(self, other):
    return jnp.fmin(self, other)


@op("aten.atan2.default", "aten.arctan2.default")
def atan2(self, other):
    return jnp.arctan2(self, other)


@op("aten.hypot.default")
def hypot(self, other):
    return jnp.hypot(self, other)


@op("aten.copysign.Tensor", "aten.copysign.Scalar")
def copysign(self, other):
    return jnp.copysign(self, other)


@op("aten.xlogy.Tensor", "aten.xlogy.Scalar_Other", "aten.xlogy.Scalar_Self")
def xlogy(self, other):
    return special.xlogy(self, other)


@op("aten.lerp.Scalar", "aten.lerp.Tensor")
def lerp(self, end, weight):
    return self + weight * (end - self)


@op("aten.addcmul.default")
def addcmul(self, tensor1, tensor2, value=1):
    return self + _scaled(tensor1 * tensor2, value)


@op("aten.addcdiv.default")
def addcdiv(self, tensor1, tensor2, value=1):
    return self + _scaled(tensor1 / tensor2, value)


@op("aten.clamp.default", "aten.clamp.Tensor", "aten.clip.default", "aten.clip.Tensor")
def clamp(self, min=None, max=None):
    # torch: min first, then max (so max wins when min > max)
    out = self
    if min is not None:
        out = jnp.maximum(out, min)
    if max is not None:
        out = jnp.minimum(out, max)
    return out


@op("aten.clamp_min.default", "aten.clamp_min.Tensor")
def clamp_min(self, min):
    return jnp.maximum(self, min)


@op("aten.clamp_max.default", "aten.clamp_max.Tensor")
def clamp_max(self, max):
    return jnp.minimum(self, max)


# -- unary math ---------------------------------------------------------------------------

_UNARY = {
    "abs": jnp.abs, "absolute": jnp.abs, "neg": jnp.negative, "negative": jnp.negative,
    "exp": jnp.exp, "exp2": jnp.exp2, "expm1": jnp.expm1, "log": jnp.log, "log2": jnp.log2,
    "log10": jnp.log10, "log1p": jnp.log1p, "sqrt": jnp.sqrt, "rsqrt": lax.rsqrt,
    "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan, "asin": jnp.arcsin, "acos": jnp.arccos,
    "atan": jnp.arctan, "arcsin": jnp.arcsin, "arccos": jnp.arccos, "arctan": jnp.arctan,
    "sinh": jnp.sinh, "cosh": jnp.cosh, "asinh": jnp.arcsinh, "acosh": jnp.arccosh,
    "atanh": jnp.arctanh, "erf": special.erf, "erfc": special.erfc, "erfinv": special.erfinv,
    "floor": jnp.floor, "ceil": jnp.ceil, "trunc": jnp.trunc, "fix": jnp.trunc,
    "sign": jnp.sign, "sgn": jnp.sign, "reciprocal": jnp.reciprocal, "square": jnp.square,
    "lgamma": special.gammaln, "digamma": special.digamma, "i0": special.i0,
    "isnan": jnp.isnan, "isinf": jnp.isinf, "isfinite": jnp.isfinite,
    "isposinf": jnp.isposinf, "isneginf": jnp.isneginf, "signbit": jnp.signbit,
    "logical_not": jnp.logical_not, "bitwise_not": jnp.invert, "deg2rad": jnp.deg2rad,
    "rad2deg": jnp.rad2deg, "sinc": jnp.sinc, "positive": lambda x: x,
    "frac": lambda x: x - jnp.trunc(x), "tanh": F.tanh, "sigmoid": F.sigmoid,
}

for _name, _fn in _UNARY.items():
    op(f"aten.{_name}.default")(_fn)


@op("aten.round.default")
def round_(self):
    return jnp.round(self)  # half to even, as torch


@op("aten.round.decimals")
def round_decimals(self, decimals=0):
    return jnp.round(self, decimals)


@op("aten.nan_to_num.default")
def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
    return jnp.nan_to_num(self, nan=nan, posinf=posinf, neginf=neginf)


@op("aten.logit.default")
def logit(self, eps=None):
    x = self if eps is None else jnp.clip(self, eps, 1 - eps)
    return jnp.log(x / (1 - x))


# -- comparisons and logic ----------------------------------------------------------------

for _name, _fn in {"eq": jnp.equal, "ne": jnp.not_equal, "lt": jnp.less, "le": jnp.less_equal,
                   "gt": jnp.greater, "ge": jnp.greater_equal, "greater": jnp.greater,
                   "less": jnp.less, "greater_equal": jnp.greater_equal,
                   "less_equal": jnp.less_equal, "not_equal": jnp.not_equal}.items():
    op(f"aten.{_name}.Tensor", f"aten.{_name}.Scalar")(_fn)

for _name, _fn in {"logical_and": jnp.logical_and, "logical_or": jnp.logical_or,
                   "logical_xor": jnp.logical_xor}.items():
    op(f"aten.{_name}.default")(_fn)

for _name, _fn in {"bitwise_and": jnp.bitwise_and, "bitwise_or": jnp.bitwise_or,
                   "bitwise_xor": jnp.bitwise_xor}.items():
    op(f"aten.{_name}.Tensor", f"aten.{_name}.Scalar")(_fn)

op("aten.__and__.Tensor", "aten.__and__.Scalar")(jnp.bitwise_and)
op("aten.__or__.Tensor", "aten.__or__.Scalar")(jnp.bitwise_or)
op("aten.__xor__.Tensor", "aten.__xor__.Scalar")(jnp.bitwise_xor)
op("aten.__lshift__.Tensor", "aten.__lshift__.Scalar", "aten.bitwise_left_shift.Tensor")(jnp.left_shift)
op("aten.__rshift__.Tensor", "aten.__rshift__.Scalar", "aten.bitwise_right_shift.Tensor")(jnp.right_shift)


@op("aten.where.self", "aten.where.ScalarSelf", "aten.where.ScalarOther", "aten.where.Scalar")
def where(condition, self, other):
    return jnp.where(condition, self, other)


@op("aten.isclose.default")
def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return jnp.isclose(self, other, rtol=rtol, atol=atol, equal_nan=equal_nan)


@op("aten.isin.Tensor_Tensor")
def isin(elements, test_elements, assume_unique=False, invert=False):
    return jnp.isin(elements, test_elements, invert=invert)


# -- activations (fnet.functional) --------------------------------------------------------

op("aten.relu.default")(F.relu)
op("aten.relu6.default")(F.relu6)
op("aten.silu.default")(F.silu)
op("aten.mish.default")(F.mish)
op("aten.selu.default")(F.selu)
op("aten.hardswish.default")(F.hardswish)
op("aten.hardsigmoid.default")(F.hardsigmoid)
op("aten.log_sigmoid.default")(F.logsigmoid)
op("aten.prelu.default")(F.prelu)


@op("aten._prelu_kernel.default")
def prelu_kernel(self, weight):
    # the kernel behind F.prelu: weight already has the broadcast shape (1, C, 1, ...)
    return jnp.where(self > 0, self, weight * self)


@op("aten.log_sigmoid_forward.default")
def log_sigmoid_forward(self):
    return F.logsigmoid(self), jnp.zeros((0,), self.dtype)


@op("aten.gelu.default")
def gelu(self, approximate="none"):
    return F.gelu(self, approximate=approximate)


@op("aten.leaky_relu.default")
def leaky_relu(self, negative_slope=0.01):
    return F.leaky_relu(self, negative_slope)


@op("aten.elu.default")
def elu(self, alpha=1, scale=1, input_scale=1):
    if scale == 1 and input_scale == 1:
        return F.elu(self, alpha)
    # the core decomposition of selu/celu: scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1))
    negative = alpha * jnp.expm1(jnp.minimum(self, 0) * input_scale)
    return scale * jnp.where(self > 0, self, negative)


@op("aten.celu.default")
def celu(self, alpha=1.0):
    return F.celu(self, alpha)


@op("aten.hardtanh.default")
def hardtanh(self, min_val=-1, max_val=1):
    return F.hardtanh(self, min_val, max_val)


@op("aten.softplus.default")
def softplus(self, beta=1, threshold=20):
    return F.softplus(self, beta, threshold)


@op("aten.threshold.default")
def threshold(self, threshold, value):
    return F.threshold(self, threshold, value)


@op("aten.softshrink.default")
def softshrink(self, lambd=0.5):
    return F.softshrink(self, lambd)


@op("aten.hardshrink.default")
def hardshrink(self, lambd=0.5):
    return F.hardshrink(self, lambd)


@op("aten.glu.default")
def glu(self, dim=-1):
    return F.glu(self, dim)


@op("aten.rrelu.default", run=True)
def rrelu(run, self, lower=0.125, upper=1.0 / 3.0, training=False, generator=None):
    if not training:
        return F.leaky_relu(self, (lower + upper) / 2)
    slope = jax.random.uniform(run.key(), self.shape, self.dtype, lower, upper)
    return jnp.where(self >= 0, self, self * slope)
