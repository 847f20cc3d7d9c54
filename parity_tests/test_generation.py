"""Parity: greedy generate against transformers (cases in fnet/parity/cases/generation.py)."""

from fnet.parity.testing import family_test

test_parity_generation = family_test("generation")
