"""Lazy layers: ``LazyLinear``, ``LazyConv1d/2d/3d``, ``LazyConvTranspose1d/2d/3d``,
``LazyBatchNorm1d/2d/3d``, ``LazyInstanceNorm1d/2d/3d``.

torch infers the input size of a lazy layer at its first forward call and then turns
the layer into its eager class. fnet layers are frozen configuration, so the input size
lives where fnet keeps everything that depends on data: in the parameter shapes. It is
inferred once, when the parameters are created:

* ``params, state = model.init(key, x)``: an example input (and keyword inputs) runs
  through the model under ``jax.eval_shape`` (no computation), each lazy layer records
  the size it sees, and ``init`` then draws every parameter with torch's initialisation
  for the inferred size (that of the eager layer);
* ``fnet.load_state_dict(model, torch_model.state_dict())``: the sizes are read from the
  checkpoint's shapes (torch's lazy layers do the same when loading).

``model.init(key)`` without an example raises for a model with a lazy layer. In
``apply`` a lazy layer behaves exactly as the eager layer of its parameters' size (its
checks, errors and numerics are that layer's).

One difference: an unbatched input ``(C, *)`` to a lazy instance norm gives
``num_features = C`` in fnet; torch's lazy instance norms read dim 1 of any input and
then refuse the unbatched input they were sized from.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax

from .. import _checks
from ._conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ._linear import Linear
from ._lazy_sizes import _SIZES, infer_sizes, sizes_known  # noqa: F401 - infer_sizes, sizes_known re-exported
from ._module import Context, Module
from ._norm import BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d

__all__ = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def sizes_from_state_dict(model: Module, state_dict: Mapping[str, Any]) -> dict[int, int]:
    """Each lazy layer's size read from the shapes of its entries in ``state_dict``."""
    sizes: dict[int, int] = {}
    for name, module in model.named_modules():
        if not isinstance(module, LazyModuleMixin):
            continue
        prefix = f"{name}." if name else ""
        shapes = {key[len(prefix):]: tuple(getattr(value, "shape", ())) for key, value in state_dict.items()
                  if key.startswith(prefix) and "." not in key[len(prefix):]}
        size = module._size_from_params(shapes)
        if size is not None:
            sizes[id(module)] = size
    return sizes


class LazyModuleMixin(Module):
    """A layer whose input size comes from an example input or a checkpoint.

    Subclasses say which eager layer they become (``_materialize``), where the size
    is in an input (``_size_from_input``) and in the parameters (``_size_from_params``).

    PyTorch equivalent: ``torch.nn.modules.lazy.LazyModuleMixin``.
    """

    def _materialize(self, size: int) -> Module:
        raise NotImplementedError

    def _size_from_input(self, input: Any) -> int:
        raise NotImplementedError

    def _size_from_params(self, shapes: Mapping[str, tuple[int, ...]]) -> int | None:
        raise NotImplementedError

    def _size_name(self) -> str:
        return "in_features"

    def _has_arrays(self) -> bool:
        return True

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        known = _SIZES.get()
        size = None if known is None else known.sizes.get(id(self))
        if size is None:
            if known is not None and known.probing:
                return {}, {}  # created during the example forward pass
            if not self._has_arrays():
                return {}, {}
            raise ValueError(
                f"{self.describe()}: {self._size_name()} is inferred from the input; create the "
                f"parameters with an example input, params, state = model.init(key, x), or load "
                f"a state_dict (fnet.load_state_dict(model, sd) reads the sizes from it)")
        return self._materialize(size).reset_parameters(key)

    def forward(self, ctx: Context, input: jax.Array, *args: Any, **kwargs: Any) -> Any:
        size = self._size_from_params({k: tuple(v.shape) for k, v in {**ctx.params, **ctx.state}.items()})
        known = _SIZES.get()
        if size is None:
            size = self._size_from_input(input)
            if known is not None and known.probing:
                seen = known.sizes.setdefault(id(self), size)
                if seen != size:
                    raise ValueError(f"called with inputs of {self._size_name()} "
                                     f"{seen} and {size}; a lazy layer has one size")
                eager = self._materialize(size)
                params, state = eager.reset_parameters(jax.random.key(0))
                sub = Context(eager, params, state, ctx.train, ctx.key, ctx.path_parts)
                return _checks.located(sub.where, lambda: eager.forward(sub, input, *args, **kwargs))
        eager = self._materialize(size)
        sub = Context(eager, ctx.params, ctx.state, ctx.train, ctx.key, ctx.path_parts)
        # the materialised layer names itself (Linear(in_features=64, ...)), not the lazy one
        out = _checks.located(sub.where, lambda: eager.forward(sub, input, *args, **kwargs))
        if sub.new_state is not sub.state:
            ctx.update_state(**sub.new_state)
        return out

    def _no_direct_call(self) -> str | None:
        return "it has parameters"


