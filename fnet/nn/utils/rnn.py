"""Variable-length sequences: ``PackedSequence``, ``pack_padded_sequence``,
``pad_packed_sequence``, ``pad_sequence``, ``unpad_sequence``, ``pack_sequence``,
``unpack_sequence``.

fnet's recurrent layers run padded batches with ``lengths=`` (a static shape that
``jax.jit`` can compile once). These functions give torch's packed format for code and
data that use it: a :class:`PackedSequence` holds torch's ``data`` (the valid steps of
every sequence, time-major, longest sequences first) and its ``batch_sizes`` and
permutations, and ``RNN``/``LSTM``/``GRU`` accept one: they run it as the padded batch
with ``lengths=`` and return a ``PackedSequence``, as torch does. Packing reads the
lengths, so they must be concrete (torch requires them on the CPU too); the packed
layout is static data of the ``PackedSequence`` (a pytree whose only array is ``data``),
so a packed batch can cross ``jax.jit``.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ... import _checks

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]


@jax.tree_util.register_pytree_node_class
class PackedSequence:
    """torch's packed batch of variable-length sequences.

    Attributes:
        data: ``(sum(lengths), *)``: step 0 of every sequence (longest first), then step 1
            of those at least 2 long, ...
        batch_sizes: ``(max_length,)`` numpy int64: how many sequences have each step.
        sorted_indices: the batch order by decreasing length (None if the input was sorted).
        unsorted_indices: its inverse (None if the input was sorted).

    PyTorch equivalent: ``torch.nn.utils.rnn.PackedSequence``.
    """

    def __init__(self, data: jax.Array, batch_sizes: Any, sorted_indices: Any = None,
                 unsorted_indices: Any = None):
        self.data = data
        self.batch_sizes = np.asarray(batch_sizes, np.int64)
        self.sorted_indices = None if sorted_indices is None else np.asarray(sorted_indices, np.int64)
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = np.argsort(self.sorted_indices)
        self.unsorted_indices = None if unsorted_indices is None else np.asarray(unsorted_indices, np.int64)

    def tree_flatten(self):
        aux = (tuple(self.batch_sizes.tolist()),
               None if self.sorted_indices is None else tuple(self.sorted_indices.tolist()),
               None if self.unsorted_indices is None else tuple(self.unsorted_indices.tolist()))
        return (self.data,), aux

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], *aux)

    def __iter__(self):  # unpacks like torch's named tuple
        return iter((self.data, self.batch_sizes, self.sorted_indices, self.unsorted_indices))

    def lengths(self) -> np.ndarray:
        """The length of each sequence, in the original batch order."""
        sorted_lengths = (self.batch_sizes[None, :] > np.arange(self.batch_sizes[0])[:, None]).sum(1)
        return sorted_lengths if self.unsorted_indices is None else sorted_lengths[self.unsorted_indices]

    def __repr__(self) -> str:
        return (f"PackedSequence(data={_checks.fmt_shape(jnp.shape(self.data))}, "
                f"batch_sizes={self.batch_sizes.tolist()}, sorted_indices="
                f"{None if self.sorted_indices is None else self.sorted_indices.tolist()})")


def _concrete_lengths(where: str, lengths: Any) -> np.ndarray:
    if _checks.is_traced(lengths):
        raise TypeError(f"{where}: the lengths must be concrete (a list, numpy or an eager array), "
                        f"got a traced value: the packed layout depends on them (torch too requires "
                        f"them on the CPU). Inside jit, run the RNN with lengths= on the padded batch")
    if hasattr(lengths, "detach"):
        lengths = lengths.detach().cpu().numpy()
    values = np.asarray(lengths)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise TypeError(f"{where}: expected 1-D integer lengths, got {values.dtype} of shape "
                        f"{_checks.fmt_shape(values.shape)}")
    return values.astype(np.int64)


def _packed_rows(lengths_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``batch_sizes`` and, for every row of ``data``, its (time, sorted-batch) position."""
    steps = int(lengths_sorted[0]) if lengths_sorted.size else 0
    batch_sizes = (lengths_sorted[None, :] > np.arange(steps)[:, None]).sum(1)
    times = np.repeat(np.arange(steps), batch_sizes)
    batch = np.concatenate([np.arange(b) for b in batch_sizes]) if steps else np.zeros(0, np.int64)
    return batch_sizes, times, batch


