"""Views, indexing, scattering, joining and tensor creation.

Views (``view``, ``transpose``, ``select``, ``slice``...) return new arrays here; the
interpreter remembers which node is a view of which, so that an in-place write through
a view reaches its base exactly as in torch (``_interpret.py``). Operators whose result
size depends on tensor values (``nonzero``, ``masked_select``, boolean indexing that
selects) cannot be compiled by XLA and have no handler.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import functional as F
from ._optable import op


def _dim(d: int, ndim: int) -> int:
    return d % ndim if ndim else 0


# -- views and reshapes -------------------------------------------------------------------

@op("aten.view.default", "aten._unsafe_view.default", "aten.reshape.default",
    "aten._reshape_alias.default", "aten.view_copy.default")
def view(self, size, stride=None):
    return jnp.reshape(self, tuple(size))


@op("aten.view_as.default", "aten.reshape_as.default")
def view_as(self, other):
    return jnp.reshape(self, other.shape)


@op("aten.view.dtype")
def view_dtype(self, dtype):
    old, new = jnp.dtype(self.dtype).itemsize, jnp.dtype(dtype).itemsize
    if old == new:
        return lax.bitcast_convert_type(self, dtype)
    if old > new:  # one element becomes several: they go to a new last axis, merged into it
        out = lax.bitcast_convert_type(self, dtype)
        return out.reshape(*self.shape[:-1], -1)
    grouped = self.reshape(*self.shape[:-1], -1, new // old)
    return lax.bitcast_convert_type(grouped, dtype)


@op("aten.flatten.using_ints")
def flatten(self, start_dim=0, end_dim=-1):
    if self.ndim == 0:
        return self.reshape(1)
    s, e = _dim(start_dim, self.ndim), _dim(end_dim, self.ndim)
    return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])


@op("aten.unflatten.int")
def unflatten(self, dim, sizes):
    d = _dim(dim, self.ndim)
    return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])


@op("aten.squeeze.default")
def squeeze(self):
    return jnp.squeeze(self, axis=tuple(i for i, s in enumerate(self.shape) if s == 1))


@op("aten.squeeze.dim", "aten.squeeze.dims")
def squeeze_dim(self, dim):
    dims = [dim] if isinstance(dim, int) else list(dim)
    axes = tuple(sorted({_dim(d, self.ndim) for d in dims if self.ndim and self.shape[_dim(d, self.ndim)] == 1}))
    return jnp.squeeze(self, axis=axes) if axes else self


@op("aten.unsqueeze.default")
def unsqueeze(self, dim):
    return jnp.expand_dims(self, dim % (self.ndim + 1))


@op("aten.permute.default")
def permute(self, dims):
    return jnp.transpose(self, tuple(_dim(d, self.ndim) for d in dims))


@op("aten.transpose.int", "aten.swapaxes.default", "aten.swapdims.default")
def transpose(self, dim0, dim1):
    return self if self.ndim == 0 else jnp.swapaxes(self, dim0, dim1)


@op("aten.t.default")
def t(self):
    return self if self.ndim < 2 else jnp.swapaxes(self, 0, 1)


@op("aten.numpy_T.default")
def numpy_t(self):
    return jnp.transpose(self)


@op("aten.movedim.int", "aten.moveaxis.int", "aten.movedim.intlist", "aten.moveaxis.intlist")
def movedim(self, source, destination):
    return jnp.moveaxis(self, source, destination)


@op("aten.expand.default", "aten.expand_copy.default")
def expand(self, size, implicit=False):
    offset = len(size) - self.ndim
    shape = tuple(self.shape[i - offset] if (s == -1 and i >= offset) else s for i, s in enumerate(size))
    return jnp.broadcast_to(self, shape)


@op("aten.expand_as.default")
def expand_as(self, other):
    return jnp.broadcast_to(self, other.shape)


@op("aten.broadcast_to.default")
def broadcast_to(self, size):
    return expand(self, size)


@op("aten.broadcast_tensors.default")
def broadcast_tensors(tensors):
    return list(jnp.broadcast_arrays(*tensors))


@op("aten.slice.Tensor", "aten.slice_copy.Tensor")
def slice_(self, dim=0, start=None, end=None, step=1):
    index = [slice(None)] * self.ndim
    index[_dim(dim, self.ndim)] = slice(start, end, step)
    return self[tuple(index)]


@op("aten.narrow.default")
def narrow(self, dim, start, length):
    d = _dim(dim, self.ndim)
    start = start % self.shape[d] if start < 0 else start
    return slice_(self, d, start, start + length)


@op("aten.select.int", "aten.select_copy.int")
def select(self, dim, index):
    d = _dim(dim, self.ndim)
    return jnp.take(self, index % self.shape[d] if index < 0 else index, axis=d)


@op("aten.diagonal.default", "aten.diagonal_copy.default")
def diagonal(self, offset=0, dim1=0, dim2=1):
    return jnp.diagonal(self, offset, dim1, dim2)


@op("aten.unfold.default")
def unfold(self, dimension, size, step):
    if self.ndim == 0:
        return self.reshape(1)  # torch: a 0-d tensor unfolds into one window of size 1
    d = _dim(dimension, self.ndim)
    n = (self.shape[d] - size) // step + 1
    windows = np.arange(n)[:, None] * step + np.arange(size)[None, :]  # (n, size)
    out = jnp.take(self, windows, axis=d)  # (..., n, size, ...)
    return jnp.moveaxis(out, d + 1, -1)


@op("aten.as_strided.default", "aten.as_strided_copy.default")
def as_strided(self, size, stride, storage_offset=None):
    # Strides address the contiguous storage of the base array.
    offset = storage_offset or 0
    index = np.full(tuple(size), offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[d] = n
        index = index + (np.arange(n) * s).reshape(shape)
    return jnp.reshape(self, -1)[index]


@op("aten.split.Tensor", "aten.split_copy.Tensor")
def split(self, split_size, dim=0):
    d = _dim(dim, self.ndim)
    n = self.shape[d]
    if split_size == 0:
        return [self]
    bounds = list(range(0, n, split_size))
    return [lax.slice_in_dim(self, b, min(b + split_size, n), axis=d) for b in bounds] or [self]


@op("aten.split_with_sizes.default", "aten.split_with_sizes_copy.default", "aten.split.sizes")
def split_with_sizes(self, split_sizes, dim=0):
    d = _dim(dim, self.ndim)
    out, start = [], 0
    for size in split_sizes:
        out.append(lax.slice_in_dim(self, start, start + size, axis=d))
        start += size
    return out


@op("aten.chunk.default")
def chunk(self, chunks, dim=0):
    n = self.shape[_dim(dim, self.ndim)]
    return split(self, max(math.ceil(n / chunks), 1) if n else 1, dim)


@op("aten.tensor_split.sections")
def tensor_split(self, sections, dim=0):
    d = _dim(dim, self.ndim)
    n = self.shape[d]
    sizes = [n // sections + (1 if i < n % sections else 0) for i in range(sections)]
    return split_with_sizes(self, sizes, d)


@op("aten.tensor_split.indices")
def tensor_split_indices(self, indices, dim=0):
    d = _dim(dim, self.ndim)
    bounds = [0, *indices, self.shape[d]]
    return [slice_(self, d, a, max(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]


@op("aten.unbind.int")
def unbind(self, dim=0):
    d = _dim(dim, self.ndim)
    return [jnp.take(self, i, axis=d) for i in range(self.shape[d])]


# -- copies and conversions ---------------------------------------------------------------

@op("aten.alias.default", "aten.detach.default", "aten.lift_fresh.default",
    "aten.lift_fresh_copy.default", "aten.alias_copy.default", "aten.detach_copy.default",
    "aten.resolve_conj.default", "aten.resolve_neg.default")
def alias(self):
    return self


@op("aten.clone.default", "aten.contiguous.default")
def clone(self, memory_format=None):
    return self


@op("aten.to.dtype", "aten.to.device", "aten.to.dtype_layout", "aten._to_copy.default",
    "aten.to.prim_dtype", "aten.to.prim_Device")
def to(self, *args, dtype=None, **kwargs):
    for arg in args:  # the positional dtype of to.dtype / to.device
        if isinstance(arg, jnp.dtype) or (isinstance(arg, type) and issubclass(arg, np.generic)):
            dtype = arg
    return self if dtype is None else self.astype(dtype)


@op("aten.to.other", "aten.type_as.default")
def type_as(self, other, *args, **kwargs):
    return self.astype(other.dtype)


@op("aten._assert_tensor_metadata.default", "aten._assert_async.msg", "aten._assert_async.default",
    "aten._functional_assert_async.msg", "aten._assert_scalar.default",
    "aten.sym_constrain_range_for_size.default", "aten.sym_constrain_range.default",
    "aten._functional_sym_constrain_range_for_size.default",
    "aten._functional_sym_constrain_range.default")
def no_op(*args, **kwargs):
    return None


@op("aten.copy.default")
def copy(self, src, non_blocking=False):
    return jnp.broadcast_to(jnp.asarray(src), self.shape).astype(self.dtype)


@op("aten.fill.Scalar", "aten.fill.Tensor")
def fill(self, value):
    return jnp.full(self.shape, value, self.dtype)


@op("aten.zero.default")
def zero(self):
    return jnp.zeros_like(self)


@op("aten.view_as_real.default")
def view_as_real(self):
    return jnp.stack([jnp.real(self), jnp.imag(self)], axis=-1)


@op("aten.view_as_complex.default")
def view_as_complex(self):
    return lax.complex(self[..., 0], self[..., 1])


@op("aten.complex.default")
def complex_(real, imag):
    return lax.complex(*jnp.broadcast_arrays(real, imag))


@op("aten.polar.default")
def polar(abs, angle):
    return lax.complex(abs * jnp.cos(angle), abs * jnp.sin(angle))


@op("aten.real.default")
def real(self):
    return jnp.real(self)


@op("aten.imag.default")
def imag(self):
    return jnp.imag(self)


@op("aten.conj.default", "aten._conj.default", "aten.conj_physical.default")
def conj(self):
    return jnp.conj(self)


@op("aten.angle.default")
def angle(self):
    return jnp.angle(self)


# -- joining and repeating ----------------------------------------------------------------

@op("aten.cat.default", "aten.concat.default", "aten.concatenate.default")
def cat(tensors, dim=0):
    # torch still skips 1-D empty tensors whatever their dtype or the other shapes
    kept = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or list(tensors[:1])
    return jnp.concatenate(kept, axis=_dim(dim, kept[0].ndim))


@op("aten.stack.default")
def stack(tensors, dim=0):
    return jnp.stack(tensors, axis=dim % (tensors[0].ndim + 1))


@op("aten.hstack.default")
def hstack(tensors):
    return jnp.hstack(tensors)


@op("aten.vstack.default")
def vstack(tensors):
    return jnp.vstack(tensors)


@op("aten.repeat.default")
def repeat(self, repeats):
    return jnp.tile(self, tuple(repeats))


@op("aten.tile.default")
def tile(self, dims):
    return jnp.tile(self, tuple(dims))


@op("aten.repeat_interleave.self_int")
def repeat_interleave(self, repeats, dim=None, output_size=None):
    return jnp.repeat(self, repeats, axis=dim)


@op("aten.repeat_interleave.self_Tensor")
def repeat_interleave_tensor(self, repeats, dim=None, output_size=None):
    return jnp.repeat(self, repeats, axis=dim, total_repeat_length=output_size)


@op("aten.repeat_interleave.Tensor")
def repeat_interleave_counts(repeats, output_size=None):
    return jnp.repeat(jnp.arange(repeats.shape[0]), repeats, total_repeat_length=output_size)


@op("aten.flip.default")
def flip(self, dims):
    return jnp.flip(self, axis=tuple(dims))


@op("aten.roll.default")
def roll(self, shifts, dims=()):
    if not dims:
        return jnp.roll(self, shifts)
    return jnp.roll(self, tuple(shifts), axis=tuple(dims))


@op("aten.tril.default")
def tril(self, diagonal=0):
    return jnp.tril(self, diagonal)


@op("aten.triu.default")
def triu(self, diagonal=0):
    return jnp.triu(self, diagonal)


@op("aten.diag_embed.default")
def diag_embed(self, offset=0, dim1=-2, dim2=-1):
    n = self.shape[-1] + abs(offset)
    out = jnp.zeros(self.shape[:-1] + (n, n), self.dtype)
    i = jnp.arange(self.shape[-1])
    rows, cols = (i, i + offset) if offset >= 0 else (i - offset, i)
    out = out.at[..., rows, cols].set(self)
    return jnp.moveaxis(out, (-2, -1), (dim1, dim2))


@op("aten.diag.default")
def diag(self, diagonal=0):
    return jnp.diag(self, diagonal)


# -- indexing -----------------------------------------------------------------------------

def _index_tuple(indices: Sequence[Any]) -> tuple:
    return tuple(slice(None) if i is None else i for i in indices)


def _is_bool(x: Any) -> bool:
    return x is not None and jnp.issubdtype(jnp.asarray(x).dtype, jnp.bool_)


@op("aten.index.Tensor", "aten._unsafe_index.Tensor")
def index(self, indices):
    return self[_index_tuple(indices)]


def _mask_put(self, mask, values, accumulate):
    """``self[mask] = values`` for one boolean mask over the leading dimensions."""
    trailing = self.shape[mask.ndim:]
    mask = jnp.reshape(mask, mask.shape + (1,) * len(trailing))
    full = jnp.broadcast_to(mask, self.shape)
    values = jnp.asarray(values, self.dtype)
    if values.ndim == 0 or values.shape == trailing or values.size == 1:
        new = jnp.broadcast_to(values.reshape(values.shape if values.ndim else ()), self.shape)
    else:  # one row of values per selected position, in order: the k-th True takes row k
        positions = jnp.cumsum(mask.reshape(-1)) - 1
        rows = jnp.take(values.reshape((-1,) + trailing), jnp.clip(positions, 0), axis=0)
        new = rows.reshape(self.shape)
    return jnp.where(full, self + new if accumulate else new, self)


@op("aten.index_put.default", "aten._unsafe_index_put.default")
def index_put(self, indices, values, accumulate=False):
    if len(indices) == 1 and _is_bool(indices[0]):
        return _mask_put(self, indices[0], values, accumulate)
    if any(_is_bool(i) for i in indices):
        # boolean masks between other indices select positions by value: lower to integers
        # only when concrete (outside jit); under jit this has no static shape
        indices = [jnp.nonzero(i)[0] if _is_bool(i) else i for i in indices]
    ref = self.at[_index_tuple(indices)]
    values = jnp.asarray(values, self.dtype)
    return ref.add(values) if accumulate else ref.set(values)


@op("aten.index_select.default")
def index_select(self, dim, index):
    if self.ndim == 0:  # torch: a 0-d tensor and a one-element index give a 0-d result
        return jnp.take(self.reshape(1), jnp.reshape(index, (-1,))).reshape(())
    return jnp.take(self, index, axis=_dim(dim, self.ndim))


@op("aten.take.default")
def take(self, index):
    return jnp.take(jnp.reshape(self, -1), index)


@op("aten.take_along_dim.default")
def take_along_dim(self, indices, dim=None):
    if dim is None:
        return jnp.take(jnp.reshape(self, -1), jnp.reshape(indices, -1))
    return jnp.take_along_axis(self, indices, axis=dim)


def _grid(index, dim: int) -> tuple:
    """Index arrays addressing ``out[i][j][k] <- x[index[i][j][k]][j][k]`` (for dim 0)."""
    grids = list(jnp.indices(index.shape, sparse=True))
    grids[_dim(dim, index.ndim)] = index
    return tuple(grids)


@op("aten.gather.default")
def gather(self, dim, index, sparse_grad=False):
    if index.size == 0:
        return jnp.zeros(index.shape, self.dtype)
    if self.ndim == 0:  # torch reads the scalar at every (zero) index
        return jnp.broadcast_to(self, index.shape)
    return self[_grid(index, dim)]


def _src_block(src, index):
    if not hasattr(src, "shape") or np.ndim(src) == 0:
        return src
    return src[tuple(slice(0, s) for s in index.shape)]


_SCATTER_IDENTITY = {"sum": 0, "add": 0, "prod": 1, "multiply": 1, "mean": 0,
                     "amax": -np.inf, "amin": np.inf}


def _scatter(self, dim, index, src, reduce, include_self=True):
    if self.ndim == 0:
        index = index.reshape(1)
        return _scatter(self.reshape(1), 0, index, jnp.reshape(src, (1,)) if np.ndim(src) else src,
                        reduce, include_self).reshape(())
    grid = _grid(index, dim)
    src = _src_block(src, index)
    if reduce is None:
        return self.at[grid].set(src)
    base = self
    if not include_self:
        ident = _SCATTER_IDENTITY[reduce]
        if jnp.issubdtype(self.dtype, jnp.integer) and not np.isfinite(ident):
            info = jnp.iinfo(self.dtype)
            ident = info.min if ident < 0 else info.max
        base = self.at[grid].set(jnp.asarray(ident, self.dtype))
    if reduce in ("sum", "add"):
        return base.at[grid].add(src)
    if reduce in ("prod", "multiply"):
        return base.at[grid].multiply(src)
    if reduce == "amax":
        return base.at[grid].max(src)
    if reduce == "amin":
        return base.at[grid].min(src)
    if reduce == "mean":
        total = base.at[grid].add(src)
        count = jnp.ones(self.shape, self.dtype) if include_self else jnp.zeros(self.shape, self.dtype)
        count = count.at[grid].add(jnp.ones(index.shape, self.dtype))
        count = jnp.where(count == 0, 1, count)
        if jnp.issubdtype(self.dtype, jnp.integer):
            return jnp.floor_divide(total, count)
        return total / count
    raise ValueError(f"scatter: unknown reduce {reduce!r}")


@op("aten.scatter.src", "aten.scatter.value")
def scatter(self, dim, index, src):
    return _scatter(self, dim, index, src, None)


@op("aten.scatter.reduce", "aten.scatter.value_reduce")
def scatter_reduce_legacy(self, dim, index, src, reduce):
    return _scatter(self, dim, index, src, reduce)


@op("aten.scatter_add.default")
def scatter_add(self, dim, index, src):
    return _scatter(self, dim, index, src, "sum")


@op("aten.scatter_reduce.two")
def scatter_reduce(self, dim, index, src, reduce, include_self=True):
    return _scatter(self, dim, index, src, reduce, include_self)


def _dim_index(self, dim, index) -> tuple:
    d = _dim(dim, self.ndim)
    return (slice(None),) * d + (index,)


def _as_vector(fn):
    """Runs an indexed update on a 0-d ``self`` as on its 1-element vector (torch's rule)."""
    def wrapped(self, dim, index, *args, **kwargs):
        if self.ndim:
            return fn(self, dim, index, *args, **kwargs)
        args = [jnp.reshape(a, (-1,)) if hasattr(a, "ndim") and a.ndim == 0 else a for a in args]
        return fn(self.reshape(1), 0, jnp.reshape(index, (-1,)), *args, **kwargs).reshape(())
    return wrapped


@op("aten.index_add.default")
@_as_vector
def index_add(self, dim, index, source, alpha=1):
    return self.at[_dim_index(self, dim, index)].add(source if alpha == 1 else alpha * source)


@op("aten.index_copy.default")
@_as_vector
def index_copy(self, dim, index, source):
    return self.at[_dim_index(self, dim, index)].set(source)


@op("aten.index_fill.int_Scalar", "aten.index_fill.int_Tensor")
@_as_vector
def index_fill(self, dim, index, value):
    return self.at[_dim_index(self, dim, index)].set(value)


@op("aten.index_reduce.default")
@_as_vector
def index_reduce(self, dim, index, source, reduce, include_self=True):
    d = _dim(dim, self.ndim)
    shape = [1] * source.ndim
    shape[d] = -1
    full_index = jnp.broadcast_to(jnp.reshape(index, shape), source.shape)
    return _scatter(self, d, full_index, source, reduce, include_self)


@op("aten.masked_fill.Scalar", "aten.masked_fill.Tensor")
def masked_fill(self, mask, value):
    return jnp.where(mask, jnp.asarray(value, self.dtype), self)


@op("aten.masked_scatter.default")
def masked_scatter(self, mask, source):
    shape = jnp.broadcast_shapes(self.shape, mask.shape)
    self, mask = jnp.broadcast_to(self, shape), jnp.broadcast_to(mask, shape)
    positions = jnp.clip(jnp.cumsum(mask.reshape(-1)) - 1, 0)
    taken = jnp.take(jnp.reshape(source, -1), positions).reshape(self.shape)
    return jnp.where(mask, taken, self)


@op("aten.select_scatter.default")
def select_scatter(self, src, dim, index):
    d = _dim(dim, self.ndim)
    index = index % self.shape[d] if index < 0 else index
    return self.at[(slice(None),) * d + (index,)].set(src)


@op("aten.slice_scatter.default")
def slice_scatter(self, src, dim=0, start=None, end=None, step=1):
    d = _dim(dim, self.ndim)
    return self.at[(slice(None),) * d + (slice(start, end, step),)].set(src)


@op("aten.diagonal_scatter.default")
def diagonal_scatter(self, src, offset=0, dim1=0, dim2=1):
    idx = np.arange(self.size).reshape(self.shape)
    target = np.diagonal(idx, offset, dim1, dim2)
    flat = jnp.reshape(self, -1).at[target.reshape(-1)].set(jnp.reshape(src, -1))
    return flat.reshape(self.shape)


@op("aten.searchsorted.Tensor")
def searchsorted(sorted_sequence, self, out_int32=False, right=False, side=None, sorter=None):
    side = side or ("right" if right else "left")
    if sorted_sequence.ndim == 1:
        return jnp.searchsorted(sorted_sequence, self, side=side)
    fn = jnp.vectorize(lambda s, v: jnp.searchsorted(s, v, side=side), signature="(n),(m)->(m)")
    return fn(sorted_sequence, self)


@op("aten.bucketize.Tensor")
def bucketize(self, boundaries, out_int32=False, right=False):
    return jnp.searchsorted(boundaries, self, side="right" if right else "left")


@op("aten.triu_indices.default")
def triu_indices(row, col, offset=0, **kwargs):
    r, c = np.triu_indices(row, offset, col)
    return jnp.asarray(np.stack([r, c]))


@op("aten.tril_indices.default")
def tril_indices(row, col, offset=0, **kwargs):
    r, c = np.tril_indices(row, offset, col)
    return jnp.asarray(np.stack([r, c]))


@op("aten.one_hot.default")
def one_hot(self, num_classes=-1):
    return F.one_hot(self, num_classes)


# -- creation -----------------------------------------------------------------------------

def _size(size) -> tuple[int, ...]:
    if isinstance(size, int):
        return (size,)
    return tuple(int(s) for s in size)


@op("aten.arange.default")
def arange(end, dtype=None, **kwargs):
    return jnp.arange(end, dtype=dtype)


@op("aten.arange.start")
def arange_start(start, end, dtype=None, **kwargs):
    return jnp.arange(start, end, dtype=dtype)


@op("aten.arange.start_step")
def arange_step(start, end, step=1, dtype=None, **kwargs):
    if dtype is not None and jnp.issubdtype(dtype, jnp.floating):
        # torch computes start + i * step (no accumulated rounding)
        n = max(math.ceil((end - start) / step), 0)
        return (start + jnp.arange(n, dtype=dtype) * step).astype(dtype)
    return jnp.arange(start, end, step, dtype=dtype)


@op("aten.full.default")
def full(size, fill_value, dtype=None, **kwargs):
    return jnp.full(_size(size), fill_value, dtype)


@op("aten.zeros.default", "aten.empty.memory_format")
def zeros(size, *args, dtype=None, **kwargs):
    return jnp.zeros(_size(size), dtype)


@op("aten.new_empty_strided.default")
def new_empty_strided(self, size, stride, dtype=None, **kwargs):
    return jnp.zeros(_size(size), dtype or self.dtype)


@op("aten.empty_strided.default")
def empty_strided(size, stride, dtype=None, **kwargs):
    return jnp.zeros(_size(size), dtype)


@op("aten.ones.default")
def ones(size, dtype=None, **kwargs):
    return jnp.ones(_size(size), dtype)


@op("aten.scalar_tensor.default")
def scalar_tensor(s, dtype=None, **kwargs):
    return jnp.asarray(s, dtype)


@op("aten.full_like.default")
def full_like(self, fill_value, dtype=None, **kwargs):
    return jnp.full(self.shape, fill_value, dtype or self.dtype)


@op("aten.zeros_like.default", "aten.empty_like.default")
def zeros_like(self, dtype=None, **kwargs):
    return jnp.zeros(self.shape, dtype or self.dtype)


@op("aten.ones_like.default")
def ones_like(self, dtype=None, **kwargs):
    return jnp.ones(self.shape, dtype or self.dtype)


@op("aten.new_zeros.default", "aten.new_empty.default")
def new_zeros(self, size, dtype=None, **kwargs):
    return jnp.zeros(_size(size), dtype or self.dtype)


@op("aten.new_ones.default")
def new_ones(self, size, dtype=None, **kwargs):
    return jnp.ones(_size(size), dtype or self.dtype)


@op("aten.new_full.default")
def new_full(self, size, fill_value, dtype=None, **kwargs):
    return jnp.full(_size(size), fill_value, dtype or self.dtype)


@op("aten.eye.default")
def eye(n, dtype=None, **kwargs):
    return jnp.eye(n, dtype=dtype)


@op("aten.eye.m")
def eye_m(n, m, dtype=None, **kwargs):
    return jnp.eye(n, m, dtype=dtype)


@op("aten.linspace.default")
def linspace(start, end, steps, dtype=None, **kwargs):
    return jnp.linspace(start, end, steps, dtype=dtype)


@op("aten.logspace.default")
def logspace(start, end, steps, base=10.0, dtype=None, **kwargs):
    return jnp.logspace(start, end, steps, base=base, dtype=dtype)


# -- random numbers (a fresh key from the model call for every draw) ----------------------

def _float(dtype):
    return dtype if dtype is not None and jnp.issubdtype(dtype, jnp.floating) else jnp.float32


@op("aten.rand.default", run=True)
def rand(run, size, generator=None, dtype=None, **kwargs):
    return jax.random.uniform(run.key(), _size(size), _float(dtype))


@op("aten.randn.default", run=True)
def randn(run, size, generator=None, dtype=None, **kwargs):
    return jax.random.normal(run.key(), _size(size), _float(dtype))


@op("aten.rand_like.default", run=True)
def rand_like(run, self, dtype=None, **kwargs):
    return jax.random.uniform(run.key(), self.shape, _float(dtype or self.dtype))


@op("aten.randn_like.default", run=True)
def randn_like(run, self, dtype=None, **kwargs):
    return jax.random.normal(run.key(), self.shape, _float(dtype or self.dtype))


@op("aten.randint.default", run=True)
def randint(run, high, size, generator=None, dtype=None, **kwargs):
    return jax.random.randint(run.key(), _size(size), 0, high)


@op("aten.randint.low", run=True)
def randint_low(run, low, high, size, generator=None, dtype=None, **kwargs):
    return jax.random.randint(run.key(), _size(size), low, high)


@op("aten.randint_like.default", "aten.randint_like.low_dtype", run=True)
def randint_like(run, self, *bounds, dtype=None, **kwargs):
    low, high = (0, bounds[0]) if len(bounds) == 1 else bounds[:2]
    return jax.random.randint(run.key(), self.shape, low, high)


@op("aten.randperm.default", run=True)
def randperm(run, n, generator=None, dtype=None, **kwargs):
    return jax.random.permutation(run.key(), n)


@op("aten.bernoulli.default", run=True)
def bernoulli(run, self, generator=None):
    return jax.random.bernoulli(run.key(), self).astype(self.dtype)


@op("aten.bernoulli.p", "aten.bernoulli_.float", run=True)
def bernoulli_p(run, self, p=0.5, generator=None):
    return jax.random.bernoulli(run.key(), p, self.shape).astype(self.dtype)


@op("aten.uniform.default", "aten.uniform_.default", run=True)
def uniform(run, self, from_=0.0, to=1.0, generator=None, **kwargs):
    low, high = kwargs.get("from", from_), to
    return jax.random.uniform(run.key(), self.shape, self.dtype, low, high)


@op("aten.normal_functional.default", "aten.normal_.default", run=True)
def normal_(run, self, mean=0.0, std=1.0, generator=None):
    return mean + std * jax.random.normal(run.key(), self.shape, self.dtype)


@op("aten.normal.Tensor_float", "aten.normal.float_Tensor", "aten.normal.Tensor_Tensor", run=True)
def normal(run, mean, std=1.0, generator=None):
    shape = jnp.broadcast_shapes(jnp.shape(mean), jnp.shape(std))
    dtype = jnp.result_type(mean, std)
    return mean + std * jax.random.normal(run.key(), shape, _float(dtype))


@op("aten.exponential_.default", run=True)
def exponential_(run, self, lambd=1.0, generator=None):
    return jax.random.exponential(run.key(), self.shape, self.dtype) / lambd


@op("aten.multinomial.default", run=True)
def multinomial(run, self, num_samples, replacement=False, generator=None):
    logits = jnp.log(self)
    if replacement:
        shape = (num_samples,) + self.shape[:-1]
        return jnp.moveaxis(jax.random.categorical(run.key(), logits, shape=shape), 0, -1)
    # without replacement: Gumbel top-k (the same distribution as sequential draws)
    gumbel = jax.random.gumbel(run.key(), self.shape, logits.dtype)
    return lax.top_k(logits + gumbel, num_samples)[1]
