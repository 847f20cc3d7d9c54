"""Transformer encoder classifier: 2 x TransformerEncoderLayer(d_model=256, nhead=4,
dim_feedforward=1024, dropout=0.0, batch_first=True, post-norm, ReLU), mean pooling over
the sequence, Linear(256, 10); inputs (32, 128, 256) float features, Adam."""

from __future__ import annotations

import numpy as np

from _common import (classification_data, equinox_loop, flax_loop, fnet_loop, jax_loop, mean_cross_entropy,
                     torch_linear_init, torch_loop)

NAME = "Transformer encoder d256 x2, T=128, batch 32"
NOTES = ("fnet and plain JAX compile to the same flops (XLA cost analysis); PyTorch's edge on CPU is "
         "oneDNN/MKL GEMMs and its fused scaled-dot-product attention kernel against XLA:CPU's "
         "GEMMs and unfused softmax.")
REPEATS = 8
BATCH, SEQ, D, HEADS, FF, LAYERS, CLASSES = 32, 128, 256, 4, 1024, 2, 10
EPS = 1e-5
LR = 1e-3


def data(batch: int = BATCH):
    return classification_data((batch, SEQ, D), CLASSES)


def fnet_model():
    from fnet import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.fc = nn.Linear(D, CLASSES)

        def forward(self, ctx, x):
            return self.fc(ctx, self.encoder(ctx, x).mean(axis=1))

    return Net()


def fnet_runner():
    import fnet.functional as F
    from fnet import optim

    return fnet_loop(fnet_model(), data(), optim.Adam(lr=LR), F.cross_entropy)


def jax_runner():
    """torch's parameter layout (``in_proj_weight (3D, D)``), einsum attention."""
    import jax
    import jax.numpy as jnp
    import optax

    key = jax.random.key(0)
    layers = []
    for k in range(LAYERS):
        keys = jax.random.split(jax.random.fold_in(key, k), 4)
        bound = np.sqrt(6 / (D + 3 * D))  # torch's xavier_uniform_ on in_proj_weight
        layers.append({
            "in_w": jax.random.uniform(keys[0], (3 * D, D), minval=-bound, maxval=bound), "in_b": jnp.zeros(3 * D),
            "out": (torch_linear_init(keys[1], D, D, bias=False), jnp.zeros(D)),
            "ff1": torch_linear_init(keys[2], FF, D), "ff2": torch_linear_init(keys[3], D, FF),
            "ln1": (jnp.ones(D), jnp.zeros(D)), "ln2": (jnp.ones(D), jnp.zeros(D))})
    params = {"layers": layers, "fc": torch_linear_init(jax.random.fold_in(key, 99), CLASSES, D)}

    def layer_norm(x, p):
        mean = x.mean(-1, keepdims=True)
        var = jnp.square(x - mean).mean(-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + EPS) * p[0] + p[1]

    def attention(x, p):
        b, t, _ = x.shape
        q, k, v = jnp.split(x @ p["in_w"].T + p["in_b"], 3, axis=-1)
        heads = lambda a: a.reshape(b, t, HEADS, D // HEADS).transpose(0, 2, 1, 3)  # noqa: E731 (B, h, T, hd)
        q, k, v = heads(q), heads(k), heads(v)
        scores = jnp.einsum("bhqd,bhkd->bhqk", q, k) * (D // HEADS) ** -0.5
        out = jnp.einsum("bhqk,bhkd->bhqd", jax.nn.softmax(scores, axis=-1), v)
        out = out.transpose(0, 2, 1, 3).reshape(b, t, D)
        w, bias = p["out"]
        return out @ w.T + bias

    def loss_fn(params, x, y):
        for p in params["layers"]:
            x = layer_norm(x + attention(x, p), p["ln1"])
            (w1, b1), (w2, b2) = p["ff1"], p["ff2"]
            x = layer_norm(x + jax.nn.relu(x @ w1.T + b1) @ w2.T + b2, p["ln2"])
        w, b = params["fc"]
        return mean_cross_entropy(x.mean(axis=1) @ w.T + b, y)

    return jax_loop(loss_fn, params, optax.adam(LR), data())


def torch_model():
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
            self.encoder = torch.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.fc = torch.nn.Linear(D, CLASSES)

        def forward(self, x):
            return self.fc(self.encoder(x).mean(dim=1))

    torch.manual_seed(0)
    return Net()


def torch_runner(compile=False, device="cpu"):
    return torch_loop(torch_model(), data(), "adam", LR, compile=compile, device=device)


def flax_runner():
    import optax
    from flax import nnx

    class Layer(nnx.Module):
        def __init__(self, rngs):
            self.attn = nnx.MultiHeadAttention(HEADS, D, decode=False, rngs=rngs)
            self.ff1 = nnx.Linear(D, FF, rngs=rngs)
            self.ff2 = nnx.Linear(FF, D, rngs=rngs)
            self.ln1 = nnx.LayerNorm(D, epsilon=EPS, rngs=rngs)
            self.ln2 = nnx.LayerNorm(D, epsilon=EPS, rngs=rngs)

        def __call__(self, x):
            x = self.ln1(x + self.attn(x))
            return self.ln2(x + self.ff2(nnx.relu(self.ff1(x))))

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.layers = nnx.List([Layer(rngs) for _ in range(LAYERS)])
            self.fc = nnx.Linear(D, CLASSES, rngs=rngs)

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.fc(x.mean(axis=1))

    return flax_loop(Net(nnx.Rngs(0)), optax.adam(LR), data())


def equinox_runner():
    import equinox as eqx
    import jax
    import optax

    class Layer(eqx.Module):
        attn: eqx.nn.MultiheadAttention
        ff1: eqx.nn.Linear
        ff2: eqx.nn.Linear
        ln1: eqx.nn.LayerNorm
        ln2: eqx.nn.LayerNorm

        def __init__(self, key):
            k = jax.random.split(key, 3)
            self.attn = eqx.nn.MultiheadAttention(HEADS, D, use_query_bias=True, use_key_bias=True,
                                                  use_value_bias=True, use_output_bias=True, key=k[0])
            self.ff1 = eqx.nn.Linear(D, FF, key=k[1])
            self.ff2 = eqx.nn.Linear(FF, D, key=k[2])
            self.ln1 = eqx.nn.LayerNorm(D, eps=EPS)
            self.ln2 = eqx.nn.LayerNorm(D, eps=EPS)

        def __call__(self, x):  # one sequence (T, D)
            x = jax.vmap(self.ln1)(x + self.attn(x, x, x))
            return jax.vmap(self.ln2)(x + jax.vmap(lambda t: self.ff2(jax.nn.relu(self.ff1(t))))(x))

    class Net(eqx.Module):
        layers: list
        fc: eqx.nn.Linear

        def __init__(self, key):
            keys = jax.random.split(key, LAYERS + 1)
            self.layers = [Layer(k) for k in keys[:-1]]
            self.fc = eqx.nn.Linear(D, CLASSES, key=keys[-1])

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.fc(x.mean(axis=0))

    return equinox_loop(Net(jax.random.key(0)), optax.adam(LR), data(), lambda m, x: jax.vmap(m)(x))
