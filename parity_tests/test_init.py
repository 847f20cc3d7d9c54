"""Parity: torch.nn.init twins by distribution (cases in fnet/parity/cases/init.py)."""

from fnet.parity.testing import family_test

test_parity_init = family_test("init")
