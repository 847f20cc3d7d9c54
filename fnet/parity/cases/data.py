"""Parity cases for ``torch.utils.data``: datasets, collation, samplers, the loader, workers.

Nothing here has a gradient, so a case is a list of checks (:mod:`fnet.parity._stats`):

* **Equal to torch's** wherever torch is deterministic: dataset items, ``default_collate``
  and ``default_convert`` results, sequential and batch samplers, unshuffled
  ``DataLoader`` batches, ``DistributedSampler`` shards without shuffling (padding and
  ``drop_last`` included), worker ids seen through ``get_worker_info``, ``random_split``'s
  lengths. One check per configuration compares structure, dtype and every value
  exactly (``tol equal``); its detail names the first difference.
* **torch's guarantees** where the order is random: fnet draws from ``(seed, epoch)`` and
  torch from its generator, so the orders differ by design (README, "Differences from
  PyTorch"). Each property is checked on torch's draws too (it is torch's guarantee, not
  fnet's invention): permutations and covers of the indices, disjoint complete shards,
  and frequencies within 6 sigma of the probabilities torch samples from.

Arrays are compared as numpy (fnet's batches are numpy arrays, torch's are tensors); a
tuple that fnet keeps where torch returns a list passes and says so in the detail.
"""

from __future__ import annotations

import collections
import itertools
import math
import warnings
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.utils.data as tud

from fnet import data as D
from fnet.parity._engine import Diff
from fnet.parity._stats import check, stats_case, within

_INDICES = ("float32",)
_NOTE_INDICES = "indices and lengths only: no floating data, so one dtype says everything"

# -- exact comparison of (nested) results --------------------------------------------------------


def _numpy(x: Any) -> Any:
    return x.numpy() if isinstance(x, torch.Tensor) else x


def _first_difference(got: Any, want: Any, where: str) -> tuple[str, float] | None:
    """``(what differs, max abs difference)`` at the first place fnet's ``got`` and torch's ``want`` differ."""
    want = _numpy(want)
    if isinstance(want, Mapping):
        if not isinstance(got, Mapping) or list(got) != list(want):
            return f"{where}: keys {list(got) if isinstance(got, Mapping) else type(got).__name__} vs torch " \
                   f"{list(want)}", math.inf
        for k in want:
            found = _first_difference(got[k], want[k], f"{where}[{k!r}]")
            if found:
                return found
        return None
    if isinstance(want, (tuple, list)):
        # torch turns tuples into lists ("backwards compatibility"); fnet keeps them tuples
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            return f"{where}: {type(got).__name__} of {len(got) if hasattr(got, '__len__') else '?'} vs torch " \
                   f"{type(want).__name__} of {len(want)}", math.inf
        if hasattr(want, "_fields") and type(got).__name__ != type(want).__name__:
            return f"{where}: {type(got).__name__} vs torch's namedtuple {type(want).__name__}", math.inf
        if isinstance(got, list) and type(want) is tuple:
            return f"{where}: list vs torch tuple", math.inf
        for i, (g, w) in enumerate(zip(got, want)):
            found = _first_difference(g, w, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(got, np.generic) and not isinstance(got, (str, bytes)):
        got = np.asarray(got)  # a numpy scalar is numpy's 0-d array (torch: a 0-d tensor)
    if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
        g, w = np.asarray(got), np.asarray(want)
        if not isinstance(got, np.ndarray):
            return f"{where}: {type(got).__name__} vs torch array", math.inf
        if g.dtype != w.dtype or g.shape != w.shape:
            return f"{where}: {g.dtype}{list(g.shape)} vs torch {w.dtype}{list(w.shape)}", math.inf
        if not np.array_equal(g, w, equal_nan=g.dtype.kind in "fc"):
            err = float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))) if g.dtype.kind in "fiub" \
                else math.inf
            return f"{where}: values differ", err
        return None
    if type(got) is not type(want) or got != want:
        return f"{where}: {got!r} vs torch {want!r}", math.inf
    return None


def _equal(name: str, got: Any, want: Any, what: str = "") -> Diff:
    """One check: fnet's ``got`` equals torch's ``want`` in structure, dtype and every value."""
    found = _first_difference(got, want, "out")
    tuples = "; fnet's tuples are torch's lists" if _has_tuple_for_list(got, _numpy(want)) else ""
    if found is None:
        return Diff("output", name, 0.0, None, True, (what + tuples).lstrip("; "), tol="equal")
    return Diff("output", name, found[1], None, False, found[0], tol="equal")


def _has_tuple_for_list(got: Any, want: Any) -> bool:
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        return any(_has_tuple_for_list(got[k], _numpy(want[k])) for k in want if k in got)
    if isinstance(want, (tuple, list)) and isinstance(got, (tuple, list)):
        if type(want) is list and isinstance(got, tuple) and not hasattr(got, "_fields"):
            return True
        return any(_has_tuple_for_list(g, _numpy(w)) for g, w in zip(got, want))
    return False


