"""Activation functions: twins of the activations in ``torch.nn.functional``.

Every function keeps torch's name, argument names, order and defaults. Arguments
named ``inplace`` are accepted for signature parity and ignored: JAX arrays are
immutable, so fnet always returns a new array.

Three things are matched on purpose, beyond the formulas:

* **Gradients at kinks.** Where a function is not differentiable (``relu`` at 0,
  ``hardtanh`` at ``min_val``/``max_val``, ``threshold`` at ``threshold``, the
  shrink functions at ``±lambd``, ...), fnet returns the subgradient torch's
  autograd returns. The piecewise functions are written as ``jnp.where`` chains
  whose branch selected *at* the kink is the branch torch differentiates there
  (``jnp.clip``/``jnp.minimum`` would split ties 50/50).
* **torch's own rounding in two backward kernels**, so float64 gradients agree to
  1e-10: ``hardsigmoid``'s slope is 1/6 rounded to float32, and ``celu``'s backward
  uses 1/alpha with alpha rounded to float32 (custom JVPs below).
* **Numerical stability where torch has it**: ``softplus`` switches to the identity
  above ``threshold``, ``logsigmoid`` and ``log_softmax`` never form ``log(0)``.
  Unselected ``jnp.where`` branches are fed safe inputs, so large inputs
  (``|x| ~ 1e3``) give finite gradients, as in torch.
* **Dtypes.** Functions that torch refuses for integer tensors raise ``TypeError``
  naming the function and the dtype. ``relu``, ``relu6``, ``hardtanh`` and
  ``threshold`` keep integer dtypes, as torch does; ``sigmoid``, ``tanh``,
  ``softsign`` and ``tanhshrink`` promote integers to float32 (torch's default dtype).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks

__all__ = [
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
    "sigmoid", "tanh", "hardtanh", "hardsigmoid", "hardswish", "softplus", "softsign",
    "logsigmoid", "softmax", "log_softmax", "softmin", "prelu", "glu", "threshold",
    "tanhshrink", "softshrink", "hardshrink", "rrelu", "gumbel_softmax",
]

# torch's SELU constants (Klambauer et al., 2017), as written in ATen.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_GELU_APPROXIMATIONS = ("none", "tanh")


# -- input validation ---------------------------------------------------------------

def _floating(input: Any, where: str) -> jax.Array:
    """The input as an array; integer and bool inputs raise as torch refuses them."""
    x = jnp.asarray(input)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{where}: expected a floating-point input, got dtype {x.dtype}")
    return x


def _integer_or_floating(input: Any, where: str) -> jax.Array:
    """For the clamping functions, which torch also runs on integers (not on bool)."""
    x = jnp.asarray(input)
    if x.dtype == jnp.bool_:
        raise TypeError(f"{where}: expected a numeric input, got dtype bool")
    return x


def _promote_to_float(input: Any, where: str, allow_bool: bool) -> jax.Array:
    """Integers become float32, torch's default dtype (JAX would pick float64 under x64)."""
    x = jnp.asarray(input)
    if x.dtype == jnp.bool_ and not allow_bool:
        raise TypeError(f"{where}: expected a numeric input, got dtype bool")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def _restore_integer(result: jax.Array, x: jax.Array) -> jax.Array:
    # torch keeps integer dtypes (float bounds truncate toward zero).
    return result if jnp.issubdtype(x.dtype, jnp.floating) else result.astype(x.dtype)


def _canonical_dim(where: str, dim: Any, shape: tuple[int, ...]) -> int:
    """``dim`` in ``[0, ndim)``; a 0-d input has one valid dim, as in torch (-1 or 0)."""
    rank = max(len(shape), 1)
    if isinstance(dim, bool) or not isinstance(dim, int):
        try:
            dim = int(dim.__index__())
        except AttributeError:
            raise TypeError(f"{where}: dim must be an int, got {dim!r}") from None
    if not -rank <= dim < rank:
        raise ValueError(
            f"{where}: dim {dim} is out of range for input of shape {_checks.fmt_shape(shape)} "
            f"(expected a dim in [{-rank}, {rank - 1}])")
    return dim % rank


