"""``DataLoader``: reproducible batches of numpy or device arrays with background prefetch."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ._dataset import Dataset

__all__ = ["DataLoader", "default_collate"]

_local = threading.local()


def current_rng() -> np.random.Generator:
    """The generator random transforms draw from: seeded per (seed, epoch, batch) by the loader."""
    rng = getattr(_local, "rng", None)
    if rng is None:
        rng = np.random.default_rng()
        _local.rng = rng
    return rng


def default_collate(samples: Sequence[Any]) -> Any:
    """Stacks samples: arrays into one array, tuples/dicts element-wise.

    PyTorch equivalent: ``torch.utils.data.default_collate``.
    """
    first = samples[0]
    if isinstance(first, Mapping):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):  # namedtuple
        return type(first)(*(default_collate(list(f)) for f in zip(*samples)))
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(f)) for f in zip(*samples))
    if isinstance(first, (str, bytes)):
        return list(samples)
    return np.stack([np.asarray(s) for s in samples])


class DataLoader:
    """Iterates over a dataset in batches.

    Args:
        dataset: a map-style :class:`Dataset` (anything with ``__getitem__``/``__len__``).
        batch_size: samples per batch (default 1, as torch).
        shuffle: reshuffle at every epoch. The order of epoch ``e`` is a function of
            ``(seed, e)`` only, so every run (and a resumed run) sees the same batches.
        drop_last: drop the last incomplete batch.
        collate_fn: turns a list of samples into a batch (default: stack).
        seed: seed of the shuffling and of random transforms (torch uses a global RNG).
        prefetch: batches prepared ahead by a background thread (0 disables it).
        device: None yields numpy arrays; ``"default"`` or a ``jax.Device`` /
            ``jax.sharding.Sharding`` yields arrays placed there (``jax.device_put``).
        num_shards, shard_index: for multi-host training, each process passes
            ``jax.process_count()`` and ``jax.process_index()``: ``batch_size`` stays the
            global batch size and this process reads only its contiguous slice
            (``batch_size // num_shards`` samples) of every global batch, in the same
            global order on every process.

    ``set_epoch(e)`` selects the epoch explicitly; iterating again advances it by one.

    PyTorch equivalent: ``torch.utils.data.DataLoader`` (``num_workers`` is accepted
    and ignored: batching is vectorised and prefetched on a thread).
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False, *,
                 drop_last: bool = False, collate_fn: Callable[[list], Any] | None = None,
                 seed: int = 0, prefetch: int = 2, device: Any = None, num_workers: int = 0,
                 num_shards: int = 1, shard_index: int = 0):
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, got {batch_size!r}")
        if batch_size % num_shards or not 0 <= shard_index < num_shards:
            raise ValueError(f"DataLoader: the global batch_size {batch_size} must split evenly into "
                             f"num_shards={num_shards} and 0 <= shard_index < num_shards, got {shard_index}")
        self.num_shards = num_shards
        self.shard_index = shard_index
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.seed = seed
        self.prefetch = prefetch
        self.device = device
        self.epoch = 0
        self._next_epoch = 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Makes the next iteration produce epoch ``epoch``'s order."""
        self._next_epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The sample indices of ``epoch`` in the order they are served."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def batch_indices(self, epoch: int) -> list[np.ndarray]:
        order = self.order(epoch)
        return [order[i:i + self.batch_size] for i in range(0, len(self) * self.batch_size, self.batch_size)
                if len(order[i:i + self.batch_size])]

    def _make_batch(self, epoch: int, number: int, indices: np.ndarray) -> Any:
        _local.rng = np.random.default_rng([self.seed, epoch, number, 7, self.shard_index])
        if self.num_shards > 1:
            local = len(indices) // self.num_shards
            indices = indices[self.shard_index * local:(self.shard_index + 1) * local]
        if self.collate_fn is not None:
            batch = self.collate_fn([self.dataset[int(i)] for i in indices])
        elif hasattr(self.dataset, "get_batch"):
            batch = self.dataset.get_batch(indices)
        else:
            batch = default_collate([self.dataset[int(i)] for i in indices])
        return self._place(batch)

    def _place(self, batch: Any) -> Any:
        if self.device is None:
            return batch
        import jax

        target = None if self.device == "default" else self.device
        return jax.tree.map(lambda a: jax.device_put(a, target), batch)

    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:
        """Batches ``start, start+1, ...`` of ``epoch`` (used to resume mid-epoch)."""
        batches = self.batch_indices(epoch)[start:]
        numbers = range(start, start + len(batches))
        if self.prefetch <= 0:
            for number, idx in zip(numbers, batches):
                yield self._make_batch(epoch, number, idx)
            return
        buffer: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def produce():
            try:
                for number, idx in zip(numbers, batches):
                    if stop.is_set():
                        return
                    buffer.put(self._make_batch(epoch, number, idx))
                buffer.put(done)
            except BaseException as err:  # surfaced in the consumer
                buffer.put(err)

        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        try:
            while True:
                item = buffer.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    buffer.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.01)

    def __iter__(self) -> Iterator[Any]:
        epoch = self._next_epoch
        self.epoch = epoch
        self._next_epoch = epoch + 1
        return self.iter_epoch(epoch)
