"""Parity: RNN, LSTM, GRU and their cells (cases in fnet/parity/cases/rnn.py)."""

from fnet.parity.testing import family_test

test_parity_rnn = family_test("rnn")
