"""Parity: Hugging Face llama models (cases in fnet/parity/cases/llama.py)."""

from fnet.parity.testing import family_test

test_parity_llama = family_test("llama")
