"""Parity: Sequential, ModuleList, ModuleDict, user-defined models (cases in fnet/parity/cases/container.py)."""

from fnet.parity.testing import family_test

test_parity_container = family_test("container")