def _refusals(name: str, fnet_call: Callable[[], Any], torch_call: Callable[[], Any]) -> Diff:
    """Both sides refuse the same input: with torch's exception type, or a ValueError/TypeError where
    torch raises a RuntimeError (fnet's rule for bad input)."""
    caught = []
    for call in (fnet_call, torch_call):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call()
            caught.append(None)
        except Exception as err:  # noqa: BLE001 - the exception type is what is compared
            caught.append(err)
    ok = all(c is not None for c in caught) and (type(caught[0]) is type(caught[1])
                                                 or isinstance(caught[0], (ValueError, TypeError)))
    names = [type(c).__name__ if c is not None else "no error" for c in caught]
    return check(name, ok, f"fnet {names[0]}, torch {names[1]}")


def _arrays(rng: np.random.Generator, dtype: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((n, 3)).astype(dtype), rng.integers(0, 5, n).astype(np.int64)


# -- datasets -------------------------------------------------------------------------------------


class _FnetSquares(D.Dataset):
    """A user's map-style dataset: ``i -> (array of i*i in the dtype, i)``."""

    def __init__(self, n: int, dtype: str):
        self.n, self.dtype = n, dtype

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple:
        return np.array([i * i, -i], dtype=self.dtype), i


class _TorchSquares(tud.Dataset):
    __init__, __len__, __getitem__ = _FnetSquares.__init__, _FnetSquares.__len__, _FnetSquares.__getitem__


def _map_datasets(dtype: str, seed: int) -> list[Diff]:
    x, y = _arrays(np.random.default_rng(seed), dtype, 7)
    ours, theirs = D.TensorDataset(x, y), tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    diffs = [_equal("TensorDataset: every item (negative indices too), len",
                    ([ours[i] for i in range(-7, 7)], len(ours)), ([theirs[i] for i in range(-7, 7)], len(theirs)))]
    sub, t_sub = D.Subset(ours, [4, 0, 6, 4]), tud.Subset(theirs, [4, 0, 6, 4])
    diffs.append(_equal("Subset([4, 0, 6, 4]): items and len", ([sub[i] for i in range(4)], len(sub)),
                        ([t_sub[i] for i in range(4)], len(t_sub))))
    squares, t_squares = _FnetSquares(3, dtype), _TorchSquares(3, dtype)
    cat, t_cat = D.ConcatDataset([ours, squares, sub]), tud.ConcatDataset([theirs, t_squares, t_sub])
    n = len(t_cat)
    diffs.append(_equal("ConcatDataset([tensors, user, subset]): items -n..n-1, len, cumulative_sizes",
                        ([cat[i] for i in range(-n, n)], len(cat), [int(c) for c in cat.cumulative_sizes]),
                        ([t_cat[i] for i in range(-n, n)], len(t_cat), list(t_cat.cumulative_sizes))))
    plus, t_plus = squares + squares, t_squares + t_squares
    diffs.append(check("Dataset + Dataset is a ConcatDataset, as torch's",
                       isinstance(plus, D.ConcatDataset) and isinstance(t_plus, tud.ConcatDataset)))
    diffs.append(_equal("Dataset subclass + Dataset subclass: items", [plus[i] for i in range(6)],
                        [t_plus[i] for i in range(6)]))
    stack = D.StackDataset(ours, squares + D.Subset(ours, [0, 1, 2, 3]))
    t_stack = tud.StackDataset(theirs, t_squares + tud.Subset(theirs, [0, 1, 2, 3]))
    diffs.append(_equal("StackDataset(*datasets): items, len", ([stack[i] for i in range(7)], len(stack)),
                        ([t_stack[i] for i in range(7)], len(t_stack))))
    named = D.StackDataset(x=ours, s=squares + D.Subset(ours, [6, 5, 4, 3]))
    t_named = tud.StackDataset(x=theirs, s=t_squares + tud.Subset(theirs, [6, 5, 4, 3]))
    diffs.append(_equal("StackDataset(**datasets): items, len", ([named[i] for i in range(7)], len(named)),
                        ([t_named[i] for i in range(7)], len(t_named))))
    diffs.append(_refusals("StackDataset of unequal lengths: both refuse", lambda: D.StackDataset(ours, squares),
                           lambda: tud.StackDataset(theirs, t_squares)))
    return diffs


stats_case("data.TensorDataset+Subset+ConcatDataset+StackDataset+Dataset[items equal torch's]", "data",
           _map_datasets, covers=("data.TensorDataset", "data.Subset", "data.ConcatDataset", "data.StackDataset",
                                  "data.Dataset"))


class _FnetCount(D.IterableDataset):
    """A user's stream: ``start..stop-1`` as arrays of the dtype; worker ``k`` of ``n`` takes every ``n``-th."""

    def __init__(self, start: int, stop: int, dtype: str = "float32"):
        self.start, self.stop, self.dtype = start, stop, dtype

    def _info(self) -> Any:
        return D.get_worker_info()

    def __iter__(self):
        info = self._info()
        first, step = (self.start, 1) if info is None else (self.start + info.id, info.num_workers)
        for i in range(first, self.stop, step):
            yield np.array([i, 0.5 * i], dtype=self.dtype)

    def __len__(self) -> int:
        return self.stop - self.start


class _TorchCount(tud.IterableDataset):
    __init__, __iter__, __len__ = _FnetCount.__init__, _FnetCount.__iter__, _FnetCount.__len__

    def _info(self) -> Any:
        return tud.get_worker_info()


def _iterable_datasets(dtype: str, seed: int) -> list[Diff]:
    del seed
    a, b = _FnetCount(0, 3, dtype), _FnetCount(10, 12, dtype)
    t_a, t_b = _TorchCount(0, 3, dtype), _TorchCount(10, 12, dtype)
    chain, t_chain = D.ChainDataset([a, b, a]), tud.ChainDataset([t_a, t_b, t_a])
    plus, t_plus = a + b, t_a + t_b
    return [
        _equal("IterableDataset subclass: its samples", list(a), list(t_a)),
        _equal("ChainDataset([a, b, a]): samples in order, len", (list(chain), len(chain)),
               (list(t_chain), len(t_chain))),
        check("IterableDataset + IterableDataset is a ChainDataset, as torch's",
              isinstance(plus, D.ChainDataset) and isinstance(t_plus, tud.ChainDataset)),
        _equal("a + b: samples", list(plus), list(t_plus)),
        _equal("DataLoader(ChainDataset, batch_size=2): batches", list(D.DataLoader(chain, batch_size=2)),
               list(tud.DataLoader(t_chain, batch_size=2))),
        _equal("DataLoader(IterableDataset, batch_size=2, drop_last=True): batches",
               list(D.DataLoader(b + a, batch_size=2, drop_last=True)),
               list(tud.DataLoader(t_b + t_a, batch_size=2, drop_last=True))),
        _refusals("ChainDataset of a map-style dataset, iterated: both refuse",
                  lambda: list(D.ChainDataset([a, _FnetSquares(2, dtype)])),
                  lambda: list(tud.ChainDataset([t_a, _TorchSquares(2, dtype)]))),
    ]


stats_case("data.IterableDataset+ChainDataset[samples and batches equal torch's]", "data", _iterable_datasets,
           covers=("data.IterableDataset", "data.ChainDataset"))

# -- collation ------------------------------------------------------------------------------------

_Point = collections.namedtuple("_Point", ["xy", "label"])


def _samples(dtype: str, seed: int) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    arr = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    return {
        "arrays": [arr(2, 3) for _ in range(4)],
        "(array, int, float, bool, str) tuples": [(arr(3), i, 0.5 * i, i % 2 == 0, f"s{i}") for i in range(3)],
        "numpy scalars": [np.dtype(dtype).type(0.25 * i) for i in range(3)] ,
        "int32 arrays and int64 scalars": [(np.arange(3, dtype=np.int32) + i, np.int64(i)) for i in range(3)],
        "dicts of lists and arrays": [{"x": arr(2), "pair": [arr(1), i], "name": "n"} for i in range(3)],
        "namedtuples": [_Point(arr(2), i) for i in range(3)],
        "nested dict in tuple": [(i, {"a": arr(1, 2), "b": (arr(2), 2 * i)}) for i in range(2)],
        "one sample": [(arr(4), 3)],
    }


def _collate(dtype: str, seed: int) -> list[Diff]:
    diffs = []
    for what, samples in _samples(dtype, seed).items():
        diffs.append(_equal(f"default_collate({what})", D.default_collate(samples), tud.default_collate(samples)))
    ragged = [(np.zeros(2, dtype), 1), (np.zeros(2, dtype), 2, 3)]
    diffs.append(_refusals("default_collate(samples of unequal lengths): both refuse",
                           lambda: D.default_collate(ragged), lambda: tud.default_collate(ragged)))
    shapes = [np.zeros(2, dtype), np.zeros(3, dtype)]
    diffs.append(_refusals("default_collate(arrays of unequal shapes): both refuse",
                           lambda: D.default_collate(shapes), lambda: tud.default_collate(shapes)))
    return diffs


stats_case("data.default_collate[structures, dtypes and values equal torch's]", "data", _collate,
           covers=("data.default_collate",))


def _convert(dtype: str, seed: int) -> list[Diff]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3)).astype(dtype)
    samples = {
        "numpy array": x,
        "numpy scalar": np.dtype(dtype).type(1.5),
        "Python int, float, str": (3, 2.5, "label"),
        "dict of array, list, namedtuple": {"x": x, "l": [x[0], 7], "p": _Point(x[1], np.int64(2))},
        "numpy array of strings (unchanged)": np.array(["a", "bc"]),
    }
    diffs = [_equal(f"default_convert({what})", D.default_convert(s), tud.default_convert(s))
             for what, s in samples.items()]
    t = torch.from_numpy(x.copy())
    diffs.append(_equal("default_convert(torch tensor): fnet's numpy array holds torch's values",
                        D.default_convert(t), tud.default_convert(t)))
    return diffs


