"""Mixed precision: bf16 compute with float32 master weights, float16 loss scaling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnet import data as D
from fnet import nn, precision
from fnet import train as T


def xent(logits, target):
    return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()


def _model():
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))


def test_policy_computes_in_bf16_and_returns_float32_with_float32_params():
    model = _model()
    fast = precision.mixed_precision(model)
    params, state = fast.init(jax.random.key(0))
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
    x = jnp.asarray(np.random.default_rng(0).standard_normal((16, 8)), jnp.float32)
    jaxpr = jax.make_jaxpr(lambda p: fast.apply(p, state, x)[0])(params)
    assert "bf16" in str(jaxpr)
    out, _ = fast.apply(params, state, x)
    ref, _ = model.apply(params, state, x)
    assert out.dtype == jnp.float32
    rel = float(jnp.linalg.norm(out - ref) / jnp.linalg.norm(ref))
    assert rel < 2e-2
    grads = jax.grad(lambda p: xent(fast.apply(p, state, x)[0], jnp.zeros(16, jnp.int32)))(params)
    assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(grads))


def test_fit_with_bf16_policy_learns():
    model = precision.mixed_precision(_model())
    params, state = model.init(jax.random.key(0))
    loader = D.DataLoader(D.make_classification(128, n_features=8, n_classes=4, separation=5.0),
                          batch_size=32, shuffle=True)
    result = T.fit(model, params, state, optax.adam(1e-2), loader, xent, epochs=5, progress=False)
    assert result.history["loss"][-1] < 0.5 * result.history["loss"][0]


def test_grad_scaler_skips_overflowing_steps_and_adapts_the_scale():
    model = precision.mixed_precision(_model(), precision.Policy(compute_dtype="float16"))
    params, state = model.init(jax.random.key(0))
    scaler = precision.GradScaler(init_scale=2.0 ** 40, growth_interval=2)
    opt = precision.scaled_optimizer(optax.sgd(0.1), scaler)
    step = T.make_train_step(model, xent, opt, grad_scaler=scaler, donate=False)
    opt_state = opt.init(params)
    x = jnp.asarray(np.random.default_rng(0).standard_normal((16, 8)), jnp.float32)
    batch = (x, jnp.zeros(16, jnp.int32))
    new_params, _, opt_state, metrics = step(params, state, opt_state, batch, None)
    # 2**40 overflows float16 gradients: the update is skipped and the scale halves.
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(new_params)):
        np.testing.assert_array_equal(a, b)
    assert float(metrics["loss_scale"]) == 2.0 ** 39
    scales = []
    for _ in range(40):
        new_params, _, opt_state, metrics = step(new_params, state, opt_state, batch, None)
        scales.append(float(metrics["loss_scale"]))
    assert min(scales) < 2.0 ** 20 and scales[-1] >= min(scales)  # backed off, then grows again
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(new_params)))
