"""Sizes and Python scalars: ``x.size(0)``, arithmetic on sizes, ``getitem``, ``item()``.

torch.export keeps sizes symbolic where a dimension is dynamic (``sym_size``, then
``operator.mul`` on the result...). Under JAX every shape is concrete at trace time, so
these evaluate to plain Python ints while the model is traced: one port serves every
batch size, and each new size compiles once, as any jitted JAX function does.
"""

from __future__ import annotations

import math
import operator

import jax
import numpy as np

from ._optable import op


@op("aten.sym_size.int")
def sym_size(self, dim):
    return int(self.shape[dim])


@op("aten.sym_numel.default", "aten.numel.default")
def sym_numel(self):
    return int(np.prod(self.shape, dtype=np.int64))


@op("aten.sym_stride.int")
def sym_stride(self, dim):
    # the arrays are logically contiguous: strides of a row-major layout
    return int(np.prod(self.shape[dim % self.ndim + 1:], dtype=np.int64))


@op("aten.sym_storage_offset.default")
def sym_storage_offset(self):
    return 0


@op("aten.sym_is_contiguous.default")
def sym_is_contiguous(self, memory_format=None):
    return True  # the arrays are logically contiguous


@op("aten._local_scalar_dense.default", "aten.item.default")
def item(self):
    try:
        return np.asarray(self).item()
    except jax.errors.ConcretizationTypeError:
        raise ValueError(
            "fnet.port: the model reads a tensor value as a Python number (.item(), int(t), "
            "a value-dependent size): under jax.jit values are not known while the program is "
            "built. Keep the value a tensor in the torch model, or run the port without jit."
        ) from None


_PY = {
    "operator.getitem": operator.getitem, "operator.add": operator.add,
    "operator.sub": operator.sub, "operator.mul": operator.mul,
    "operator.floordiv": operator.floordiv, "operator.truediv": operator.truediv,
    "operator.mod": operator.mod, "operator.pow": operator.pow, "operator.neg": operator.neg,
    "operator.pos": operator.pos, "operator.abs": operator.abs,
    "operator.eq": operator.eq, "operator.ne": operator.ne, "operator.lt": operator.lt,
    "operator.le": operator.le, "operator.gt": operator.gt, "operator.ge": operator.ge,
    "operator.and_": operator.and_, "operator.or_": operator.or_, "operator.xor": operator.xor,
    "operator.not_": operator.not_, "operator.lshift": operator.lshift,
    "operator.rshift": operator.rshift, "operator.invert": operator.invert,
    "math.ceil": math.ceil, "math.floor": math.floor, "math.sqrt": math.sqrt,
    "math.trunc": math.trunc, "math.exp": math.exp, "math.log": math.log,
    "torch.sym_float": float, "torch.sym_int": int, "torch.sym_max": max, "torch.sym_min": min,
    "torch.sym_not": operator.not_, "torch.sym_sqrt": math.sqrt,
    "torch.sym_ite": lambda b, t, f: t if b else f,
    "torch.sym_sum": lambda args: sum(args),
    "torch._sym_sqrt": math.sqrt, "torch.sym_fresh_size": lambda expr: expr,
}

for _name, _fn in _PY.items():
    op(_name)(_fn)

