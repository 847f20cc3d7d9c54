"""The generator random transforms draw from when none is passed to them.

A random transform (``transforms.RandomCrop``...) takes ``rng=`` explicitly, as grain's
``random_map(x, rng)`` does. Called the torchvision way, inside a dataset's
``__getitem__`` with no generator, it draws from the generator the ``DataLoader`` seeds
for the batch being built, from ``(seed, epoch, batch number)``: a batch is then the same
whichever worker builds it. That generator is per thread (worker threads build batches
side by side) and is set only by the loader; outside a loader it is an unseeded one.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def set_batch_rng(rng: np.random.Generator) -> None:
    """Called by the loader before it builds a batch in this thread."""
    _local.rng = rng


def batch_rng(rng: np.random.Generator | None = None) -> np.random.Generator:
    """``rng`` when given, else the generator of the batch this thread is building."""
    if rng is not None:
        return rng
    current = getattr(_local, "rng", None)
    if current is None:
        current = np.random.default_rng()
        _local.rng = current
    return current
