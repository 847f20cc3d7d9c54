"""Parity: lazy family (cases in fnet/parity/cases/lazy.py)."""

from fnet.parity.testing import family_test

test_parity_lazy = family_test("lazy")