stats_case("data.default_convert[structures, dtypes and values equal torch's]", "data", _convert,
           covers=("data.default_convert",))

# -- deterministic samplers -----------------------------------------------------------------------


def _sequential_and_batch(dtype: str, seed: int) -> list[Diff]:
    del dtype, seed
    diffs = []
    for n in (1, 7, 9):
        diffs.append(_equal(f"SequentialSampler(range({n})): indices, len",
                            (list(D.SequentialSampler(range(n))), len(D.SequentialSampler(range(n)))),
                            (list(tud.SequentialSampler(range(n))), len(tud.SequentialSampler(range(n))))))
        for batch_size, drop_last in itertools.product((1, 3, 4, 10), (False, True)):
            ours = D.BatchSampler(D.SequentialSampler(range(n)), batch_size, drop_last)
            theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), batch_size, drop_last)
            diffs.append(_equal(f"BatchSampler(n={n}, batch_size={batch_size}, drop_last={drop_last}): "
                                "batches, len", (list(ours), len(ours)), (list(theirs), len(theirs))))
    order = [5, 1, 1, 0, 9, 3, 2]
    diffs.append(_equal("BatchSampler(a list of indices, 3, False): batches, len",
                        (list(D.BatchSampler(order, 3, False)), len(D.BatchSampler(order, 3, False))),
                        (list(tud.BatchSampler(order, 3, False)), len(tud.BatchSampler(order, 3, False)))))
    for bad in ((order, 0, False), (order, 2, 1)):
        diffs.append(_refusals(f"BatchSampler(batch_size={bad[1]}, drop_last={bad[2]}): both refuse",
                               lambda bad=bad: D.BatchSampler(*bad), lambda bad=bad: tud.BatchSampler(*bad)))
    return diffs


