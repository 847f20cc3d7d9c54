"""TEMPORARY private stand-ins for pieces other branches are building (norm, misc, act, loss).

Deleted before the bert branch is finished: every use switches to the real fnet
implementation as it lands on main.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .nn._module import Context, Module


def gelu(input, approximate="none"):
    return jax.nn.gelu(input, approximate=approximate == "tanh")


def cross_entropy(input, target, ignore_index=-100):
    logp = jax.nn.log_softmax(input, axis=-1)
    valid = target != ignore_index
    safe = jnp.where(valid, target, 0)
    nll = -jnp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    return jnp.sum(jnp.where(valid, nll, 0)) / jnp.sum(valid)


def mse_loss(input, target):
    return jnp.mean(jnp.square(input - target))


def binary_cross_entropy_with_logits(input, target):
    return jnp.mean(jnp.maximum(input, 0) - input * target + jnp.log1p(jnp.exp(-jnp.abs(input))))


class Dropout(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = p

    def forward(self, ctx: Context, input):
        if not ctx.train or self.p == 0:
            return input
        keep = jax.random.bernoulli(ctx.next_key(), 1 - self.p, input.shape)
        return jnp.where(keep, input / (1 - self.p), 0)

    def extra_repr(self):
        return f"p={self.p}, inplace=False"


class Embedding(Module):
    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx

    def reset_parameters(self, key):
        w = jax.random.normal(key, (self.num_embeddings, self.embedding_dim))
        if self.padding_idx is not None:
            w = w.at[self.padding_idx].set(0)
        return {"weight": w}, {}

    def forward(self, ctx: Context, input):
        out = jnp.take(ctx.params["weight"], input, axis=0)
        if self.padding_idx is not None:
            out = jnp.where((input == self.padding_idx)[..., None], jax.lax.stop_gradient(out), out)
        return out

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
