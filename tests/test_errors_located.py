"""Errors name the module once, at the module call: for fnet's layers and for user models.

Functional ops raise under their own names (``cross_entropy: ...``); the innermost module
call an error passes prepends ``path (Layer(...))`` and marks it, so outer modules leave it
alone. Also ``ctx.dropout_key(p)``: a key when training, None in eval.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
import fnet.functional as F
from fnet import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

    def forward(self, ctx, x):
        return self.layers(ctx, x)


class UserModel(nn.Module):
    """A custom model with a nested Sequential, as a user would write it."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(Block(), nn.Dropout(0.5))
        self.head = nn.Linear(2, 3)
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, ctx, x, target=None):
        logits = self.head(ctx, self.encoder(ctx, x))
        return logits if target is None else self.criterion(ctx, logits, target)


MODEL = UserModel()
PARAMS, STATE = MODEL.init(jax.random.key(0))
LINEAR = r"Linear\(in_features=4, out_features=8, bias=True\)"


def test_a_user_models_inner_linear_names_its_full_path_the_expectation_and_the_shape():
    with pytest.raises(ValueError) as info:
        MODEL.apply(PARAMS, STATE, jnp.ones((3, 5)))
    message = str(info.value)
    assert re.match(rf"^encoder\.0\.layers\.0 \({LINEAR}\): expected input \(\*, 4\), got shape \(3, 5\)$",
                    message), message
    assert message.count("encoder.0") == 1  # outer modules did not prefix it again


def test_the_same_error_under_jit_and_grad():
    def loss(p, x):
        return jnp.sum(MODEL.apply(p, STATE, x)[0])

    for fn in (jax.jit(loss), jax.grad(loss)):
        with pytest.raises(ValueError, match=rf"^encoder\.0\.layers\.0 \({LINEAR}\): expected input"):
            fn(PARAMS, jnp.ones((3, 5)))


def test_a_functional_op_raises_under_its_own_name_and_a_module_adds_its_path():
    logits = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"^cross_entropy: expected input batch_size \(3\) to match target batch_size \(5\)"):
        F.cross_entropy(logits, jnp.zeros((5,), jnp.int32))

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.loss = nn.CrossEntropyLoss()

        def forward(self, ctx, x, t):
            return self.loss(ctx, x, t)

    with pytest.raises(ValueError, match=r"^loss \(CrossEntropyLoss\(\)\): cross_entropy: expected input batch_size "
                                         r"\(3\) to match target batch_size \(5\)"):
        Head().apply({}, {}, logits, jnp.zeros((5,), jnp.int32))


def test_the_exception_keeps_its_type_and_the_traceback_its_origin():
    target = jnp.array([0, 1, 9])  # class 9 of 3: torch's IndexError
    with pytest.raises(IndexError, match=r"^criterion \(CrossEntropyLoss\(\)\): cross_entropy: .*9") as info:
        MODEL.apply(PARAMS, STATE, jnp.ones((3, 4)), target)
    frames = [frame.name for frame in info.traceback]
    assert frames[-1] != "located"  # the innermost frame is where the check failed, in fnet's op


def test_a_users_own_error_in_forward_gets_the_path_once():
    class Picky(nn.Module):
        def forward(self, ctx, x):
            if x.shape[-1] != 2:
                raise ValueError(f"expected 2 features, got {x.shape[-1]}")
            return x

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Identity(), Picky())

        def forward(self, ctx, x):
            return self.inner(ctx, x)

    with pytest.raises(ValueError, match=r"^inner\.1 \(Picky\(\)\): expected 2 features, got 3$"):
        Outer().apply({}, {}, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"^Picky\(\): expected 2 features, got 3$"):
        Picky().apply({}, {}, jnp.ones((1, 3)))


def test_errors_whose_text_is_not_their_message_get_a_note():
    class Lookup(nn.Module):
        def forward(self, ctx, x):
            return {"a": x}["b"]

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lookup = Lookup()

        def forward(self, ctx, x):
            return self.lookup(ctx, x)

    with pytest.raises(KeyError) as info:
        Outer().apply({}, {}, jnp.ones(2))
    assert info.value.args == ("b",)  # a KeyError's key is left as it was
    assert info.value.__notes__ == ["(raised in lookup (Lookup()))"]


def test_a_missing_key_in_training_names_the_dropout_layer():
    with pytest.raises(ValueError, match=r"^encoder\.1 \(Dropout\(p=0.5, inplace=False\)\): train=True draws "
                                         r"random numbers and needs a PRNG key"):
        MODEL.apply(PARAMS, STATE, jnp.ones((3, 4)), train=True)


# -- ctx.dropout_key ---------------------------------------------------------------------------------

class TorchStyle(nn.Module):
    """torch's ``F.dropout(x, self.p, self.training)`` ported with one ctx call, no conditional."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.fc = nn.Linear(16, 16)

    def forward(self, ctx, x):
        return F.dropout(self.fc(ctx, x), self.p, ctx.train, key=ctx.dropout_key(self.p))


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_key_eval_needs_no_key_and_is_the_identity(p):
    model = TorchStyle(p)
    params, state = model.init(jax.random.key(0))
    x = jnp.ones((4, 16))
    out, _ = model.apply(params, state, x)  # eval, no key
    np.testing.assert_array_equal(out, model.fc.apply(params["fc"], {}, x)[0])


def test_dropout_key_training_draws_and_needs_a_key():
    model = TorchStyle(0.5)
    params, state = model.init(jax.random.key(0))
    x = jnp.ones((64, 16))
    a, _ = model.apply(params, state, x, train=True, key=jax.random.key(1))
    b, _ = model.apply(params, state, x, train=True, key=jax.random.key(2))
    dense = model.fc.apply(params["fc"], {}, x)[0]
    assert 0.3 < float(jnp.mean(a == 0)) < 0.7
    assert not np.array_equal(a, b)
    np.testing.assert_allclose(a[a != 0], (2 * dense)[a != 0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"^TorchStyle\(\): train=True draws random numbers and needs a PRNG key"):
        model.apply(params, state, x, train=True)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_dropout_key_is_none_when_nothing_is_drawn(p):
    model = TorchStyle(p)
    params, state = model.init(jax.random.key(0))
    out, _ = model.apply(params, state, jnp.ones((4, 16)), train=True)  # no key needed
    if p == 1.0:
        assert not np.any(out)


def test_fnet_layers_train_without_a_key_when_their_dropout_is_zero():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    params, state = layer.init(jax.random.key(0))
    out, _ = layer.apply(params, state, jnp.ones((3, 2, 8)), train=True)
    assert out.shape == (3, 2, 8)
    lstm = nn.LSTM(4, 4, num_layers=2, dropout=0.0)
    p, s = lstm.init(jax.random.key(0))
    lstm.apply(p, s, jnp.ones((5, 2, 4)), train=True)
    seq = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    with pytest.raises(ValueError, match=r"^1 \(Dropout\(p=0.5, inplace=False\)\): train=True"):
        seq.apply(*seq.init(jax.random.key(0)), jnp.ones((1, 2)), train=True)


def test_fnet_checks_under_jit_name_the_module_through_the_same_place():
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)

        def forward(self, ctx, ids):
            return self.emb(ctx, ids)

    params, state = Tagger().init(jax.random.key(0))
    step = fnet.debug.checked(lambda p, ids: Tagger().apply(p, state, ids)[0])
    with pytest.raises(fnet.debug.CheckError, match=r"^emb \(Embedding\(10, 4\)\): embedding: .*12"):
        step(params, jnp.array([[1, 12]]))
