"""Lookup tables (torch.nn.functional twins): ``embedding``, ``embedding_bag`` and ``one_hot``.

Index checks need values, so they run when the indices are concrete (eager calls)
and, under ``jax.jit``, inside ``fnet.debug.checked`` (and ``fnet.train.fit``), which
stage them with ``checkify``. Without it an id outside ``[0, num_embeddings)`` gives a
row of NaN from ``embedding`` under ``jit`` (loud rather than a silently clamped row)
and ``one_hot`` gives an all-zero row for a class outside ``[0, num_classes)``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks

__all__ = ["embedding", "embedding_bag", "one_hot"]


class IndexOutOfRangeError(IndexError, ValueError):
    """An index outside the table (torch raises ``IndexError``; fnet's is also a ValueError)."""


def _check_indices(where: str, input: Any) -> jax.Array:
    dtype = _checks.dtype_of(input)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"{where}: expected integer indices (int32 or int64, torch's IntTensor/"
                        f"LongTensor), got dtype {dtype}. Cast token ids with x.astype(jnp.int32).")
    return jnp.asarray(input)


def _normalise_padding_idx(where: str, padding_idx: int | None, num_embeddings: int) -> int | None:
    """torch's rule: ``-num_embeddings <= padding_idx < num_embeddings``, negatives wrap."""
    if padding_idx is None:
        return None
    padding_idx = int(padding_idx)
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{where}: padding_idx must be within num_embeddings: expected "
                         f"{-num_embeddings} <= padding_idx < {num_embeddings}, got {padding_idx}")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _take_rows(weight: jax.Array, input: jax.Array) -> jax.Array:
    """``weight[input]`` where an id outside ``[0, rows)`` (negative too) gives a NaN row."""
    input = jnp.where(input < 0, weight.shape[0], input)
    return jnp.take(weight, input, axis=0, mode="fill", fill_value=jnp.nan)


@jax.custom_vjp
def _gather_rows(weight: jax.Array, input: jax.Array, fwd_scale: jax.Array | None,
                 grad_scale: jax.Array | None) -> jax.Array:
    """``weight[input] * fwd_scale`` whose weight gradient is scattered with ``grad_scale``.

    torch's embedding backward ignores the ``max_norm`` renormalisation (it happens in
    place under no_grad) and multiplies each position's gradient by 0 at
    ``padding_idx`` and by ``1 / count(id)`` under ``scale_grad_by_freq``; both scales
    are per position, ``(*input.shape, 1)``.
    """
    rows = _take_rows(weight, input)
    return rows if fwd_scale is None else rows * fwd_scale


def _gather_fwd(weight, input, fwd_scale, grad_scale):
    return _gather_rows(weight, input, fwd_scale, grad_scale), (weight.shape, input, grad_scale)


def _gather_bwd(res, g):
    shape, input, grad_scale = res
    if grad_scale is not None:
        g = g * grad_scale
    ids = jnp.where(input < 0, shape[0], input).reshape(-1)  # invalid ids add nothing
    grad = jnp.zeros(shape, g.dtype).at[ids].add(g.reshape(-1, shape[1]), mode="drop")
    return grad, None, None, None


_gather_rows.defvjp(_gather_fwd, _gather_bwd)


def _row_norms(rows: jax.Array, norm_type: float) -> jax.Array:
    """p-norm of each row (last axis), as ``Tensor.norm(p)``."""
    a = jnp.abs(rows)
    if norm_type == 2.0:
        return jnp.sqrt(jnp.sum(a * a, axis=-1, keepdims=True))
    if norm_type == 1.0:
        return jnp.sum(a, axis=-1, keepdims=True)
    if norm_type == float("inf"):
        return jnp.max(a, axis=-1, keepdims=True)
    if norm_type == 0.0:
        return jnp.sum(a != 0, axis=-1, keepdims=True).astype(rows.dtype)
    return jnp.sum(a ** norm_type, axis=-1, keepdims=True) ** (1.0 / norm_type)


