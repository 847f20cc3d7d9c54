"""Parity: Hugging Face roberta models (cases in fnet/parity/cases/roberta.py)."""

from fnet.parity.testing import family_test

test_parity_roberta = family_test("roberta")
