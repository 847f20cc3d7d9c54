"""BERT-base (hidden 768, 12 layers, 12 heads, intermediate 3072) sequence classification,
batch 32 x 128 tokens, AdamW: see ``_bert.py``."""

from __future__ import annotations

import _bert

CONFIG = _bert.Config(hidden=768, layers=12, heads=12, intermediate=3072)
NAME = "BERT-base, T=128, batch 32"
REPEATS = 20


def fnet_runner():
    return _bert.fnet_runner(CONFIG)


def jax_runner():
    return _bert.jax_runner(CONFIG)


def torch_runner(compile=False, device="cpu"):
    return _bert.torch_runner(CONFIG, compile=compile, device=device)


def flax_runner():
    return _bert.flax_runner(CONFIG)


def equinox_runner():
    return _bert.equinox_runner(CONFIG)