def _embedding(where: str, input: Any, weight: jax.Array, padding_idx: int | None,
               max_norm: float | None, norm_type: float, scale_grad_by_freq: bool) -> jax.Array:
    input = _check_indices(where, input)
    weight = jnp.asarray(weight)
    if weight.ndim != 2:
        _checks.fail(where, "a 2-D weight (num_embeddings, embedding_dim)", weight)
    _checks.check_floating(where, weight, "weight")
    num = int(weight.shape[0])
    padding_idx = _normalise_padding_idx(where, padding_idx, num)
    _checks.check_index_range(
        input, num, lambda value, index: (
            f"{where}: index out of range: expected ids in [0, {num - 1}] for a table of {num} rows, "
            f"got {value} at index {index}. Check the vocabulary size (num_embeddings) against the "
            f"tokenizer."), error=IndexOutOfRangeError)

    grad_scale = None
    if scale_grad_by_freq:
        ids = jnp.where(input < 0, num, input)
        counts = jnp.zeros((num,), weight.dtype).at[ids.reshape(-1)].add(1, mode="drop")
        grad_scale = (1 / jnp.take(counts, ids, mode="fill", fill_value=1))[..., None]
    if padding_idx is not None:
        keep = (input != padding_idx)[..., None].astype(weight.dtype)
        grad_scale = keep if grad_scale is None else grad_scale * keep
    fwd_scale = None
    if max_norm is not None:
        # torch renormalises the looked-up rows of the weight in place; we return what
        # torch's forward returns (the renormalised rows) without changing the weight.
        rows = jax.lax.stop_gradient(_take_rows(weight, input))
        norms = _row_norms(rows, float(norm_type))
        fwd_scale = jnp.where(norms > max_norm, max_norm / (norms + 1e-7), jnp.ones((), weight.dtype))
        fwd_scale = fwd_scale.astype(weight.dtype)
    if grad_scale is not None:
        grad_scale = jax.lax.stop_gradient(grad_scale.astype(weight.dtype))
    return _gather_rows(weight, input, fwd_scale, grad_scale)


