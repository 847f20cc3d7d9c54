"""BERT-base (hidden 768, 12 layers, 12 heads, intermediate 3072) sequence classification,
batch 32 x 128 tokens, AdamW: see ``_bert.py``."""

from __future__ import annotations

import _bert

CONFIG = _bert.Config(hidden=768, layers=12, heads=12, intermediate=3072)
NAME = "BERT-base, T=128, batch 32"
REPEATS = 20

fnet_runner, jax_runner, torch_runner, flax_runner, equinox_runner = _bert.runners(CONFIG)
fnet_model, torch_model, data = _bert.models(CONFIG)
