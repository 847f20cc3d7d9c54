"""Parity: embedding family (cases in fnet/parity/cases/embedding.py)."""

from fnet.parity.testing import family_test

test_parity_embedding = family_test("embedding")