def embedding(input: jax.Array, weight: jax.Array, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> jax.Array:
    """Looks up rows of ``weight``: ``out[..., :] = weight[input[...], :]``.

    Args:
        input: integer ids of any shape ``(*)``, each in ``[0, num_embeddings)``.
        weight: ``(num_embeddings, embedding_dim)``.
        padding_idx: rows at this id get no gradient (negative values count from the
            end, as in torch). The output is not changed.
        max_norm: rows whose ``norm_type``-norm exceeds it come out rescaled to norm
            ``max_norm`` (``max_norm / (norm + 1e-7)``, torch's formula). torch also
            writes the rescaled rows back into ``weight``; fnet cannot mutate, so the
            parameter keeps its values and only the output is renormalised. Outputs and
            gradients equal torch's for the call (the gradient, as in torch, ignores the
            renormalisation).
        norm_type: the p of the norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by the number of times its id
            occurs in ``input`` (torch's semantics).
        sparse: accepted for signature parity; JAX gradients are dense.

    Returns:
        ``(*, embedding_dim)``.

    Raises:
        TypeError: non-integer ids.
        IndexError: ids outside the table (only checked for concrete ids; under
            ``jit`` values are unknown and such an id gives a row of NaN).

    PyTorch equivalent: ``torch.nn.functional.embedding``.
    """
    return _embedding("embedding", input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq)


_BAG_MODES = ("sum", "mean", "max")


def _bag_ids(where: str, input: jax.Array, offsets: Any, include_last_offset: bool):
    """Flat indices, the bag of each position and the number of bags."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{where}: if input is 2-D (B, N), offsets has to be None, as input is "
                             f"treated as a mini-batch of fixed-length bags, got offsets of shape "
                             f"{_checks.fmt_shape(np.shape(offsets))}")
        bags, length = input.shape
        return input.reshape(-1), jnp.repeat(jnp.arange(bags), length), bags
    if input.ndim != 1:
        _checks.fail(where, "input (B, N) of fixed-length bags, or 1-D input with offsets", input)
    if offsets is None:
        raise ValueError(f"{where}: a 1-D input needs offsets (the start of each bag), got None")
    offsets = _check_indices(where, offsets)
    if offsets.ndim != 1:
        _checks.fail(where, "1-D offsets (B,)", offsets)
    values = _checks.concrete(offsets)
    if values is not None and values.size:
        if values[0] != 0:
            raise ValueError(f"{where}: offsets[0] has to be 0, i.e. the first bag has to start at "
                             f"position 0, got {int(values[0])}")
        if values[-1] > input.shape[0]:
            raise ValueError(f"{where}: offsets[-1] ({int(values[-1])}) cannot be greater than the "
                             f"input's length ({input.shape[0]})")
        if include_last_offset and values[-1] != input.shape[0]:
            # torch's kernels disagree here (float64 adds the rest to the last bag, float32
            # sums without it but divides by its length): refuse rather than pick one
            raise ValueError(f"{where}: with include_last_offset=True the last offset must be the "
                             f"input's length {input.shape[0]} (CSR), got {int(values[-1])}")
        if np.any(np.diff(values) < 0):
            raise ValueError(f"{where}: offsets must be non-decreasing, got {values.tolist()}")
    bags = offsets.shape[0] - 1 if include_last_offset else offsets.shape[0]
    if bags < 1:
        raise ValueError(f"{where}: include_last_offset=True needs at least two offsets (B + 1), got "
                         f"{offsets.shape[0]}")
    # position j belongs to the last bag starting at or before it (under jit, positions
    # from a last offset short of the input's length get bag B, which the segment ops drop)
    ids = jnp.searchsorted(offsets, jnp.arange(input.shape[0]), side="right") - 1
    return input, ids, bags


def embedding_bag(input: jax.Array, weight: jax.Array, offsets: jax.Array | None = None,
                  max_norm: float | None = None, norm_type: float = 2, scale_grad_by_freq: bool = False,
                  mode: str = "mean", sparse: bool = False, per_sample_weights: jax.Array | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> jax.Array:
    """Sums, averages or takes the maximum of bags of embeddings, without the ``(*, D)``
    intermediate of ``embedding`` followed by a reduction.

    Args:
        input: ``(B, N)`` ids (B bags of N ids), or 1-D ids with ``offsets``.
        weight: ``(num_embeddings, embedding_dim)``.
        offsets: ``(B,)`` start of each bag in a 1-D ``input`` (``offsets[0] == 0``); with
            ``include_last_offset`` there are ``B + 1``, the last one the input's length
            (CSR). A different last offset raises (torch's float32 and float64 kernels give
            two different results there); under ``jit`` the ids after it belong to no bag.
        max_norm, norm_type: as :func:`embedding`.
        scale_grad_by_freq: divide each row's gradient by its id's count in ``input``,
            as torch documents (and as ``embedding`` does). torch's CPU kernel divides
            by the count of another id (it indexes the sorted ids with the number of
            the id's group), so its gradient differs from this whenever ids repeat
            unevenly; fnet follows the documented semantics (not for ``'max'``, which
            torch refuses).
        mode: ``'sum'``, ``'mean'`` or ``'max'`` (per dimension).
        sparse: accepted for signature parity; JAX gradients are dense.
        per_sample_weights: weights of the input's shape multiplying each embedding
            (``mode='sum'`` only, as in torch).
        include_last_offset: see ``offsets``.
        padding_idx: ids equal to it are left out of their bag (not counted by
            ``'mean'``) and their row gets no gradient. An empty bag gives zeros.

    Returns:
        ``(B, embedding_dim)``.

    PyTorch equivalent: ``torch.nn.functional.embedding_bag``.
    """
    where = 'embedding_bag'
    if mode not in _BAG_MODES:
        raise ValueError(f"{where}: mode has to be one of 'sum', 'mean' or 'max', got {mode!r}")
    input = _check_indices(where, input)
    weight = jnp.asarray(weight)
    if weight.ndim != 2:
        _checks.fail(where, "a 2-D weight (num_embeddings, embedding_dim)", weight)
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{where}: max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{where}: per_sample_weights is only supported for mode='sum' "
                                      f"(got mode={mode!r}), as in torch")
        per_sample_weights = jnp.asarray(per_sample_weights)
        if per_sample_weights.shape != input.shape:
            raise ValueError(f"{where}: expected per_sample_weights of the input's shape "
                             f"{_checks.fmt_shape(input.shape)}, got "
                             f"{_checks.fmt_shape(per_sample_weights.shape)}")
    flat, ids, bags = _bag_ids(where, input, offsets, include_last_offset)
    rows = _embedding(where, flat, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq)
    num = int(weight.shape[0])
    padding_idx = _normalise_padding_idx(where, padding_idx, num)
    keep = jnp.ones(flat.shape, bool) if padding_idx is None else flat != padding_idx
    count = jax.ops.segment_sum(keep.astype(weight.dtype), ids, bags)
    zero = jnp.zeros((), rows.dtype)
    if mode == "max":
        masked = jnp.where(keep[:, None], rows, -jnp.inf)
        out = jax.ops.segment_max(masked, ids, bags)
        return jnp.where(count[:, None] > 0, out, zero)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1)[:, None].astype(rows.dtype)
    out = jax.ops.segment_sum(jnp.where(keep[:, None], rows, zero), ids, bags)
    if mode == "mean":
        out = out / jnp.maximum(count, 1)[:, None]
    return out


def one_hot(input: jax.Array, num_classes: int = -1) -> jax.Array:
    """``(*)`` class ids to ``(*, num_classes)`` one-hot integers.

    Args:
        input: non-negative integer class ids of any shape (torch's binding names it
            ``input``, as here, though its documentation says ``tensor``).
        num_classes: number of classes; -1 infers ``max(input) + 1``, which needs
            concrete values (it works eagerly; under ``jit`` pass ``num_classes``).

    Returns:
        An integer array like torch's LongTensor: int64 with ``jax_enable_x64``, int32
        otherwise (JAX's default integer).

    Under ``jit`` class ids cannot be checked: one outside ``[0, num_classes)`` gives a
    row of zeros where torch raises.

    PyTorch equivalent: ``torch.nn.functional.one_hot``.
    """
    where = "one_hot"
    dtype = _checks.dtype_of(input)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"{where}: expected integer class ids (torch's LongTensor), got dtype {dtype}")
    values = _checks.concrete(input)
    num_classes = int(num_classes)
    if num_classes < -1:
        raise ValueError(f"{where}: num_classes must be -1 (infer) or a non-negative number of "
                         f"classes, got {num_classes}")
    if values is None and num_classes == -1:
        raise ValueError(f"{where}: num_classes=-1 infers the number of classes from the values, "
                         f"which are unknown under jax.jit/vmap/grad tracing; pass it explicitly, "
                         f"F.one_hot(x, num_classes=10)")
    if values is not None:
        if values.size == 0 and num_classes == -1:
            raise ValueError(f"{where}: can not infer the number of classes from an empty tensor; "
                             f"pass num_classes")
        if values.size and int(values.min()) < 0:
            raise ValueError(f"{where}: class values must be non-negative, got {int(values.min())}")
        if num_classes == -1:
            num_classes = int(values.max()) + 1
        elif values.size and int(values.max()) >= num_classes:
            raise ValueError(f"{where}: class values must be smaller than num_classes={num_classes}, "
                             f"got {int(values.max())}")
    ids = jnp.asarray(input)
    out_dtype = jax.dtypes.canonicalize_dtype(jnp.int64)
    return (ids[..., None] == jnp.arange(num_classes, dtype=ids.dtype)).astype(out_dtype)
