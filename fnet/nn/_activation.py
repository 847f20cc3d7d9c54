"""Activation modules, one per ``fnet.functional`` activation.

Each module stores torch's constructor arguments under torch's attribute names and
prints torch's ``extra_repr``. ``inplace`` is accepted and ignored (arrays are
immutable). Every module except :class:`PReLU` is array-free, so it can be called
directly like a torch module: ``nn.GELU()(x)``.

Shape, unless stated otherwise: input ``(*)``, output ``(*)``, same shape.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax

from .. import _checks
from .. import functional as F
from .. import init as init_
from ..functional import _activation as _impl
from ._module import Context, Module

__all__ = [
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
    "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "LogSigmoid",
    "Softmax", "LogSoftmax", "Softmin", "PReLU", "GLU", "Threshold", "Tanhshrink",
    "Softshrink", "Hardshrink", "RReLU", "Softmax2d",
]


def _inplace_repr(inplace: bool, leading: str = "") -> str:
    return f"{leading}inplace=True" if inplace else ""


class _Elementwise(Module):
    """An activation ``F.<fn>(x)`` with no configuration besides ``inplace``."""

    _floating_only = True

    def _fn(self, input: jax.Array) -> jax.Array:
        raise NotImplementedError

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        if self._floating_only:
            # torch refuses integer input for these layers before the op runs.
            _checks.check_floating(None, input)
        return self._fn(input)


class _InplaceElementwise(_Elementwise):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class ReLU(_InplaceElementwise):
    """``max(0, x)`` elementwise (gradient 0 at 0, as in torch).

    Args:
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.ReLU``.
    """

    _floating_only = False

    def _fn(self, input):
        return F.relu(input)


class Hardtanh(_Elementwise):
    """Clamps to ``[min_val, max_val]`` (gradient 0 at both ends, as in torch).

    Args:
        min_val: lower end (default -1).
        max_val: upper end (default 1); must be greater than ``min_val``.
        inplace: accepted for signature parity; arrays are immutable.
        min_value, max_value: torch's deprecated spellings of ``min_val``/``max_val``
            (they warn with ``FutureWarning``, as in torch).

    Raises:
        ValueError: ``max_val <= min_val`` (torch raises ``AssertionError``).

    PyTorch equivalent: ``torch.nn.Hardtanh``.
    """

    _floating_only = False

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`",
                          FutureWarning, stacklevel=3)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`",
                          FutureWarning, stacklevel=3)
            max_val = max_value
        if max_val <= min_val:
            raise ValueError(f"{type(self).__name__}: max_val ({max_val}) must be greater than "
                             f"min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def _fn(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_repr(self.inplace, ', ')}"


class ReLU6(Hardtanh):
    """``min(max(0, x), 6)``; a :class:`Hardtanh` on ``[0, 6]``, as in torch.

    Args:
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.ReLU6``.
    """

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Threshold(_Elementwise):
    """``x`` where ``x > threshold``, else ``value``.

    Args:
        threshold: the value to threshold at.
        value: the replacement below (and at) the threshold.
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.Threshold``.
    """

    _floating_only = False

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def _fn(self, input):
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_repr(self.inplace, ', ')}"


class LeakyReLU(_Elementwise):
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    Args:
        negative_slope: slope for negative inputs (default 1e-2).
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.LeakyReLU``.
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def _fn(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_repr(self.inplace, ', ')}"


class RReLU(Module):
    """Randomized leaky ReLU: in training each ``x <= 0`` gets a slope drawn from
    ``U(lower, upper)``; in evaluation the slope is ``(lower + upper) / 2``.

    Args:
        lower: lower bound of the slope (default 1/8).
        upper: upper bound of the slope (default 1/3).
        inplace: accepted for signature parity; arrays are immutable.

    Training draws from ``ctx.next_key()``: ``model.apply(params, state, x, train=True,
    key=key)``. A direct call ``nn.RReLU()(x)`` is refused because torch's module would
    be in train mode; use ``F.rrelu(x, training=True, key=key)``.

    PyTorch equivalent: ``torch.nn.RReLU``.
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        if lower > upper:
            raise ValueError(f"RReLU: lower bound must be less than or equal to the upper bound, "
                             f"got lower={lower}, upper={upper}")
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        key = ctx.next_key() if ctx.train else None
        return _impl.rrelu(input, self.lower, self.upper, ctx.train, key=key)

    def _no_direct_call(self) -> str | None:
        return ("a torch module starts in train mode, so a direct call would be ambiguous (torch "
                "draws random slopes, an fnet direct call runs in eval mode). Use "
                f"F.rrelu(x, {self.lower}, {self.upper}, training=True, key=key) for random slopes "
                "(or training=False for the mean slope)")

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}{_inplace_repr(self.inplace, ', ')}"