def pack_padded_sequence(input: jax.Array, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``).

    Args:
        input: the padded batch.
        lengths: ``(B,)`` concrete lengths, each in ``[1, T]``.
        batch_first: the layout of ``input``.
        enforce_sorted: require decreasing lengths (else the batch is sorted, stably, and
            the permutation kept in the result).

    PyTorch equivalent: ``torch.nn.utils.rnn.pack_padded_sequence``.
    """
    where = "pack_padded_sequence"
    x = jnp.asarray(input)
    if x.ndim < 2:
        _checks.fail(where, "a padded input (T, B, *) or (B, T, *) with batch_first", x)
    if batch_first:
        x = jnp.swapaxes(x, 0, 1)
    values = _concrete_lengths(where, lengths)
    if values.shape[0] != x.shape[1]:
        raise ValueError(f"{where}: expected {x.shape[1]} lengths, one per sequence of the batch, got "
                         f"{values.shape[0]}")
    if values.size and (values.min() <= 0 or values.max() > x.shape[0]):
        raise ValueError(f"{where}: every length must be in [1, {x.shape[0]}] (the padded length), got "
                         f"{values.tolist()}")
    if enforce_sorted:
        if np.any(np.diff(values) > 0):
            raise ValueError(f"{where}: `lengths` array must be sorted in decreasing order when "
                             f"`enforce_sorted` is True (got {values.tolist()}); pass "
                             f"enforce_sorted=False to pack an unsorted batch")
        sorted_indices = None
        order = np.arange(values.size)
    else:
        order = np.argsort(-values, kind="stable")
        sorted_indices = order
    batch_sizes, times, rows = _packed_rows(values[order])
    data = x[jnp.asarray(times), jnp.asarray(order[rows])]
    return PackedSequence(data, batch_sizes, sorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[jax.Array, np.ndarray]:
    """Unpacks a :class:`PackedSequence` into a padded batch and the lengths.

    Args:
        sequence: the packed batch.
        batch_first: return ``(B, T, *)`` instead of ``(T, B, *)``.
        padding_value: the value of the padded steps.
        total_length: pad to this many steps (at least the longest sequence).

    Returns:
        ``(padded, lengths)``, both in the original batch order; ``lengths`` is a numpy
        int64 array (torch returns an int64 CPU tensor).

    PyTorch equivalent: ``torch.nn.utils.rnn.pad_packed_sequence``.
    """
    where = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{where}: expected a PackedSequence, got {type(sequence).__name__}")
    batch_sizes = sequence.batch_sizes
    steps = int(batch_sizes.size)
    batch = int(batch_sizes[0]) if steps else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"{where}: expected total_length to be at least the length of the longest "
                             f"sequence ({steps}), got {total_length}")
        steps = int(total_length)
    lengths_sorted = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    _, times, rows = _packed_rows(lengths_sorted)
    data = jnp.asarray(sequence.data)
    padded = jnp.full((steps, batch) + data.shape[1:], padding_value, data.dtype)
    padded = padded.at[jnp.asarray(times), jnp.asarray(rows)].set(data)
    lengths = lengths_sorted
    if sequence.unsorted_indices is not None:
        padded = padded[:, jnp.asarray(sequence.unsorted_indices)]
        lengths = lengths_sorted[sequence.unsorted_indices]
    if batch_first:
        padded = jnp.swapaxes(padded, 0, 1)
    return padded, lengths.astype(np.int64)


def _pack_like(padded: jax.Array, like: PackedSequence, batch_first: bool) -> PackedSequence:
    """Packs a padded batch (original order) with the layout and permutation of ``like``."""
    x = jnp.swapaxes(padded, 0, 1) if batch_first else padded
    batch = int(like.batch_sizes[0]) if like.batch_sizes.size else 0
    lengths_sorted = (like.batch_sizes[None, :] > np.arange(batch)[:, None]).sum(1)
    _, times, rows = _packed_rows(lengths_sorted)
    order = np.arange(batch) if like.sorted_indices is None else like.sorted_indices
    data = x[jnp.asarray(times), jnp.asarray(order[rows])]
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def pad_sequence(sequences: Sequence[jax.Array] | jax.Array, batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> jax.Array:
    """Stacks sequences of different lengths ``(L_i, *)`` into ``(max L, B, *)``.

    Args:
        sequences: a list of arrays with the same trailing dims.
        batch_first: return ``(B, max L, *)``.
        padding_value: the value of the padding.
        padding_side: ``'right'`` (pad after each sequence) or ``'left'``.

    PyTorch equivalent: ``torch.nn.utils.rnn.pad_sequence``.
    """
    where = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(f"{where}: padding_side must be 'left' or 'right', got {padding_side!r}")
    seqs = [jnp.asarray(s) for s in (list(sequences) if not hasattr(sequences, "ndim") else list(sequences))]
    if not seqs:
        raise ValueError(f"{where}: received an empty list of sequences")
    trailing = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim < 1 or s.shape[1:] != trailing:
            raise ValueError(f"{where}: every sequence must be (L, {', '.join(map(str, trailing))}) like "
                             f"the first, sequence {i} has shape {_checks.fmt_shape(s.shape)}")
    longest = max(s.shape[0] for s in seqs)
    dtype = jnp.result_type(*seqs)
    rows = []
    for s in seqs:
        pad = [(0, longest - s.shape[0]) if padding_side == "right" else (longest - s.shape[0], 0)]
        rows.append(jnp.pad(s.astype(dtype), pad + [(0, 0)] * len(trailing), constant_values=padding_value))
    return jnp.stack(rows, axis=0 if batch_first else 1)


def unpad_sequence(padded_sequences: jax.Array, lengths: Any, batch_first: bool = False) -> list[jax.Array]:
    """The list of sequences of a padded batch (the inverse of :func:`pad_sequence`).

    PyTorch equivalent: ``torch.nn.utils.rnn.unpad_sequence``.
    """
    x = jnp.asarray(padded_sequences)
    if not batch_first:
        x = jnp.swapaxes(x, 0, 1)
    values = _concrete_lengths("unpad_sequence", lengths)
    return [x[i, :int(n)] for i, n in enumerate(values)]


def pack_sequence(sequences: Sequence[jax.Array], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of sequences ``(L_i, *)`` (``pack_padded_sequence(pad_sequence(...))``).

    PyTorch equivalent: ``torch.nn.utils.rnn.pack_sequence``.
    """
    lengths = np.asarray([jnp.shape(s)[0] for s in sequences], np.int64)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[jax.Array]:
    """The list of sequences of a :class:`PackedSequence`, in the original order.

    PyTorch equivalent: ``torch.nn.utils.rnn.unpack_sequence``.
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
