"""Parity: BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm and the functional twins (cases in fnet/parity/cases/norm.py)."""

from fnet.parity.testing import family_test

test_parity_norm = family_test("norm")
