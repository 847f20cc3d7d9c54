"""Parity: loss functions and loss modules (cases in fnet/parity/cases/loss.py)."""

from fnet.parity.testing import family_test

test_parity_loss = family_test("loss")
