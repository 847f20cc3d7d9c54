"""The 3-32-64 CNN (two 3x3 convolutions with padding 1, 2x2 max pools, a 4096-128-10 head),
batch 256 of 3x32x32, Adam: the same step in every framework."""

from __future__ import annotations

import _convnet

NAME = "CNN 3-32-64, batch 256"
NOTES = ("As for LeNet: oneDNN convolutions in PyTorch, the conv family's patch-matrix lowering in "
         "fnet (about twice as fast as lax.conv_general_dilated here).")
REPEATS = 6
BATCH = 256
IMAGE = (3, 32, 32)
SPEC = [("conv", 3, 32, 3, 1), ("relu",), ("pool",), ("conv", 32, 64, 3, 1), ("relu",), ("pool",),
        ("flatten",), ("linear", 4096, 128), ("relu",), ("linear", 128, 10)]

fnet_runner, jax_runner, torch_runner, flax_runner, equinox_runner = _convnet.runners(SPEC, BATCH, IMAGE)
fnet_model, torch_model, data = _convnet.models(SPEC, BATCH, IMAGE)
