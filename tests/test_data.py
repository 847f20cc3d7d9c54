"""fnet.data: datasets, reproducible DataLoader, file formats, downloads, transforms."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile

import jax
import numpy as np
import pytest

from fnet import data as D


def _epoch(loader):
    return [tuple(np.asarray(a) for a in b) for b in loader]


def test_same_seed_same_batches_and_epochs_differ():
    ds = D.TensorDataset(np.arange(50, dtype=np.float32)[:, None], np.arange(50))
    a = D.DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    b = D.DataLoader(ds, batch_size=8, shuffle=True, seed=3, prefetch=0)
    first_a, first_b = _epoch(a), _epoch(b)
    for (xa, ya), (xb, yb) in zip(first_a, first_b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    second = _epoch(a)
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(first_a, second))
    assert sorted(np.concatenate([y for _, y in first_a]).tolist()) == list(range(50))
    a.set_epoch(0)
    np.testing.assert_array_equal(_epoch(a)[0][1], first_a[0][1])


def test_len_drop_last_and_resume_from_a_batch():
    ds = D.TensorDataset(np.zeros((10, 2)), np.arange(10))
    assert len(D.DataLoader(ds, batch_size=4)) == 3
    loader = D.DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(y) for _, y in loader] == [4, 4]
    loader = D.DataLoader(ds, batch_size=3, shuffle=True, seed=1)
    full = [y for _, y in loader.iter_epoch(2)]
    tail = [y for _, y in loader.iter_epoch(2, start=2)]
    np.testing.assert_array_equal(np.concatenate(full[2:]), np.concatenate(tail))
    with pytest.raises(ValueError, match="batch_size"):
        D.DataLoader(ds, batch_size=0)


def test_device_placement_and_collate_of_dicts():
    class Dicts(D.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(3, i, np.float32), "y": i}

    batches = list(D.DataLoader(Dicts(), batch_size=2, device="default"))
    assert isinstance(batches[0]["x"], jax.Array) and batches[0]["x"].shape == (2, 3)
    np.testing.assert_array_equal(batches[-1]["y"], [4])


def test_loader_surfaces_dataset_errors():
    class Broken(D.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise RuntimeError("bad sample")

    with pytest.raises(RuntimeError, match="bad sample"):
        list(D.DataLoader(Broken(), batch_size=2))


def test_random_split_subset_concat():
    ds = D.TensorDataset(np.arange(10))
    a, b = D.random_split(ds, [7, 3], seed=0)
    assert len(a) == 7 and len(b) == 3
    assert sorted([int(a[i][0]) for i in range(7)] + [int(b[i][0]) for i in range(3)]) == list(range(10))
    c, d, e = D.random_split(ds, [0.5, 0.3, 0.2])
    assert (len(c), len(d), len(e)) == (5, 3, 2)
    with pytest.raises(ValueError, match="sum of input lengths"):
        D.random_split(ds, [5, 6])
    cat = D.ConcatDataset([ds, D.Subset(ds, [9, 8])])
    assert len(cat) == 12 and int(cat[10][0]) == 9 and int(cat[-1][0]) == 8


def test_random_split_fraction_rule_and_refusals_name_the_problem():
    ds = D.TensorDataset(np.arange(4))
    with pytest.warns(UserWarning, match="split at index 1 is 0"):
        assert [len(s) for s in D.random_split(ds, [1, 0])] == [4, 0]  # sums to 1: fractions, as torch
    with pytest.raises(ValueError, match="fraction at index 0 is not between 0 and 1, got 1.5"):
        D.random_split(ds, [1.5, -0.5])


def test_default_collate_refuses_samples_of_unequal_length():
    with pytest.raises(ValueError, match=r"equal size, got lengths \[2, 3\]"):
        D.default_collate([(np.zeros(2), 1), (np.zeros(2), 1, 2)])


def _cifar_records(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    pixels = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
    return labels, pixels, np.concatenate([labels[:, None], pixels], axis=1)


class SmallCIFAR10(D.CIFAR10):
    records_per_file = None  # the test files hold 3 records, not CIFAR-10's 10000


def _write_cifar(root, n=3):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    expected = {}
    for i, name in enumerate([f"data_batch_{j}.bin" for j in range(1, 6)] + ["test_batch.bin"]):
        labels, pixels, records = _cifar_records(n, i)
        (folder / name).write_bytes(records.tobytes())
        expected[name] = (labels, pixels)
    return folder, expected


def test_cifar10_binary_is_read_back_exactly(tmp_path):
    folder, expected = _write_cifar(tmp_path)
    train = SmallCIFAR10(tmp_path, train=True)
    test = SmallCIFAR10(tmp_path, train=False)
    assert len(train) == 15 and len(test) == 3
    labels, pixels = expected["data_batch_2.bin"]
    image, label = train[3]
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8 and label == labels[0]
    np.testing.assert_array_equal(image.transpose(2, 0, 1).reshape(-1), pixels[0])
    x, y = test.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(y, expected["test_batch.bin"][0][[2, 0]])
    t = SmallCIFAR10(tmp_path, train=False, transform=D.transforms.ToTensor())
    assert t[0][0].shape == (3, 32, 32) and t[0][0].dtype == np.float32 and t[0][0].max() <= 1.0


def test_cifar10_truncated_and_bad_labels(tmp_path):
    folder, _ = _write_cifar(tmp_path)
    data = (folder / "test_batch.bin").read_bytes()
    (folder / "test_batch.bin").write_bytes(data[:-100])
    with pytest.raises(D.DatasetFileError, match="truncated"):
        SmallCIFAR10(tmp_path, train=False)
    bad = bytearray(data)
    bad[0] = 42
    (folder / "test_batch.bin").write_bytes(bytes(bad))
    with pytest.raises(D.DatasetFileError, match="label 42"):
        SmallCIFAR10(tmp_path, train=False)
    with pytest.raises(D.DatasetFileError, match="not found"):
        SmallCIFAR10(tmp_path / "nowhere")


def _idx(array, code):
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_is_read_back_exactly(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, arr, code in (("t10k-images-idx3-ubyte", images, 0x08), ("t10k-labels-idx1-ubyte", labels, 0x08)):
        blob = _idx(arr, code)
        if compress:
            (raw / (stem + ".gz")).write_bytes(gzip.compress(blob))
        else:
            (raw / stem).write_bytes(blob)
    ds = D.FashionMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data, images)
    np.testing.assert_array_equal(ds.targets, labels)
    assert ds[6][1] == labels[6]
    floats = rng.standard_normal((2, 3)).astype(">f4")
    (tmp_path / "f.idx").write_bytes(_idx(floats, 0x0D))
    np.testing.assert_array_equal(D.read_idx(str(tmp_path / "f.idx")), floats.astype(np.float32))


def test_idx_corrupt_and_truncated(tmp_path):
    good = _idx(np.zeros((2, 4, 4), np.uint8), 0x08)
    (tmp_path / "bad").write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(D.DatasetFileError, match="magic"):
        D.read_idx(str(tmp_path / "bad"))
    (tmp_path / "short").write_bytes(good[:-5])
    with pytest.raises(D.DatasetFileError, match="truncated"):
        D.read_idx(str(tmp_path / "short"))
    (tmp_path / "short.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(D.DatasetFileError):
        D.read_idx(str(tmp_path / "short.gz"))


def test_download_checks_the_checksum(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    payload = b"some dataset bytes"
    (src / "file.bin").write_bytes(payload)
    url = (src / "file.bin").as_uri()
    md5 = hashlib.md5(payload).hexdigest()
    path = D.download_url(url, str(tmp_path / "dl"), "file.bin", md5)
    assert open(path, "rb").read() == payload
    with pytest.raises(D.DatasetFileError, match="md5"):
        D.download_url(url, str(tmp_path / "dl2"), "file.bin", "0" * 32)
    assert not os.path.exists(tmp_path / "dl2" / "file.bin")
    with pytest.raises(OSError, match="could not download"):
        D.download_url((src / "missing").as_uri(), str(tmp_path / "dl3"), "x", None)


def test_cifar_download_path_extracts_and_verifies(tmp_path, monkeypatch):
    staging = tmp_path / "staging"
    _write_cifar(staging)
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    monkeypatch.setattr(SmallCIFAR10, "url", archive.as_uri())
    monkeypatch.setattr(SmallCIFAR10, "md5", hashlib.md5(archive.read_bytes()).hexdigest())
    ds = SmallCIFAR10(tmp_path / "root", train=False, download=True)
    assert len(ds) == 3


def test_transforms_are_reproducible_through_the_loader():
    images = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3)).astype(np.uint8)

    class Images(D.Dataset):
        transform = D.transforms.Compose([
            D.transforms.ToTensor(), D.transforms.RandomCrop(6, padding=1),
            D.transforms.RandomHorizontalFlip(), D.transforms.Normalize([0.5] * 3, [0.25] * 3)])

        def __len__(self):
            return 6

        def __getitem__(self, i):
            return self.transform(images[i])

    a = np.concatenate(list(D.DataLoader(Images(), batch_size=3, seed=5)))
    b = np.concatenate(list(D.DataLoader(Images(), batch_size=3, seed=5)))
    c = np.concatenate(list(D.DataLoader(Images(), batch_size=3, seed=6)))
    assert a.shape == (6, 3, 6, 6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    x = D.transforms.Normalize([0.5], [0.5])(np.ones((1, 2, 2), np.float32))
    np.testing.assert_allclose(x, 1.0)
    with pytest.raises(ValueError, match="std"):
        D.transforms.Normalize([0.5], [0.0])


def test_random_transforms_take_an_explicit_generator():
    image = np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    pipeline = D.transforms.Compose([D.transforms.RandomCrop(5, padding=1), D.transforms.RandomHorizontalFlip(),
                                     D.transforms.Lambda(lambda x: x * 2)])
    a = pipeline(image, rng=np.random.default_rng(3))
    b = pipeline(image, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    draws = {pipeline(image, rng=np.random.default_rng(seed)).tobytes() for seed in range(20)}
    assert len(draws) > 5  # the generator decides the crop and the flip
    # the same draws as the transforms called one by one with that generator
    rng = np.random.default_rng(3)
    by_hand = D.transforms.RandomHorizontalFlip()(D.transforms.RandomCrop(5, padding=1)(image, rng=rng), rng=rng) * 2
    np.testing.assert_array_equal(a, by_hand)


def test_bundled_datasets_have_model_ready_shapes():
    train, test = D.load_digits(train=True), D.load_digits(train=False)
    assert len(train) + len(test) == 1797
    x, y = train.tensors
    assert x.shape[1:] == (1, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    x, y = D.make_regression(32, n_features=3).tensors
    assert x.shape == (32, 3) and y.shape == (32, 1)
    x, y = D.make_classification(40, n_features=4, n_classes=3).tensors
    assert x.shape == (40, 4) and set(np.unique(y)) <= {0, 1, 2}


def test_bucket_collate_keeps_shapes_static():
    class Seqs(D.Dataset):
        lengths = [3, 9, 5, 17, 2, 8]

        def __len__(self):
            return len(self.lengths)

        def __getitem__(self, i):
            n = self.lengths[i]
            return {"input_ids": np.arange(1, n + 1), "attention_mask": np.ones(n, np.int64), "label": i}

    loader = D.DataLoader(Seqs(), batch_size=2, collate_fn=D.BucketCollate((8, 16, 32), lengths_key="length"))
    batches = list(loader)
    assert [b["input_ids"].shape for b in batches] == [(2, 16), (2, 32), (2, 8)]
    np.testing.assert_array_equal(batches[0]["attention_mask"][0], [1, 1, 1] + [0] * 13)
    np.testing.assert_array_equal(batches[1]["length"], [5, 17])
    np.testing.assert_array_equal(batches[2]["label"], [4, 5])
    with pytest.raises(ValueError, match="longer than the largest bucket"):
        D.BucketCollate((4,))([{"input_ids": np.arange(5)}])


def test_compilation_cache_setting(tmp_path):
    import fnet

    path = fnet.config.enable_compilation_cache(str(tmp_path / "cache"), min_compile_time_secs=0.0)
    assert jax.config.jax_compilation_cache_dir == path
    jax.config.update("jax_compilation_cache_dir", None)