class LazyLinear(LazyModuleMixin):
    """A :class:`Linear` whose ``in_features`` is inferred (see the module docstring).

    Args:
        out_features, bias, device, dtype: as :class:`Linear`.

    PyTorch equivalent: ``torch.nn.LazyLinear``.
    """

    def __init__(self, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        self.out_features = int(out_features)
        self.bias = bool(bias)
        self.device = device
        self.dtype = dtype

    def _materialize(self, size: int) -> Module:
        return Linear(size, self.out_features, self.bias, self.device, self.dtype)

    def _size_from_input(self, input: Any) -> int:
        if _checks.shape_of(input) == ():
            _checks.fail(None, "input (*, in_features) with at least one dimension", input)
        return _checks.shape_of(input)[-1]

    def _size_from_params(self, shapes: Mapping[str, tuple[int, ...]]) -> int | None:
        return shapes["weight"][1] if "weight" in shapes else None

    def extra_repr(self) -> str:
        return f"in_features=0, out_features={self.out_features}, bias={self.bias}"


class _LazyConvNd(LazyModuleMixin):
    _eager: type = Conv2d
    _transposed = False

    def _size_name(self) -> str:
        return "in_channels"

    def _materialize(self, size: int) -> Module:
        return type(self)._eager(size, **self._config_kwargs())

    def _config_kwargs(self) -> dict:
        raise NotImplementedError

    def _size_from_input(self, input: Any) -> int:
        nd = type(self)._eager._nd
        shape = _checks.shape_of(input)
        if len(shape) not in (nd + 1, nd + 2):
            _checks.fail(None, f"a {nd + 2}-D batched or {nd + 1}-D unbatched input of "
                         f"{type(self)._eager.__name__}", input)
        return shape[len(shape) - nd - 1]

    def _size_from_params(self, shapes: Mapping[str, tuple[int, ...]]) -> int | None:
        if "weight" not in shapes:
            return None
        weight = shapes["weight"]
        return weight[0] if self._transposed else weight[1] * int(self.groups)

    def extra_repr(self) -> str:
        # the eager layer's, with torch's 0 for the unknown in_channels
        return "0, " + self._materialize(max(int(self.groups), 1)).extra_repr().split(", ", 1)[1]


class _LazyConv(_LazyConvNd):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None):
        super().__init__()
        self.out_channels = int(out_channels)
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.bias = bias
        self.padding_mode = padding_mode
        self.device = device
        self.dtype = dtype
        self._materialize(max(int(groups), 1))  # validates the configuration now, as torch

    def _config_kwargs(self) -> dict:
        return dict(out_channels=self.out_channels, kernel_size=self.kernel_size, stride=self.stride,
                    padding=self.padding, dilation=self.dilation, groups=self.groups, bias=self.bias,
                    padding_mode=self.padding_mode, device=self.device, dtype=self.dtype)


