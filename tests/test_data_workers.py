"""DataLoader workers: the batches equal num_workers=0's, errors and deaths surface.

The batches of workers against torch's (worker ids, an iterable dataset's round-robin
order) are the parity case ``data.get_worker_info[...]`` (fnet/parity/cases/data.py).

Process workers start from a forkserver (one per pytest process, a few seconds once);
most tests use thread workers, which run the same protocol. Worker processes import this
module to unpickle its datasets, so it does not import torch at the top.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from fnet import data as D


class Noisy(D.Dataset):
    """Samples with a random transform drawn from the loader's generator."""

    def __len__(self):
        return 37

    def __getitem__(self, i):
        flip = D.transforms.RandomHorizontalFlip()
        return flip(np.arange(4, dtype=np.float32) + i), np.int64(i)


class WhoAmI(D.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = D.get_worker_info()
        return np.array([i, -1 if info is None else info.id, -1 if info is None else info.num_workers])


class Broken(D.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"sample {i} is missing")
        return np.zeros(2)


class Dies(D.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3:
            os._exit(7)
        return np.zeros(2)


class Sleepy(D.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(2.0)
        return np.zeros(1)


class Shards(D.IterableDataset):
    """Worker ``k`` of ``n`` yields ``k, k + n, ...`` below ``stop`` (torch's recipe), unequal lengths."""

    def __init__(self, stop):
        self.stop = stop

    def __iter__(self):
        info = D.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        for i in range(start, self.stop, step):
            yield np.array([i])


def _batches(loader):
    return [tuple(np.asarray(a) for a in b) if isinstance(b, (tuple, list)) else np.asarray(b) for b in loader]


def _equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            for u, v in zip(x, y):
                np.testing.assert_array_equal(u, v)
        else:
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("worker_type,num_workers", [("thread", 1), ("thread", 3), ("process", 2)])
def test_workers_give_the_batches_of_num_workers_0(worker_type, num_workers):
    ref = D.DataLoader(Noisy(), batch_size=5, shuffle=True, seed=11)
    par = D.DataLoader(Noisy(), batch_size=5, shuffle=True, seed=11, num_workers=num_workers,
                       worker_type=worker_type, prefetch_factor=1)
    for epoch in (0, 3):
        _equal(_batches(par.iter_epoch(epoch)), _batches(ref.iter_epoch(epoch)))
    _equal(_batches(par.iter_epoch(2, start=4)), _batches(ref.iter_epoch(2))[4:])  # resume mid-epoch


def test_get_worker_info_and_worker_init_fn():
    assert D.get_worker_info() is None
    got = np.concatenate(_batches(D.DataLoader(WhoAmI(), batch_size=2, num_workers=2, worker_type="thread")))
    np.testing.assert_array_equal(got[:, 0], np.arange(8))
    np.testing.assert_array_equal(got[:, 1], [0, 0, 1, 1, 0, 0, 1, 1])  # batch k by worker k % 2, as torch
    assert set(got[:, 2]) == {2}
    assert np.all(np.concatenate(_batches(D.DataLoader(WhoAmI(), batch_size=4)))[:, 1] == -1)
    started = []
    list(D.DataLoader(WhoAmI(), batch_size=4, num_workers=2, worker_type="thread", worker_init_fn=started.append))
    assert sorted(started) == [0, 1]


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_worker_errors_name_the_worker_and_keep_their_type(worker_type):
    loader = D.DataLoader(Broken(), batch_size=2, num_workers=2, worker_type=worker_type)
    with pytest.raises(KeyError, match=r"Caught KeyError in DataLoader worker (thread|process) 0.*sample 5"):
        list(loader)


def test_dead_worker_and_timeout_raise():
    with pytest.raises(RuntimeError, match="exited unexpectedly with exit code 7"):
        list(D.DataLoader(Dies(), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(D.DataLoader(Sleepy(), batch_size=2, num_workers=1, worker_type="thread", timeout=0.5))


def test_unpicklable_dataset_is_explained():
    ds = D.TensorDataset(np.zeros((4, 2)))
    loader = D.DataLoader(ds, batch_size=2, num_workers=1, collate_fn=lambda s: s)
    with pytest.raises(TypeError, match="cannot be pickled.*worker_type='thread'"):
        list(loader)
    assert len(list(D.DataLoader(ds, batch_size=2, num_workers=1, collate_fn=lambda s: s,
                                 worker_type="thread"))) == 2


def test_persistent_workers_survive_epochs_and_abandoned_iterations():
    loader = D.DataLoader(Noisy(), batch_size=4, shuffle=True, num_workers=2, worker_type="thread",
                          persistent_workers=True)
    ref = D.DataLoader(Noisy(), batch_size=4, shuffle=True)
    it = iter(loader)
    next(it)
    del it  # abandoned mid-epoch: its late batches must not leak into the next epoch
    pool = loader._pool
    _equal(_batches(loader.iter_epoch(1)), _batches(ref.iter_epoch(1)))
    assert loader._pool is pool and pool.alive()


def test_out_of_order_batches_are_all_delivered():
    got = _batches(D.DataLoader(Noisy(), batch_size=4, num_workers=3, worker_type="thread", in_order=False))
    assert sorted(int(i) for _, y in got for i in y) == list(range(37))


def test_iterable_dataset_with_process_workers():
    got = [np.asarray(b).reshape(-1).tolist() for b in D.DataLoader(Shards(7), batch_size=2, num_workers=2)]
    assert got == [[0, 2], [1, 3], [4, 6], [5]]
