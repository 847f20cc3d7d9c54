"""A checked reader and an atomic writer of the safetensors format (no pickle, no torch).

The format: 8 bytes little-endian header length ``n``, ``n`` bytes of JSON (tensor
name -> ``dtype``, ``shape``, ``data_offsets``; optional ``__metadata__`` of strings),
then the raw little-endian data.

Reading validates the whole header before touching the data, with the rules of the
format's reference implementation (``safetensors``' Rust ``Metadata::validate``): a
header of at most 100 MB of UTF-8 JSON holding an object; every entry an object with a
known ``dtype``, a ``shape`` that is a list of non-negative integers and two integer
``data_offsets``; the entries, sorted by offset, tile the data exactly (each begins
where the previous ended, so none overlap and none leave a gap), each spans
``prod(shape) * itemsize`` bytes, and the last ends at the end of the file. Every
error names the file and the tensor.

Why not the ``safetensors`` package (only the parity and test extras install it, to check
that its reader loads fnet's files): its numpy reader cannot
hold bfloat16 or float8, its errors name neither the file nor the tensor (``Error
while deserializing header: InvalidOffset``), and ``safe_open`` memory-maps the file.
fnet instead reads each tensor with ``readinto`` into a fresh 64-byte-aligned buffer
that it owns; JAX adopts such a buffer on the CPU without copying
(``jax.device_put``), so loading holds one copy of the weights, not the file plus a
copy (see ``benchmarks/load_memory.py``). A memory map would count the file's pages
in the process's memory as well, and arrays aliasing a file that is later rewritten
in place (``open(path, "wb")`` by another tool) would change under the program.

Writing streams one tensor at a time through :func:`fnet._files.atomic_write`
(temporary file, fsync, rename, directory fsync), so an interrupted save leaves the
previous file intact and at most one tensor is held in host memory beyond the inputs.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Any, BinaryIO, Iterable, Mapping, NamedTuple

import ml_dtypes
import numpy as np

from . import _files
from ._checks import fmt_shape

_DTYPES = {
    "F64": np.dtype("float64"), "F32": np.dtype("float32"), "F16": np.dtype("float16"),
    "BF16": np.dtype(ml_dtypes.bfloat16), "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "I64": np.dtype("int64"), "I32": np.dtype("int32"), "I16": np.dtype("int16"),
    "I8": np.dtype("int8"), "U64": np.dtype("uint64"), "U32": np.dtype("uint32"),
    "U16": np.dtype("uint16"), "U8": np.dtype("uint8"), "BOOL": np.dtype("bool"),
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
MAX_HEADER = 100_000_000  # the reference implementation's limit
_ALIGN = 64               # what XLA's CPU client needs to adopt a host buffer without copying


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or does not fit the model."""


class TensorEntry(NamedTuple):
    """One validated header entry: where the tensor's bytes are and what they hold."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    begin: int   # absolute file offsets
    end: int


class Header(NamedTuple):
    entries: dict[str, TensorEntry]   # in header order
    metadata: dict[str, str]


# -- writing -------------------------------------------------------------------------------------

def _header_bytes(specs: Iterable[tuple[str, np.dtype, tuple[int, ...]]],
                  metadata: Mapping[str, str] | None) -> bytes:
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, dtype, shape in specs:
        if name == "__metadata__":
            raise ValueError("fnet.save: '__metadata__' is reserved by the safetensors format and "
                             "cannot name a tensor")
        if name in header:
            raise ValueError(f"fnet.save: two tensors are both named {name!r}; safetensors keeps one "
                             f"entry per name, so one would be lost")
        if dtype not in _NAMES:
            raise TypeError(f"fnet.save: tensor {name!r} has dtype {dtype}, which safetensors cannot "
                            f"store (supported: {', '.join(str(d) for d in _NAMES)})")
        nbytes = math.prod(shape) * dtype.itemsize
        header[name] = {"dtype": _NAMES[dtype], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return raw + b" " * (-len(raw) % 8)  # the spec aligns the data start to 8 bytes


def write_tensor(handle: BinaryIO, array: np.ndarray) -> None:
    """Writes one tensor's bytes (a separate function so tests can interrupt a save)."""
    array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    handle.write(memoryview(array.reshape(-1).view(np.uint8)))


