"""Parity: pool family (cases in fnet/parity/cases/pool.py)."""

from fnet.parity.testing import family_test

test_parity_pool = family_test("pool")
