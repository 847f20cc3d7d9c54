"""Timing harness shared by the benchmark suite: medians of interleaved repeats.

A *runner* is a zero-argument callable that executes one full training step
(forward, backward, optimizer update) and blocks until the result is ready. The first
call (compilation/tracing, warm-up) is timed separately as compile time.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Callable


@dataclasses.dataclass
class Timing:
    model: str
    framework: str
    median_ms: float | None
    compile_s: float | None
    repeats: int
    note: str = ""


def measure(runners: dict[str, Callable[[], None]], repeats: int, warmup: int = 2, rounds: int = 5
            ) -> dict[str, tuple[float, float]]:
    """Times every runner: ``{name: (median_ms, first_call_s)}``.

    The runners are interleaved round-robin (``rounds`` rounds of ``repeats // rounds``
    steps each) so that a background load hits every framework alike.
    """
    first: dict[str, float] = {}
    for name, run in runners.items():
        t0 = time.perf_counter()
        run()
        first[name] = time.perf_counter() - t0
        for _ in range(warmup):
            run()
    samples: dict[str, list[float]] = {name: [] for name in runners}
    per_round = max(1, repeats // rounds)
    for _ in range(rounds):
        for name, run in runners.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                run()
                samples[name].append((time.perf_counter() - t0) * 1e3)
    return {name: (statistics.median(samples[name]), first[name]) for name in runners}


def block(tree) -> None:
    """Waits for every jax array in ``tree``."""
    import jax

    jax.block_until_ready(tree)
