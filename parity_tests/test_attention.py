"""Parity: attention and transformer layers (cases in fnet/parity/cases/attention.py)."""

from fnet.parity.testing import family_test

test_parity_attention = family_test("attention")
