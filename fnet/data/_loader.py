"""``DataLoader``: reproducible batches of numpy or device arrays, with prefetch and workers."""

from __future__ import annotations

import queue
import threading
import weakref
from typing import Any, Callable, Iterator

import numpy as np

from . import _rng
from ._collate import default_collate, default_convert
from ._dataset import IterableDataset
from ._sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

class _BatchMaker:
    """Builds batch ``number`` of ``epoch`` from its indices: the whole loader logic a worker needs.

    Picklable (workers get a copy); the generator of random transforms is seeded by
    ``(seed, epoch, number)``, so a batch does not depend on who builds it.
    """

    def __init__(self, dataset: Any, collate_fn: Callable | None, seed: int, num_shards: int, shard_index: int,
                 batch_size: int | None, drop_last: bool):
        self.dataset = dataset
        self.collate_fn = collate_fn
        self.seed = seed
        self.num_shards = num_shards
        self.shard_index = shard_index
        self.batch_size = batch_size
        self.drop_last = drop_last

    def _seed(self, epoch: int, number: int) -> None:
        _rng.set_batch_rng(np.random.default_rng([self.seed, epoch, number, 7, self.shard_index]))

    def _collate(self, samples: list) -> Any:
        if self.batch_size is None:  # no automatic batching: one sample at a time
            return self.collate_fn(samples[0]) if self.collate_fn is not None else default_convert(samples[0])
        return (self.collate_fn or default_collate)(samples)

    def __call__(self, epoch: int, number: int, indices: np.ndarray) -> Any:
        self._seed(epoch, number)
        indices = np.asarray(indices)
        if self.num_shards > 1:
            local = len(indices) // self.num_shards
            indices = indices[self.shard_index * local:(self.shard_index + 1) * local]
        if self.batch_size is not None and self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(indices)
        fetch = getattr(self.dataset, "__getitems__", None)
        if callable(fetch) and self.batch_size is not None:
            return self._collate(list(fetch([int(i) for i in indices])))
        return self._collate([self.dataset[int(i)] for i in indices])

    # -- iterable-style datasets ---------------------------------------------------------
    def stream(self, epoch: int) -> Iterator[Any]:
        return iter(self.dataset)

    def next_batch(self, stream: Iterator[Any], epoch: int, number: int) -> Any:
        self._seed(epoch, number)
        if self.batch_size is None:
            return self._collate([next(stream)])
        samples = []
        for sample in stream:
            samples.append(sample)
            if len(samples) == self.batch_size:
                break
        if not samples or (self.drop_last and len(samples) < self.batch_size):
            raise StopIteration
        if self.num_shards > 1:
            local = len(samples) // self.num_shards
            samples = samples[self.shard_index * local:(self.shard_index + 1) * local]
        return self._collate(samples)


