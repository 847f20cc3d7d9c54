"""pytest glue: ``parity_tests/test_<family>.py`` parametrize over the registry."""

from __future__ import annotations

from typing import Callable

from . import _registry


def family_params(family: str) -> list:
    """``pytest.param(case, dtype)`` for every case of ``family`` and every dtype it runs in.

    Cases registered ``slow=True`` carry the ``slow`` mark: the default run deselects
    them (pyproject's ``-m "not slow"``); ``python -m pytest -m slow`` runs them.
    """
    import pytest

    cases = _registry.all_cases(family)
    if not cases:
        raise LookupError(f"no parity cases registered for family {family!r}")
    return [pytest.param(case, dtype, id=f"{case.name}-{dtype}",
                         marks=[pytest.mark.slow] if case.slow else [])
            for case in cases for dtype in case.dtypes]


def family_test(family: str) -> Callable:
    """A parametrized test function that runs every case of ``family``."""
    import pytest

    @pytest.mark.parametrize("case,dtype", family_params(family))
    def test_parity(case, dtype):
        report = case.run(dtype)
        report.assert_ok()

    test_parity.__name__ = f"test_parity_{family}"
    return test_parity