class _AlphaUnit(_Elementwise):
    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_repr(self.inplace, ', ')}"


class ELU(_AlphaUnit):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
        alpha: the magnitude of the negative saturation (default 1).
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.ELU``.
    """

    def _fn(self, input):
        return F.elu(input, self.alpha)


class CELU(_AlphaUnit):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Args:
        alpha: default 1; must not be 0.
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.CELU``.
    """

    def _fn(self, input):
        return F.celu(input, self.alpha)


class SELU(_InplaceElementwise):
    """``scale * elu(x, alpha)`` with torch's fixed constants.

    Args:
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.SELU``.
    """

    def _fn(self, input):
        return F.selu(input)


class GELU(_Elementwise):
    """Gaussian Error Linear Unit ``x * Φ(x)``.

    Args:
        approximate: ``'none'`` (exact, erf) or ``'tanh'``. A string as in torch
            (``jax.nn.gelu`` takes a bool and defaults to tanh). fnet rejects other
            values at construction; torch only when the layer runs.

    PyTorch equivalent: ``torch.nn.GELU``.
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        _impl._check_approximate(type(self).__name__, approximate)
        self.approximate = approximate

    def _fn(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_InplaceElementwise):
    """``x * sigmoid(x)`` (swish).

    Args:
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.SiLU``.
    """

    def _fn(self, input):
        return F.silu(input)


class Mish(_InplaceElementwise):
    """``x * tanh(softplus(x))``.

    Args:
        inplace: accepted for signature parity; arrays are immutable.

    PyTorch equivalent: ``torch.nn.Mish``.
    """

    def _fn(self, input):
        return F.mish(input)


class Hardsigmoid(_InplaceElementwise):
    """Piecewise-linear sigmoid: 0 below -3, 1 above 3, ``x / 6 + 1 / 2`` between.

    Args:
        inplace: accepted for signature parity; arrays are immutable. (torch prints
            nothing for it, and neither does fnet.)

    PyTorch equivalent: ``torch.nn.Hardsigmoid``.
    """

    def _fn(self, input):
        return F.hardsigmoid(input)

    def extra_repr(self) -> str:
        return ""


class Hardswish(_InplaceElementwise):
    """``x * hardsigmoid(x)`` (MobileNetV3).

    Args:
        inplace: accepted for signature parity; arrays are immutable. (torch prints
            nothing for it, and neither does fnet.)

    PyTorch equivalent: ``torch.nn.Hardswish``.
    """

    def _fn(self, input):
        return F.hardswish(input)

    def extra_repr(self) -> str:
        return ""


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``. PyTorch equivalent: ``torch.nn.Sigmoid``."""

    _floating_only = False

    def _fn(self, input):
        return F.sigmoid(input)


class Tanh(_Elementwise):
    """Hyperbolic tangent. PyTorch equivalent: ``torch.nn.Tanh``."""

    _floating_only = False

    def _fn(self, input):
        return F.tanh(input)


class Softsign(_Elementwise):
    """``x / (1 + |x|)``. PyTorch equivalent: ``torch.nn.Softsign``."""

    _floating_only = False

    def _fn(self, input):
        return F.softsign(input)


class Tanhshrink(_Elementwise):
    """``x - tanh(x)``. PyTorch equivalent: ``torch.nn.Tanhshrink``."""

    _floating_only = False

    def _fn(self, input):
        return F.tanhshrink(input)


