"""Collate functions that keep shapes static (fewer XLA recompilations)."""

from __future__ import annotations

import bisect
from typing import Any, Mapping, Sequence

import numpy as np

from ._loader import default_collate

__all__ = ["BucketCollate"]


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
