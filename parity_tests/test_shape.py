"""Parity: shape family (cases in fnet/parity/cases/shape.py)."""

from fnet.parity.testing import family_test

test_parity_shape = family_test("shape")