class _LazyConvTranspose(_LazyConvNd):
    _transposed = True

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        super().__init__()
        self.out_channels = int(out_channels)
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.output_padding = output_padding
        self.groups = groups
        self.bias = bias
        self.dilation = dilation
        self.padding_mode = padding_mode
        self.device = device
        self.dtype = dtype
        self._materialize(max(int(groups), 1))

    def _config_kwargs(self) -> dict:
        return dict(out_channels=self.out_channels, kernel_size=self.kernel_size, stride=self.stride,
                    padding=self.padding, output_padding=self.output_padding, groups=self.groups,
                    bias=self.bias, dilation=self.dilation, padding_mode=self.padding_mode,
                    device=self.device, dtype=self.dtype)


class _LazyNormNd(LazyModuleMixin):
    _eager: type = BatchNorm2d
    _channel_from_end = False  # InstanceNorm: channels are dim -nd-1 (unbatched inputs too)

    def __init__(self, eps: float = 1e-05, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True):
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.device = device
        self.dtype = dtype
        self.bias = bool(bias)

    def _size_name(self) -> str:
        return "num_features"

    def _has_arrays(self) -> bool:
        return self.affine or self.track_running_stats

    def _materialize(self, size: int) -> Module:
        return type(self)._eager(size, self.eps, self.momentum, self.affine, self.track_running_stats,
                                 self.device, self.dtype, bias=self.bias)

    def _size_from_input(self, input: Any) -> int:
        shape = _checks.shape_of(input)
        if len(shape) < 2:
            _checks.fail(None, "an input (N, C, *) with a channel dimension", input)
        if self._channel_from_end:
            nd = {InstanceNorm1d: 1, InstanceNorm2d: 2, InstanceNorm3d: 3}[type(self)._eager]
            return shape[len(shape) - nd - 1]
        return shape[1]

    def _size_from_params(self, shapes: Mapping[str, tuple[int, ...]]) -> int | None:
        for name in ("weight", "running_mean"):
            if name in shapes:
                return shapes[name][0]
        return None

    def extra_repr(self) -> str:
        return "0, " + self._materialize(1).extra_repr().split(", ", 1)[1]


_CONV_DOC = """A :class:`{eager}` whose ``in_channels`` is inferred (see ``fnet.nn._lazy``).

    Args:
        out_channels, kernel_size, stride, padding, ...: as :class:`{eager}`, in its order.

    PyTorch equivalent: ``torch.nn.{name}``.
    """
_NORM_DOC = """A :class:`{eager}` whose ``num_features`` is inferred (see ``fnet.nn._lazy``).

    Args:
        eps, momentum, affine, track_running_stats, device, dtype, bias: as
            :class:`{eager}`; note that torch's lazy instance norms default to
            ``affine=True, track_running_stats=True``, unlike ``{eager}``.

    PyTorch equivalent: ``torch.nn.{name}``.
    """


class LazyConv1d(_LazyConv):
    _eager = Conv1d


class LazyConv2d(_LazyConv):
    _eager = Conv2d


class LazyConv3d(_LazyConv):
    _eager = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose):
    _eager = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose):
    _eager = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose):
    _eager = ConvTranspose3d


class LazyBatchNorm1d(_LazyNormNd):
    _eager = BatchNorm1d


class LazyBatchNorm2d(_LazyNormNd):
    _eager = BatchNorm2d


class LazyBatchNorm3d(_LazyNormNd):
    _eager = BatchNorm3d


class LazyInstanceNorm1d(_LazyNormNd):
    _eager = InstanceNorm1d
    _channel_from_end = True


class LazyInstanceNorm2d(_LazyNormNd):
    _eager = InstanceNorm2d
    _channel_from_end = True


class LazyInstanceNorm3d(_LazyNormNd):
    _eager = InstanceNorm3d
    _channel_from_end = True


for _cls in (LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d,
             LazyConvTranspose3d):
    _cls.__doc__ = _CONV_DOC.format(eager=_cls._eager.__name__, name=_cls.__name__)
for _cls in (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyInstanceNorm1d, LazyInstanceNorm2d,
             LazyInstanceNorm3d):
    _cls.__doc__ = _NORM_DOC.format(eager=_cls._eager.__name__, name=_cls.__name__)
