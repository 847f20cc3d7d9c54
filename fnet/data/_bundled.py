"""Offline datasets: sklearn's 8x8 digits and synthetic regression / classification sets."""

from __future__ import annotations

import numpy as np

from ._dataset import TensorDataset

__all__ = ["load_digits", "make_regression", "make_classification"]


def load_digits(train: bool = True, test_fraction: float = 0.2, seed: int = 0, images: bool = True
                ) -> TensorDataset:
    """The 1797 8x8 handwritten digits that ship with scikit-learn, split reproducibly.

    Args:
        train: the training part (``1 - test_fraction``) or the test part.
        test_fraction: share of samples held out.
        seed: seed of the split.
        images: ``(N, 1, 8, 8)`` images (for CNNs) or ``(N, 64)`` vectors.

    Returns:
        ``TensorDataset(x float32 in [0, 1], y int64)``.
    """
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError:  # pragma: no cover - sklearn is a test extra
        raise ImportError("load_digits needs scikit-learn (pip install scikit-learn), which ships "
                          "the digits data") from None
    bunch = _sk_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    idx = order[n_test:] if train else order[:n_test]
    x = x[idx].reshape(-1, 1, 8, 8) if images else x[idx]
    return TensorDataset(x, y[idx])


def make_regression(n_samples: int = 256, n_features: int = 1, noise: float = 0.1,
                    weight: np.ndarray | None = None, bias: float = 0.5, seed: int = 0) -> TensorDataset:
    """``y = x @ w + b + noise`` with ``x (N, n_features)`` and ``y (N, 1)``.

    The shapes are the ones a ``Linear(n_features, 1)`` and ``MSELoss`` expect (the
    seed article built its target with a mismatched matmul).
    """
    rng = np.random.default_rng(seed)
    w = np.linspace(1.0, 2.0, n_features) if weight is None else np.asarray(weight, dtype=np.float64)
    w = w.reshape(n_features, 1)
    x = rng.standard_normal((n_samples, n_features))
    y = x @ w + bias + noise * rng.standard_normal((n_samples, 1))
    return TensorDataset(x.astype(np.float32), y.astype(np.float32))


def make_classification(n_samples: int = 512, n_features: int = 2, n_classes: int = 2,
                        separation: float = 2.0, seed: int = 0) -> TensorDataset:
    """Gaussian blobs, one per class, centred ``separation`` apart on random directions.

    Returns ``TensorDataset(x float32 (N, n_features), y int64 (N,))``.
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, n_features))
    centers *= separation / np.maximum(np.linalg.norm(centers, axis=1, keepdims=True), 1e-6)
    y = rng.integers(0, n_classes, n_samples)
    x = centers[y] + rng.standard_normal((n_samples, n_features))
    return TensorDataset(x.astype(np.float32), y.astype(np.int64))