stats_case("data.SequentialSampler+BatchSampler[indices equal torch's]", "data", _sequential_and_batch,
           covers=("data.SequentialSampler", "data.BatchSampler"), dtypes=_INDICES, note=_NOTE_INDICES)

_DISTRIBUTED = [(10, 3, False), (10, 3, True), (12, 4, False), (12, 4, True), (2, 5, False), (7, 2, True),
                (5, 1, False), (11, 4, True), (3, 4, False)]


def _distributed_fixed(dtype: str, seed: int) -> list[Diff]:
    del dtype, seed
    diffs = []
    for n, replicas, drop_last in _DISTRIBUTED:
        ours = [D.DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
                for r in range(replicas)]
        theirs = [tud.DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
                  for r in range(replicas)]
        diffs.append(_equal(f"DistributedSampler(n={n}, num_replicas={replicas}, drop_last={drop_last}, "
                            "shuffle=False): every rank's indices, len, total_size",
                            [(list(s), len(s), s.total_size) for s in ours],
                            [(list(s), len(s), s.total_size) for s in theirs]))
    diffs.append(_refusals("DistributedSampler(rank=num_replicas): both refuse",
                           lambda: D.DistributedSampler(range(3), 2, 2), lambda: tud.DistributedSampler(range(3), 2, 2)))
    return diffs


stats_case("data.DistributedSampler[shuffle=False: shards equal torch's, padding and drop_last]", "data",
           _distributed_fixed, covers=("data.DistributedSampler",), dtypes=_INDICES, note=_NOTE_INDICES)

# -- random samplers: torch's guarantees, on fnet's draws and torch's ------------------------------


def _shards_property(shards: list[list[int]], n: int, drop_last: bool) -> tuple[bool, str]:
    """torch's guarantee: rank ``r`` of ``R`` takes positions ``r::R`` of one permutation of the
    indices, padded by repeating its first entries (or cut with ``drop_last``), so the shards
    are equally long and interleaved they give that padded (or cut) permutation back."""
    replicas, lengths = len(shards), {len(s) for s in shards}
    if len(lengths) != 1:
        return False, f"shard lengths {sorted(lengths)}"
    order = np.array([s[j] for j in range(lengths.pop()) for s in shards], dtype=np.int64)
    if drop_last:
        ok = len(order) == n - n % replicas and len(set(order.tolist())) == len(order) and set(order.tolist()) <= \
            set(range(n))
    else:
        head = order[:n]
        ok = sorted(head.tolist()) == list(range(n)) and np.array_equal(order[n:], np.resize(head, len(order) - n))
    return ok, f"{replicas} shards of {len(order) // replicas}: {len(order)} indices, {len(set(order.tolist()))} " \
               f"distinct of {n}"


