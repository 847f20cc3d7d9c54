"""Twins of ``torch.utils.data`` plus offline datasets and dataset-file readers.

    loader = fnet.data.DataLoader(fnet.data.TensorDataset(x, y), batch_size=64, shuffle=True)
    for xb, yb in loader: ...
"""

from . import transforms
from ._collate import BucketCollate
from ._bundled import load_digits, make_classification, make_regression
from ._dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
                       random_split)
from ._formats import CIFAR10, MNIST, DatasetFileError, FashionMNIST, download_url, read_idx
from ._collate import default_collate, default_convert
from ._loader import DataLoader
from ._sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler, SequentialSampler,
                       SubsetRandomSampler, WeightedRandomSampler)
from ._worker import get_worker_info

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "StackDataset", "IterableDataset", "ChainDataset",
           "random_split", "DataLoader", "default_collate", "default_convert", "get_worker_info", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DistributedSampler", "CIFAR10", "MNIST", "FashionMNIST", "DatasetFileError", "download_url",
           "read_idx", "BucketCollate", "load_digits", "make_regression", "make_classification", "transforms"]
