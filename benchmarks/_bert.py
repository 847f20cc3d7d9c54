"""BERT sequence classification (Hugging Face's ``BertForSequenceClassification``) in every
framework, for a configuration given by ``_bert_small`` / ``_bert_base``.

PyTorch runs ``transformers.BertForSequenceClassification`` and fnet
``fnet.models.bert.BertForSequenceClassification`` on the same config, both computing the
loss from ``labels`` as Hugging Face users do. Plain JAX, Flax NNX and Equinox run a
compact re-implementation of the same network: word + position + token-type embeddings,
LayerNorm, post-norm layers (self-attention, exact-erf GELU feed-forward), tanh pooler on
``[CLS]``, linear classifier, with dropout 0.1 (the config's default) on embeddings,
attention probabilities, both residual branches and the pooled output. No attention mask
(every token is real), AdamW(lr=1e-4, weight_decay=0.01). Transformers v5 dropped its
Flax BERT, hence the compact Flax NNX version.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from _common import equinox_loop, flax_loop, fnet_loop, jax_loop, mean_cross_entropy, torch_loop

LR, WEIGHT_DECAY = 1e-4, 0.01


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    batch: int = 32
    seq: int = 128
    vocab: int = 30522
    max_positions: int = 512
    type_vocab: int = 2
    labels: int = 2
    dropout: float = 0.1
    eps: float = 1e-12

    def hf_kwargs(self) -> dict:
        return dict(vocab_size=self.vocab, hidden_size=self.hidden, num_hidden_layers=self.layers,
                    num_attention_heads=self.heads, intermediate_size=self.intermediate,
                    max_position_embeddings=self.max_positions, type_vocab_size=self.type_vocab,
                    num_labels=self.labels, hidden_dropout_prob=self.dropout,
                    attention_probs_dropout_prob=self.dropout, layer_norm_eps=self.eps)


def data(c: Config, batch: int | None = None):
    rng = np.random.default_rng(0)
    batch = batch or c.batch
    ids = rng.integers(1, c.vocab, (batch, c.seq)).astype(np.int32)
    labels = rng.integers(0, c.labels, batch).astype(np.int32)
    return ids, labels


def fnet_model(c: Config):
    from fnet.models.bert import BertConfig, BertForSequenceClassification

    return BertForSequenceClassification(BertConfig(**c.hf_kwargs()))


def fnet_runner(c: Config):
    from fnet import optim

    model = fnet_model(c)

    def compute_loss(model, params, state, batch, train, key):
        ids, labels = batch
        out, new_state = model.apply(params, state, ids, labels=labels, train=train, key=key)
        return out.loss, new_state, out.logits, labels

    return fnet_loop(model, data(c), optim.AdamW(lr=LR, weight_decay=WEIGHT_DECAY), compute_loss=compute_loss,
                     needs_key=True)


def torch_model(c: Config):
    """``transformers.BertForSequenceClassification`` of this size (random weights, seed 0)."""
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(transformers.BertConfig(**c.hf_kwargs()))


def torch_runner(c: Config, compile=False, device="cpu"):
    return torch_loop(torch_model(c), data(c), "adamw", LR, compile=compile, device=device, weight_decay=WEIGHT_DECAY,
                      compute=lambda model, ids, labels: model(input_ids=ids, labels=labels).loss)


# -- plain JAX ---------------------------------------------------------------------------

def jax_runner(c: Config):
    import jax
    import jax.numpy as jnp
    import optax

    key = jax.random.key(0)
    count = iter(range(10**6))
    normal = lambda shape: 0.02 * jax.random.normal(jax.random.fold_in(key, next(count)), shape)  # noqa: E731
    dense = lambda n_out, n_in: (normal((n_out, n_in)), jnp.zeros(n_out))  # noqa: E731 torch layout
    norm = lambda: (jnp.ones(c.hidden), jnp.zeros(c.hidden))  # noqa: E731
    h = c.hidden
    params = {
        "word": normal((c.vocab, h)), "pos": normal((c.max_positions, h)), "type": normal((c.type_vocab, h)),
        "emb_ln": norm(),
        "layers": [{"q": dense(h, h), "k": dense(h, h), "v": dense(h, h), "o": dense(h, h), "ln1": norm(),
                    "inter": dense(c.intermediate, h), "out": dense(h, c.intermediate), "ln2": norm()}
                   for _ in range(c.layers)],
        "pooler": dense(h, h), "cls": dense(c.labels, h)}

    def linear(x, p):
        return x @ p[0].T + p[1]

    def layer_norm(x, p):
        mean = x.mean(-1, keepdims=True)
        var = jnp.square(x - mean).mean(-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + c.eps) * p[0] + p[1]

    def loss_fn(params, ids, labels, key):
        keys = iter(jax.random.split(key, 4 * c.layers + 2))

        def dropout(x):
            keep = jax.random.bernoulli(next(keys), 1 - c.dropout, x.shape)
            return jnp.where(keep, x / (1 - c.dropout), 0)

        b, t = ids.shape
        x = params["word"][ids] + params["type"][jnp.zeros_like(ids)] + params["pos"][jnp.arange(t)][None]
        x = dropout(layer_norm(x, params["emb_ln"]))
        d = h // c.heads
        heads = lambda a: a.reshape(b, t, c.heads, d).transpose(0, 2, 1, 3)  # noqa: E731 (B, nh, T, hd)
        for p in params["layers"]:
            q, k, v = heads(linear(x, p["q"])), heads(linear(x, p["k"])), heads(linear(x, p["v"]))
            probs = dropout(jax.nn.softmax(jnp.einsum("bhqd,bhkd->bhqk", q, k) * d ** -0.5, axis=-1))
            ctx = jnp.einsum("bhqk,bhkd->bhqd", probs, v).transpose(0, 2, 1, 3).reshape(b, t, h)
            x = layer_norm(dropout(linear(ctx, p["o"])) + x, p["ln1"])
            inner = jax.nn.gelu(linear(x, p["inter"]), approximate=False)
            x = layer_norm(dropout(linear(inner, p["out"])) + x, p["ln2"])
        pooled = jnp.tanh(linear(x[:, 0], params["pooler"]))
        return mean_cross_entropy(linear(dropout(pooled), params["cls"]), labels)

    return jax_loop(loss_fn, params, optax.adamw(LR, weight_decay=WEIGHT_DECAY), data(c), needs_key=True)


# -- Flax NNX ----------------------------------------------------------------------------

def flax_runner(c: Config):
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    init = nnx.initializers.normal(0.02)

    def dense(n_in, n_out, rngs):
        return nnx.Linear(n_in, n_out, kernel_init=init, rngs=rngs)

    class Layer(nnx.Module):
        def __init__(self, rngs):
            h = c.hidden
            self.q, self.k, self.v, self.o = (dense(h, h, rngs) for _ in range(4))
            self.inter, self.out = dense(h, c.intermediate, rngs), dense(c.intermediate, h, rngs)
            self.ln1 = nnx.LayerNorm(h, epsilon=c.eps, rngs=rngs)
            self.ln2 = nnx.LayerNorm(h, epsilon=c.eps, rngs=rngs)
            self.drop = nnx.Dropout(c.dropout, rngs=rngs)

        def __call__(self, x):
            b, t, h = x.shape
            d = h // c.heads
            heads = lambda a: a.reshape(b, t, c.heads, d).transpose(0, 2, 1, 3)  # noqa: E731
            q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
            probs = self.drop(jax.nn.softmax(jnp.einsum("bhqd,bhkd->bhqk", q, k) * d ** -0.5, axis=-1))
            ctx = jnp.einsum("bhqk,bhkd->bhqd", probs, v).transpose(0, 2, 1, 3).reshape(b, t, h)
            x = self.ln1(self.drop(self.o(ctx)) + x)
            return self.ln2(self.drop(self.out(nnx.gelu(self.inter(x), approximate=False))) + x)

    class Bert(nnx.Module):
        def __init__(self, rngs):
            h = c.hidden
            self.word = nnx.Embed(c.vocab, h, embedding_init=init, rngs=rngs)
            self.pos = nnx.Embed(c.max_positions, h, embedding_init=init, rngs=rngs)
            self.type = nnx.Embed(c.type_vocab, h, embedding_init=init, rngs=rngs)
            self.ln = nnx.LayerNorm(h, epsilon=c.eps, rngs=rngs)
            self.drop = nnx.Dropout(c.dropout, rngs=rngs)
            self.layers = nnx.List([Layer(rngs) for _ in range(c.layers)])
            self.pooler = dense(h, h, rngs)
            self.cls = dense(h, c.labels, rngs)

        def __call__(self, ids):
            t = ids.shape[1]
            x = self.word(ids) + self.type(jnp.zeros_like(ids)) + self.pos(jnp.arange(t))[None]
            x = self.drop(self.ln(x))
            for layer in self.layers:
                x = layer(x)
            return self.cls(self.drop(jnp.tanh(self.pooler(x[:, 0]))))

    return flax_loop(Bert(nnx.Rngs(0)), optax.adamw(LR, weight_decay=WEIGHT_DECAY), data(c))


# -- Equinox -----------------------------------------------------------------------------

def equinox_runner(c: Config):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    h = c.hidden

    class Layer(eqx.Module):
        attn: eqx.nn.MultiheadAttention
        inter: eqx.nn.Linear
        out: eqx.nn.Linear
        ln1: eqx.nn.LayerNorm
        ln2: eqx.nn.LayerNorm
        drop: eqx.nn.Dropout

        def __init__(self, key):
            k = jax.random.split(key, 3)
            self.attn = eqx.nn.MultiheadAttention(c.heads, h, use_query_bias=True, use_key_bias=True,
                                                  use_value_bias=True, use_output_bias=True,
                                                  dropout_p=c.dropout, key=k[0])
            self.inter = eqx.nn.Linear(h, c.intermediate, key=k[1])
            self.out = eqx.nn.Linear(c.intermediate, h, key=k[2])
            self.ln1 = eqx.nn.LayerNorm(h, eps=c.eps)
            self.ln2 = eqx.nn.LayerNorm(h, eps=c.eps)
            self.drop = eqx.nn.Dropout(c.dropout)

        def __call__(self, x, key):  # one sequence (T, h)
            k = jax.random.split(key, 3)
            x = jax.vmap(self.ln1)(self.drop(self.attn(x, x, x, key=k[0]), key=k[1]) + x)
            inner = jax.vmap(lambda t: self.out(jax.nn.gelu(self.inter(t), approximate=False)))(x)
            return jax.vmap(self.ln2)(self.drop(inner, key=k[2]) + x)

    class Bert(eqx.Module):
        word: eqx.nn.Embedding
        pos: eqx.nn.Embedding
        type: eqx.nn.Embedding
        ln: eqx.nn.LayerNorm
        drop: eqx.nn.Dropout
        layers: list
        pooler: eqx.nn.Linear
        cls: eqx.nn.Linear

        def __init__(self, key):
            k = jax.random.split(key, 5 + c.layers)
            self.word = eqx.nn.Embedding(c.vocab, h, key=k[0])
            self.pos = eqx.nn.Embedding(c.max_positions, h, key=k[1])
            self.type = eqx.nn.Embedding(c.type_vocab, h, key=k[2])
            self.ln = eqx.nn.LayerNorm(h, eps=c.eps)
            self.drop = eqx.nn.Dropout(c.dropout)
            self.pooler = eqx.nn.Linear(h, h, key=k[3])
            self.cls = eqx.nn.Linear(h, c.labels, key=k[4])
            self.layers = [Layer(kk) for kk in k[5:]]

        def __call__(self, ids, key):  # one sequence (T,)
            keys = jax.random.split(key, c.layers + 2)
            x = jax.vmap(self.word)(ids) + jax.vmap(self.type)(jnp.zeros_like(ids))
            x = x + jax.vmap(self.pos)(jnp.arange(ids.shape[0]))
            x = self.drop(jax.vmap(self.ln)(x), key=keys[0])
            for layer, k in zip(self.layers, keys[2:]):
                x = layer(x, k)
            return self.cls(self.drop(jnp.tanh(self.pooler(x[0])), key=keys[1]))

    def forward(model, ids, key):
        return jax.vmap(model)(ids, jax.random.split(key, ids.shape[0]))

    return equinox_loop(Bert(jax.random.key(0)), optax.adamw(LR, weight_decay=WEIGHT_DECAY), data(c), forward,
                        needs_key=True)


def runners(c: Config):
    """The five runners for one config, as a model module exports them (``_bert_small.py``)."""
    return tuple(functools.partial(f, c)
                 for f in (fnet_runner, jax_runner, torch_runner, flax_runner, equinox_runner))


def models(c: Config):
    """``(fnet_model, torch_model, data)`` for ``inference.py``."""
    return functools.partial(fnet_model, c), functools.partial(torch_model, c), functools.partial(data, c)
