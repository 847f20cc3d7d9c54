"""A small reader and writer of the safetensors format (no pickle, no torch needed).

The format: 8 bytes little-endian header length ``n``, ``n`` bytes of JSON (tensor
name -> dtype, shape, data_offsets; optional ``__metadata__``), then the raw
little-endian data. We write it ourselves because ``safetensors.numpy`` cannot hold
bfloat16, and reading it ourselves lets every corrupt-file error name the tensor and
the byte range that is wrong. Files are written atomically: a temporary file in the
same directory, fsync, then ``os.replace``.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Any, BinaryIO, Mapping

import ml_dtypes
import numpy as np

_DTYPES = {
    "F64": np.dtype("float64"), "F32": np.dtype("float32"), "F16": np.dtype("float16"),
    "BF16": np.dtype(ml_dtypes.bfloat16), "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "I64": np.dtype("int64"), "I32": np.dtype("int32"), "I16": np.dtype("int16"),
    "I8": np.dtype("int8"), "U64": np.dtype("uint64"), "U32": np.dtype("uint32"),
    "U16": np.dtype("uint16"), "U8": np.dtype("uint8"), "BOOL": np.dtype("bool"),
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt or does not fit the model."""


def _header(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None) -> bytes:
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, array in tensors.items():
        if array.dtype not in _NAMES:
            raise TypeError(f"fnet.save: tensor {name!r} has dtype {array.dtype}, which "
                            f"safetensors cannot store")
        header[name] = {"dtype": _NAMES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the spec aligns the data start to 8 bytes
    return raw


def write_tensor(handle: BinaryIO, array: np.ndarray) -> None:
    """Writes one tensor's bytes (a separate function so tests can interrupt a save)."""
    handle.write(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes())


def save_file(tensors: Mapping[str, np.ndarray], path: str | os.PathLike,
              metadata: Mapping[str, str] | None = None) -> None:
    """Writes ``tensors`` to ``path`` atomically: readers see the old file or the new one."""
    path = os.fspath(path)
    tensors = {name: np.asarray(array) for name, array in tensors.items()}
    header = _header(tensors, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(struct.pack("<Q", len(header)))
            handle.write(header)
            for array in tensors.values():
                write_tensor(handle, array)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def load_file(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Reads a safetensors file into numpy arrays, checking every offset.

    Returns:
        ``(tensors, metadata)``.

    Raises:
        CheckpointError: the file is missing, truncated or not valid safetensors.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            blob = handle.read()
    except FileNotFoundError:
        raise CheckpointError(f"fnet.load: no checkpoint at {path!r}") from None
    if len(blob) < 8:
        raise CheckpointError(f"fnet.load: {path!r} is truncated: {len(blob)} bytes, a safetensors "
                              f"file starts with an 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _MAX_HEADER or 8 + n > len(blob):
        raise CheckpointError(f"fnet.load: {path!r} is truncated or not safetensors: header length "
                              f"{n} but the file holds {len(blob) - 8} bytes after it")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"fnet.load: {path!r} has a corrupt header ({err})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"fnet.load: {path!r} has a corrupt header (not a JSON object)")
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(blob)[8 + n:]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"fnet.load: {path!r}: tensor {name!r} has a corrupt entry {info!r}") from None
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if end - begin != expected or begin < 0:
            raise CheckpointError(f"fnet.load: {path!r}: tensor {name!r} of shape {shape} and dtype "
                                  f"{info['dtype']} needs {expected} bytes, its offsets give {end - begin}")
        if end > len(data):
            raise CheckpointError(f"fnet.load: {path!r} is truncated: tensor {name!r} needs bytes "
                                  f"[{begin}, {end}) but the file holds only {len(data)} data bytes")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype.newbyteorder("<")).astype(
            dtype, copy=True).reshape(shape)
    return tensors, metadata
