"""Parity: torch.optim and lr_scheduler twins (cases in fnet/parity/cases/optim.py)."""

from fnet.parity.testing import family_test

test_parity_optim = family_test("optim")
