"""Parity: Hugging Face distilbert models (cases in fnet/parity/cases/distilbert.py)."""

from fnet.parity.testing import family_test

test_parity_distilbert = family_test("distilbert")
