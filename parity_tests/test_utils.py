"""Parity: utils family (cases in fnet/parity/cases/utils.py)."""

from fnet.parity.testing import family_test

test_parity_utils = family_test("utils")