def _to_dtype(dtype: Any) -> Any:
    """Accepts JAX/numpy dtypes, their names, and torch dtypes (``torch.float64``)."""
    if dtype is None:
        return None
    if type(dtype).__module__ == "torch":
        dtype = str(dtype).rsplit(".", 1)[-1]
    return jnp.dtype(dtype)


# -- rectifiers and clamps -----------------------------------------------------------

def relu(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``max(0, x)`` elementwise; the gradient at 0 is 0, as in torch.

    Integer inputs keep their dtype.

    PyTorch equivalent: ``torch.nn.functional.relu``.
    """
    x = _integer_or_floating(input, "relu")
    # x <= 0 selects the constant branch, so the gradient at 0 is 0 and NaN passes through.
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


def relu6(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``min(max(0, x), 6)``; gradient 0 at both kinks (torch's ``hardtanh(x, 0, 6)``).

    PyTorch equivalent: ``torch.nn.functional.relu6``.
    """
    return _hardtanh(input, 0.0, 6.0, "relu6")


def hardtanh(input: jax.Array, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> jax.Array:
    """Clamps ``x`` to ``[min_val, max_val]``.

    The gradient is 1 strictly inside the interval and 0 on and outside its ends,
    as in torch. Integer inputs keep their dtype.

    Raises:
        ValueError: ``min_val > max_val`` (torch raises too).

    PyTorch equivalent: ``torch.nn.functional.hardtanh``.
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got "
                         f"min_val={min_val}, max_val={max_val}")
    return _hardtanh(input, min_val, max_val, "hardtanh")


def _hardtanh(input: Any, min_val: float, max_val: float, where: str) -> jax.Array:
    x = _integer_or_floating(input, where)
    out = jnp.where(x <= min_val, min_val, jnp.where(x >= max_val, max_val, x))
    return _restore_integer(out.astype(jnp.result_type(x, min_val, max_val)), x)


def threshold(input: jax.Array, threshold: float, value: float, inplace: bool = False) -> jax.Array:
    """``x`` where ``x > threshold``, else ``value`` (gradient 0 at ``x == threshold``).

    Integer inputs keep their dtype.

    PyTorch equivalent: ``torch.nn.functional.threshold``.
    """
    x = _integer_or_floating(input, "threshold")
    out = jnp.where(x <= threshold, value, x)
    return _restore_integer(out.astype(jnp.result_type(x, value)), x)


def leaky_relu(input: jax.Array, negative_slope: float = 0.01, inplace: bool = False) -> jax.Array:
    """``x`` for ``x > 0``, else ``negative_slope * x``; the gradient at 0 is ``negative_slope``.

    PyTorch equivalent: ``torch.nn.functional.leaky_relu``.
    """
    x = _floating(input, "leaky_relu")
    return jnp.where(x > 0, x, x * negative_slope)


def prelu(input: jax.Array, weight: jax.Array) -> jax.Array:
    """``leaky_relu`` with a learnable slope, one per channel or shared.

    Args:
        input: ``(N, C, *)`` or any shape when ``weight`` has one element; the
            channel dim is dim 1 (inputs with fewer than 2 dims have one channel).
        weight: ``()`` or ``(C,)`` or ``(1,)`` slopes.

    The gradient at 0 is ``weight`` (the ``x <= 0`` branch), as in torch. The weight
    is cast to the input's dtype (torch refuses mixed dtypes); the output keeps the
    input's dtype.

    PyTorch equivalent: ``torch.nn.functional.prelu``.
    """
    where = "prelu"
    x = _floating(input, where)
    w = jnp.asarray(weight)
    if w.ndim > 1:
        raise ValueError(f"{where}: expected weight to be a scalar or 1-D array, got shape "
                         f"{_checks.fmt_shape(w.shape)}")
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.size != 1 and w.size != channels:
        raise ValueError(
            f"{where}: expected {w.size} channels in dim 1 of the input to match the {w.size} "
            f"weights (num_parameters), got {channels} channels, input shape "
            f"{_checks.fmt_shape(x.shape)}")
    w = w.astype(x.dtype)
    if w.size == 1:
        w = w.reshape(())
    elif x.ndim >= 2:
        w = w.reshape((channels,) + (1,) * (x.ndim - 2))
    return jnp.where(x > 0, x, w * x)


def rrelu(input: jax.Array, lower: float = 1.0 / 8.0, upper: float = 1.0 / 3.0,
          training: bool = False, inplace: bool = False, *, key: jax.Array | None = None) -> jax.Array:
    """Randomized leaky ReLU: ``x`` for ``x > 0``, else ``a * x``.

    In training each element with ``x <= 0`` draws its own slope ``a ~ U(lower, upper)``
    (the gradient there is that slope, as in torch); in evaluation ``a`` is the mean
    slope ``(lower + upper) / 2`` (``leaky_relu``).

    Args:
        input: any shape, floating point.
        lower, upper: bounds of the slope's uniform distribution.
        training: draw random slopes (needs ``key``) or use the mean slope. torch's
            default is ``False`` here (the module ``nn.RReLU`` draws in training).
        inplace: accepted for signature parity; arrays are immutable.
        key: PRNG key for the slopes when ``training=True`` (fnet has no global
            generator); inside a module use ``ctx.next_key()``.

    PyTorch equivalent: ``torch.nn.functional.rrelu``.
    """
    where = "rrelu"
    x = _floating(input, where)
    if not training:
        return jnp.where(x > 0, x, x * ((lower + upper) / 2))
    if key is None:
        raise ValueError(f"{where}: training=True draws a random slope per element and needs a "
                         f"PRNG key (fnet has no global generator); call F.rrelu(x, training=True, "
                         f"key=jax.random.key(0)) with a new key each step, or training=False "
                         f"for the mean slope. Inside a module use key=ctx.next_key().")
    slopes = jax.random.uniform(key, x.shape, x.dtype, lower, upper)
    return _rrelu_with_noise(x, slopes)


def _rrelu_with_noise(x: jax.Array, slopes: jax.Array) -> jax.Array:
    """torch's ``rrelu_with_noise`` given its slopes: ``x <= 0`` takes its slope (0 included)."""
    return jnp.where(x <= 0, x * slopes.astype(x.dtype), x)


# -- exponential units ---------------------------------------------------------------

@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3, 4))
def _elu(x: jax.Array, alpha: float, scale: float, input_scale: float,
         grad_input_scale: float) -> jax.Array:
    # The x <= 0 branch is the one torch differentiates at 0. Its input is clamped so
    # that expm1 of a large positive x, computed but not selected, stays finite.
    negative = jnp.where(x > 0, jnp.zeros_like(x), x)
    return jnp.where(x > 0, x * scale, jnp.expm1(negative * input_scale) * (alpha * scale))


