"""Parity: torch.utils.data twins (cases in fnet/parity/cases/data.py)."""

from fnet.parity.testing import family_test

test_parity_data = family_test("data")
