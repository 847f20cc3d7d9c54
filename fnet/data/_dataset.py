"""Datasets: map-style (``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``StackDataset``,
``random_split``) and iterable-style (``IterableDataset``, ``ChainDataset``)."""

from __future__ import annotations

import bisect
import math
import warnings
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "StackDataset", "IterableDataset", "ChainDataset",
           "random_split"]


class Dataset:
    """A map-style dataset: ``__getitem__(index)`` and ``__len__``.

    Subclass it like torch's: return one sample (an array, a tuple of arrays or a dict).

    PyTorch equivalent: ``torch.utils.data.Dataset``.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])

    def get_batch(self, indices: np.ndarray) -> Any:
        """A whole batch at once; the default stacks single samples (see DataLoader)."""
        from ._collate import default_collate

        fetch = getattr(self, "__getitems__", None)
        samples = fetch([int(i) for i in indices]) if callable(fetch) else [self[int(i)] for i in indices]
        return default_collate(samples)


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of each array.

    Args:
        *tensors: arrays (numpy, jax or torch) with the same first dimension.

    PyTorch equivalent: ``torch.utils.data.TensorDataset``.
    """

    def __init__(self, *tensors: Any):
        from ..io import to_numpy

        if not tensors:
            raise ValueError("TensorDataset: expected at least one array, got none")
        arrays = tuple(to_numpy(t) for t in tensors)
        sizes = [a.shape[0] if a.ndim else None for a in arrays]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: expected arrays with the same first dimension, got "
                             f"shapes {[a.shape for a in arrays]}")
        self.tensors = arrays

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: np.ndarray) -> tuple:
        # One fancy-index per array instead of stacking single rows.
        return tuple(t[indices] for t in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``.

    PyTorch equivalent: ``torch.utils.data.Subset``.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices: np.ndarray) -> Any:
        return self.dataset.get_batch(self.indices[np.asarray(indices)])


class ConcatDataset(Dataset):
    """Several datasets one after the other.

    PyTorch equivalent: ``torch.utils.data.ConcatDataset``.
    """

    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise IndexError(f"ConcatDataset: index {index} out of range for length {len(self)}")
            index = len(self) + index
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if which == 0 else self.cumulative_sizes[which - 1]
        return self.datasets[which][int(index - start)]


class StackDataset(Dataset):
    """Samples that put together the samples of several datasets of the same length.

    ``StackDataset(images, labels)[i] == (images[i], labels[i])``;
    ``StackDataset(image=images, label=labels)[i] == {"image": images[i], "label": labels[i]}``.

    PyTorch equivalent: ``torch.utils.data.StackDataset(*args, **kwargs)``.
    """

    def __init__(self, *args: Dataset, **kwargs: Dataset):
        if args and kwargs:
            raise ValueError("StackDataset: supported either tuple- (via args) or dict- (via kwargs) like "
                             "input/output, but both types are given")
        if not args and not kwargs:
            raise ValueError("StackDataset: expected at least one dataset, got none")
        parts = list(args) if args else list(kwargs.values())
        lengths = [len(d) for d in parts]
        if len(set(lengths)) != 1:
            names = list(range(len(args))) if args else list(kwargs)
            raise ValueError(f"StackDataset: size mismatch between datasets: expected equal lengths, got "
                             f"{dict(zip(names, lengths))}")
        self.datasets: tuple | dict = tuple(args) if args else dict(kwargs)
        self._length = lengths[0]

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length

    def get_batch(self, indices: np.ndarray) -> Any:
        # Each part batched its own (fast) way: the same as collating the stacked samples.
        if isinstance(self.datasets, dict):
            return {k: _batch_of(d, indices) for k, d in self.datasets.items()}
        return tuple(_batch_of(d, indices) for d in self.datasets)


def _batch_of(dataset: Any, indices: np.ndarray) -> Any:
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    from ._collate import default_collate

    return default_collate([dataset[int(i)] for i in indices])


class IterableDataset(Dataset):
    """An iterable-style dataset: ``__iter__`` yields samples (a stream, a generator, a file read in order).

    Subclass it like torch's. With ``DataLoader(num_workers=n)`` each worker iterates its
    own copy; split the work with :func:`fnet.data.get_worker_info` (``id``,
    ``num_workers``), as in torch, or every worker yields everything.

    PyTorch equivalent: ``torch.utils.data.IterableDataset``.
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it instead of indexing it")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} is an IterableDataset without __len__")

    def __add__(self, other: "IterableDataset") -> "ChainDataset":
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets one after the other.

    PyTorch equivalent: ``torch.utils.data.ChainDataset(datasets)``.
    """

    def __init__(self, datasets: Iterable[IterableDataset]):
        self.datasets = list(datasets)
        for i, d in enumerate(self.datasets):
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: expected IterableDatasets only, got {type(d).__name__} at "
                                f"position {i}")

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def random_split(dataset: Dataset, lengths: Sequence[int | float], seed: int = 0) -> list[Subset]:
    """Splits into non-overlapping random subsets of the given lengths.

    Args:
        dataset: the dataset to split.
        lengths: sizes, or fractions summing to 1 (torch's rule: ``math.isclose(sum, 1)``
            and ``sum <= 1``); ``floor(n * fraction)`` each, the remainder going
            round-robin to the first splits, as torch does.
        seed: seed of the permutation (torch takes a ``generator``; fnet a seed).

    PyTorch equivalent: ``torch.utils.data.random_split``.
    """
    n = len(dataset)
    lengths = list(lengths)
    # torch's rule: lengths summing to 1 (within isclose, never above) are fractions,
    # even when written as integers ([0, 1]); anything else is a list of sizes.
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {frac!r}")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=2)
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} does not equal the length "
                         f"of the input dataset {n}")
    perm = np.random.default_rng(seed).permutation(n)
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + int(length)]))
        offset += int(length)
    return out
