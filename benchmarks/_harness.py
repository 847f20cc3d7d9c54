"""Timing harness shared by the benchmark suite: start-up (compile) time, then medians of
interleaved repeats.

A *runner* is a zero-argument callable that executes one full training step
(forward, backward, optimizer update) and blocks until the result is ready.
"""

from __future__ import annotations

import contextlib
import signal
import statistics
import threading
import time
from typing import Callable


class BudgetExceeded(Exception):
    """A framework's start-up (compilation) ran past its time budget."""


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Raises :class:`BudgetExceeded` in the main thread after ``seconds`` (SIGALRM)."""
    usable = seconds is not None and seconds > 0 and hasattr(signal, "SIGALRM") \
        and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def alarm(signum, frame):
        raise BudgetExceeded(f"start-up exceeded its {seconds:.0f} s budget")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def start(run: Callable[[], None], warmup: int | None = None, budget: float | None = None
          ) -> tuple[float, list[float]]:
    """Runs the first call (tracing, compilation) and ``warmup`` more steps.

    ``warmup=None``: one more step, and a second one unless the first took over a second.
    Returns ``(first_call_s, warmup_step_s)``. Compile time is then estimated as
    ``first + sum(warmup) - (1 + warmup) * median_step`` (torch.compile, for one,
    compiles again on the second call once the optimizer state exists).
    """
    with time_limit(budget):
        t0 = time.perf_counter()
        run()
        first = time.perf_counter() - t0
        steps: list[float] = []
        while len(steps) < (warmup if warmup is not None else 2):
            t0 = time.perf_counter()
            run()
            steps.append(time.perf_counter() - t0)
            if warmup is None and steps[-1] > 1.0:
                break
    return first, steps


def measure(runners: dict[str, Callable[[], None]], repeats: int, rounds: int | None = None,
            cpu: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Times ``repeats`` steps of every (already warm) runner: ``{name: [ms, ...]}``.

    The runners are interleaved round-robin (``rounds`` rounds of ``repeats // rounds``
    steps each) so that a background load hits every framework alike and ratios stay
    comparable. ``cpu``, when given, receives the process CPU time of each step (ms, all
    threads), which a busy machine disturbs far less than wall-clock time.
    """
    rounds = rounds or min(repeats, 5)
    per_round = max(1, -(-repeats // rounds))  # ceil: at least ``repeats`` steps each
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            for _ in range(per_round):
                c0 = time.process_time()
                t0 = time.perf_counter()
                run()
                samples[name].append((time.perf_counter() - t0) * 1e3)
                if cpu is not None:
                    cpu.setdefault(name, []).append((time.process_time() - c0) * 1e3)
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def block(tree) -> None:
    """Waits for every jax array in ``tree``."""
    import jax

    jax.block_until_ready(tree)
