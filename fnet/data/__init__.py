"""Twins of ``torch.utils.data`` plus offline datasets and dataset-file readers.

    loader = fnet.data.DataLoader(fnet.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    for xb, yb in loader: ...
"""

from . import transforms
from ._collate import BucketCollate
from ._bundled import load_digits, make_classification, make_regression
from ._dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from ._formats import CIFAR10, MNIST, DatasetFileError, FashionMNIST, download_url, read_idx
from ._loader import DataLoader, default_collate

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
           "default_collate", "CIFAR10", "MNIST", "FashionMNIST", "DatasetFileError", "download_url",
           "read_idx", "BucketCollate", "load_digits", "make_regression", "make_classification", "transforms"]
