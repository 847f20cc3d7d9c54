"""Parity: Linear, Identity, F.linear (cases in fnet/parity/cases/linear.py)."""

from fnet.parity.testing import family_test

test_parity_linear = family_test("linear")
