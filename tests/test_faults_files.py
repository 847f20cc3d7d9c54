"""Fault table, part 1: corrupt and truncated safetensors files.

Each row builds a file from a valid one (two tensors, written by fnet) by cutting it at a
structural boundary or by rewriting one header field with a value of a wrong type. fnet's
reader must refuse it with a ``CheckpointError`` that names the file and, where one tensor
is at fault, that tensor; the format's reference implementation (the ``safetensors``
package) must refuse it too, so fnet is as strict as the format and no stricter. Reading
never changes the file. The other parts: ``test_faults_kill.py`` (SIGKILL during saves and
``fit``), ``test_faults_resume.py`` (pointers, manifests, changed resume conditions),
``test_faults_inputs.py`` (loading into models, datasets, values under jit).
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import safetensors.numpy

import fnet
from fnet import _safetensors

A = np.arange(12, dtype=np.float32).reshape(3, 4)   # 48 bytes
B = np.arange(6, dtype=np.int64)                    # 48 bytes


def _valid() -> tuple[dict, bytes]:
    header = {"__metadata__": {"format": "pt"},
              "a": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
              "b": {"dtype": "I64", "shape": [6], "data_offsets": [48, 96]}}
    return header, A.tobytes() + B.tobytes()


def _file(header: dict | bytes, data: bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def _edit(tensor: str, field: str, value) -> bytes:
    header, data = _valid()
    header[tensor][field] = value
    return _file(header, data)


def _valid_bytes() -> bytes:
    return _file(*_valid())


N = len(json.dumps(_valid()[0]).encode())  # header length of the valid file

# (id, bytes of the file, regex the message must match, tensor the message must name or None)
CASES = [
    # -- truncation at every structural boundary ----------------------------------------------------
    ("empty", b"", "truncated: 0 bytes", None),
    ("inside the length field", _valid_bytes()[:4], "truncated: 4 bytes", None),
    ("length field only", _valid_bytes()[:8], "truncated: the header needs", None),
    ("inside the header", _valid_bytes()[:8 + N // 2], "truncated: the header needs", None),
    ("header only", _valid_bytes()[:8 + N], "truncated: tensor 'b' needs data bytes up to 96", "b"),
    ("after the first tensor", _valid_bytes()[:8 + N + 48], "truncated: tensor 'b'", "b"),
    ("inside the first tensor", _valid_bytes()[:8 + N + 20], "truncated: tensor 'b'", "b"),
    ("one byte short", _valid_bytes()[:-1], "truncated: tensor 'b'", "b"),
    ("appended bytes", _valid_bytes() + b"\0" * 8, "tensor 'b' ends at data byte 96, the file holds 104", "b"),
    # -- the header itself -----------------------------------------------------------------------------
    ("length beyond 100 MB", struct.pack("<Q", 2 ** 40) + _valid_bytes()[8:], "corrupt header length", None),
    ("not UTF-8", _file(b"\xff\xfe{}", b""), "not UTF-8", None),
    ("not JSON", _file(b"{not json at all", b""), "corrupt header", None),
    ("a JSON list", _file(b"[1, 2]", b""), "expected a JSON object, got list", None),
    ("a name twice", _file(b'{"a": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}, '
                           b'"a": {"dtype": "F32", "shape": [3, 4], "data_offsets": [48, 96]}}', A.tobytes() * 2),
     "the name 'a' appears twice", None),
    ("metadata not strings", _file({**_valid()[0], "__metadata__": {"epoch": 3}}, _valid()[1]),
     "__metadata__ must map strings to strings", None),
    ("metadata a list", _file({**_valid()[0], "__metadata__": ["pt"]}, _valid()[1]),
     "__metadata__ must map strings to strings", None),
    ("entry not an object", _file({**_valid()[0], "b": [48, 96]}, _valid()[1]), "expected an entry", "b"),
    ("entry without shape", _file({**_valid()[0], "b": {"dtype": "I64", "data_offsets": [48, 96]}}, _valid()[1]),
     "expected an entry with dtype, shape and data_offsets", "b"),
    # -- dtype -------------------------------------------------------------------------------------------
    ("dtype a number", _edit("a", "dtype", 4), "unknown dtype 4", "a"),
    ("dtype unknown", _edit("a", "dtype", "F128"), "unknown dtype 'F128'", "a"),
    ("dtype null", _edit("a", "dtype", None), "unknown dtype None", "a"),
    ("dtype of another size", _edit("a", "dtype", "F64"), "needs 96 bytes, but its data_offsets", "a"),
    # -- shape -------------------------------------------------------------------------------------------
    ("shape a string", _edit("a", "shape", "34"), "shape must be a list of non-negative integers, got '34'", "a"),
    ("shape negative", _edit("a", "shape", [-3, -4]), "shape must be a list of non-negative integers", "a"),
    ("shape floats", _edit("a", "shape", [3.0, 4.0]), "shape must be a list of non-negative integers", "a"),
    ("shape nested", _edit("a", "shape", [[3, 4]]), "shape must be a list of non-negative integers", "a"),
    ("shape booleans", _edit("a", "shape", [True, 4]), "shape must be a list of non-negative integers", "a"),
    ("shape null", _edit("a", "shape", None), "shape must be a list", "a"),
    ("shape of another size", _edit("a", "shape", [4, 4]), r"of shape \(4, 4\) and dtype F32 needs 64 bytes", "a"),
    # -- data_offsets --------------------------------------------------------------------------------------
    ("offsets strings", _edit("a", "data_offsets", ["0", "48"]), "data_offsets must be two non-negative", "a"),
    ("offsets negative", _edit("a", "data_offsets", [-48, 0]), "data_offsets must be two non-negative", "a"),
    ("offsets three", _edit("a", "data_offsets", [0, 24, 48]), "data_offsets must be two non-negative", "a"),
    ("offsets reversed", _edit("a", "data_offsets", [48, 0]), r"data_offsets \[48, 0\] end before they begin", "a"),
    ("offsets floats", _edit("a", "data_offsets", [0.0, 48.0]), "data_offsets must be two non-negative", "a"),
    ("tensors overlap", _file({**_valid()[0], "b": {"dtype": "I64", "shape": [6], "data_offsets": [24, 72]}},
                              _valid()[1][:72]), "overlaps tensor 'a'", "b"),
    ("the same bytes twice", _file({**_valid()[0], "b": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}},
                                   _valid()[1][:48]), "overlaps tensor", "b"),
    ("a gap before the first", _file({**_valid()[0], "a": {"dtype": "F32", "shape": [3, 4], "data_offsets": [8, 56]},
                                      "b": {"dtype": "I64", "shape": [6], "data_offsets": [56, 104]}},
                                     b"\0" * 8 + _valid()[1]), "8 bytes at the start of the data belong to no tensor",
     "a"),
    ("a gap between", _file({**_valid()[0], "b": {"dtype": "I64", "shape": [6], "data_offsets": [56, 104]}},
                            _valid()[1][:48] + b"\0" * 8 + _valid()[1][48:]),
     "8 bytes after tensor 'a' belong to no tensor", "b"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_corrupt_file_is_refused_naming_file_and_tensor(tmp_path, case):
    _, blob, pattern, tensor = case
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(blob)
    with pytest.raises(fnet.CheckpointError, match=pattern) as err:
        _safetensors.load_file(path)
    message = str(err.value)
    assert repr(str(path)) in message, message
    if tensor is not None:
        assert f"tensor {tensor!r}" in message, message
    with pytest.raises(Exception):  # the reference implementation refuses it as well
        safetensors.numpy.load_file(str(path))
    assert path.read_bytes() == blob  # reading changed nothing


def test_the_table_is_wide():
    assert len(CASES) >= 35


def test_valid_file_and_extra_fields_load_like_the_reference(tmp_path):
    header, data = _valid()
    header["a"]["extra"] = "ignored, as the reference implementation ignores it"
    path = tmp_path / "ok.safetensors"
    path.write_bytes(_file(header, data))
    ours, meta = _safetensors.load_file(path)
    ref = safetensors.numpy.load_file(str(path))
    assert meta == {"format": "pt"}
    for name in ("a", "b"):
        np.testing.assert_array_equal(ours[name], ref[name])
        assert ours[name].ctypes.data % 64 == 0  # aligned: JAX adopts the buffer without copying


def test_empty_tensors_and_an_empty_file_are_valid(tmp_path):
    path = tmp_path / "empty.safetensors"
    _safetensors.save_file({"e": np.zeros((0, 3), np.float32)}, path)
    assert _safetensors.load_file(path)[0]["e"].shape == (0, 3)
    _safetensors.save_file({}, path)
    assert _safetensors.load_file(path) == ({}, {})


def test_writer_refuses_two_tensors_under_one_name_and_the_reserved_name(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(ValueError, match="'__metadata__' is reserved"):
        _safetensors.save_file({"__metadata__": np.zeros(1)}, path)
    with pytest.raises(TypeError, match="tensor 'c' has dtype complex64"):
        _safetensors.save_file({"c": np.zeros(2, np.complex64)}, path)
    assert not path.exists() and list(tmp_path.iterdir()) == []
