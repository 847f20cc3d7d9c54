"""Sequential image classifiers (LeNet, the 3-32-64 CNN) built in every framework from one
layer list, so the models cannot drift apart.

A spec is a list of ``("conv", c_in, c_out, kernel, padding)``, ``("relu",)``,
``("pool",)`` (2x2 max pool, stride 2), ``("flatten",)`` and ``("linear", in, out)``.
Inputs are ``NCHW`` (torch's layout) everywhere except Flax NNX, whose convolutions are
``NHWC``: its batch is transposed once, outside the timed step.
"""

from __future__ import annotations

import functools

import numpy as np

from _common import (classification_data, equinox_loop, flax_loop, fnet_loop, jax_loop, mean_cross_entropy,
                     torch_conv_init, torch_linear_init, torch_loop)

LR = 1e-3


def data(spec, batch: int, image: tuple[int, int, int]):
    classes = [s for s in spec if s[0] == "linear"][-1][2]
    return classification_data((batch, *image), classes)


def fnet_model(spec):
    from fnet import nn

    layers = []
    for kind, *args in spec:
        if kind == "conv":
            c_in, c_out, k, pad = args
            layers.append(nn.Conv2d(c_in, c_out, k, padding=pad))
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "pool":
            layers.append(nn.MaxPool2d(2))
        elif kind == "flatten":
            layers.append(nn.Flatten())
        elif kind == "linear":
            layers.append(nn.Linear(*args))
    return nn.Sequential(*layers)


def fnet_runner(spec, batch, image):
    import fnet.functional as F
    from fnet import optim

    return fnet_loop(fnet_model(spec), data(spec, batch, image), optim.Adam(lr=LR), F.cross_entropy)


def jax_runner(spec, batch, image):
    import jax
    import optax
    from jax import lax

    key = jax.random.key(0)
    params = []
    for i, (kind, *args) in enumerate(spec):
        if kind == "conv":
            params.append(torch_conv_init(jax.random.fold_in(key, i), args[1], args[0], args[2]))
        elif kind == "linear":
            params.append(torch_linear_init(jax.random.fold_in(key, i), args[1], args[0]))

    def loss_fn(params, x, y):
        it = iter(params)
        for kind, *args in spec:
            if kind == "conv":
                w, b = next(it)
                pad = args[3]
                x = lax.conv_general_dilated(x, w, (1, 1), [(pad, pad), (pad, pad)],
                                             dimension_numbers=("NCHW", "OIHW", "NCHW"))
                x = x + b[:, None, None]
            elif kind == "relu":
                x = jax.nn.relu(x)
            elif kind == "pool":
                x = lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            elif kind == "linear":
                w, b = next(it)
                x = x @ w.T + b
        return mean_cross_entropy(x, y)

    return jax_loop(loss_fn, params, optax.adam(LR), data(spec, batch, image))


def torch_model(spec):
    """The spec as a ``torch.nn.Sequential`` (torch's default initialisation, seed 0)."""
    import torch

    layers = []
    for kind, *args in spec:
        if kind == "conv":
            c_in, c_out, k, pad = args
            layers.append(torch.nn.Conv2d(c_in, c_out, k, padding=pad))
        elif kind == "relu":
            layers.append(torch.nn.ReLU())
        elif kind == "pool":
            layers.append(torch.nn.MaxPool2d(2))
        elif kind == "flatten":
            layers.append(torch.nn.Flatten())
        elif kind == "linear":
            layers.append(torch.nn.Linear(*args))
    torch.manual_seed(0)
    return torch.nn.Sequential(*layers)


def torch_runner(spec, batch, image, compile=False, device="cpu"):
    return torch_loop(torch_model(spec), data(spec, batch, image), "adam", LR, compile=compile, device=device)


def flax_runner(spec, batch, image):
    import optax
    from flax import nnx

    rngs = nnx.Rngs(0)
    layers = []
    for kind, *args in spec:
        if kind == "conv":
            c_in, c_out, k, pad = args
            layers.append(nnx.Conv(c_in, c_out, (k, k), padding=[(pad, pad), (pad, pad)], rngs=rngs))
        elif kind == "relu":
            layers.append(nnx.relu)
        elif kind == "pool":
            layers.append(lambda x: nnx.max_pool(x, (2, 2), (2, 2)))
        elif kind == "flatten":
            layers.append(lambda x: x.reshape(x.shape[0], -1))
        elif kind == "linear":
            layers.append(nnx.Linear(*args, rngs=rngs))
    model = nnx.Sequential(*layers)
    x, y = data(spec, batch, image)
    return flax_loop(model, optax.adam(LR), (np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y))


def equinox_runner(spec, batch, image):
    import equinox as eqx
    import jax
    import optax

    key = jax.random.key(0)
    layers = []
    for i, (kind, *args) in enumerate(spec):
        k = jax.random.fold_in(key, i)
        if kind == "conv":
            c_in, c_out, size, pad = args
            layers.append(eqx.nn.Conv2d(c_in, c_out, size, padding=pad, key=k))
        elif kind == "relu":
            layers.append(eqx.nn.Lambda(jax.nn.relu))
        elif kind == "pool":
            layers.append(eqx.nn.MaxPool2d(2, 2))
        elif kind == "flatten":
            layers.append(eqx.nn.Lambda(lambda x: x.reshape(-1)))
        elif kind == "linear":
            layers.append(eqx.nn.Linear(*args, key=k))
    model = eqx.nn.Sequential(layers)
    return equinox_loop(model, optax.adam(LR), data(spec, batch, image), lambda m, x: jax.vmap(m)(x))


def runners(spec, batch, image):
    """The five runners for one network, as a model module exports them (``_lenet.py``)."""
    return tuple(functools.partial(f, spec, batch, image)
                 for f in (fnet_runner, jax_runner, torch_runner, flax_runner, equinox_runner))


def models(spec, batch, image):
    """``(fnet_model, torch_model, data)`` for ``inference.py``: builders without arguments and
    ``data(batch) -> (x, y)``."""
    return (functools.partial(fnet_model, spec), functools.partial(torch_model, spec),
            lambda n=batch: data(spec, n, image))
