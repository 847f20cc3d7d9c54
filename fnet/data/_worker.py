"""``DataLoader`` workers: processes (torch's model) or threads that build batches in parallel.

Every batch is a pure function of ``(seed, epoch, batch number)`` (its indices, and the
generator its random transforms draw from), whichever worker builds it; the main process
hands batch numbers out round-robin and yields the results in number order. So the
batches are the same for any ``num_workers``, and the same as ``num_workers=0``.

This module imports nothing heavy: worker processes start from a ``forkserver`` that
preloads it, so each new worker is a fork of a process that never started JAX.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
import random
import threading
import time
import traceback
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """What a worker knows about itself (``get_worker_info()`` inside a worker).

    Attributes:
        id: the worker's index, ``0 <= id < num_workers``.
        num_workers: how many workers the loader runs.
        seed: this worker's seed, a function of the loader's ``seed``, the epoch the
            workers started in and ``id`` (Python's ``random`` and NumPy's global
            generator are seeded with it).
        dataset: this worker's copy of the dataset (the shared one for thread workers).
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


_local = threading.local()
_process_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's :class:`WorkerInfo`, or ``None`` in the main process.

    Use it in an :class:`~fnet.data.IterableDataset`'s ``__iter__`` to give each worker its
    share of the stream, as in torch.

    PyTorch equivalent: ``torch.utils.data.get_worker_info()``.
    """
    info = getattr(_local, "info", None)
    return info if info is not None else _process_info


def worker_seed(seed: int, epoch: int, worker_id: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, worker_id]).generate_state(1, np.uint64)[0] >> 1)


@dataclasses.dataclass
class _Failure:
    """An exception raised in a worker, carried to the main process as text (any exception pickles)."""

    type_name: str
    module: str
    worker_id: int
    text: str
    original: BaseException | None = None  # the exception itself, when it pickles

    def reraise(self, kind: str):
        message = (f"Caught {self.type_name} in DataLoader worker {kind} {self.worker_id}.\n"
                   f"Original {self.text}")
        exc_type = type(self.original) if self.original is not None else None
        try:
            err = exc_type(message) if exc_type is not None else RuntimeError(message)
        except Exception:  # an exception type whose constructor wants other arguments
            err = RuntimeError(message)
        raise err from None


def _capture(err: BaseException, worker_id: int) -> _Failure:
    import pickle

    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    try:
        pickle.dumps(err)
        original = err
    except Exception:
        original = None
    return _Failure(type(err).__name__, type(err).__module__, worker_id, text, original)


_EXHAUSTED = "exhausted"


def _serve(maker: Any, info: WorkerInfo, tasks: Any, results: Any, init_fn: Callable | None, in_process: bool):
    """A worker's loop: build the batch of each task until told to stop (``None``)."""
    global _process_info
    if in_process:
        _process_info = info
        random.seed(info.seed)
        np.random.seed(info.seed % 2 ** 32)
    else:
        _local.info = info
    try:
        if init_fn is not None:
            init_fn(info.id)
    except BaseException as err:  # noqa: BLE001 - every failure goes to the main process
        results.put((None, None, None, _capture(err, info.id)))
        return
    stream: Iterator[Any] | None = None
    while True:
        task = tasks.get()
        if task is None:
            return
        run, kind, epoch, number, payload = task
        try:
            if kind == "iter":  # an iterable dataset: start this worker's pass over its copy
                stream = maker.stream(epoch)
                continue
            if kind == "next":
                try:
                    batch = maker.next_batch(stream, epoch, number)
                except StopIteration:
                    results.put((run, number, _EXHAUSTED, None))
                    continue
            else:
                batch = maker(epoch, number, payload)
            results.put((run, number, batch, None))
        except BaseException as err:  # noqa: BLE001
            results.put((run, number, None, _capture(err, info.id)))


_preloaded = False


def _context(name: Any) -> Any:
    global _preloaded
    if name is None:
        name = "forkserver"
    if not isinstance(name, str):
        return name  # a multiprocessing context object, as torch accepts
    if name not in multiprocessing.get_all_start_methods():
        raise ValueError(f"DataLoader: multiprocessing_context should specify a valid start method in "
                         f"{multiprocessing.get_all_start_methods()}, but got {name!r}")
    if name == "forkserver" and not _preloaded:
        # Workers fork from a server that imported this module (not JAX's runtime), cheaply and safely.
        multiprocessing.set_forkserver_preload([__name__])
        _preloaded = True
    return multiprocessing.get_context(name)


