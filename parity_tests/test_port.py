"""Parity: fnet.port of the acceptance models (cases in fnet/parity/cases/port.py)."""

from fnet.parity.testing import family_test

test_parity_port = family_test("port")