def _distributed_shuffled(dtype: str, seed: int) -> list[Diff]:
    del dtype
    diffs = []
    for n, replicas, drop_last in _DISTRIBUTED:
        label = f"n={n}, num_replicas={replicas}, drop_last={drop_last}"
        ours = [D.DistributedSampler(range(n), replicas, r, seed=seed % 1000, drop_last=drop_last)
                for r in range(replicas)]
        theirs = [tud.DistributedSampler(range(n), replicas, r, seed=seed % 1000, drop_last=drop_last)
                  for r in range(replicas)]
        for epoch in (0, 3):
            for s in ours + theirs:
                s.set_epoch(epoch)
            got, want = [list(s) for s in ours], [list(s) for s in theirs]
            ok, detail = _shards_property(got, n, drop_last)
            t_ok, t_detail = _shards_property(want, n, drop_last)
            diffs.append(check(f"shuffle=True, {label}, epoch {epoch}: disjoint complete shards (fnet)", ok, detail))
            diffs.append(check(f"shuffle=True, {label}, epoch {epoch}: the same holds for torch's", t_ok, t_detail))
            diffs.append(_equal(f"shuffle=True, {label}, epoch {epoch}: len of every rank",
                                [len(s) for s in ours], [len(s) for s in theirs]))
    # the rank's share is uniform: over epochs, each index lands on rank 0 with probability 1/R
    n, replicas, epochs = 12, 3, 1500
    sampler = D.DistributedSampler(range(n), replicas, 0, seed=seed % 1000)
    hits = np.zeros(n)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        hits[list(sampler)] += 1
    p = 1 / replicas
    sigma = math.sqrt(p * (1 - p) / epochs)
    diffs += [within(f"P(index {i} on rank 0) over {epochs} epochs", hits[i] / epochs, p, sigma) for i in (0, 5, 11)]
    return diffs


stats_case("data.DistributedSampler[shuffle=True: disjoint complete shards like torch's]", "data",
           _distributed_shuffled, covers=("data.DistributedSampler",), dtypes=_INDICES, note=_NOTE_INDICES)


def _is_torch_permutation_blocks(order: list[int], n: int) -> bool:
    """torch's RandomSampler without replacement: whole permutations of range(n), then part of one."""
    blocks = [order[i:i + n] for i in range(0, len(order), n)]
    whole = all(sorted(b) == list(range(n)) for b in blocks if len(b) == n)
    last = blocks[-1] if blocks and len(blocks[-1]) < n else []
    return whole and len(set(last)) == len(last) and set(last) <= set(range(n))


def _frequencies(draws: list[int] | np.ndarray, n: int) -> np.ndarray:
    return np.bincount(np.asarray(draws, dtype=np.int64), minlength=n) / len(draws)


def _frequency_checks(label: str, draws: list[int], t_draws: list[int], probs: np.ndarray) -> list[Diff]:
    """Each index's frequency within 6 sigma of torch's probability, and of torch's own frequency."""
    freq, t_freq = _frequencies(draws, len(probs)), _frequencies(t_draws, len(probs))
    diffs = []
    for i, p in enumerate(probs):
        sigma = math.sqrt(p * (1 - p) / len(draws))
        diffs.append(within(f"{label}: frequency of {i} (p = {p:.3f})", freq[i], p, sigma))
        both = math.sqrt(p * (1 - p) * (1 / len(draws) + 1 / len(t_draws)))
        diffs.append(within(f"{label}: frequency of {i} vs torch's", freq[i], t_freq[i], both))
    return diffs


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _random_sampler(dtype: str, seed: int) -> list[Diff]:
    del dtype
    diffs = []
    n = 6
    for num_samples in (None, 4, 6, 15):
        ours = D.RandomSampler(range(n), num_samples=num_samples, seed=seed)
        theirs = tud.RandomSampler(range(n), num_samples=num_samples, generator=_generator(seed))
        got, want = list(ours), list(theirs)
        label = f"RandomSampler(range({n}), num_samples={num_samples})"
        diffs.append(check(f"{label}: whole permutations, then part of one (fnet)",
                           _is_torch_permutation_blocks(got, n), f"{got}"))
        diffs.append(check(f"{label}: the same holds for torch's", _is_torch_permutation_blocks(want, n), f"{want}"))
        diffs.append(_equal(f"{label}: len and number of indices", (len(ours), len(got)), (len(theirs), len(want))))
    # every position is uniform over the indices: P(first index == i) = 1/n over epochs
    epochs = 3000
    sampler = D.RandomSampler(range(n), seed=seed)
    firsts = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        firsts.append(next(iter(sampler)))
    t_sampler = tud.RandomSampler(range(n), generator=_generator(seed))
    t_firsts = [next(iter(t_sampler)) for _ in range(epochs)]
    diffs += _frequency_checks("no replacement, first index over 3000 epochs", firsts, t_firsts, np.full(n, 1 / n))
    draws = 24000
    ours = D.RandomSampler(range(n), replacement=True, num_samples=draws, seed=seed)
    theirs = tud.RandomSampler(range(n), replacement=True, num_samples=draws, generator=_generator(seed))
    got, want = list(ours), list(theirs)
    diffs.append(_equal("replacement=True: len and number of draws", (len(ours), len(got)), (len(theirs), len(want))))
    diffs += _frequency_checks(f"replacement=True, {draws} draws", got, want, np.full(n, 1 / n))
    diffs.append(_refusals("RandomSampler(num_samples=0): both refuse", lambda: D.RandomSampler(range(3), num_samples=0),
                           lambda: tud.RandomSampler(range(3), num_samples=0)))
    return diffs