class WorkerPool:
    """``num_workers`` processes or threads serving one loader's tasks.

    Args:
        maker: builds a batch from ``(epoch, number, indices)`` (see ``_loader``).
        num_workers: worker count.
        worker_type: ``"process"`` or ``"thread"``.
        context: a start method name or a multiprocessing context (processes only).
        seed, epoch: the worker seeds' inputs.
        dataset: the dataset each worker's :class:`WorkerInfo` names.
        init_fn: torch's ``worker_init_fn(worker_id)``.
    """

    def __init__(self, maker: Any, num_workers: int, worker_type: str, context: Any, seed: int, epoch: int,
                 dataset: Any, init_fn: Callable | None):
        self.num_workers = num_workers
        self.kind = worker_type
        self.run = 0
        self.workers: list[Any] = []
        self.tasks: list[Any] = []
        if worker_type == "thread":
            self.results: Any = queue.Queue()
            make_queue, make_worker = queue.Queue, threading.Thread
        else:
            ctx = _context(context)
            self.results = ctx.Queue()
            make_queue, make_worker = ctx.Queue, ctx.Process
        for i in range(num_workers):
            info = WorkerInfo(i, num_workers, worker_seed(seed, epoch, i), dataset)
            tasks = make_queue()
            worker = make_worker(target=_serve, args=(maker, info, tasks, self.results, init_fn,
                                                      worker_type != "thread"), daemon=True)
            try:
                worker.start()
            except Exception as err:
                self.shutdown()
                if worker_type == "thread":
                    raise
                method = getattr(context, "get_start_method", lambda: context or "forkserver")()
                raise TypeError(
                    f"DataLoader: num_workers={num_workers} sends the dataset, collate_fn and worker_init_fn to "
                    f"worker processes by pickling ('{method}' start method), and one of them cannot be pickled: "
                    f"{err}. Define them at module level, or pass worker_type='thread' (no pickling), or "
                    f"multiprocessing_context='fork' (torch's default on Linux; JAX warns that forking a "
                    f"multithreaded process can deadlock)") from err
            self.workers.append(worker)
            self.tasks.append(tasks)

    def alive(self) -> bool:
        return bool(self.workers) and all(_is_alive(w) for w in self.workers)

    def _check(self, started: float, timeout: float) -> None:
        for i, w in enumerate(self.workers):
            if not _is_alive(w):
                code = getattr(w, "exitcode", None)
                pid = getattr(w, "pid", None)
                self.shutdown()
                raise RuntimeError(f"DataLoader worker {i} (pid {pid}) exited unexpectedly with exit code {code}")
        if timeout > 0 and time.monotonic() - started > timeout:
            self.shutdown()
            raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    def _get(self, timeout: float) -> tuple:
        started = time.monotonic()
        while True:
            try:
                return self.results.get(timeout=0.2)
            except queue.Empty:
                self._check(started, timeout)

    def map(self, epoch: int, tasks: list[tuple[int, Any]], prefetch: int, timeout: float,
            in_order: bool) -> Iterator[Any]:
        """Batches of ``tasks`` (``(number, indices)``), in number order unless ``in_order=False``."""
        self.run += 1
        run, pending, done, nxt = self.run, iter(tasks), {}, 0
        order = [number for number, _ in tasks]
        outstanding = 0

        def submit():
            nonlocal outstanding
            for _ in range(self.num_workers * prefetch - outstanding):
                item = next(pending, None)
                if item is None:
                    return
                number, indices = item
                self.tasks[number % self.num_workers].put((run, "batch", epoch, number, indices))
                outstanding += 1

        submit()
        while nxt < len(order):
            got_run, number, batch, failure = self._get(timeout)
            if failure is not None:
                self.shutdown()
                failure.reraise(self.kind)
            if got_run != run:
                continue  # a batch of an iteration that was abandoned (persistent workers)
            outstanding -= 1
            if not in_order:
                nxt += 1
                submit()
                yield batch
                continue
            done[number] = batch
            while nxt < len(order) and order[nxt] in done:
                yield done.pop(order[nxt])
                nxt += 1
            submit()

    def stream(self, epoch: int, prefetch: int, timeout: float) -> Iterator[Any]:
        """Batches of an iterable dataset, torch's order: round-robin over the workers' own streams.

        Batch numbers go to the workers in turn; a worker whose copy of the dataset is
        exhausted drops out of the rotation, and its pending numbers yield nothing.
        """
        self.run += 1
        run = self.run
        for t in self.tasks:
            t.put((run, "iter", epoch, None, None))
        active = list(range(self.num_workers))
        last, number = -1, 0
        pending: dict[int, int] = {}  # batch number -> worker, in number order
        ready: dict[int, Any] = {}

        def submit():
            nonlocal last, number
            while active and len(pending) < prefetch * len(active):
                later = [w for w in active if w > last]
                last = later[0] if later else active[0]
                self.tasks[last].put((run, "next", epoch, number, None))
                pending[number] = last
                number += 1

        submit()
        while pending:
            got_run, got_number, batch, failure = self._get(timeout)
            if failure is not None:
                self.shutdown()
                failure.reraise(self.kind)
            if got_run != run:
                continue
            ready[got_number] = batch
            while pending and next(iter(pending)) in ready:
                first = next(iter(pending))
                worker = pending.pop(first)
                result = ready.pop(first)
                if isinstance(result, str) and result == _EXHAUSTED:
                    if worker in active:
                        active.remove(worker)
                    continue
                yield result
            submit()

    def shutdown(self) -> None:
        for t in self.tasks:
            try:
                t.put(None)
            except Exception:  # noqa: BLE001 - a closed queue: the worker is gone already
                pass
        for w in self.workers:
            w.join(timeout=1.0)
            if self.kind != "thread" and w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        self.workers, self.tasks = [], []


def _is_alive(worker: Any) -> bool:
    return worker.is_alive()


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
