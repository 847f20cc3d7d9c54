"""Parity: conv family (cases in fnet/parity/cases/conv.py)."""

from fnet.parity.testing import family_test

test_parity_conv = family_test("conv")
