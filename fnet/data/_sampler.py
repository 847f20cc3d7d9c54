"""``torch.utils.data`` samplers: which indices a ``DataLoader`` reads, in which order.

torch's random samplers draw from a ``torch.Generator`` (a fresh random seed per
iteration unless one is given). fnet's draw from ``(seed, epoch)``: the order of epoch
``e`` is ``numpy.random.default_rng([seed, e])``'s, the same in every run and on every
host, so a resumed run reads the same samples. ``set_epoch(e)`` selects the epoch (the
``DataLoader`` calls it for each of its epochs); otherwise each new iteration advances
to the next epoch, as torch's draws a new order. The orders differ from torch's for the
same seed (different generators), as random numbers differ between the frameworks.
"""

from __future__ import annotations

import itertools
import math
import numbers
from typing import Any, Iterable, Iterator, Sequence, Sized

import numpy as np

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "DistributedSampler"]


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_generator(where: str, generator: Any) -> None:
    if generator is not None:
        raise TypeError(f"{where}: expected generator=None, got {type(generator).__name__}; fnet samplers draw "
                        "their order from seed= and the epoch (set_epoch), so every run and host sees the same one")


def _check_seed(where: str, seed: Any) -> int:
    if not _is_int(seed):
        raise TypeError(f"{where}: expected seed to be an integer, got {seed!r}")
    return int(seed)


