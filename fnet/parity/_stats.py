"""Cases for random draws, which differ between frameworks by design (DESIGN.md): each
check is a :class:`Diff` that passes when a statistic lies within 6 standard errors of
its expected value, or when a property holds."""

from __future__ import annotations

import math
from typing import Callable

from ._engine import Diff, Report, precision
from ._registry import DTYPES, ParityCase, case_seed, register


def within(name: str, got: float, want: float, sigma: float, detail: str = "") -> Diff:
    """``|got - want| <= 6 sigma``: a sample statistic against its expected value."""
    got, want, sigma = float(got), float(want), float(sigma)  # numpy float32 is not JSON
    err = abs(got - want)
    return Diff("output", name, err, err / max(abs(want), sigma, 1e-12), err <= 6 * sigma + 1e-12,
                detail or f"{got:.5f} vs {want:.5f}", tol=f"6 sigma = {6 * sigma:.1e}")


def check(name: str, ok: bool, detail: str = "") -> Diff:
    """A property that must hold exactly (support, shape, key dependence)."""
    return Diff("output", name, 0.0 if ok else math.inf, None, ok, detail, tol="holds")


def stats_case(name: str, family: str, body: Callable[[str, int], list[Diff]],
               covers: tuple[str, ...], dtypes: tuple[str, ...] = DTYPES, note: str = "") -> ParityCase:
    """Registers a case whose ``body(dtype, seed)`` returns its checks (statistics, properties).

    ``dtypes`` narrows the dtypes where one says everything (indices); ``note`` says why.
    """
    seed = case_seed(name)

    def run(dtype: str) -> Report:
        with precision(dtype):
            return Report(name, dtype, body(dtype, seed))

    return register(ParityCase(name, family, covers, run, tuple(dtypes), note))
