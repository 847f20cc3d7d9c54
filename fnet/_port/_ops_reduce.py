"""Reductions, sorting, cumulative operators and matrix products.

``dim=None`` and ``dim=[]`` both reduce every dimension, as ATen's ``*.dim_IntList``
overloads do. ``var``/``std`` take torch's ``correction`` (``unbiased=True`` is
``correction=1``).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from jax import lax

from ._optable import op


def _axes(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """Reduction axes; torch lets a 0-d tensor take dim 0 / -1 (the whole scalar)."""
    if dim is None or ndim == 0:
        return None
    if isinstance(dim, int):
        dim = [dim]
    if len(dim) == 0:
        return None
    return tuple(d % ndim for d in dim)


def _scalar_dim(fn):
    """Runs ``fn(x, dim, ...)`` on a 0-d ``x`` as on its 1-element vector (torch's rule)."""
    def wrapped(self, *args, **kwargs):
        if self.ndim:
            return fn(self, *args, **kwargs)
        out = fn(self.reshape(1), *args, **kwargs)  # dim 0 or -1 address the one element
        return tuple(o.reshape(()) for o in out) if isinstance(out, tuple) else out.reshape(())
    return wrapped


def _cast(x, dtype):
    return x if dtype is None else x.astype(dtype)


@op("aten.sum.default")
def sum_(self, dtype=None):
    return jnp.sum(_cast(self, dtype))


@op("aten.sum.dim_IntList")
def sum_dim(self, dim, keepdim=False, dtype=None):
    return jnp.sum(_cast(self, dtype), axis=_axes(dim, self.ndim), keepdims=keepdim)


@op("aten.mean.default")
def mean(self, dtype=None):
    return jnp.mean(_cast(self, dtype))


@op("aten.mean.dim")
def mean_dim(self, dim, keepdim=False, dtype=None):
    return jnp.mean(_cast(self, dtype), axis=_axes(dim, self.ndim), keepdims=keepdim)


@op("aten.prod.default")
def prod(self, dtype=None):
    return jnp.prod(_cast(self, dtype))


@op("aten.prod.dim_int")
def prod_dim(self, dim, keepdim=False, dtype=None):
    return jnp.prod(_cast(self, dtype), axis=_axes(dim, self.ndim), keepdims=keepdim)


@op("aten.amax.default")
def amax(self, dim=(), keepdim=False):
    return jnp.max(self, axis=_axes(dim, self.ndim), keepdims=keepdim)


@op("aten.amin.default")
def amin(self, dim=(), keepdim=False):
    return jnp.min(self, axis=_axes(dim, self.ndim), keepdims=keepdim)


@op("aten.max.default")
def max_(self):
    return jnp.max(self)


@op("aten.min.default")
def min_(self):
    return jnp.min(self)


@op("aten.max.dim")
@_scalar_dim
def max_dim(self, dim, keepdim=False):
    return jnp.max(self, axis=dim, keepdims=keepdim), jnp.argmax(self, axis=dim, keepdims=keepdim)


@op("aten.min.dim")
@_scalar_dim
def min_dim(self, dim, keepdim=False):
    return jnp.min(self, axis=dim, keepdims=keepdim), jnp.argmin(self, axis=dim, keepdims=keepdim)


@op("aten.aminmax.default")
def aminmax(self, dim=None, keepdim=False):
    axes = _axes(dim, self.ndim)
    return jnp.min(self, axis=axes, keepdims=keepdim), jnp.max(self, axis=axes, keepdims=keepdim)


@op("aten.argmax.default")
def argmax(self, dim=None, keepdim=False):
    if self.ndim == 0:
        return jnp.zeros((), jnp.int32)
    return jnp.argmax(self, axis=dim, keepdims=keepdim)


@op("aten.argmin.default")
def argmin(self, dim=None, keepdim=False):
    if self.ndim == 0:
        return jnp.zeros((), jnp.int32)
    return jnp.argmin(self, axis=dim, keepdims=keepdim)


@op("aten.any.default")
def any_(self):
    return jnp.any(self)


@op("aten.any.dim", "aten.any.dims")
def any_dim(self, dim=None, keepdim=False):
    return jnp.any(self, axis=_axes(dim, self.ndim), keepdims=keepdim)


@op("aten.all.default")
def all_(self):
    return jnp.all(self)


@op("aten.all.dim", "aten.all.dims")
def all_dim(self, dim=None, keepdim=False):
    return jnp.all(self, axis=_axes(dim, self.ndim), keepdims=keepdim)


@op("aten.count_nonzero.default", "aten.count_nonzero.dim_IntList")
def count_nonzero(self, dim=None):
    return jnp.count_nonzero(self, axis=_axes(dim, self.ndim))


def _correction(correction, unbiased=None) -> float:
    if correction is not None:
        return float(correction)
    return 1.0 if unbiased is None or unbiased else 0.0


@op("aten.var.correction")
def var(self, dim=None, correction=None, keepdim=False):
    return jnp.var(self, axis=_axes(dim, self.ndim), ddof=_correction(correction), keepdims=keepdim)


@op("aten.var.dim")
def var_dim(self, dim=None, unbiased=True, keepdim=False):
    return jnp.var(self, axis=_axes(dim, self.ndim), ddof=_correction(None, unbiased), keepdims=keepdim)


@op("aten.var.default")
def var_all(self, unbiased=True):
    return jnp.var(self, ddof=_correction(None, unbiased))


@op("aten.std.correction")
def std(self, dim=None, correction=None, keepdim=False):
    return jnp.std(self, axis=_axes(dim, self.ndim), ddof=_correction(correction), keepdims=keepdim)


@op("aten.std.dim")
def std_dim(self, dim=None, unbiased=True, keepdim=False):
    return jnp.std(self, axis=_axes(dim, self.ndim), ddof=_correction(None, unbiased), keepdims=keepdim)


@op("aten.std.default")
def std_all(self, unbiased=True):
    return jnp.std(self, ddof=_correction(None, unbiased))


@op("aten.var_mean.correction")
def var_mean(self, dim=None, correction=None, keepdim=False):
    return var(self, dim, correction, keepdim), mean_dim(self, dim, keepdim)


@op("aten.std_mean.correction")
def std_mean(self, dim=None, correction=None, keepdim=False):
    return std(self, dim, correction, keepdim), mean_dim(self, dim, keepdim)


@op("aten.logsumexp.default")
def logsumexp(self, dim, keepdim=False):
    return jax.nn.logsumexp(self, axis=_axes(dim, self.ndim), keepdims=keepdim)


@op("aten.linalg_vector_norm.default")
def vector_norm(self, ord=2, dim=None, keepdim=False, dtype=None):
    x = _cast(self, dtype)
    axes = _axes(dim, x.ndim)
    if ord == 2:
        return jnp.sqrt(jnp.sum(x * x, axis=axes, keepdims=keepdim))
    return jnp.linalg.norm(x if axes is not None else x.reshape(-1), ord=ord,
                           axis=axes if axes is not None else None, keepdims=keepdim)


@op("aten.norm.ScalarOpt_dim", "aten.norm.Scalar", "aten.norm.ScalarOpt_dim_dtype")
def norm(self, p=2, dim=None, keepdim=False, dtype=None):
    return vector_norm(self, 2 if p is None else p, dim, keepdim, dtype)


@op("aten.cumsum.default")
@_scalar_dim
def cumsum(self, dim, dtype=None):
    return jnp.cumsum(_cast(self, dtype), axis=dim)


@op("aten.cumprod.default")
@_scalar_dim
def cumprod(self, dim, dtype=None):
    return jnp.cumprod(_cast(self, dtype), axis=dim)


@op("aten.cummax.default")
@_scalar_dim
def cummax(self, dim):
    values = lax.cummax(self, axis=dim % self.ndim)
    return values, _running_arg(self, values, dim)


@op("aten.cummin.default")
@_scalar_dim
def cummin(self, dim):
    values = lax.cummin(self, axis=dim % self.ndim)
    return values, _running_arg(self, values, dim)


def _running_arg(x, running, dim):
    """Index of the last position where the running extreme was reached (torch's rule)."""
    dim = dim % x.ndim
    pos = lax.broadcasted_iota(jnp.int32, x.shape, dim)
    return lax.cummax(jnp.where(x == running, pos, 0), axis=dim)


@op("aten.logcumsumexp.default")
@_scalar_dim
def logcumsumexp(self, dim):
    return lax.cumlogsumexp(self, axis=dim % self.ndim)


@op("aten.sort.default", "aten.sort.stable")
@_scalar_dim
def sort(self, dim=-1, descending=False, stable=False):
    key = -self if descending and not jnp.issubdtype(self.dtype, jnp.bool_) else self
    indices = jnp.argsort(key, axis=dim, stable=True)
    if descending and jnp.issubdtype(self.dtype, jnp.bool_):
        indices = jnp.argsort(~self, axis=dim, stable=True)
    return jnp.take_along_axis(self, indices, axis=dim), indices


@op("aten.argsort.default", "aten.argsort.stable")
def argsort(self, dim=-1, descending=False, stable=False):
    return sort(self, dim, descending)[1]


@op("aten.topk.default")
@_scalar_dim
def topk(self, k, dim=-1, largest=True, sorted=True):
    moved = jnp.moveaxis(self, dim, -1)
    values, indices = lax.top_k(moved if largest else -moved, k)
    if not largest:
        values = -values
    return jnp.moveaxis(values, -1, dim), jnp.moveaxis(indices, -1, dim)


@op("aten.kthvalue.default")
@_scalar_dim
def kthvalue(self, k, dim=-1, keepdim=False):
    values, indices = sort(self, dim)
    v = jnp.take(values, k - 1, axis=dim)
    i = jnp.take(indices, k - 1, axis=dim)
    if keepdim:
        v, i = jnp.expand_dims(v, dim), jnp.expand_dims(i, dim)
    return v, i


# -- matrix products ----------------------------------------------------------------------

@op("aten.mm.default", "aten.bmm.default", "aten.matmul.default", "aten.mv.default",
    "aten.dot.default", "aten.vdot.default", "aten.inner.default")
def matmul(self, other):
    return jnp.matmul(self, other)


@op("aten.outer.default", "aten.ger.default")
def outer(self, vec2):
    return jnp.outer(self, vec2)


def _affine(product, self, beta, alpha):
    product = product if alpha == 1 else alpha * product
    if beta == 0:
        return product  # torch ignores self (even NaN) when beta == 0
    return (self if beta == 1 else beta * self) + product


@op("aten.addmm.default", "aten.addmv.default", "aten.baddbmm.default")
def addmm(self, mat1, mat2, beta=1, alpha=1):
    return _affine(jnp.matmul(mat1, mat2), self, beta, alpha)


@op("aten.addbmm.default")
def addbmm(self, batch1, batch2, beta=1, alpha=1):
    return _affine(jnp.sum(jnp.matmul(batch1, batch2), axis=0), self, beta, alpha)


@op("aten.einsum.default")
def einsum(equation, tensors, path=None):
    return jnp.einsum(equation, *tensors)


@op("aten.tensordot.default")
def tensordot(self, other, dims_self, dims_other):
    return jnp.tensordot(self, other, axes=(tuple(dims_self), tuple(dims_other)))


@op("aten.kron.default")
def kron(self, other):
    return jnp.kron(self, other)


@op("aten.trace.default")
def trace(self):
    return jnp.trace(self)


@op("aten._cdist_forward.default", "aten.cdist.default")
def cdist(x1, x2, p=2.0, compute_mode=None):
    diff = x1[..., :, None, :] - x2[..., None, :, :]
    if p == 2:
        return jnp.sqrt(jnp.sum(diff * diff, axis=-1))
    if p == 0:
        return jnp.sum(diff != 0, axis=-1).astype(x1.dtype)
    if p == float("inf"):
        return jnp.max(jnp.abs(diff), axis=-1)
    return jnp.sum(jnp.abs(diff) ** p, axis=-1) ** (1.0 / p)


@op("aten._pdist_forward.default")
def pdist(self, p=2.0):
    n = self.shape[0]
    rows, cols = jnp.triu_indices(n, k=1)
    return cdist(self[rows][:, None, :], self[cols][:, None, :], p)[:, 0, 0]


def _fft_norm(normalization: int) -> str:
    return {0: "backward", 1: "ortho", 2: "forward"}[int(normalization)]


@op("aten._fft_r2c.default")
def fft_r2c(self, dim: Sequence[int], normalization, onesided):
    out = jnp.fft.fftn(self, axes=tuple(dim), norm=_fft_norm(normalization))
    if onesided:
        last = dim[-1]
        out = lax.slice_in_dim(out, 0, self.shape[last] // 2 + 1, axis=last)
    return out


@op("aten._fft_c2c.default")
def fft_c2c(self, dim: Sequence[int], normalization, forward):
    fn = jnp.fft.fftn if forward else jnp.fft.ifftn
    # ATen's normalization code is relative to the direction: 0 means no scaling
    norm = {0: "backward" if forward else "forward", 1: "ortho",
            2: "forward" if forward else "backward"}[int(normalization)]
    return fn(self, axes=tuple(dim), norm=norm)


@op("aten._fft_c2r.default")
def fft_c2r(self, dim: Sequence[int], normalization, last_dim_size):
    norm = {0: "forward", 1: "ortho", 2: "backward"}[int(normalization)]
    sizes = [self.shape[d] for d in dim[:-1]] + [last_dim_size]
    return jnp.fft.irfftn(self, s=sizes, axes=tuple(dim), norm=norm)