class DataLoader:
    """Iterates over a dataset in batches.

    Args:
        dataset: a map-style :class:`Dataset` (anything with ``__getitem__``/``__len__``)
            or an :class:`~fnet.data.IterableDataset`.
        batch_size: samples per batch (default 1, as torch); ``None`` yields single
            samples (converted by ``default_convert``) without batching.
        shuffle: reshuffle at every epoch. The order of epoch ``e`` is a function of
            ``(seed, e)`` only, so every run (and a resumed run) sees the same batches.
        sampler: the indices to read and their order (a :class:`Sampler` or any iterable
            of indices); exclusive with ``shuffle``.
        batch_sampler: yields whole lists of indices; exclusive with ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``.
        num_workers: worker processes (or threads, ``worker_type="thread"``) that build
            batches in parallel. The batches, and their order, are the same for every
            ``num_workers`` (each batch is a function of ``(seed, epoch, batch number)``).
            Worker processes start from a ``forkserver`` by default (JAX's runtime does
            not survive ``fork``), so the dataset and ``collate_fn`` must pickle and a
            script must create its loader under ``if __name__ == "__main__":``, as with
            torch on macOS and Windows.
        collate_fn: turns a list of samples into a batch (default: stack).
        pin_memory, pin_memory_device: accepted for torch compatibility (no effect:
            ``device=`` places batches).
        drop_last: drop the last incomplete batch.
        timeout: seconds to wait for a worker's batch (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker.
        multiprocessing_context: ``"forkserver"`` (default), ``"spawn"``, ``"fork"`` or a
            ``multiprocessing`` context.
        generator: must be None (fnet shuffles from ``seed``).
        prefetch_factor: batches each worker prepares ahead (default 2, with workers only).
        persistent_workers: keep the workers between epochs.
        in_order: yield batches in order (default); ``False`` yields them as workers
            finish them (not reproducible).
        seed: seed of the shuffling, random samplers and random transforms (torch uses a
            global RNG).
        prefetch: without workers, batches prepared ahead by a background thread (0
            disables it).
        device: None yields numpy arrays; ``"default"`` or a ``jax.Device`` /
            ``jax.sharding.Sharding`` yields arrays placed there (``jax.device_put``).
        num_shards, shard_index: for multi-host training, each process passes
            ``jax.process_count()`` and ``jax.process_index()``: ``batch_size`` stays the
            global batch size and this process reads only its contiguous slice
            (``batch_size // num_shards`` samples) of every global batch, in the same
            global order on every process. (A :class:`DistributedSampler` is torch's
            alternative: a per-process share of the dataset with a per-process batch size.)
        worker_type: ``"process"`` (torch's model; scales Python-heavy ``__getitem__``) or
            ``"thread"`` (no pickling, shared dataset; scales code that releases the GIL,
            such as NumPy and file reads).

    ``set_epoch(e)`` selects the epoch explicitly; iterating again advances it by one.

    PyTorch equivalent: ``torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=None,
    sampler=None, batch_sampler=None, num_workers=0, collate_fn=None, pin_memory=False,
    drop_last=False, timeout=0, worker_init_fn=None, multiprocessing_context=None,
    generator=None, *, prefetch_factor=None, persistent_workers=False,
    pin_memory_device='', in_order=True)``.
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Any = None, batch_sampler: Sampler | Any = None, num_workers: int = 0,
                 collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True,
                 seed: int = 0, prefetch: int = 2, device: Any = None, num_shards: int = 1, shard_index: int = 0,
                 worker_type: str = "process"):
        del pin_memory, pin_memory_device
        where = "DataLoader"
        iterable = isinstance(dataset, IterableDataset)
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size <= 0):
            raise ValueError(f"{where}: batch_size should be a positive integer value or None, got {batch_size!r}")
        if generator is not None:
            raise TypeError(f"{where}: expected generator=None, got {type(generator).__name__}; fnet shuffles "
                            "from seed= and the epoch, so every run and host sees the same order")
        if iterable and shuffle not in (None, False):
            raise ValueError(f"{where}: with an IterableDataset, expected unspecified shuffle option, but got "
                             f"shuffle={shuffle}")
        if iterable and (sampler is not None or batch_sampler is not None):
            raise ValueError(f"{where}: with an IterableDataset, expected unspecified sampler and batch_sampler "
                             f"options, got sampler={sampler!r}, batch_sampler={batch_sampler!r}")
        if sampler is not None and shuffle:
            raise ValueError(f"{where}: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError(f"{where}: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        if batch_size is None and drop_last:
            raise ValueError(f"{where}: batch_size=None option disables auto-batching and is mutually exclusive "
                             "with drop_last")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"{where}: num_workers option should be non-negative; use num_workers=0 to disable "
                             f"multiprocessing, got {num_workers!r}")
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < 0:
            raise ValueError(f"{where}: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(f"{where}: prefetch_factor option could only be specified in multiprocessing. Let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 1):
            raise ValueError(f"{where}: prefetch_factor option should be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError(f"{where}: persistent_workers option needs num_workers > 0")
        if worker_type not in ("process", "thread"):
            raise ValueError(f"{where}: expected worker_type 'process' or 'thread', got {worker_type!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"{where}: expected worker_init_fn to be a function of the worker id, got "
                            f"{worker_init_fn!r}")
        if not isinstance(num_shards, int) or num_shards < 1:
            raise ValueError(f"{where}: expected num_shards to be a positive integer, got {num_shards!r}")
        global_batch = batch_sampler is None and batch_size is not None
        if (global_batch and batch_size % num_shards) or not 0 <= shard_index < num_shards:
            raise ValueError(f"{where}: the global batch_size {batch_size} must split evenly into "
                             f"num_shards={num_shards} and 0 <= shard_index < num_shards, got {shard_index}")
        if num_shards > 1 and type(sampler).__name__ == "DistributedSampler":
            raise ValueError(f"{where}: a DistributedSampler already gives each process its share; expected "
                             f"num_shards=1 with it, got num_shards={num_shards}")
        if num_shards > 1 and not global_batch:
            raise ValueError(f"{where}: num_shards > 1 splits each global batch of batch_size samples; expected "
                             "batch_size to be set and no batch_sampler")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.seed = seed
        self.prefetch = prefetch
        self.device = device
        self.num_workers = num_workers
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = 2 if prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = bool(in_order)
        self.worker_type = worker_type
        self.num_shards = num_shards
        self.shard_index = shard_index
        self._iterable = iterable
        if iterable:
            self.sampler = self.batch_sampler = None
        else:
            self.sampler = sampler if sampler is not None else (
                RandomSampler(dataset, seed=seed) if self.shuffle else SequentialSampler(dataset))
            self.batch_sampler = batch_sampler if batch_sampler is not None else (
                BatchSampler(self.sampler, batch_size, drop_last) if batch_size is not None else None)
        self.epoch = 0
        self._next_epoch = 0
        self._pool = None

    # -- the batches of an epoch -------------------------------------------------------------
    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError for a stream without __len__, as torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        """Makes the next iteration produce epoch ``epoch``'s order."""
        self._next_epoch = int(epoch)

    def _set_sampler_epoch(self, epoch: int) -> None:
        for s in (self.batch_sampler, self.sampler):
            if s is not None and hasattr(s, "set_epoch"):
                s.set_epoch(epoch)

    def batch_indices(self, epoch: int) -> list[np.ndarray]:
        """The sample indices of each batch of ``epoch`` (map-style datasets)."""
        if self._iterable:
            raise TypeError("DataLoader: an IterableDataset has no indices; iterate over the loader")
        self._set_sampler_epoch(epoch)
        if self.batch_sampler is None:  # batch_size=None: one sample per "batch"
            return [np.asarray([i]) for i in self.sampler]
        return [np.asarray(b, dtype=np.int64) for b in self.batch_sampler]

    def order(self, epoch: int) -> np.ndarray:
        """The sample indices of ``epoch`` in the order they are served."""
        batches = self.batch_indices(epoch)
        return np.concatenate(batches) if batches else np.zeros((0,), np.int64)

    def _maker(self) -> _BatchMaker:
        return _BatchMaker(self.dataset, self.collate_fn, self.seed, self.num_shards, self.shard_index,
                           self.batch_size, self.drop_last)

    def _place(self, batch: Any) -> Any:
        if self.device is None:
            return batch
        import jax

        target = None if self.device == "default" else self.device
        return jax.tree.map(lambda a: jax.device_put(a, target), batch)

    # -- iteration -----------------------------------------------------------------------
    def iter_epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:
        """Batches ``start, start+1, ...`` of ``epoch`` (used to resume mid-epoch)."""
        if self.num_workers > 0:
            batches = self._from_workers(epoch, start)
        elif self._iterable:
            batches = self._stream(epoch, start)
        else:
            batches = self._indexed(epoch, start)
        if self.prefetch <= 0 or self.num_workers > 0:
            for batch in batches:
                yield self._place(batch)
            return
        yield from _prefetched((self._place(b) for b in batches), self.prefetch)

    def _indexed(self, epoch: int, start: int) -> Iterator[Any]:
        maker = self._maker()
        for number, idx in enumerate(self.batch_indices(epoch)[start:], start):
            yield maker(epoch, number, idx)

    def _stream(self, epoch: int, start: int) -> Iterator[Any]:
        maker = self._maker()
        stream = maker.stream(epoch)
        number = 0
        while True:
            try:
                batch = maker.next_batch(stream, epoch, number)
            except StopIteration:
                return
            if number >= start:
                yield batch
            number += 1

    def _from_workers(self, epoch: int, start: int) -> Iterator[Any]:
        from ._worker import WorkerPool

        pool = self._pool
        if pool is None or not pool.alive():
            pool = WorkerPool(self._maker(), self.num_workers, self.worker_type, self.multiprocessing_context,
                              self.seed, epoch, self.dataset, self.worker_init_fn)
            if self.persistent_workers:
                self._pool = pool
                weakref.finalize(self, pool.shutdown)
        try:
            if self._iterable:
                for number, batch in enumerate(pool.stream(epoch, self.prefetch_factor, self.timeout)):
                    if number >= start:
                        yield batch
            else:
                tasks = list(enumerate(self.batch_indices(epoch)))[start:]
                yield from pool.map(epoch, tasks, self.prefetch_factor, self.timeout, self.in_order)
        finally:
            if not self.persistent_workers:
                pool.shutdown()

    def __iter__(self) -> Iterator[Any]:
        epoch = self._next_epoch
        self.epoch = epoch
        self._next_epoch = epoch + 1
        return self.iter_epoch(epoch)


def _prefetched(batches: Iterator[Any], depth: int) -> Iterator[Any]:
    """``batches`` produced ``depth`` ahead by a background thread (errors re-raised here)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce():
        try:
            for batch in batches:
                if stop.is_set():
                    return
                buffer.put(batch)
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
