"""Image transforms on numpy arrays, twins of the common torchvision ones.

Random transforms take the generator to draw from explicitly, ``t(x, rng=generator)``
(as grain's ``random_map(x, rng)``); called the torchvision way, ``t(x)`` inside a
dataset's ``__getitem__``, they draw from the generator the :class:`~fnet.data.DataLoader`
seeds per ``(seed, epoch, batch)``, so augmented epochs are reproducible whichever
worker builds a batch. ``Compose`` passes its ``rng`` on to the transforms that declare
``takes_rng = True`` (a random transform of your own does the same).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ._rng import batch_rng

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip", "Lambda"]


class Compose:
    """Applies transforms in order. PyTorch equivalent: ``torchvision.transforms.Compose``."""

    takes_rng = True

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        for t in self.transforms:
            x = t(x, rng=rng) if rng is not None and getattr(t, "takes_rng", False) else t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class ToTensor:
    """``uint8 (H, W, C)`` or ``(H, W)`` in [0, 255] -> ``float32 (C, H, W)`` in [0, 1].

    PyTorch equivalent: ``torchvision.transforms.ToTensor``.
    """

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3:
            raise ValueError(f"ToTensor: expected an image (H, W) or (H, W, C), got shape {image.shape}")
        out = image.transpose(2, 0, 1).astype(np.float32)
        return out / 255.0 if image.dtype == np.uint8 else out

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a ``(C, H, W)`` array.

    PyTorch equivalent: ``torchvision.transforms.Normalize``.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = np.asarray(mean, np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(-1, 1, 1)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std evaluated to zero after conversion, got {list(std)}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim != 3 or x.shape[0] not in (1, len(self.mean)) and len(self.mean) != 1:
            raise ValueError(f"Normalize: expected (C, H, W) with C = {len(self.mean)}, got shape {x.shape}")
        return (x - self.mean) / self.std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomCrop:
    """Pads (optionally) and crops a random ``size`` window of a ``(C, H, W)`` array.

    PyTorch equivalent: ``torchvision.transforms.RandomCrop`` (constant padding).
    """

    takes_rng = True

    def __init__(self, size: int | tuple[int, int], padding: int | None = None, fill: float = 0.0):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = padding or 0
        self.fill = fill

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Crops ``x`` at a position drawn from ``rng`` (default: the loader's batch generator)."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"RandomCrop: expected (C, H, W), got shape {x.shape}")
        p = self.padding
        if p:
            x = np.pad(x, ((0, 0), (p, p), (p, p)), constant_values=self.fill)
        h, w = self.size
        if x.shape[1] < h or x.shape[2] < w:
            raise ValueError(f"RandomCrop: crop size {self.size} larger than the padded image {x.shape[1:]}")
        rng = batch_rng(rng)
        top = int(rng.integers(0, x.shape[1] - h + 1))
        left = int(rng.integers(0, x.shape[2] - w + 1))
        return x[:, top:top + h, left:left + w]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Flips a ``(C, H, W)`` array left-right with probability ``p``.

    PyTorch equivalent: ``torchvision.transforms.RandomHorizontalFlip``.
    """

    takes_rng = True

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Flips ``x`` with probability ``p``, drawn from ``rng`` (default: the loader's batch generator)."""
        return np.asarray(x)[..., ::-1].copy() if batch_rng(rng).random() < self.p else np.asarray(x)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class Lambda:
    """Wraps a function as a transform. PyTorch equivalent: ``torchvision.transforms.Lambda``."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)