@_elu.defjvp
def _elu_jvp(alpha, scale, input_scale, grad_input_scale, primals, tangents):
    # torch's elu_backward: exp(x * s) * s * alpha * scale for x <= 0. Written out rather
    # than derived from expm1, whose derivative (expm1(x) + 1) loses all precision for
    # x below about -36; and s is torch's, which differs from the forward's for celu.
    (x,), (t,) = primals, tangents
    negative = jnp.where(x > 0, jnp.zeros_like(x), x)
    slope = jnp.exp(negative * grad_input_scale) * (grad_input_scale * alpha * scale)
    return (_elu(x, alpha, scale, input_scale, grad_input_scale),
            jnp.where(x > 0, t * scale, t * slope))


def elu(input: jax.Array, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``; the gradient at 0 is ``alpha``.

    PyTorch equivalent: ``torch.nn.functional.elu``.
    """
    return _elu(_floating(input, "elu"), float(alpha), 1.0, 1.0, 1.0)


def selu(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``scale * elu(x, alpha)`` with torch's constants (``alpha≈1.6733``, ``scale≈1.0507``).

    PyTorch equivalent: ``torch.nn.functional.selu``.
    """
    return _elu(_floating(input, "selu"), _SELU_ALPHA, _SELU_SCALE, 1.0, 1.0)


def celu(input: jax.Array, alpha: float = 1.0, inplace: bool = False) -> jax.Array:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``; the gradient at 0 is 1.

    The gradient for ``x <= 0`` is torch's, which uses ``1 / alpha`` with ``alpha``
    rounded to float32 even for float64 inputs (a relative difference of ~1e-8).

    Raises:
        ValueError: ``alpha == 0`` (torch raises too).

    PyTorch equivalent: ``torch.nn.functional.celu``.
    """
    x = _floating(input, "celu")
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0, got alpha=0")
    # torch's celu backward takes 1/alpha of alpha rounded to float32, for every dtype
    # (derivatives.yaml: 1.0 / alpha.toFloat()); the forward uses the exact 1/alpha.
    return _elu(x, float(alpha), 1.0, 1.0 / alpha, 1.0 / float(np.float32(alpha)))


# -- smooth gates --------------------------------------------------------------------

def gelu(input: jax.Array, *, approximate: str = "none") -> jax.Array:
    """Gaussian Error Linear Unit, ``x * Φ(x)``.

    Args:
        input: any shape.
        approximate: ``'none'`` for the exact ``erf`` form, ``'tanh'`` for
            ``0.5 x (1 + tanh(sqrt(2/π) (x + 0.044715 x³)))``. Note that torch takes a
            string here where ``jax.nn.gelu`` takes a bool (and defaults to the
            tanh form); fnet follows torch. Keyword-only, as in torch.

    PyTorch equivalent: ``torch.nn.functional.gelu``.
    """
    _check_approximate("gelu", approximate)
    x = _floating(input, "gelu")
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + jnp.tanh(inner))
    # erfc(-z) == 1 + erf(z) without cancellation for very negative x.
    return 0.5 * x * jax.scipy.special.erfc(-x * (1.0 / math.sqrt(2.0)))


def _check_approximate(where: str, approximate: Any) -> None:
    if approximate not in _GELU_APPROXIMATIONS:
        raise ValueError(f"{where}: approximate must be 'none' or 'tanh', got {approximate!r}")


def sigmoid(input: jax.Array) -> jax.Array:
    """``1 / (1 + exp(-x))``. Integer and bool inputs give float32, as in torch.

    PyTorch equivalent: ``torch.nn.functional.sigmoid``.
    """
    return jax.nn.sigmoid(_promote_to_float(input, "sigmoid", allow_bool=True))


def tanh(input: jax.Array) -> jax.Array:
    """Hyperbolic tangent. Integer and bool inputs give float32, as in torch.

    PyTorch equivalent: ``torch.nn.functional.tanh``.
    """
    return jnp.tanh(_promote_to_float(input, "tanh", allow_bool=True))


def silu(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``x * sigmoid(x)`` (swish).

    PyTorch equivalent: ``torch.nn.functional.silu``.
    """
    x = _floating(input, "silu")
    return x * jax.nn.sigmoid(x)


def mish(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``x * tanh(softplus(x))``, with a softplus whose gradient stays finite for large x.

    PyTorch equivalent: ``torch.nn.functional.mish``.
    """
    x = _floating(input, "mish")
    return x * jnp.tanh(jax.nn.softplus(x))


def hardsigmoid(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``0`` for ``x <= -3``, ``1`` for ``x >= 3``, else ``x / 6 + 1 / 2``; gradient 0 at ±3.

    The gradient inside ``(-3, 3)`` is torch's: ``1/6`` rounded to float32, also for
    float64 inputs (torch's kernel keeps that constant in single precision).

    PyTorch equivalent: ``torch.nn.functional.hardsigmoid``.
    """
    return _hardsigmoid(_floating(input, "hardsigmoid"))


# 1/6 rounded to float32: torch's hardsigmoid backward uses this slope for every dtype.
_HARDSIGMOID_SLOPE = float(np.float32(1.0 / 6.0))


@jax.custom_jvp
def _hardsigmoid(x: jax.Array) -> jax.Array:
    return jnp.where(x <= -3.0, jnp.zeros_like(x),
                     jnp.where(x >= 3.0, jnp.ones_like(x), (x + 3.0) / 6.0))


@_hardsigmoid.defjvp
def _hardsigmoid_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    inside = (x > -3.0) & (x < 3.0)
    return _hardsigmoid(x), jnp.where(inside, t * _HARDSIGMOID_SLOPE, jnp.zeros_like(t))


def hardswish(input: jax.Array, inplace: bool = False) -> jax.Array:
    """``x * hardsigmoid(x)``; the gradient is 0 at -3 and 1 at 3, as in torch.

    PyTorch equivalent: ``torch.nn.functional.hardswish``.
    """
    x = _floating(input, "hardswish")
    return jnp.where(x <= -3.0, jnp.zeros_like(x),
                     jnp.where(x >= 3.0, x, x * (x + 3.0) / 6.0))


def softplus(input: jax.Array, beta: float = 1.0, threshold: float = 20.0) -> jax.Array:
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``.

    The linear switch is torch's (it keeps ``exp`` from overflowing); the unused
    branch never sees the large inputs, so gradients stay finite.

    PyTorch equivalent: ``torch.nn.functional.softplus``.
    """
    x = _floating(input, "softplus")
    z = x * beta
    linear = z > threshold
    safe = jnp.where(linear, jnp.zeros_like(z), z)
    return jnp.where(linear, x, jnp.log1p(jnp.exp(safe)) / beta)


def softsign(input: jax.Array) -> jax.Array:
    """``x / (1 + |x|)``. Integer inputs give float32, as in torch.

    PyTorch equivalent: ``torch.nn.functional.softsign``.
    """
    x = _promote_to_float(input, "softsign", allow_bool=False)
    return x / (jnp.abs(x) + 1.0)


def logsigmoid(input: jax.Array) -> jax.Array:
    """``log(sigmoid(x))`` computed as ``-softplus(-x)``: finite for any finite x.

    PyTorch equivalent: ``torch.nn.functional.logsigmoid``.
    """
    return jax.nn.log_sigmoid(_floating(input, "logsigmoid"))


def tanhshrink(input: jax.Array) -> jax.Array:
    """``x - tanh(x)``. Integer inputs give float32, as in torch.

    PyTorch equivalent: ``torch.nn.functional.tanhshrink``.
    """
    x = _promote_to_float(input, "tanhshrink", allow_bool=False)
    return x - jnp.tanh(x)


def softshrink(input: jax.Array, lambd: float = 0.5) -> jax.Array:
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0 (gradient 0 at ±lambd).

    Raises:
        ValueError: ``lambd < 0`` (torch raises too).

    PyTorch equivalent: ``torch.nn.functional.softshrink``.
    """
    x = _floating(input, "softshrink")
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    # The dead zone is tested first so that NaN falls through to x -/+ lambd, as in torch.
    dead = (x >= -lambd) & (x <= lambd)
    return jnp.where(dead, jnp.zeros_like(x), jnp.where(x > lambd, x - lambd, x + lambd))


def hardshrink(input: jax.Array, lambd: float = 0.5) -> jax.Array:
    """``x`` where ``|x| > lambd``, else 0 (gradient 0 at ±lambd; any lambd, as in torch).

    PyTorch equivalent: ``torch.nn.functional.hardshrink``.
    """
    x = _floating(input, "hardshrink")
    return jnp.where((x >= -lambd) & (x <= lambd), jnp.zeros_like(x), x)


def glu(input: jax.Array, dim: int = -1) -> jax.Array:
    """Gated linear unit: splits ``input`` in halves ``a, b`` along ``dim``, returns ``a * sigmoid(b)``.

    Shape: ``(*, 2M, *)`` to ``(*, M, *)``.

    Raises:
        ValueError: a 0-d input, ``dim`` out of range, or an odd size along ``dim``.

    PyTorch equivalent: ``torch.nn.functional.glu``.
    """
    where = "glu"
    x = _floating(input, where)
    if x.ndim == 0:
        raise ValueError(f"{where}: expected an input with at least 1 dim (it is halved along "
                         f"dim), got shape ()")
    axis = _canonical_dim(where, dim, x.shape)
    if x.shape[axis] % 2:
        raise ValueError(f"{where}: expected an even size along dim {dim} (it is halved), got "
                         f"shape {_checks.fmt_shape(x.shape)}")
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


# -- softmax family ------------------------------------------------------------------


def _legacy_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  f"Change the call to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_family(kind: str, input: Any, dim: Any, stacklevel: int, dtype: Any,
                    where: str) -> jax.Array:
    x = jnp.asarray(input)
    dtype = _to_dtype(dtype)
    if kind == "softmin":
        x = -x  # torch negates before the dtype cast
    if dtype is not None:
        x = x.astype(dtype)
    x = _floating(x, where)
    if dim is None:
        dim = _legacy_softmax_dim(kind, x.ndim, stacklevel + 1)
    axis = _canonical_dim(where, dim, x.shape)
    shape = x.shape
    if x.ndim == 0:
        x = x.reshape(1)
    fn = jax.nn.log_softmax if kind == "log_softmax" else jax.nn.softmax
    return fn(x, axis=axis).reshape(shape)


def softmax(input: jax.Array, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> jax.Array:
    """``exp(x) / sum(exp(x))`` along ``dim`` (stable: the max is subtracted first).

    Args:
        input: any shape, 0-d included.
        dim: the dim whose slices sum to 1. ``None`` follows torch's deprecated implicit
            choice (dim 0 for 0-, 1- and 3-d inputs, else dim 1) and warns like torch.
            Note that ``jax.nn.softmax`` defaults to the last axis instead.
        _stacklevel: stack level of that warning, as in torch.
        dtype: cast the input to this dtype first (a JAX/numpy dtype, its name, or a
            torch dtype).

    Raises:
        TypeError: an integer input (without a floating ``dtype``).
        ValueError: ``dim`` out of range.

    PyTorch equivalent: ``torch.nn.functional.softmax``.
    """
    return _softmax_family("softmax", input, dim, _stacklevel, dtype, "softmax")


def log_softmax(input: jax.Array, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> jax.Array:
    """``x - logsumexp(x)`` along ``dim``; never forms ``log(0)``.

    Arguments as :func:`softmax`.

    PyTorch equivalent: ``torch.nn.functional.log_softmax``.
    """
    return _softmax_family("log_softmax", input, dim, _stacklevel, dtype, "log_softmax")


def softmin(input: jax.Array, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> jax.Array:
    """``softmax(-x)`` along ``dim``. Arguments as :func:`softmax`.

    PyTorch equivalent: ``torch.nn.functional.softmin``.
    """
    return _softmax_family("softmin", input, dim, _stacklevel, dtype, "softmin")


def gumbel_softmax(logits: jax.Array, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1, *, key: jax.Array | None = None) -> jax.Array:
    """A sample of the Gumbel-Softmax (Concrete) distribution over ``dim``.

    ``softmax((logits + g) / tau)`` with ``g ~ Gumbel(0, 1)`` drawn from ``key``. With
    ``hard=True`` the result is the one-hot vector of its argmax in the forward pass
    and the soft sample's gradient in the backward pass (straight-through), as torch.

    Args:
        logits: unnormalised log-probabilities ``(*, num_features, *)``.
        tau: temperature (positive).
        hard: return one-hot samples with the soft sample's gradient.
        eps: deprecated and unused, as in torch (a value other than 1e-10 warns).
        dim: the dim of the categories.
        key: PRNG key of the Gumbel noise (required: fnet has no global generator).

    PyTorch equivalent: ``torch.nn.functional.gumbel_softmax``.
    """
    where = "gumbel_softmax"
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    x = _floating(logits, where)
    if key is None:
        raise ValueError(f"{where}: draws Gumbel noise and needs a PRNG key (fnet has no global "
                         f"generator); call F.gumbel_softmax(logits, tau, key=jax.random.key(0)) "
                         f"with a new key each step")
    gumbels = jax.random.gumbel(key, x.shape, x.dtype)
    return _gumbel_softmax_with_noise(x, gumbels, tau, hard, dim, where)


def _gumbel_softmax_with_noise(logits: jax.Array, gumbels: jax.Array, tau: float, hard: bool,
                               dim: int, where: str) -> jax.Array:
    """torch's arithmetic given its Gumbel noise."""
    axis = _canonical_dim(where, dim, logits.shape)
    shape = logits.shape
    x = logits.reshape(1) if logits.ndim == 0 else logits
    y_soft = jax.nn.softmax((x + gumbels.reshape(x.shape).astype(x.dtype)) / tau, axis=axis)
    if hard:
        index = jnp.argmax(y_soft, axis=axis)  # the first maximum, as torch's max
        y_hard = jax.nn.one_hot(index, x.shape[axis], dtype=x.dtype, axis=axis)
        y_soft = y_hard - jax.lax.stop_gradient(y_soft) + y_soft
    return y_soft.reshape(shape)
