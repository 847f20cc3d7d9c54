"""Parity: activation functions and modules (cases in fnet/parity/cases/activation.py)."""

from fnet.parity.testing import family_test

test_parity_activation = family_test("activation")
