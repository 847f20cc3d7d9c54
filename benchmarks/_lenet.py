"""CIFAR-10 LeNet-5, batch 256 of 3x32x32, Adam: the same step in every framework."""

from __future__ import annotations

import _convnet

NAME = "LeNet (CIFAR-10), batch 256"
NOTES = ("PyTorch's CPU convolutions and pooling are oneDNN kernels; fnet's Conv2d/MaxPool2d use the "
         "conv family's CPU lowering (patch matrices and GEMMs), well ahead of lax.conv_general_dilated "
         "(plain JAX, Flax, Equinox) but behind oneDNN at these small channel counts. The gap is the "
         "convolution kernels, not fnet's abstractions (see fnet/plain JAX).")
REPEATS = 10
BATCH = 256
IMAGE = (3, 32, 32)
SPEC = [("conv", 3, 6, 5, 0), ("relu",), ("pool",), ("conv", 6, 16, 5, 0), ("relu",), ("pool",),
        ("flatten",), ("linear", 400, 120), ("relu",), ("linear", 120, 84), ("relu",), ("linear", 84, 10)]

fnet_runner, jax_runner, torch_runner, flax_runner, equinox_runner = _convnet.runners(SPEC, BATCH, IMAGE)
fnet_model, torch_model, data = _convnet.models(SPEC, BATCH, IMAGE)