class Sampler:
    """Base class of samplers: ``__iter__`` yields indices (or lists of indices); ``__len__`` counts them.

    PyTorch equivalent: ``torch.utils.data.Sampler``.
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class _EpochSampler(Sampler):
    """A random sampler whose order is a function of ``(seed, epoch)``."""

    def __init__(self, seed: int):
        self.seed = seed
        self.epoch = 0
        self._next_epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Makes the next iteration produce epoch ``epoch``'s order (torch's ``DistributedSampler.set_epoch``)."""
        if not _is_int(epoch) or epoch < 0:
            raise ValueError(f"{type(self).__name__}.set_epoch: expected an integer epoch >= 0, got {epoch!r}")
        self._next_epoch = int(epoch)

    def _rng(self) -> np.random.Generator:
        self.epoch = self._next_epoch
        self._next_epoch = self.epoch + 1
        return np.random.default_rng([self.seed, self.epoch])


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``.

    PyTorch equivalent: ``torch.utils.data.SequentialSampler(data_source)``.
    """

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_EpochSampler):
    """A random permutation of the dataset's indices (or ``num_samples`` draws with replacement).

    Without replacement, ``num_samples`` beyond the dataset's length takes further whole
    permutations, then part of one, as torch. The order of epoch ``e`` is that of
    ``default_rng([seed, e])``: ``DataLoader(shuffle=True, seed=s)`` is this sampler
    with ``seed=s``.

    Args:
        data_source: the dataset (anything with ``len``).
        replacement: draw with replacement.
        num_samples: how many indices (default: the dataset's length).
        generator: must be None (fnet draws from ``seed``).
        seed: seed of the orders.

    PyTorch equivalent: ``torch.utils.data.RandomSampler(data_source, replacement=False,
    num_samples=None, generator=None)``.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None, *, seed: int = 0):
        where = "RandomSampler"
        super().__init__(_check_seed(where, seed))
        _check_generator(where, generator)
        if not isinstance(replacement, bool):
            raise TypeError(f"{where}: replacement should be a boolean value, but got replacement={replacement!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        if not _is_int(self.num_samples) or self.num_samples <= 0:
            raise ValueError(f"{where}: num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def indices(self, rng: np.random.Generator) -> np.ndarray:
        """The indices drawn from ``rng`` (one epoch)."""
        n = len(self.data_source)
        if self.replacement:
            return rng.integers(0, n, self.num_samples)
        if self.num_samples == n:
            return rng.permutation(n)
        parts = [rng.permutation(n) for _ in range(self.num_samples // n)]
        parts.append(rng.permutation(n)[:self.num_samples % n])
        return np.concatenate(parts)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices(self._rng()).tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_EpochSampler):
    """The given indices in a random order (a new one each epoch).

    PyTorch equivalent: ``torch.utils.data.SubsetRandomSampler(indices, generator=None)``.
    """

    def __init__(self, indices: Sequence[int], generator: Any = None, *, seed: int = 0):
        super().__init__(_check_seed("SubsetRandomSampler", seed))
        _check_generator("SubsetRandomSampler", generator)
        self.indices = indices

    def __iter__(self) -> Iterator[int]:
        for i in self._rng().permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_EpochSampler):
    """``num_samples`` indices of ``[0, len(weights))`` drawn with probabilities proportional to ``weights``.

    Args:
        weights: non-negative weights, not necessarily summing to one.
        num_samples: how many indices to draw.
        replacement: with replacement (default); without, each index at most once, so
            ``num_samples`` cannot exceed the number of non-zero weights.
        generator: must be None (fnet draws from ``seed``).
        seed: seed of the draws.

    PyTorch equivalent: ``torch.utils.data.WeightedRandomSampler(weights, num_samples,
    replacement=True, generator=None)``.
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True, generator: Any = None,
                 *, seed: int = 0):
        where = "WeightedRandomSampler"
        super().__init__(_check_seed(where, seed))
        _check_generator(where, generator)
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError(f"{where}: num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples!r}")
        if not isinstance(replacement, bool):
            raise ValueError(f"{where}: replacement should be a boolean value, but got replacement={replacement!r}")
        from ..io import to_numpy

        w = np.asarray(to_numpy(weights) if hasattr(weights, "shape") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"{where}: weights should be a 1d sequence but given weights have shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"{where}: expected finite, non-negative weights, got min {w.min() if w.size else None}")
        if not w.sum() > 0:
            raise ValueError(f"{where}: expected weights with a positive sum, got {w.sum()}")
        if not replacement and num_samples > int(np.count_nonzero(w)):
            raise ValueError(f"{where}: cannot draw {num_samples} samples without replacement from "
                             f"{int(np.count_nonzero(w))} non-zero weights")
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement

    def __iter__(self) -> Iterator[int]:
        rng = self._rng()
        return iter(rng.choice(self.weights.shape[0], self.num_samples, replace=self.replacement,
                               p=self.weights / self.weights.sum()).tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from another sampler (the last one shorter unless ``drop_last``).

    PyTorch equivalent: ``torch.utils.data.BatchSampler(sampler, batch_size, drop_last)``.
    """

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool):
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def set_epoch(self, epoch: int) -> None:
        """Passes the epoch to the wrapped sampler (when it has one)."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


class DistributedSampler(_EpochSampler):
    """This process's share of the dataset: every ``num_replicas``-th index from ``rank``, torch's rule.

    The (shuffled) indices are padded by repeating the first ones to a multiple of
    ``num_replicas`` (or cut with ``drop_last``), and rank ``r`` takes positions ``r, r +
    num_replicas, ...``: every rank gets ``len(self)`` indices and together they cover the
    dataset. The permutation depends on ``(seed, epoch)`` only, so all ranks agree on it.
    Call ``set_epoch(e)`` before each epoch as in torch (an fnet ``DataLoader`` does it).

    ``num_replicas`` and ``rank`` default to ``jax.process_count()`` and
    ``jax.process_index()`` (torch's world size and rank). Use it for torch-style
    per-process datasets with a per-process ``batch_size``; the ``DataLoader``'s own
    ``num_shards``/``shard_index`` instead keep one global batch order and give each
    process a contiguous slice of every global batch (what ``fnet.sharding`` expects).

    PyTorch equivalent: ``torch.utils.data.distributed.DistributedSampler(dataset,
    num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False)``.
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        where = "DistributedSampler"
        super().__init__(_check_seed(where, seed))
        if num_replicas is None or rank is None:
            import jax

            num_replicas = jax.process_count() if num_replicas is None else num_replicas
            rank = jax.process_index() if rank is None else rank
        if not _is_int(num_replicas) or num_replicas < 1:
            raise ValueError(f"{where}: expected num_replicas to be a positive integer, got {num_replicas!r}")
        if not _is_int(rank) or rank >= num_replicas or rank < 0:
            raise ValueError(f"{where}: Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        rng = self._rng()
        n = len(self.dataset)
        indices = rng.permutation(n) if self.shuffle else np.arange(n)
        if not self.drop_last:
            padding = self.total_size - n
            if padding > 0:
                indices = np.concatenate([indices, np.resize(indices, padding)])
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples
