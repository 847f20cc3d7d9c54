"""Small BERT (hidden 256, 4 layers, 4 heads, intermediate 1024) sequence classification,
batch 32 x 128 tokens, AdamW: see ``_bert.py``."""

from __future__ import annotations

import _bert

CONFIG = _bert.Config(hidden=256, layers=4, heads=4, intermediate=1024)
NAME = "BERT small (256, 4 layers), T=128, batch 32"
NOTES = ("Same flops in fnet and plain JAX (XLA cost analysis). PyTorch's edge on CPU: oneDNN/MKL "
         "GEMMs and fused SDPA attention; the JAX frameworks also draw their dropout masks with "
         "threefry, about 5% of their step on CPU.")
REPEATS = 4

fnet_runner, jax_runner, torch_runner, flax_runner, equinox_runner = _bert.runners(CONFIG)
fnet_model, torch_model, data = _bert.models(CONFIG)
