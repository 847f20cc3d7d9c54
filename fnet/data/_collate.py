"""Collate functions: torch's ``default_collate`` / ``default_convert``, and
``BucketCollate``, which keeps shapes static (fewer XLA recompilations)."""

from __future__ import annotations

import bisect
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["default_collate", "default_convert", "BucketCollate"]


def default_collate(samples: Sequence[Any]) -> Any:
    """Stacks samples: arrays into one array, tuples/dicts element-wise.

    Arrays, numpy scalars, Python ints (int64), floats (float64) and bools stack into
    numpy arrays of the dtype torch's tensor would have; strings stay a list. A tuple
    sample gives a tuple batch (torch gives a list, "for backwards compatibility").

    PyTorch equivalent: ``torch.utils.data.default_collate``.
    """
    first = samples[0]
    if isinstance(first, (tuple, list)) and any(len(s) != len(first) for s in samples):
        # zip would cut every sample to the shortest one: a silently wrong batch
        raise ValueError(f"default_collate: each element in list of batch should be of equal size, got "
                         f"lengths {[len(s) for s in samples]}")
    if isinstance(first, Mapping):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(default_collate(f) for f in zip(*samples)))
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(f) for f in zip(*samples))
    if isinstance(first, (str, bytes)):
        return samples  # as torch: the strings as given (a list, or a tuple inside tuple samples)
    return np.stack([np.asarray(s) for s in samples])


def default_convert(data: Any) -> Any:
    """One sample as numpy: arrays (numpy, JAX, torch) become numpy arrays, through dicts, tuples, lists.

    What a ``DataLoader(batch_size=None)`` yields for each sample (no batching). Strings
    and other objects are returned unchanged; a tuple stays a tuple (torch makes it a list).

    PyTorch equivalent: ``torch.utils.data.default_convert`` (numpy arrays to tensors there).
    """
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):
        return type(data)(default_convert(v) for v in data)
    if hasattr(data, "__array__") and not isinstance(data, (str, bytes)):
        from ..io import to_numpy

        return to_numpy(data)
    return data


class BucketCollate:
    """Pads variable-length sequences to the smallest bucket length that fits the batch.

    Every batch then has one of ``len(buckets)`` shapes, so a jitted step compiles at
    most that many programs instead of one per distinct length.

    Args:
        buckets: increasing sequence lengths (e.g. ``(32, 64, 128)``); longer batches
            raise a ValueError naming the length.
        keys: for dict samples, the entries to pad (default: every 1-D integer/float
            entry); tuple samples pad their element ``0`` unless ``keys`` lists indices.
        pad_value: value used for padding (``attention_mask`` entries are padded with 0).
        lengths_key: when set, the true lengths are added to dict batches under this key.

    Example::

        loader = DataLoader(ds, batch_size=32, collate_fn=BucketCollate((32, 64, 128)))
    """

    def __init__(self, buckets: Sequence[int], keys: Sequence[Any] | None = None, pad_value: float = 0,
                 lengths_key: str | None = None):
        self.buckets = sorted(int(b) for b in buckets)
        self.keys = keys
        self.pad_value = pad_value
        self.lengths_key = lengths_key

    def bucket(self, length: int) -> int:
        i = bisect.bisect_left(self.buckets, length)
        if i == len(self.buckets):
            raise ValueError(f"BucketCollate: a sequence of length {length} is longer than the largest "
                             f"bucket {self.buckets[-1]}")
        return self.buckets[i]

    def _pad(self, seqs: list[np.ndarray], target: int) -> np.ndarray:
        first = np.asarray(seqs[0])
        out = np.full((len(seqs), target) + first.shape[1:], self.pad_value, dtype=first.dtype)
        for i, seq in enumerate(seqs):
            out[i, :len(seq)] = seq
        return out

    def __call__(self, samples: Sequence[Any]) -> Any:
        first = samples[0]
        if isinstance(first, Mapping):
            keys = self.keys or [k for k, v in first.items() if np.ndim(v) >= 1]
            length = max(len(s[k]) for s in samples for k in keys)
            target = self.bucket(length)
            batch = {k: (self._pad([np.asarray(s[k]) for s in samples], target) if k in keys
                         else default_collate([s[k] for s in samples])) for k in first}
            if self.lengths_key:
                batch[self.lengths_key] = np.asarray([len(s[keys[0]]) for s in samples])
            return batch
        keys = list(self.keys or [0])
        length = max(len(s[k]) for s in samples for k in keys)
        target = self.bucket(length)
        return tuple(self._pad([np.asarray(s[i]) for s in samples], target) if i in keys
                     else default_collate([s[i] for s in samples]) for i in range(len(first)))
