"""Parity: dropout family (cases in fnet/parity/cases/dropout.py)."""

from fnet.parity.testing import family_test

test_parity_dropout = family_test("dropout")
