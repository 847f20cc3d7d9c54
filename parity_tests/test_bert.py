"""Parity: Hugging Face BERT models (cases in fnet/parity/cases/bert.py)."""

from fnet.parity.testing import family_test

test_parity_bert = family_test("bert")