stats_case("data.RandomSampler[permutations; frequencies within 6 sigma of torch's]", "data", _random_sampler,
           covers=("data.RandomSampler",), dtypes=_INDICES, note=_NOTE_INDICES)


def _subset_random_sampler(dtype: str, seed: int) -> list[Diff]:
    del dtype
    indices = [3, 7, 9, 11, 20]
    ours, theirs = D.SubsetRandomSampler(indices, seed=seed), tud.SubsetRandomSampler(indices, _generator(seed))
    diffs = []
    for epoch in range(2):
        got, want = list(ours), list(theirs)
        diffs.append(check(f"epoch {epoch}: a permutation of the indices (fnet)", sorted(got) == indices, f"{got}"))
        diffs.append(check(f"epoch {epoch}: the same holds for torch's", sorted(want) == indices, f"{want}"))
    diffs.append(_equal("len", len(ours), len(theirs)))
    epochs = 3000
    firsts = []
    for epoch in range(epochs):
        ours.set_epoch(epoch)
        firsts.append(indices.index(next(iter(ours))))
    t_firsts = [indices.index(next(iter(theirs))) for _ in range(epochs)]
    diffs += _frequency_checks("first index over 3000 epochs", firsts, t_firsts, np.full(5, 1 / 5))
    return diffs


stats_case("data.SubsetRandomSampler[permutations; uniform positions like torch's]", "data",
           _subset_random_sampler, covers=("data.SubsetRandomSampler",), dtypes=_INDICES, note=_NOTE_INDICES)


def _inclusion(probs: np.ndarray) -> np.ndarray:
    """P(index k among 2 draws without replacement, each proportional to the remaining weights)."""
    return np.array([p + sum(q * p / (1 - q) for j, q in enumerate(probs) if j != k) for k, p in enumerate(probs)])


def _weighted_sampler(dtype: str, seed: int) -> list[Diff]:
    del dtype
    weights = [0.0, 1.0, 3.0, 0.5, 5.5]
    probs = np.array(weights) / sum(weights)
    draws = 24000
    ours = D.WeightedRandomSampler(weights, draws, seed=seed)
    theirs = tud.WeightedRandomSampler(weights, draws, generator=_generator(seed))
    got, want = list(ours), list(theirs)
    diffs = [_equal("replacement=True: len and number of draws", (len(ours), len(got)), (len(theirs), len(want)))]
    diffs += _frequency_checks(f"replacement=True, {draws} draws", got, want, probs)
    # without replacement: distinct indices of non-zero weight; inclusion probabilities as torch's
    epochs = 3000
    ours = D.WeightedRandomSampler(weights, 2, replacement=False, seed=seed)
    theirs = tud.WeightedRandomSampler(weights, 2, replacement=False, generator=_generator(seed))
    picks, t_picks = [], []
    for epoch in range(epochs):
        ours.set_epoch(epoch)
        picks.append(list(ours))
        t_picks.append(list(theirs))
    distinct = all(len(set(p)) == 2 and 0 not in p for p in picks)
    t_distinct = all(len(set(p)) == 2 and 0 not in p for p in t_picks)
    diffs.append(check("replacement=False: 2 distinct indices, never weight 0 (fnet)", distinct))
    diffs.append(check("replacement=False: the same holds for torch's", t_distinct))
    inclusion = _inclusion(probs)
    freq = np.bincount(np.concatenate(picks), minlength=5) / epochs
    t_freq = np.bincount(np.concatenate(t_picks), minlength=5) / epochs
    for k in range(1, 5):
        sigma = math.sqrt(inclusion[k] * (1 - inclusion[k]) / epochs)
        diffs.append(within(f"replacement=False: P({k} drawn) = {inclusion[k]:.3f}", freq[k], inclusion[k], sigma))
        diffs.append(within(f"replacement=False: P({k} drawn) vs torch's", freq[k], t_freq[k], sigma * math.sqrt(2)))
    diffs += _frequency_checks("replacement=False, first draw", [p[0] for p in picks], [p[0] for p in t_picks], probs)
    diffs.append(_refusals("WeightedRandomSampler(2-d weights): both refuse",
                           lambda: D.WeightedRandomSampler([[1.0, 2.0]], 2),
                           lambda: tud.WeightedRandomSampler([[1.0, 2.0]], 2)))
    return diffs


stats_case("data.WeightedRandomSampler[frequencies within 6 sigma of torch's probabilities]", "data",
           _weighted_sampler, covers=("data.WeightedRandomSampler",), dtypes=_INDICES, note=_NOTE_INDICES)

# -- the loader -----------------------------------------------------------------------------------


