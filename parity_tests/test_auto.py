"""Parity: the Auto classes on transformers-written checkpoints (cases in fnet/parity/cases/auto.py)."""

from fnet.parity.testing import family_test

test_parity_auto = family_test("auto")