class LogSigmoid(_Elementwise):
    """``log(sigmoid(x))``, stable for large ``|x|``. PyTorch equivalent: ``torch.nn.LogSigmoid``."""

    def _fn(self, input):
        return F.logsigmoid(input)


class Softplus(_Elementwise):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``.

    Args:
        beta: default 1.
        threshold: above ``beta * x > threshold`` the output is ``x`` (default 20).

    PyTorch equivalent: ``torch.nn.Softplus``.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def _fn(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class _Shrink(_Elementwise):
    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def extra_repr(self) -> str:
        return str(self.lambd)


class Softshrink(_Shrink):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    Args:
        lambd: default 0.5; must be >= 0.

    PyTorch equivalent: ``torch.nn.Softshrink``.
    """

    def _fn(self, input):
        return F.softshrink(input, self.lambd)


class Hardshrink(_Shrink):
    """``x`` where ``|x| > lambd``, else 0.

    Args:
        lambd: default 0.5.

    PyTorch equivalent: ``torch.nn.Hardshrink``.
    """

    def _fn(self, input):
        return F.hardshrink(input, self.lambd)


class GLU(Module):
    """Gated linear unit: halves ``a, b`` of the input along ``dim``, ``a * sigmoid(b)``.

    Args:
        dim: the dim that is halved (default -1).

    Shape: input ``(*, 2M, *)``, output ``(*, M, *)``.

    PyTorch equivalent: ``torch.nn.GLU``.
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return _impl.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _SoftmaxFamily(Module):
    _kind = ""

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        # stacklevel 6 points the legacy-dim warning at the apply() caller (through the module
        # call's two frames in fnet._checks.located).
        return _impl._softmax_family(self._kind, input, self.dim, 6, None, self._kind)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxFamily):
    """Softmax along ``dim``: every slice along it sums to 1.

    Args:
        dim: the dim to normalise. ``None`` (torch's default) picks it with torch's
            deprecated implicit rule and warns, as torch does; pass it explicitly.

    Shape: input ``(*)``, output ``(*)``.

    PyTorch equivalent: ``torch.nn.Softmax``.
    """

    _kind = "softmax"


class LogSoftmax(_SoftmaxFamily):
    """``log(softmax(x))`` along ``dim``, computed stably. Arguments as :class:`Softmax`.

    PyTorch equivalent: ``torch.nn.LogSoftmax``.
    """

    _kind = "log_softmax"


class Softmin(_SoftmaxFamily):
    """``softmax(-x)`` along ``dim``. Arguments as :class:`Softmax`.

    PyTorch equivalent: ``torch.nn.Softmin``.
    """

    _kind = "softmin"


class Softmax2d(Module):
    """Softmax over the channels at every spatial location (dim -3).

    Shape: input ``(N, C, H, W)`` or ``(C, H, W)``; output the same.

    PyTorch equivalent: ``torch.nn.Softmax2d``.
    """

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        _checks.check_ndim(None, input, (3, 4), "a 3-D (C, H, W) or 4-D (N, C, H, W) input")
        return _impl.softmax(input, -3)


class PReLU(Module):
    """``x`` for ``x > 0``, else ``a * x`` with learnable slopes ``a``.

    Args:
        num_parameters: 1 (one slope shared by all channels) or the number of
            channels of the input (dim 1; inputs with fewer than 2 dims have one).
        init: the initial slope (default 0.25).
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Parameters: ``weight (num_parameters,)``, filled with ``init`` as in torch.

    Note: torch keeps ``init`` as an attribute; in fnet ``init`` is the method that
    creates parameters, so the value is stored as ``init_value``.

    Shape: input ``(*)`` (``(N, C, *)`` when ``num_parameters > 1``), output the same.

    PyTorch equivalent: ``torch.nn.PReLU``.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init_value = init
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        weight = init_.constant_(key, (self.num_parameters,), self.init_value,
                                 dtype=self.dtype or "float32")
        return {"weight": weight}, {}

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        return _impl.prelu(input, ctx.params["weight"])

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