class _FnetEvens(D.Sampler):
    """A user's sampler: the even indices, backwards."""

    def __init__(self, n: int):
        self.n = n

    def __iter__(self):
        return iter(range((self.n - 1) // 2 * 2, -1, -2))

    def __len__(self) -> int:
        return (self.n + 1) // 2


class _TorchEvens(tud.Sampler):
    __init__, __iter__, __len__ = _FnetEvens.__init__, _FnetEvens.__iter__, _FnetEvens.__len__


def _sum_collate(samples: list) -> Any:
    """A user's collate_fn: the sum of the arrays and the list of labels."""
    return sum(np.asarray(s[0]) for s in samples), [int(s[1]) for s in samples]


def _batches(loader: Any) -> list:
    return [b for b in loader]


def _loader(dtype: str, seed: int) -> list[Diff]:
    x, y = _arrays(np.random.default_rng(seed), dtype, 10)
    ours, theirs = D.TensorDataset(x, y), tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    squares, t_squares = _FnetSquares(9, dtype), _TorchSquares(9, dtype)
    named = D.StackDataset(x=ours, s=_FnetSquares(10, dtype))
    t_named = tud.StackDataset(x=theirs, s=_TorchSquares(10, dtype))
    configs: list[tuple[str, Any, Any, dict]] = [
        ("TensorDataset, default batch_size=1", ours, theirs, {}),
        ("TensorDataset, batch_size=3", ours, theirs, {"batch_size": 3}),
        ("TensorDataset, batch_size=3, drop_last=True", ours, theirs, {"batch_size": 3, "drop_last": True}),
        ("TensorDataset, batch_size=None (default_convert)", ours, theirs, {"batch_size": None}),
        ("user Dataset, batch_size=4", squares, t_squares, {"batch_size": 4}),
        ("user Dataset, batch_size=4, collate_fn", squares, t_squares, {"batch_size": 4, "collate_fn": _sum_collate}),
        ("StackDataset of dicts, batch_size=4", named, t_named, {"batch_size": 4}),
        ("sampler=[indices], batch_size=2", squares, t_squares, {"sampler": [8, 1, 1, 0, 4], "batch_size": 2}),
        ("batch_sampler=[[...], ...]", ours, theirs, {"batch_sampler": [[3, 1], [0], [9, 9, 2]]}),
    ]
    diffs = []
    for label, f_ds, t_ds, kwargs in configs:
        f_loader, t_loader = D.DataLoader(f_ds, **kwargs), tud.DataLoader(t_ds, **kwargs)
        diffs.append(_equal(f"DataLoader({label}): batches, len", (_batches(f_loader), len(f_loader)),
                            (_batches(t_loader), len(t_loader))))
    for label, make in (("BatchSampler(SequentialSampler, 4, drop_last=True)",
                         lambda m: m.BatchSampler(m.SequentialSampler(range(10)), 4, drop_last=True)),
                        ("DistributedSampler(rank 1 of 3, shuffle=False)",
                         lambda m: m.DistributedSampler(range(10), 3, 1, shuffle=False))):
        key = "batch_sampler" if "Batch" in label else "sampler"
        f_loader, t_loader = D.DataLoader(ours, **{key: make(D)}), tud.DataLoader(theirs, **{key: make(tud)})
        diffs.append(_equal(f"DataLoader({key}={label}): batches, len", (_batches(f_loader), len(f_loader)),
                            (_batches(t_loader), len(t_loader))))
    # shuffle=True: each epoch reads every sample once, in batches of the requested size (torch's guarantee)
    for side, loader in (("fnet", D.DataLoader(squares, batch_size=4, shuffle=True, seed=seed)),
                         ("torch", tud.DataLoader(t_squares, batch_size=4, shuffle=True, generator=_generator(seed)))):
        for epoch in range(2):
            batches = _batches(loader)
            labels = sorted(int(v) for b in batches for v in _numpy(b[1]))
            sizes = [len(b[1]) for b in batches]
            diffs.append(check(f"DataLoader(shuffle=True, batch_size=4) epoch {epoch}: every sample once ({side})",
                               labels == list(range(9)) and sizes == [4, 4, 1], f"sizes {sizes}"))
    diffs.append(_refusals("DataLoader(sampler=..., shuffle=True): both refuse",
                           lambda: D.DataLoader(ours, sampler=[0], shuffle=True),
                           lambda: tud.DataLoader(theirs, sampler=[0], shuffle=True)))
    diffs.append(_refusals("DataLoader(batch_size=None, drop_last=True): both refuse",
                           lambda: D.DataLoader(ours, batch_size=None, drop_last=True),
                           lambda: tud.DataLoader(theirs, batch_size=None, drop_last=True)))
    return diffs


stats_case("data.DataLoader[unshuffled batches equal torch's; shuffled epochs read every sample once]", "data",
           _loader, covers=("data.DataLoader",))


def _user_sampler(dtype: str, seed: int) -> list[Diff]:
    squares, t_squares = _FnetSquares(7, dtype), _TorchSquares(7, dtype)
    f_loader = D.DataLoader(squares, batch_size=3, sampler=_FnetEvens(7))
    t_loader = tud.DataLoader(t_squares, batch_size=3, sampler=_TorchEvens(7))
    diffs = [_equal("a Sampler subclass: its indices, len", (list(_FnetEvens(7)), len(_FnetEvens(7))),
                    (list(_TorchEvens(7)), len(_TorchEvens(7)))),
             _equal("DataLoader(sampler=the subclass, batch_size=3): batches, len",
                    (_batches(f_loader), len(f_loader)), (_batches(t_loader), len(t_loader))),
             _equal("BatchSampler(the subclass, 2, False): batches",
                    list(D.BatchSampler(_FnetEvens(7), 2, False)), list(tud.BatchSampler(_TorchEvens(7), 2, False)))]
    diffs.append(_refusals("iterating the Sampler base class: both refuse", lambda: iter(D.Sampler()),
                           lambda: iter(tud.Sampler())))
    return diffs


stats_case("data.Sampler[a user subclass drives both loaders alike]", "data", _user_sampler,
           covers=("data.Sampler",))

# -- workers --------------------------------------------------------------------------------------


class _FnetWhoAmI(D.Dataset):
    """Sample ``i`` records the worker that read it: ``[i, id, num_workers]`` (-1 in the main process)."""

    def __len__(self) -> int:
        return 10

    def _info(self) -> Any:
        return D.get_worker_info()

    def __getitem__(self, i: int) -> np.ndarray:
        info = self._info()
        return np.array([i, -1, -1] if info is None else [i, info.id, info.num_workers])


class _TorchWhoAmI(tud.Dataset):
    __len__, __getitem__ = _FnetWhoAmI.__len__, _FnetWhoAmI.__getitem__

    def _info(self) -> Any:
        return tud.get_worker_info()


def _worker_info(dtype: str, seed: int) -> list[Diff]:
    del dtype, seed
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This DataLoader will create", UserWarning)  # 3 workers on 2 cores
        return _worker_checks()


def _worker_checks() -> list[Diff]:
    diffs = [check("get_worker_info() in the main process is None on both sides",
                   D.get_worker_info() is None and tud.get_worker_info() is None)]
    # torch's Linux default start method is fork; fnet's thread workers run the same protocol
    # as its process workers (tests/test_data_workers.py runs those) without a fresh interpreter
    for workers, batch_size in ((2, 3), (3, 2)):
        f_loader = D.DataLoader(_FnetWhoAmI(), batch_size=batch_size, num_workers=workers, worker_type="thread")
        t_loader = tud.DataLoader(_TorchWhoAmI(), batch_size=batch_size, num_workers=workers,
                                  multiprocessing_context="fork")
        diffs.append(_equal(f"map-style, num_workers={workers}, batch_size={batch_size}: batch k read by worker "
                            "k % num_workers", _batches(f_loader), _batches(t_loader)))
    for workers, batch_size, drop_last in ((2, 2, False), (3, 2, False), (2, 3, True), (2, None, False)):
        f_loader = D.DataLoader(_FnetCount(0, 11), batch_size=batch_size, drop_last=drop_last, num_workers=workers,
                                worker_type="thread")
        t_loader = tud.DataLoader(_TorchCount(0, 11), batch_size=batch_size, drop_last=drop_last,
                                  num_workers=workers, multiprocessing_context="fork")
        diffs.append(_equal(f"iterable split by get_worker_info, num_workers={workers}, batch_size={batch_size}, "
                            f"drop_last={drop_last}: batches in torch's round-robin order",
                            _batches(f_loader), _batches(t_loader)))
    return diffs


stats_case("data.get_worker_info[workers see torch's ids; iterable shards in torch's order]", "data",
           _worker_info, covers=("data.get_worker_info",), dtypes=_INDICES,
           note="worker ids and sample indices only (float32 sample arrays carry nothing dtype-specific)")

# -- random_split ---------------------------------------------------------------------------------

_SPLITS = [(10, [3, 7]), (10, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7]), (30, [0.3, 0.3, 0.4]),
           (5, [1]), (10, [0, 1]), (3, [0.25, 0.25, 0.25, 0.25]), (1, [0.5, 0.5]), (6, [6, 0])]


def _random_split(dtype: str, seed: int) -> list[Diff]:
    del dtype
    diffs = []
    for n, lengths in _SPLITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # both warn about empty splits
            ours = D.random_split(range(n), lengths, seed=seed)
            theirs = tud.random_split(range(n), lengths, generator=_generator(seed))
        diffs.append(_equal(f"random_split(range({n}), {lengths}): split lengths", [len(s) for s in ours],
                            [len(s) for s in theirs]))
        items = sorted(int(v) for s in ours for v in s)
        diffs.append(check(f"random_split(range({n}), {lengths}): disjoint splits covering the dataset (fnet)",
                           items == list(range(n)), f"{items}"))
    for lengths in ([4, 5], [0.5, 0.6], [1.2, -0.2], [0.5, 0.5 + 1e-12]):
        diffs.append(_refusals(f"random_split(range(10), {lengths}): both refuse",
                               lambda lengths=lengths: D.random_split(range(10), lengths),
                               lambda lengths=lengths: tud.random_split(range(10), lengths)))
    return diffs


stats_case("data.random_split[lengths equal torch's for sizes and fractions]", "data", _random_split,
           covers=("data.random_split",), dtypes=_INDICES, note=_NOTE_INDICES)
