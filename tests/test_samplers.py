"""fnet.data samplers and datasets against torch.utils.data: orders, lengths, refusals, determinism.

torch's random samplers draw from torch's generator and fnet's from ``(seed, epoch)``, so
random orders are compared by their properties; everything deterministic is compared
with torch element for element by the parity family ``data`` (fnet/parity/cases/data.py).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.utils.data as tud

from fnet import data as D


class Squares(D.Dataset):
    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([i * i])


# ---------------------------------------------------------------------------------------
# samplers against torch: the deterministic ones are compared element for element by the
# parity family `data` (fnet/parity/cases/data.py); here, fnet's own (seed, epoch) rules


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (11, 4, True), (3, 4, False)])
def test_distributed_sampler_shuffled_shares_cover_the_dataset_like_torch(n, replicas, drop_last):
    shares = [D.DistributedSampler(range(n), replicas, r, seed=5, drop_last=drop_last) for r in range(replicas)]
    for s in shares:
        s.set_epoch(3)
    got = [list(s) for s in shares]
    torch_len = len(tud.DistributedSampler(range(n), replicas, 0, drop_last=drop_last))
    assert all(len(g) == torch_len for g in got)
    flat = list(itertools.chain(*got))
    if drop_last:
        assert len(set(flat)) == len(flat)  # no index twice
    else:
        assert set(flat) == set(range(n))  # everything, padded by repeats
    again = D.DistributedSampler(range(n), replicas, 0, seed=5, drop_last=drop_last)
    again.set_epoch(3)
    assert list(again) == got[0]  # a function of (seed, epoch) only
    again.set_epoch(4)
    assert n < 4 or list(again) != got[0]


def test_distributed_sampler_defaults_to_the_jax_process():
    s = D.DistributedSampler(range(10))
    assert (s.num_replicas, s.rank) == (1, 0) and sorted(s) == list(range(10))


def test_stack_and_chain_datasets_equal_torch():
    a, b = Squares(4), D.TensorDataset(np.arange(4) * 10)
    ours, theirs = D.StackDataset(a, b), tud.StackDataset(a, b)
    assert len(ours) == len(theirs) == 4
    for i in range(4):
        assert repr(ours[i]) == repr(theirs[i])
    named = D.StackDataset(x=a, y=b)
    assert set(named[2]) == {"x", "y"} and named[2]["x"][0] == 4
    batch = D.DataLoader(named, batch_size=3).iter_epoch(0).__next__()
    np.testing.assert_array_equal(batch["x"][:, 0], [0, 1, 4])
    np.testing.assert_array_equal(batch["y"][0], [0, 10, 20])

    class Count(D.IterableDataset):
        def __init__(self, start, stop):
            self.start, self.stop = start, stop

        def __iter__(self):
            return iter(range(self.start, self.stop))

        def __len__(self):
            return self.stop - self.start

    chained = D.ChainDataset([Count(0, 3), Count(10, 12)])
    assert list(chained) == [0, 1, 2, 10, 11] and len(chained) == 5
    assert list(Count(0, 2) + Count(5, 6)) == [0, 1, 5]


def test_dataset_refusals():
    with pytest.raises(ValueError, match="both types"):
        D.StackDataset(Squares(), y=Squares())
    with pytest.raises(ValueError, match="at least one"):
        D.StackDataset()
    with pytest.raises(ValueError, match="size mismatch"):
        D.StackDataset(Squares(3), Squares(4))
    with pytest.raises(TypeError, match="IterableDatasets only"):
        D.ChainDataset([Squares()])

    class Stream(D.IterableDataset):
        def __iter__(self):
            yield 1

    with pytest.raises(TypeError, match="iterate over it"):
        Stream()[0]
    with pytest.raises(TypeError, match="without __len__"):
        len(Stream())
    with pytest.raises(TypeError, match="without __len__"):
        len(D.DataLoader(Stream()))


# ---------------------------------------------------------------------------------------
# random samplers: properties, determinism by (seed, epoch)


def test_random_sampler_orders_are_permutations_by_seed_and_epoch():
    s = D.RandomSampler(range(20), seed=3)
    first, second = list(s), list(s)  # each iteration is the next epoch
    assert sorted(first) == sorted(second) == list(range(20)) and first != second
    s.set_epoch(0)
    assert list(s) == first
    np.testing.assert_array_equal(first, np.random.default_rng([3, 0]).permutation(20))
    loader = D.DataLoader(Squares(20), batch_size=20, shuffle=True, seed=3)
    np.testing.assert_array_equal(loader.order(0), first)  # shuffle=True is this sampler


@pytest.mark.parametrize("kwargs,length", [({"num_samples": 25}, 25), ({"num_samples": 7}, 7),
                                           ({"replacement": True, "num_samples": 50}, 50)])
def test_random_sampler_num_samples_like_torch(kwargs, length):
    ours, theirs = D.RandomSampler(range(10), **kwargs), tud.RandomSampler(range(10), **kwargs)
    got = list(ours)
    assert len(got) == len(ours) == len(theirs) == length == len(list(theirs))
    assert set(got) <= set(range(10))
    if not kwargs.get("replacement"):
        counts = np.bincount(got, minlength=10)
        assert counts.max() - counts.min() <= 1  # whole permutations, then part of one


def test_subset_and_weighted_samplers():
    sub = D.SubsetRandomSampler([3, 7, 9, 11], seed=1)
    assert sorted(sub) == [3, 7, 9, 11] and len(sub) == 4
    weights = [0.0, 1.0, 3.0, 0.0, 6.0]
    draws = list(D.WeightedRandomSampler(weights, 20000, seed=2))
    freq = np.bincount(draws, minlength=5) / 20000
    np.testing.assert_allclose(freq, np.array(weights) / 10, atol=0.015)
    unique = list(D.WeightedRandomSampler(weights, 3, replacement=False))
    assert sorted(unique) == [1, 2, 4]
    w = D.WeightedRandomSampler(torch.tensor(weights), 4, seed=9)
    w.set_epoch(1)
    a = list(w)
    w.set_epoch(1)
    assert list(w) == a and len(w) == 4


@pytest.mark.parametrize("make,error,words", [
    (lambda: D.RandomSampler(range(3), replacement=1), TypeError, "replacement"),
    (lambda: D.RandomSampler(range(3), num_samples=0), ValueError, "num_samples"),
    (lambda: D.RandomSampler(range(3), generator=torch.Generator()), TypeError, "generator=None"),
    (lambda: D.RandomSampler(range(3), seed=1.5), TypeError, "seed"),
    (lambda: D.WeightedRandomSampler([1.0, 2.0], 0), ValueError, "num_samples"),
    (lambda: D.WeightedRandomSampler([1.0, 2.0], 2, replacement="yes"), ValueError, "replacement"),
    (lambda: D.WeightedRandomSampler([[1.0, 2.0]], 2), ValueError, "1d"),
    (lambda: D.WeightedRandomSampler([1.0, -2.0], 2), ValueError, "non-negative"),
    (lambda: D.WeightedRandomSampler([0.0, 0.0], 2), ValueError, "positive sum"),
    (lambda: D.WeightedRandomSampler([1.0, 0.0], 2, replacement=False), ValueError, "without replacement"),
    (lambda: D.BatchSampler(range(3), 0, False), ValueError, "batch_size"),
    (lambda: D.BatchSampler(range(3), True, False), ValueError, "batch_size"),
    (lambda: D.BatchSampler(range(3), 2, 1), ValueError, "drop_last"),
    (lambda: D.DistributedSampler(range(3), 2, 2), ValueError, "Invalid rank 2"),
    (lambda: D.DistributedSampler(range(3), 0, 0), ValueError, "num_replicas"),
    (lambda: D.RandomSampler(range(3)).set_epoch(-1), ValueError, "epoch"),
])
def test_sampler_refusals(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_torch_refuses_the_same_sampler_arguments():
    for make in (lambda: tud.RandomSampler(range(3), num_samples=0), lambda: tud.BatchSampler(range(3), 0, False),
                 lambda: tud.DistributedSampler(range(3), 2, 2), lambda: tud.WeightedRandomSampler([[1.0]], 2)):
        with pytest.raises(ValueError):
            make()


# ---------------------------------------------------------------------------------------
# DataLoader with samplers


def test_loader_with_sampler_batch_sampler_and_no_batching():
    ds = Squares(10)
    got = [b[:, 0].tolist() for b in D.DataLoader(ds, batch_size=4, sampler=[9, 1, 4, 4, 0])]
    assert got == [[81, 1, 16, 16], [0]]
    batches = D.BatchSampler(D.SequentialSampler(ds), 3, drop_last=True)
    loader = D.DataLoader(ds, batch_sampler=batches)
    assert len(loader) == 3 and [b[:, 0].tolist() for b in loader] == [[0, 1, 4], [9, 16, 25], [36, 49, 64]]
    single = list(D.DataLoader(ds, batch_size=None, sampler=[2, 3]))
    assert [s.tolist() for s in single] == [[4], [9]]
    torch_single = list(tud.DataLoader(ds, batch_size=None, sampler=[2, 3]))
    assert [t.tolist() for t in torch_single] == [[4], [9]]
    weighted = D.DataLoader(ds, batch_size=5, sampler=D.WeightedRandomSampler([1.0] * 10, 10, seed=4))
    assert len(weighted) == 2
    first = [b.tolist() for b in weighted]
    weighted.set_epoch(0)
    assert [b.tolist() for b in weighted] == first  # the loader sets the sampler's epoch


def test_loader_with_distributed_sampler_covers_the_dataset():
    ds = Squares(10)
    seen = []
    for rank in range(3):
        loader = D.DataLoader(ds, batch_size=2, sampler=D.DistributedSampler(ds, 3, rank, seed=1))
        loader.set_epoch(2)
        seen += [int(v) for b in loader for v in b[:, 0]]
    assert {int(np.sqrt(v)) for v in seen} == set(range(10))


@pytest.mark.parametrize("kwargs,words", [
    ({"sampler": [0, 1], "shuffle": True}, "mutually exclusive with shuffle"),
    ({"batch_sampler": [[0, 1]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
    ({"batch_sampler": [[0, 1]], "drop_last": True}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "auto-batching"),
    ({"num_workers": -1}, "non-negative"),
    ({"timeout": -1}, "timeout"),
    ({"prefetch_factor": 2}, "prefetch_factor option could only be specified"),
    ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
    ({"num_workers": 1, "worker_type": "fiber"}, "worker_type"),
    ({"num_workers": 1, "multiprocessing_context": "teleport"}, "start method"),
    ({"batch_size": 4, "num_shards": 2, "sampler": D.DistributedSampler(range(10), 2, 0)}, "DistributedSampler"),
])
def test_loader_refusals_like_torch(kwargs, words):
    torch_kwargs = {k: v for k, v in kwargs.items() if k not in ("worker_type", "num_shards")}
    if "multiprocessing_context" not in kwargs and "worker_type" not in kwargs and "num_shards" not in kwargs:
        if "sampler" in torch_kwargs and isinstance(torch_kwargs["sampler"], D.DistributedSampler):
            torch_kwargs.pop("sampler")
        with pytest.raises(ValueError):
            tud.DataLoader(Squares(), **torch_kwargs)
    with pytest.raises(ValueError, match=words):
        loader = D.DataLoader(Squares(), **kwargs)
        list(loader)


def test_loader_refuses_generators_and_iterable_options():
    class Stream(D.IterableDataset):
        def __iter__(self):
            yield np.zeros(2)

    with pytest.raises(TypeError, match="generator=None"):
        D.DataLoader(Squares(), generator=torch.Generator())
    with pytest.raises(ValueError, match="shuffle"):
        D.DataLoader(Stream(), shuffle=True)
    with pytest.raises(ValueError, match="sampler"):
        D.DataLoader(Stream(), sampler=[0])
    with pytest.raises(TypeError, match="no indices"):
        D.DataLoader(Stream()).batch_indices(0)


def test_default_convert():
    sample = {"x": torch.ones(2), "y": (np.zeros(1), "label"), "z": [np.float32(1.0)]}
    out = D.default_convert(sample)
    assert isinstance(out["x"], np.ndarray) and out["y"][1] == "label" and isinstance(out["y"], tuple)
    assert isinstance(out["z"], list)


def test_a_user_sampler_subclass_drives_the_loader():
    class Evens(D.Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return (self.n + 1) // 2

    loader = D.DataLoader(Squares(7), batch_size=3, sampler=Evens(7))
    assert len(loader) == 2 and [b[:, 0].tolist() for b in loader] == [[0, 4, 16], [36]]
    with pytest.raises(NotImplementedError, match="__iter__"):
        iter(D.Sampler())
