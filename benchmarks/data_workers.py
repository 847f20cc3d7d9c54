"""DataLoader throughput against num_workers, with an expensive ``__getitem__``.

    python benchmarks/data_workers.py                      # 0, 1, 2, 4, 8 workers
    python benchmarks/data_workers.py --workers 0 1 2 4 --cost-ms 5 --datasets python numpy

Three datasets of 3x32x32 float32 samples, each spending ``--cost-ms`` per sample:
``io`` waiting (``time.sleep``: the latency of a remote store or a cold disk), ``python``
in pure-Python arithmetic (holding the GIL, like decoding written in Python) and
``numpy`` in NumPy calls that release the GIL (like image resizing). Each loader runs
with ``persistent_workers`` (process or thread workers), one warm-up epoch, then
``--epochs`` timed epochs; the table gives samples per second and the speed-up over
``num_workers=0`` measured in the same run, and checks that every configuration served
exactly the same batches (the (seed, epoch) determinism). CPU-bound datasets can only
scale up to the free cores: on a shared machine, read the load average printed first.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from fnet import data as D  # noqa: E402


class Waiting(D.Dataset):
    """``cost_ms`` of waiting per sample (I/O latency), then a cheap sample."""

    def __init__(self, n: int, cost_ms: float):
        self.n, self.seconds = n, cost_ms / 1e3

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.seconds)
        rng = np.random.default_rng(i)
        return rng.standard_normal((3, 32, 32)).astype(np.float32), np.int64(i % 10)


class PythonHeavy(D.Dataset):
    """``cost_ms`` of pure-Python work per sample (the GIL is held throughout)."""

    def __init__(self, n: int, cost_ms: float):
        self.n, self.loops = n, int(cost_ms * _python_loops_per_ms())

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        acc = 0
        for k in range(self.loops):
            acc = (acc + k * i) % 1000003
        rng = np.random.default_rng([i, acc])
        return rng.standard_normal((3, 32, 32)).astype(np.float32), np.int64(i % 10)


class NumpyHeavy(D.Dataset):
    """``cost_ms`` of NumPy matrix products per sample (released GIL)."""

    def __init__(self, n: int, cost_ms: float):
        self.n, self.reps = n, max(1, int(cost_ms * _numpy_reps_per_ms()))

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        m = rng.standard_normal((96, 96))
        for _ in range(self.reps):
            m = np.tanh(m @ m.T / 96.0)
        return m[:3 * 32, :32].reshape(3, 32, 32).astype(np.float32), np.int64(i % 10)


def _calibrate(fn, target_s=0.2) -> float:
    n = 1
    while True:
        t = time.perf_counter()
        fn(n)
        dt = time.perf_counter() - t
        if dt > target_s:
            return n / (dt * 1e3)
        n *= 2


_CACHE: dict = {}


def _python_loops_per_ms() -> float:
    if "py" not in _CACHE:
        def work(n):
            acc = 0
            for k in range(n):
                acc = (acc + k * 3) % 1000003
        _CACHE["py"] = _calibrate(work)
    return _CACHE["py"]


def _numpy_reps_per_ms() -> float:
    if "np" not in _CACHE:
        m0 = np.random.default_rng(0).standard_normal((96, 96))

        def work(n):
            m = m0
            for _ in range(n):
                m = np.tanh(m @ m.T / 96.0)
        _CACHE["np"] = _calibrate(work)
    return _CACHE["np"]


def _digest(batch) -> str:
    h = hashlib.sha1()
    for a in batch:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def measure(dataset, workers: int, worker_type: str, batch_size: int, epochs: int) -> tuple[float, list[str]]:
    loader = D.DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=0, num_workers=workers,
                          worker_type=worker_type, persistent_workers=workers > 0, prefetch=2)
    digests = [_digest(b) for b in loader.iter_epoch(0)]  # warm-up: starts the workers
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        digests += [_digest(b) for b in loader.iter_epoch(epoch)]
    seconds = time.perf_counter() - start
    if loader._pool is not None:
        loader._pool.shutdown()
    return epochs * len(dataset) / seconds, digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--workers", type=int, nargs="+", default=sorted({0, 1, 2, 4, 8, cpus}))
    parser.add_argument("--datasets", nargs="+", choices=["io", "python", "numpy"], default=["io", "python", "numpy"])
    parser.add_argument("--cost-ms", type=float, default=2.0, help="work per sample")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{cpus} CPUs available (load average {load:.1f}), {args.samples} samples of {args.cost_ms} ms each, "
          f"batch {args.batch_size}, {args.epochs} timed epochs after a warm-up one")
    print("| dataset | workers | type | samples/s | speed-up vs 0 workers | same batches |")
    print("|---|---:|---|---:|---:|---|")
    kinds = {"io": Waiting, "python": PythonHeavy, "numpy": NumpyHeavy}
    for name in args.datasets:
        dataset = kinds[name](args.samples, args.cost_ms)
        base, reference = measure(dataset, 0, "process", args.batch_size, args.epochs)
        print(f"| {name} | 0 | - | {base:.0f} | 1.00 | reference |", flush=True)
        for worker_type in ("process", "thread"):
            for workers in (w for w in args.workers if w > 0):
                rate, digests = measure(dataset, workers, worker_type, args.batch_size, args.epochs)
                same = "yes" if digests == reference else "NO"
                print(f"| {name} | {workers} | {worker_type} | {rate:.0f} | {rate / base:.2f} | {same} |", flush=True)


if __name__ == "__main__":
    main()
