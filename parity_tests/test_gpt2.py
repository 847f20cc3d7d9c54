"""Parity: Hugging Face gpt2 models (cases in fnet/parity/cases/gpt2.py)."""

from fnet.parity.testing import family_test

test_parity_gpt2 = family_test("gpt2")
