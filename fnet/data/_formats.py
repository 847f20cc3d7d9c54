"""Readers for the standard on-disk formats: CIFAR-10 (binary version), MNIST and
Fashion-MNIST (IDX, gzipped or not), with checked downloads.

Samples are ``(image, label)`` with images as ``uint8`` arrays in ``(H, W, C)``
(CIFAR-10) or ``(H, W)`` (MNIST) layout, like torchvision's ``.data``; apply
``transforms.ToTensor()`` to get ``(C, H, W)`` float32 in [0, 1].
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import urllib.request
from typing import Any, Callable, Sequence

import numpy as np

from .._files import atomic_write
from ._dataset import Dataset

__all__ = ["CIFAR10", "MNIST", "FashionMNIST", "DatasetFileError", "download_url"]


class DatasetFileError(ValueError):
    """A dataset file is missing, truncated or not in the expected format."""


def _md5(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_url(url: str, root: str, filename: str, md5: str | None) -> str:
    """Downloads ``url`` to ``root/filename`` (atomically, ``fnet._files.atomic_write``) and checks its md5.

    An existing file with the right checksum is kept. Raises ``DatasetFileError`` on a
    checksum mismatch and ``OSError`` with the manual-download instructions when the
    network is unreachable.
    """
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, filename)
    if os.path.exists(path) and (md5 is None or _md5(path) == md5):
        return path
    digest = hashlib.md5()
    try:
        # atomic_write renames the file into place only if the block ends without an error
        with atomic_write(path) as out, urllib.request.urlopen(url, timeout=30) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
            if md5 is not None and digest.hexdigest() != md5:
                raise DatasetFileError(f"download of {url} has md5 {digest.hexdigest()}, expected {md5}; the "
                                       f"file is corrupt or was changed upstream")
    except DatasetFileError:
        raise
    except (OSError, ValueError) as err:
        raise OSError(f"could not download {url} ({err}). Without a network, download it elsewhere "
                      f"and place it at {path}") from None
    return path


def _extract(archive: str, root: str) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        try:
            tar.extractall(root, filter="data")  # refuses absolute paths and links out of root
        except TypeError:  # Python without extraction filters
            for member in tar.getmembers():
                target = os.path.realpath(os.path.join(root, member.name))
                if not target.startswith(os.path.realpath(root) + os.sep) or member.issym() or member.islnk():
                    raise DatasetFileError(f"{archive}: unsafe member {member.name!r}")
            tar.extractall(root)


def _transformed(transform: Callable | None, image: np.ndarray) -> Any:
    return image if transform is None else transform(image)


class _ImageDataset(Dataset):
    data: np.ndarray
    targets: np.ndarray
    transform: Callable | None
    target_transform: Callable | None

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = _transformed(self.transform, self.data[index])
        target = int(self.targets[index])
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.transform is None and self.target_transform is None:
            return self.data[indices], self.targets[indices].astype(np.int64)
        samples = [self[int(i)] for i in indices]
        return np.stack([np.asarray(s[0]) for s in samples]), np.asarray([s[1] for s in samples])


class CIFAR10(_ImageDataset):
    """CIFAR-10 from the binary version (``cifar-10-batches-bin``).

    Args:
        root: a directory containing ``cifar-10-batches-bin/`` (or the ``.bin`` files).
        train: the 50000 training images (``data_batch_1..5.bin``) or the 10000 test ones.
        transform, target_transform: applied per sample.
        download: fetch ``cifar-10-binary.tar.gz`` (md5 checked) when the files are missing.

    Each record is one label byte and 3072 pixel bytes (R, G, B planes of 32x32). The
    files have no header, so their length is checked against CIFAR-10's: every batch
    file holds exactly ``records_per_file`` (10000) records, which catches a file cut
    at a record boundary; set the class attribute to ``None`` (in a subclass) to read
    files of CIFAR's format with another number of records.

    PyTorch equivalent: ``torchvision.datasets.CIFAR10`` (which reads the pickled Python
    version; fnet reads the binary one and never unpickles).
    """

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    md5 = "c32a1d4ab5d03f1284b67883e8d87530"
    base_folder = "cifar-10-batches-bin"
    train_files = [f"data_batch_{i}.bin" for i in range(1, 6)]
    test_files = ["test_batch.bin"]
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    record = 1 + 3 * 32 * 32
    records_per_file: int | None = 10000

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False):
        self.root = os.fspath(root)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        files = self.train_files if train else self.test_files
        folder = self._folder(files)
        if folder is None and download:
            archive = download_url(self.url, self.root, os.path.basename(self.url), self.md5)
            _extract(archive, self.root)
            folder = self._folder(files)
        if folder is None:
            raise DatasetFileError(f"CIFAR10: files {files} not found under {self.root!r} (expected "
                                   f"{self.base_folder}/); pass download=True or place them there")
        chunks = [self._read(os.path.join(folder, name)) for name in files]
        records = np.concatenate(chunks)
        self.targets = records[:, 0].astype(np.int64)
        if self.targets.size and self.targets.max() >= len(self.classes):
            index = int(np.argmax(self.targets >= len(self.classes)))
            raise DatasetFileError(f"CIFAR10: label {int(self.targets[index])} (record {index} of {folder}) is "
                                   f"out of range 0..{len(self.classes) - 1}: corrupt or not CIFAR-10")
        self.data = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()

    def _folder(self, files: Sequence[str]) -> str | None:
        for folder in (os.path.join(self.root, self.base_folder), self.root):
            if all(os.path.exists(os.path.join(folder, f)) for f in files):
                return folder
        return None

    def _read(self, path: str) -> np.ndarray:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % self.record:
            raise DatasetFileError(f"CIFAR10: {path} has {raw.size} bytes, not a positive multiple of "
                                   f"the {self.record}-byte record: truncated or not CIFAR-10 binary")
        count = raw.size // self.record
        if self.records_per_file is not None and count != self.records_per_file:
            raise DatasetFileError(f"CIFAR10: {path} holds {count} records ({raw.size} bytes), but a CIFAR-10 "
                                   f"batch file holds {self.records_per_file} ({self.records_per_file * self.record} "
                                   f"bytes): truncated at a record boundary, or not a CIFAR-10 file (a subclass "
                                   f"with records_per_file = None reads files of other lengths)")
        return raw.reshape(-1, self.record)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (optionally gzipped): magic ``0 0 type ndim``, big-endian dims, data."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            blob = handle.read()
    except (OSError, EOFError) as err:
        raise DatasetFileError(f"{path}: cannot read ({err})") from None
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] not in _IDX_TYPES:
        raise DatasetFileError(f"{path}: not an IDX file (bad magic number {blob[:4].hex()})")
    dtype = np.dtype(_IDX_TYPES[blob[2]])
    ndim = blob[3]
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DatasetFileError(f"{path}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(blob[4:header], dtype=">i4"))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(blob) - header != expected:
        raise DatasetFileError(f"{path}: IDX dims {dims} need {expected} data bytes, the file holds "
                               f"{len(blob) - header}: truncated or corrupt")
    return np.frombuffer(blob[header:], dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


class MNIST(_ImageDataset):
    """MNIST from IDX files (``train-images-idx3-ubyte[.gz]`` ...), as torchvision lays them out.

    Args:
        root: directory with the four IDX files, directly or under ``<Name>/raw/``.
        train: the 60000 training images or the 10000 test images.
        transform, target_transform: applied per sample.
        download: fetch the gzipped files (md5 checked) when missing.

    PyTorch equivalent: ``torchvision.datasets.MNIST``.
    """

    mirror = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    resources = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = [str(i) for i in range(10)]

    def __init__(self, root: str, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False):
        self.root = os.fspath(root)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        prefix = "train" if train else "t10k"
        images = self._find(f"{prefix}-images-idx3-ubyte")
        labels = self._find(f"{prefix}-labels-idx1-ubyte")
        if (images is None or labels is None) and download:
            raw = os.path.join(self.root, type(self).__name__, "raw")
            for name, md5 in self.resources.items():
                download_url(self.mirror + name, raw, name, md5)
            images = self._find(f"{prefix}-images-idx3-ubyte")
            labels = self._find(f"{prefix}-labels-idx1-ubyte")
        if images is None or labels is None:
            raise DatasetFileError(f"{type(self).__name__}: {prefix}-images/labels IDX files not found under "
                                   f"{self.root!r}; pass download=True or place them there")
        self.data = read_idx(images)
        self.targets = read_idx(labels).astype(np.int64)
        if self.data.ndim != 3 or self.targets.ndim != 1 or len(self.data) != len(self.targets):
            raise DatasetFileError(f"{type(self).__name__}: images {self.data.shape} in {images} and labels "
                                   f"{self.targets.shape} in {labels} do not pair up (their IDX headers "
                                   f"disagree: truncated, or files of different sets)")
        n_classes = len(self.classes)
        bad = np.flatnonzero((self.targets < 0) | (self.targets >= n_classes))
        if bad.size:
            raise DatasetFileError(f"{type(self).__name__}: {labels}: label {int(self.targets[bad[0]])} at index "
                                   f"{int(bad[0])} is outside the classes 0..{n_classes - 1} ({bad.size} such "
                                   f"label(s)): corrupt or not a {type(self).__name__} label file")

    def _find(self, stem: str) -> str | None:
        for folder in (self.root, os.path.join(self.root, type(self).__name__, "raw")):
            for name in (stem, stem + ".gz"):
                path = os.path.join(folder, name)
                if os.path.exists(path):
                    return path
        return None


class FashionMNIST(MNIST):
    """Fashion-MNIST: the same IDX format and layout as :class:`MNIST`.

    PyTorch equivalent: ``torchvision.datasets.FashionMNIST``.
    """

    mirror = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    resources = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot"]
