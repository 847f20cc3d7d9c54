"""fnet.train: the step builder, evaluate, fit (NaN stop, checkpoints, exact resume), plots."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fnet import data as D
from fnet import nn
from fnet import train as T
from fnet.train import _step


def xent(logits, target):
    return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()


def _setup(n=96, batch=16, seed=0):
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    ds = D.make_classification(n, n_features=4, n_classes=3, separation=5.0, seed=seed)
    loader = D.DataLoader(ds, batch_size=batch, shuffle=True, seed=seed)
    params, state = model.init(jax.random.key(seed))
    return model, loader, params, state


def test_train_step_learns_and_reports_accuracy():
    model, loader, params, state = _setup()
    opt = optax.sgd(0.2, momentum=0.9)
    step = T.make_train_step(model, xent, opt, check_finite=True)
    opt_state = opt.init(params)
    losses = []
    for epoch in range(8):
        for i, batch in enumerate(loader.iter_epoch(epoch)):
            params, state, opt_state, metrics = step(params, state, opt_state, batch, jax.random.key(i))
            losses.append(float(metrics["loss"]))
    assert losses[-1] < 0.5 * losses[0]
    assert set(metrics) == {"loss", "accuracy", "nonfinite"} and int(metrics["nonfinite"]) == -1
    result = T.evaluate(model, params, state, loader, xent)
    assert result["accuracy"] > 0.8


def test_fit_history_eval_and_plot(tmp_path):
    model, loader, params, state = _setup()
    result = T.fit(model, params, state, optax.adam(0.05), loader, xent, epochs=3, eval_loader=loader,
                   progress=True)
    h = result.history
    assert h["epoch"] == [1, 2, 3] and result.step == 3 * len(loader)
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "samples_per_second"} <= set(h)
    assert h["loss"][-1] < h["loss"][0]
    png = T.plot_history(h, str(tmp_path / "history.png"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_nan_stops_with_the_step_and_the_first_non_finite_tensor():
    model, loader, params, state = _setup()
    x = np.ones((8, 4), np.float32)
    x[3, 1] = np.nan
    bad = D.DataLoader(D.TensorDataset(x, np.zeros(8, np.int64)), batch_size=8)
    with pytest.raises(T.NonFiniteError, match=r"step 0 .*input batch leaf 0"):
        T.fit(model, params, state, optax.sgd(0.1), bad, xent, progress=False)
    # An exploding learning rate: the loss is finite at first, then a gradient overflows.
    big = D.DataLoader(D.TensorDataset(np.full((8, 4), 1e3, np.float32), np.zeros(8, np.int64)), batch_size=8)
    with pytest.raises(T.NonFiniteError, match=r"first non-finite tensor: (gradient of|updated parameter|model output|loss)"):
        T.fit(model, params, state, optax.sgd(1e30), big, xent, epochs=50, progress=False)


def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path):
    model, loader, params, state = _setup(n=80, batch=16)  # 5 steps per epoch
    opt = optax.adam(0.01)
    reference = T.fit(model, params, state, opt, loader, xent, epochs=3, progress=False,
                      key=jax.random.key(7))

    real_step = T.make_train_step(model, xent, opt)
    calls = {"n": 0}

    def crashing_step(*args):
        calls["n"] += 1
        if calls["n"] == 9:  # dies in the middle of epoch 2, after the checkpoint at step 6
            raise KeyboardInterrupt("power cut")
        return real_step(*args)

    ckpt = str(tmp_path / "ckpt")
    model2, _, params2, state2 = _setup(n=80, batch=16)
    with pytest.raises(KeyboardInterrupt):
        T.fit(model2, params2, state2, opt, loader, xent, epochs=3, progress=False, key=jax.random.key(7),
              checkpoint_dir=ckpt, checkpoint_every=3, train_step=crashing_step)
    assert T.latest_checkpoint(ckpt)["step"] == 6
    saved = T.load_checkpoint(ckpt, model2, opt)  # readable on its own, by tree path
    assert saved.step == 6 and jax.tree.structure(saved.opt_state) == jax.tree.structure(opt.init(params2))
    _, _, fresh_params, fresh_state = _setup(n=80, batch=16, seed=99)  # resume ignores these
    resumed = T.fit(model2, fresh_params, fresh_state, opt, loader, xent, epochs=3, progress=False,
                    key=jax.random.key(7), checkpoint_dir=ckpt, checkpoint_every=3)
    assert resumed.step == reference.step == 15
    for a, b in zip(jax.tree.leaves(reference.params), jax.tree.leaves(resumed.params)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jax.tree.leaves(reference.opt_state), jax.tree.leaves(resumed.opt_state)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(reference.history["loss"], resumed.history["loss"], rtol=1e-6)
    run = T.latest_checkpoint(ckpt)["run"]
    assert sorted(f for f in os.listdir(ckpt) if f.startswith("checkpoint-")) == [
        f"checkpoint-000000012-{run}", f"checkpoint-000000015-{run}"]


def test_batches_must_be_pairs_or_use_compute_loss():
    model, _, params, state = _setup()
    step = T.make_train_step(model, xent, optax.sgd(0.1), donate=False)
    with pytest.raises(TypeError, match="compute_loss"):
        step(params, state, optax.sgd(0.1).init(params), {"x": jnp.ones((2, 4))}, jax.random.key(0))

    def compute(model, params, state, batch, train, key):
        out, new_state = model.apply(params, state, batch["x"], train=train, key=key)
        return xent(out, batch["y"]), new_state, out, batch["y"]

    step = T.make_train_step(model, None, optax.sgd(0.1), compute_loss=compute)
    batch = {"x": jnp.ones((2, 4)), "y": jnp.array([0, 1])}
    _, _, _, metrics = step(params, state, optax.sgd(0.1).init(params), batch, jax.random.key(0))
    assert "accuracy" in metrics


def test_cheap_nonfinite_index_agrees_with_the_full_scan():
    # The step probes the loss and each updated parameter and runs the per-tensor scan only
    # when a probe is non-finite; wherever a NaN/inf reaches the loss or a parameter, the
    # index is the full scan's (which names the first non-finite tensor of the list).
    rng = np.random.default_rng(0)
    batch = (jnp.asarray(rng.standard_normal((4, 3)), jnp.float32), jnp.zeros(4, jnp.int32))
    output = jnp.asarray(rng.standard_normal((4, 2)), jnp.float32)
    grads = {"0": {"weight": jnp.ones((2, 3)), "bias": jnp.ones(2)}}
    params = {"0": {"weight": jnp.ones((2, 3)), "bias": jnp.ones(2)}}
    loss = jnp.asarray(0.5)

    def both(b, o, l, g, p):  # both under jit, which orders dict keys as the step sees them
        full = int(jax.jit(lambda *a: _step._first_nonfinite(_step._named_tensors(*a)))(b, o, l, g, p))
        cheap = int(jax.jit(_step._nonfinite_index)(b, o, l, g, p))
        return full, cheap

    assert both(batch, output, loss, grads, params) == (-1, -1)
    for value in (np.nan, np.inf, -np.inf):
        bad_param = {"0": {"weight": params["0"]["weight"].at[1, 2].set(value), "bias": params["0"]["bias"]}}
        full, cheap = both(batch, output, loss, grads, bad_param)
        assert full == cheap >= 0
        bad_grad = {"0": {"weight": grads["0"]["weight"], "bias": grads["0"]["bias"].at[0].set(value)}}
        full, cheap = both(batch, output, loss, bad_grad, bad_param)  # the gradient comes first
        assert full == cheap and full < len(_step._named_tensors(batch, output, loss, grads, params)) - 2
        full, cheap = both(batch.__class__((batch[0].at[0, 0].set(value), batch[1])), output,
                           jnp.asarray(value), grads, params)
        assert full == cheap == 0  # input batch leaf 0
    # Sums that overflow are only suspects: the full scan clears them.
    huge = {"0": {"weight": jnp.full((2, 3), 3e38), "bias": params["0"]["bias"]}}
    assert both(batch, output, loss, grads, huge) == (-1, -1)


def test_the_default_step_leaves_the_check_out_and_fit_still_checks_the_loss():
    model, loader, params, state = _setup()
    opt = optax.sgd(0.1)
    step = T.make_train_step(model, xent, opt, donate=False)  # check_finite=False by default
    _, _, _, metrics = step(params, state, opt.init(params), next(iter(loader)), None)
    assert set(metrics) == {"loss", "accuracy"}
    x = np.ones((8, 4), np.float32)
    x[3, 1] = np.nan
    bad = D.DataLoader(D.TensorDataset(x, np.zeros(8, np.int64)), batch_size=8)
    with pytest.raises(T.NonFiniteError, match=r"step 0 .*loss \(the train_step was built with check_finite=False\)"):
        T.fit(model, params, state, opt, bad, xent, progress=False, train_step=step)
    result = T.fit(model, params, state, opt, bad, xent, progress=False, check_finite=False)
    assert result.step == 1  # no check: the NaN step is taken


def _plateau_run(checkpoint_dir=None, epochs=6):
    from fnet.optim import SGD, lr_scheduler

    model, loader, params, state = _setup()
    # patience 0 and a demanding threshold: the lr falls after most epochs
    plateau = lr_scheduler.ReduceLROnPlateau(0.2, factor=0.5, patience=0, threshold=0.5)
    opt = optax.inject_hyperparams(SGD)(lr=plateau.lr, momentum=0.9)
    return T.fit(model, params, state, opt, loader, xent, epochs=epochs, eval_loader=loader, progress=False,
                 plateau=plateau, checkpoint_dir=checkpoint_dir), plateau


def test_fit_feeds_reduce_lr_on_plateau_like_torchs_loop():
    result, plateau = _plateau_run()
    h = result.history
    # torch's loop: scheduler.step(val_loss) after each epoch; the lr recorded is the next epoch's
    state = plateau.init()
    expected = []
    for val_loss in h["val_loss"]:
        state = plateau.step(state, val_loss)
        expected.append(state.lr)
    assert h["lr"] == expected and expected[-1] < plateau.lr
    lr_in_optimizer = float(result.opt_state.hyperparams["lr"])
    assert lr_in_optimizer == pytest.approx(expected[-1])


def test_plateau_state_survives_a_resume(tmp_path):
    full, _ = _plateau_run(str(tmp_path / "a"), epochs=6)
    _plateau_run(str(tmp_path / "b"), epochs=3)
    resumed, _ = _plateau_run(str(tmp_path / "b"), epochs=6)
    assert resumed.history["lr"] == full.history["lr"]
    for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(full.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_plateau_needs_an_injected_lr_and_a_recorded_metric():
    from fnet.optim import lr_scheduler

    model, loader, params, state = _setup()
    plateau = lr_scheduler.ReduceLROnPlateau(0.1)
    with pytest.raises(ValueError, match="inject_hyperparams"):
        T.fit(model, params, state, optax.sgd(0.1), loader, xent, progress=False, plateau=plateau)
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    with pytest.raises(ValueError, match="inject_hyperparams"):  # optax's own name for it is not 'lr'
        T.fit(model, params, state, opt, loader, xent, progress=False, plateau=plateau)
    from fnet.optim import SGD

    opt = optax.inject_hyperparams(SGD)(lr=0.1)
    with pytest.raises(ValueError, match="monitors 'val_loss'.*recorded: .*loss.*need an eval_loader"):
        T.fit(model, params, state, opt, loader, xent, progress=False, plateau=plateau)