def save_file(tensors: Mapping[str, Any], path: str | os.PathLike,
              metadata: Mapping[str, str] | None = None) -> None:
    """Writes ``tensors`` to ``path`` atomically: readers see the old file or the new one.

    Args:
        tensors: name -> array. Values may be numpy arrays or anything with ``shape``
            and ``dtype`` that ``np.asarray`` reads (jax arrays): each is fetched only
            when its bytes are written.
        path: destination.
        metadata: string key/values stored in the header's ``__metadata__``.
    """
    specs = []
    for name, value in tensors.items():
        if not (hasattr(value, "shape") and hasattr(value, "dtype")):
            value = np.asarray(value)
        specs.append((name, np.dtype(value.dtype), tuple(int(s) for s in value.shape)))
    header = _header_bytes(specs, metadata)
    with _files.atomic_write(path) as handle:
        handle.write(struct.pack("<Q", len(header)))
        handle.write(header)
        for value in tensors.values():
            write_tensor(handle, np.asarray(value))


# -- reading -------------------------------------------------------------------------------------

def _fail(path: str, message: str) -> CheckpointError:
    return CheckpointError(f"fnet.load: {path!r}: {message}")


def _natural(value: Any) -> bool:
    """A JSON integer >= 0 (``True`` and ``3.0`` are not, as serde's ``usize`` refuses them)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _unique_object(pairs: list[tuple[str, Any]]) -> dict:
    names = [k for k, _ in pairs]
    if len(set(names)) != len(names):
        dup = next(k for k in names if names.count(k) > 1)
        raise ValueError(f"the name {dup!r} appears twice")
    return dict(pairs)


def read_header(handle: BinaryIO, path: str, size: int) -> Header:
    """Reads and validates the header of an open safetensors file of ``size`` bytes.

    Raises:
        CheckpointError: naming ``path`` and the offending tensor, for every way the
            header can be malformed or disagree with the file's size.
    """
    if size < 8:
        raise _fail(path, f"truncated: {size} bytes, but a safetensors file starts with an 8-byte "
                          f"header length")
    (n,) = struct.unpack("<Q", handle.read(8))
    if n > MAX_HEADER:
        raise _fail(path, f"corrupt header length {n} (the format allows at most {MAX_HEADER} bytes): "
                          f"truncated, overwritten or not a safetensors file")
    if 8 + n > size:
        raise _fail(path, f"truncated: the header needs {n} bytes but the file holds {size - 8} after "
                          f"the length field")
    raw = handle.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_object)
    except UnicodeDecodeError as err:
        raise _fail(path, f"corrupt header: not UTF-8 ({err})") from None
    except ValueError as err:  # JSONDecodeError or a duplicated name
        raise _fail(path, f"corrupt header: {err}") from None
    if not isinstance(header, dict):
        raise _fail(path, f"corrupt header: expected a JSON object, got {type(header).__name__}")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _fail(path, f"corrupt header: __metadata__ must map strings to strings, got {metadata!r:.200}")
    data_start, data_size = 8 + n, size - 8 - n
    entries: dict[str, TensorEntry] = {}
    for name, info in header.items():
        what = f"tensor {name!r}"
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise _fail(path, f"{what}: expected an entry with dtype, shape and data_offsets, got {info!r:.200}")
        dtype = _DTYPES.get(info["dtype"]) if isinstance(info["dtype"], str) else None
        if dtype is None:
            raise _fail(path, f"{what}: unknown dtype {info['dtype']!r} (known: {', '.join(_DTYPES)})")
        shape = info["shape"]
        if not isinstance(shape, list) or not all(_natural(s) for s in shape):
            raise _fail(path, f"{what}: shape must be a list of non-negative integers, got {shape!r:.200}")
        offsets = info["data_offsets"]
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_natural(o) for o in offsets)):
            raise _fail(path, f"{what}: data_offsets must be two non-negative integers [begin, end], "
                              f"got {offsets!r:.200}")
        begin, end = offsets
        if end < begin:
            raise _fail(path, f"{what}: data_offsets [{begin}, {end}] end before they begin")
        nbytes = math.prod(shape) * dtype.itemsize
        if end - begin != nbytes:
            raise _fail(path, f"{what} of shape {fmt_shape(shape)} and dtype {info['dtype']} needs {nbytes} "
                              f"bytes, but its data_offsets [{begin}, {end}] span {end - begin}")
        entries[name] = TensorEntry(name, dtype, tuple(shape), data_start + begin, data_start + end)
    # The entries, in offset order, must tile [0, data_size) exactly.
    position, previous = 0, None
    for entry in sorted(entries.values(), key=lambda e: (e.begin, e.end)):
        begin, end = entry.begin - data_start, entry.end - data_start
        if begin < position:
            raise _fail(path, f"tensor {entry.name!r} (bytes [{begin}, {end})) overlaps tensor "
                              f"{previous!r}, which ends at {position}")
        if begin > position:
            after = f"after tensor {previous!r}" if previous else "at the start of the data"
            raise _fail(path, f"corrupt header: {begin - position} bytes {after} belong to no tensor "
                              f"(tensor {entry.name!r} begins at {begin}, expected {position})")
        position, previous = end, entry.name
    if position > data_size:
        raise _fail(path, f"truncated: tensor {previous!r} needs data bytes up to {position} but the file "
                          f"holds {data_size} after its header")
    if position < data_size:
        last = f"tensor {previous!r} ends" if previous else "the header lists no tensor and the data ends"
        raise _fail(path, f"corrupt: {data_size - position} bytes follow the last tensor ({last} at data byte "
                          f"{position}, the file holds {data_size}): appended to, or a different file")
    return Header(entries, dict(metadata))


def open_checked(path: str | os.PathLike) -> tuple[BinaryIO, Header]:
    """Opens ``path`` and validates its header; the caller closes the handle."""
    path = os.fspath(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise CheckpointError(f"fnet.load: no checkpoint at {path!r}") from None
    except IsADirectoryError:
        raise CheckpointError(f"fnet.load: {path!r} is a directory, not a safetensors file") from None
    try:
        return handle, read_header(handle, path, os.fstat(handle.fileno()).st_size)
    except BaseException:
        handle.close()
        raise


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised array whose data starts on a 64-byte boundary."""
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def read_tensor(handle: BinaryIO, entry: TensorEntry, path: str) -> np.ndarray:
    """The tensor's values in a fresh aligned array (native byte order)."""
    out = aligned_empty(entry.shape, entry.dtype)
    view = memoryview(out.reshape(-1).view(np.uint8))
    handle.seek(entry.begin)
    done = 0
    while done < len(view):
        got = handle.readinto(view[done:])
        if not got:
            raise _fail(path, f"truncated while reading tensor {entry.name!r}: the file shrank to "
                              f"{entry.begin + done} bytes")
        done += got
    if entry.dtype.byteorder == ">":  # pragma: no cover - big-endian hosts only
        out = out.byteswap().view(entry.dtype.newbyteorder("="))
    return out


def load_file(path: str | os.PathLike, names: Iterable[str] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Reads a safetensors file (all tensors, or ``names``) into fresh numpy arrays.

    Returns:
        ``(tensors, metadata)``; each array owns a 64-byte-aligned buffer.

    Raises:
        CheckpointError: the file is missing, truncated or not valid safetensors
            (the message names the file and the tensor).
    """
    path = os.fspath(path)
    handle, header = open_checked(path)
    with handle:
        wanted = header.entries if names is None else {n: header.entries[n] for n in names}
        return {name: read_tensor(handle, entry, path) for name, entry in wanted.items()}, header.metadata
