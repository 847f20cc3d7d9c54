"""fnet.optim beyond parity: refusals like torch's, purity, jit, parameter groups, precision."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import fnet
from fnet import nn, optim
from fnet.optim import lr_scheduler as sched
from fnet.parity import precision

PARAMS = {"fc": {"weight": jnp.ones((3, 2)), "bias": jnp.zeros(3)},
          "LayerNorm": {"weight": jnp.ones(3), "bias": jnp.zeros(3)}}
GRADS = jax.tree.map(lambda p: jnp.full_like(p, 0.5), PARAMS)


def _step(opt, params=PARAMS, grads=GRADS):
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    return optax.apply_updates(params, updates), state


# ---------------------------------------------------------------------------------------
# invalid hyperparameters: torch refuses them, fnet refuses them with a clear message

INVALID = [
    ("SGD", {"lr": -0.1}, "learning rate"),
    ("SGD", {"momentum": -0.5}, "momentum"),
    ("SGD", {"weight_decay": -1e-4}, "weight_decay"),
    ("SGD", {"nesterov": True}, "Nesterov"),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov"),
    ("Adam", {"lr": -1e-3}, "learning rate"),
    ("Adam", {"betas": (1.0, 0.999)}, "index 0"),
    ("Adam", {"betas": (0.9, -0.1)}, "index 1"),
    ("Adam", {"eps": -1e-8}, "epsilon"),
    ("Adam", {"weight_decay": -0.1}, "weight_decay"),
    ("AdamW", {"betas": (0.9, 1.5)}, "index 1"),
    ("AdamW", {"lr": -1.0}, "learning rate"),
    ("RMSprop", {"alpha": -0.1}, "alpha"),
    ("RMSprop", {"eps": -1.0}, "epsilon"),
    ("RMSprop", {"momentum": -0.9}, "momentum"),
    ("Adagrad", {"lr_decay": -0.1}, "lr_decay"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "initial accumulator"),
    ("Adagrad", {"eps": -1.0}, "epsilon"),
    ("Adadelta", {"rho": 1.5}, "rho"),
    ("Adadelta", {"rho": -0.1}, "rho"),
    ("Adamax", {"betas": (0.9, 1.0)}, "index 1"),
    ("NAdam", {"momentum_decay": -1e-3}, "momentum_decay"),
    ("NAdam", {"betas": (-0.1, 0.999)}, "index 0"),
    ("RAdam", {"eps": -1e-8}, "epsilon"),
    ("RAdam", {"weight_decay": -0.01}, "weight_decay"),
    ("Rprop", {"lr": -0.1}, "learning rate"),
    ("Rprop", {"etas": (1.5, 1.2)}, "eta"),
    ("Rprop", {"etas": (0.5, 0.9)}, "eta"),
    ("ASGD", {"lr": -0.1}, "learning rate"),
    ("ASGD", {"weight_decay": -0.1}, "weight_decay"),
    ("Adafactor", {"lr": -1.0}, "learning rate"),
    ("Adafactor", {"beta2_decay": 0.5}, "beta2_decay"),
    ("Adafactor", {"eps": (-1.0, 1e-3)}, "epsilon1"),
    ("Adafactor", {"eps": (None, -1.0)}, "epsilon2"),
    ("Adafactor", {"d": 0.5}, "threshold"),
    ("Adafactor", {"weight_decay": -1.0}, "weight_decay"),
    ("Muon", {"lr": -1.0}, "learning rate"),
    ("Muon", {"momentum": -0.1}, "momentum"),
    ("Muon", {"weight_decay": -0.1}, "weight_decay"),
    ("Muon", {"adjust_lr_fn": "sqrt"}, "adjust_lr_fn"),
    ("SparseAdam", {"lr": 0.0}, "learning rate"),
    ("SparseAdam", {"eps": 0.0}, "epsilon"),
    ("SparseAdam", {"betas": (1.0, 0.9)}, "index 0"),
]


@pytest.mark.parametrize("name,kwargs,words", INVALID, ids=[f"{n}-{k}" for n, k, _ in INVALID])
def test_invalid_hyperparameters_raise_like_torch(name, kwargs, words):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=words) as info:
        getattr(optim, name)(**kwargs)
    assert str(info.value).startswith(name + ":"), "the message names the optimizer"
    assert "expected" in str(info.value)


@pytest.mark.parametrize("kwargs", [{"lr": "0.1"}, {"lr": None}, {"betas": 0.9}, {"betas": (0.9,)},
                                    {"amsgrad": "yes"}])
def test_wrong_types_raise_type_error(kwargs):
    with pytest.raises(TypeError, match="Adam"):
        optim.Adam(**kwargs)


OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop", "ASGD",
              "Adafactor", "Muon", "SparseAdam", "LBFGS")


def test_defaults_are_torch_defaults():
    import inspect

    for name in OPTIMIZERS:
        ours = inspect.signature(getattr(optim, name)).parameters
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        for arg, param in theirs.items():
            if arg in ("self", "params"):
                continue
            assert arg in ours, f"{name} lacks torch's argument {arg}"
            assert ours[arg].default == param.default, f"{name}({arg}) default differs from torch"
            assert ours[arg].kind == param.kind or param.kind == param.POSITIONAL_OR_KEYWORD, (name, arg)
        # torch's positional hyperparameters, in order (its implementation flags, and
        # RMSprop's maximize, are keyword-only in fnet).
        flags = ("self", "params", "foreach", "capturable", "differentiable", "fused", "maximize")
        positional = [a for a, p in theirs.items() if p.kind == p.POSITIONAL_OR_KEYWORD and a not in flags]
        assert [a for a, p in ours.items() if p.kind == p.POSITIONAL_OR_KEYWORD][:len(positional)] == positional, name


# ---------------------------------------------------------------------------------------
# purity and jit

ALL = {"SGD-dampening": optim.SGD(lr=0.1, momentum=0.9, dampening=0.1),
       "SGD-nesterov": optim.SGD(lr=0.1, momentum=0.9, nesterov=True),
       "Adam-amsgrad": optim.Adam(amsgrad=True, weight_decay=0.1), "AdamW": optim.AdamW(),
       "RMSprop": optim.RMSprop(centered=True, momentum=0.5), "Adagrad": optim.Adagrad(lr_decay=0.1),
       "Adadelta": optim.Adadelta(), "Adamax": optim.Adamax(), "NAdam": optim.NAdam(), "RAdam": optim.RAdam(),
       "Rprop": optim.Rprop(maximize=True), "ASGD": optim.ASGD(t0=0, weight_decay=0.1),
       "Adafactor": optim.Adafactor(weight_decay=0.1, maximize=True), "SparseAdam": optim.SparseAdam(),
       "AdamW-groups-schedule": optim.AdamW(lr=sched.OneCycleLR(0.1, total_steps=10),
                                            param_groups=[{"params": "*.bias", "weight_decay": 0.0}])}


@pytest.mark.parametrize("opt", list(ALL.values()), ids=list(ALL))
def test_update_is_pure_and_jittable(opt):
    state = opt.init(PARAMS)
    before = jax.tree.map(np.asarray, state)
    u1, s1 = opt.update(GRADS, state, PARAMS)
    u2, s2 = jax.jit(opt.update)(GRADS, state, PARAMS)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), b), state, before)  # untouched
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), u1, u2)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), s1, s2)
    assert jax.tree.structure(s1) == jax.tree.structure(state)


def test_training_loop_under_jit_decreases_loss():
    model = nn.Linear(4, 1)
    params, _ = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (32, 4))
    y = x @ jnp.array([[1.0], [-2.0], [0.5], [3.0]])
    opt = optax.chain(optim.clip_grad_norm(10.0), optim.Adam(lr=0.1))

    def loss_fn(p):
        return jnp.mean((model.apply(p, {}, x)[0] - y) ** 2)

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    state = opt.init(params)
    first = None
    for _ in range(60):
        params, state, loss = step(params, state)
        first = loss if first is None else first
    assert float(loss) < 0.01 * float(first)


def test_inject_hyperparams_changes_lr_between_steps():
    opt = optax.inject_hyperparams(optim.AdamW)(lr=1e-3, weight_decay=0.1)
    state = opt.init(PARAMS)
    u1, state = jax.jit(opt.update)(GRADS, state, PARAMS)
    state.hyperparams["lr"] = jnp.asarray(2e-3)
    u2, state = jax.jit(opt.update)(GRADS, state, PARAMS)
    ref = optim.AdamW(lr=2e-3, weight_decay=0.1)
    s = ref.init(PARAMS)
    _, s = ref.update(GRADS, s, PARAMS)
    r2, _ = ref.update(GRADS, s, PARAMS)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), u2, r2)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD(lr=jnp.asarray(-1.0))


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
                                         ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.2}),
                                         ("RMSprop", {"momentum": 0.5, "centered": True}),
                                         ("Adagrad", {"lr_decay": 0.1}), ("Adadelta", {}), ("NAdam", {}),
                                         ("RAdam", {"weight_decay": 0.1}), ("ASGD", {"t0": 1})])
def test_inject_hyperparams_matches_the_plain_optimizer(name, kwargs):
    injected = optax.inject_hyperparams(getattr(optim, name))(**kwargs)
    plain = getattr(optim, name)(**kwargs)
    s1, s2 = injected.init(PARAMS), plain.init(PARAMS)
    update = jax.jit(injected.update)
    for _ in range(3):
        u1, s1 = update(GRADS, s1, PARAMS)
        u2, s2 = plain.update(GRADS, s2, PARAMS)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-8), u1, u2)


def test_state_uses_torch_names():
    state = optim.Adam(amsgrad=True).init(PARAMS)
    inner = state[0]  # chain: (scale_by_torch_adam, scale_by_learning_rate)
    assert type(inner).__name__ == "AMSGradState"
    assert inner._fields == ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    assert optim.Adagrad().init(PARAMS)[0]._fields == ("step", "sum")


def test_maximize_is_descent_on_the_negated_gradient():
    up, _ = _step(optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True))
    neg = jax.tree.map(lambda g: -g, GRADS)
    down, _ = _step(optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.1), grads=neg)
    jax.tree.map(np.testing.assert_allclose, up, down)


def test_update_without_params_when_weight_decay_needs_them():
    opt = optim.AdamW()
    with pytest.raises(ValueError):
        opt.update(GRADS, opt.init(PARAMS))
    opt = optim.Adam()  # no weight decay: params are not needed, as optax
    opt.update(GRADS, opt.init(PARAMS))


# ---------------------------------------------------------------------------------------
# precision: float64 stays float64, bfloat16 stays bfloat16


def test_float64_params_compute_in_float64():
    with precision("float64"):
        p = {"w": jnp.full((3,), 1.0, jnp.float64)}
        g = {"w": jnp.full((3,), 1e-3, jnp.float64)}
        for opt in (optim.Adam(amsgrad=True), optim.NAdam(), optim.RAdam(), optim.Adagrad(lr_decay=0.1),
                    optim.SGD(lr=sched.CosineAnnealingLR(0.1, 10))):
            state = opt.init(p)
            u, state = jax.jit(opt.update)(g, state, p)
            assert u["w"].dtype == jnp.float64
            floats = [x for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.floating)]
            assert all(x.dtype == jnp.float64 for x in floats), [x.dtype for x in floats]
        # Adam's first step is exactly -lr * sign(g) up to eps: float32 constants would show.
        u, _ = optim.Adam(lr=1.0, eps=0.0).update(g, optim.Adam().init(p), p)
        np.testing.assert_allclose(np.asarray(u["w"]), -1.0, rtol=1e-15)


def test_bfloat16_params_keep_their_dtype():
    p = {"w": jnp.ones((4,), jnp.bfloat16)}
    g = {"w": jnp.full((4,), 0.25, jnp.bfloat16)}
    for opt in (optim.Adam(), optim.NAdam(), optim.RAdam(), optim.Adamax(), optim.Adagrad(lr_decay=0.1),
                optim.RMSprop(centered=True)):
        u, _ = opt.update(g, opt.init(p), p)
        assert u["w"].dtype == jnp.bfloat16, type(opt)


def test_bias_correction_is_accurate_in_float32():
    from fnet.optim._base import one_minus_pow

    t = jnp.arange(1, 2000, dtype=jnp.float32)
    want = 1.0 - 0.999 ** np.arange(1, 2000, dtype=np.float64)
    got = np.asarray(one_minus_pow(0.999, t), np.float64)
    assert np.max(np.abs(got / want - 1)) < 1e-6  # optax's 1 - b ** count: 1.3e-5


def test_radam_rho_matches_double_formula():
    from fnet.optim._adam import _radam_rho

    for b2 in (0.999, 0.99, 0.9, 0.5):
        t = np.arange(1, 3000, dtype=np.float64)
        rho_inf = 2 / (1 - b2) - 1
        want = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        with precision("float64"):
            got = np.asarray(_radam_rho(b2, jnp.asarray(t)))
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-10)
        got32 = np.asarray(_radam_rho(b2, jnp.asarray(t, jnp.float32)), np.float64)
        np.testing.assert_allclose(got32, want, rtol=5e-7, atol=1e-5)


# ---------------------------------------------------------------------------------------
# parameter groups


def _moved(new, old=PARAMS):
    a, b = fnet.state_dict(new), fnet.state_dict(old)
    return {k: not np.allclose(a[k], b[k]) for k in a}


def test_param_groups_select_leaves_by_glob():
    opt = optim.SGD(lr=0.1, param_groups=[{"params": ["*.bias", "*LayerNorm*"], "lr": 0.0}])
    new, _ = _step(opt)
    assert _moved(new) == {"fc.weight": True, "fc.bias": False, "LayerNorm.weight": False, "LayerNorm.bias": False}


def test_param_groups_predicates_on_name_and_on_param():
    by_name = optim.SGD(lr=0.1, param_groups=[{"params": lambda n: n.endswith("weight"), "lr": 0.0}])
    assert _moved(_step(by_name)[0]) == {"fc.weight": False, "fc.bias": True, "LayerNorm.weight": False,
                                         "LayerNorm.bias": True}
    by_ndim = optim.SGD(lr=0.1, param_groups=[{"params": lambda n, p: p.ndim >= 2, "lr": 0.0}])
    assert _moved(_step(by_ndim)[0]) == {"fc.weight": False, "fc.bias": True, "LayerNorm.weight": True,
                                         "LayerNorm.bias": True}


def test_param_groups_override_each_hyperparameter_independently():
    opt = optim.AdamW(lr=0.1, weight_decay=0.5, param_groups=[
        {"params": "fc.bias", "weight_decay": 0.0}, {"params": "LayerNorm.*", "lr": 0.01}])
    zero = jax.tree.map(jnp.zeros_like, GRADS)  # zero gradient: only the decay moves weights
    params = jax.tree.map(lambda p: p + 1.0, PARAMS)
    new, _ = _step(opt, params, zero)
    np.testing.assert_allclose(new["fc"]["weight"], 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_allclose(new["fc"]["bias"], 1.0)
    np.testing.assert_allclose(new["LayerNorm"]["weight"], 2.0 * (1 - 0.01 * 0.5), rtol=1e-6)


def test_param_groups_on_a_real_model_and_under_jit():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    params, _ = model.init(jax.random.key(0))
    opt = optim.SGD(lr=1.0, param_groups=[{"params": "2.*", "lr": 0.0}])
    grads = jax.tree.map(jnp.ones_like, params)
    state = opt.init(params)
    updates, _ = jax.jit(opt.update)(grads, state, params)
    flat = fnet.state_dict(updates)
    assert np.all(flat["0.weight"] == -1.0) and np.all(flat["0.bias"] == -1.0)
    assert np.all(flat["2.weight"] == 0.0) and np.all(flat["2.bias"] == 0.0)


def test_param_groups_refusals():
    with pytest.raises(ValueError, match="only one group"):
        optim.SGD(param_groups=[{"params": "*.bias"}, {"params": "fc.*"}]).init(PARAMS)
    with pytest.raises(ValueError, match="weight_deacy"):
        optim.AdamW(param_groups=[{"params": "*.bias", "weight_deacy": 0.0}])
    with pytest.raises(ValueError, match="'params'"):
        optim.AdamW(param_groups=[{"weight_decay": 0.0}])
    with pytest.raises(TypeError, match="glob pattern"):
        optim.AdamW(param_groups=[{"params": 3}])
    with pytest.raises(TypeError, match="list of dicts"):
        optim.AdamW(param_groups={"params": "*.bias"})
    with pytest.raises(ValueError, match=r"param_groups\[0\]: invalid learning rate"):
        optim.SGD(param_groups=[{"params": "*.bias", "lr": -1.0}])


def test_param_group_matching_nothing_is_allowed_like_an_empty_torch_group():
    new, _ = _step(optim.SGD(lr=0.1, param_groups=[{"params": "*.running_mean", "lr": 0.0}]))
    assert all(_moved(new)[k] for k in ("fc.weight", "LayerNorm.weight"))


# ---------------------------------------------------------------------------------------
# clipping


def test_clip_grad_norm_returns_tree_and_norm():
    grads = {"a": jnp.array([3.0, 4.0]), "b": {"c": jnp.array([0.0])}}
    clipped, norm = optim.clip_grad_norm_(grads, 1.0)
    assert float(norm) == pytest.approx(5.0)
    assert jax.tree.structure(clipped) == jax.tree.structure(grads)
    np.testing.assert_allclose(clipped["a"], np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-6)
    _, norm = optim.clip_grad_norm_({}, 1.0)
    assert float(norm) == 0.0


def test_clip_grad_norm_error_if_nonfinite():
    grads = {"a": jnp.array([1.0, jnp.nan])}
    with pytest.raises(RuntimeError, match="non-finite|nan"):
        optim.clip_grad_norm_(grads, 1.0, error_if_nonfinite=True)
    clipped, norm = optim.clip_grad_norm_(grads, 1.0)  # torch scales by the nan norm anyway
    assert math.isnan(float(norm)) and np.isnan(np.asarray(clipped["a"])).all()
    with pytest.raises(TypeError, match="concrete"):
        jax.jit(lambda g: optim.clip_grad_norm_(g, 1.0, error_if_nonfinite=True))(grads)
    with pytest.raises(ValueError, match="norm_type"):
        optim.clip_grad_norm_(grads, 1.0, norm_type="fro")


def test_clip_grad_value_and_transforms():
    g = {"a": jnp.array([-3.0, 0.2, 5.0])}
    np.testing.assert_allclose(optim.clip_grad_value_(g, 1.0)["a"], [-1.0, 0.2, 1.0], rtol=1e-7)
    u, _ = optim.clip_grad_value(1.0).update(g, optim.clip_grad_value(1.0).init(g))
    np.testing.assert_allclose(u["a"], [-1.0, 0.2, 1.0], rtol=1e-7)
    tx = optim.clip_grad_norm(1.0, norm_type="inf")
    u, _ = jax.jit(tx.update)(g, tx.init(g))
    np.testing.assert_allclose(u["a"], np.array([-3.0, 0.2, 5.0]) / (5.0 + 1e-6), rtol=1e-6)
    with pytest.raises(ValueError, match="clip_value"):
        optim.clip_grad_value(-1.0)


# ---------------------------------------------------------------------------------------
# schedules


SCHEDULES = [sched.StepLR(0.1, 3), sched.MultiStepLR(0.1, [2, 5]), sched.ConstantLR(0.1), sched.LinearLR(0.1),
             sched.ExponentialLR(0.1, 0.9), sched.PolynomialLR(0.1), sched.CosineAnnealingLR(0.1, 5),
             sched.LambdaLR(0.1, lambda e: 0.9 ** e),
             sched.SequentialLR([sched.LinearLR(0.1), sched.ExponentialLR(0.1, 0.9)], [4]),
             sched.OneCycleLR(0.1, total_steps=10), sched.get_cosine_schedule_with_warmup(0.1, 2, 10),
             sched.get_linear_schedule_with_warmup(0.1, 2, 10),
             sched.MultiplicativeLR(0.1, lambda e: 0.9), sched.CyclicLR(0.01, 0.1, 3, mode="triangular2"),
             sched.CosineAnnealingWarmRestarts(0.1, 2, T_mult=2),
             sched.ChainedScheduler([sched.StepLR(0.1, 3), sched.LinearLR(0.1)])]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=[f"{type(s).__name__}{i}" for i, s in enumerate(SCHEDULES)])
def test_schedules_are_jit_safe_and_static(schedule):
    eager = [float(schedule(i)) for i in range(10)]
    jitted = [float(jax.jit(schedule)(jnp.int32(i))) for i in range(10)]
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    static = jax.jit(lambda s, step: s(step), static_argnums=0)
    assert float(static(schedule, 3)) == pytest.approx(eager[3], rel=1e-6)
    assert hash(schedule) is not None


def test_schedule_as_lr_counts_updates():
    opt = optim.SGD(lr=sched.StepLR(1.0, step_size=2, gamma=0.5))
    p = {"w": jnp.zeros(())}
    g = {"w": jnp.ones(())}
    state = opt.init(p)
    steps = []
    for _ in range(5):
        u, state = opt.update(g, state, p)
        steps.append(-float(u["w"]))
    assert steps == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_schedule_refusals():
    with pytest.raises(ValueError, match="step_size"):
        sched.StepLR(0.1, 0)
    with pytest.raises(ValueError, match="start_factor"):
        sched.LinearLR(0.1, start_factor=0.0)
    with pytest.raises(ValueError, match="factor"):
        sched.ConstantLR(0.1, factor=1.5)
    with pytest.raises(ValueError, match="total_steps"):
        sched.OneCycleLR(0.1)
    with pytest.raises(ValueError, match="pct_start"):
        sched.OneCycleLR(0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        sched.OneCycleLR(0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="milestones"):
        sched.SequentialLR([sched.ConstantLR(0.1)], [3])
    with pytest.raises(ValueError, match="total steps"):
        sched.OneCycleLR(0.1, total_steps=10)(11)
    with pytest.raises(ValueError, match="step >= 0"):
        sched.StepLR(0.1, 3)(-1)
    with pytest.raises(TypeError, match="integer step"):
        sched.StepLR(0.1, 3)(1.5)
    # past total_steps under jit: the last value is held (torch would raise)
    last = float(sched.OneCycleLR(0.1, total_steps=10)(10))
    assert float(jax.jit(sched.OneCycleLR(0.1, total_steps=10))(jnp.int32(50))) == pytest.approx(last)


def test_onecycle_momentum_needs_cycle_momentum():
    with pytest.raises(ValueError, match="cycle_momentum"):
        sched.OneCycleLR(0.1, total_steps=10, cycle_momentum=False).momentum(0)
    assert float(sched.OneCycleLR(0.1, total_steps=10).momentum(0)) == pytest.approx(0.95)


# ---------------------------------------------------------------------------------------
# Rprop, ASGD


@pytest.mark.parametrize("kwargs,error,words", [
    ({"lr": sched.StepLR(0.1, 3)}, TypeError, "reads lr once"),
    ({"step_sizes": (1.0, 0.1)}, ValueError, "step_sizes"),
    ({"step_sizes": (-1.0, 0.1)}, ValueError, "step_sizes"),
    ({"step_sizes": 0.1}, TypeError, "pair"),
    ({"etas": ("a", 1.2)}, TypeError, r"etas\[0\]"),
])
def test_rprop_refusals(kwargs, error, words):
    with pytest.raises(error, match=words):
        optim.Rprop(**kwargs)


def test_rprop_sign_flip_skips_the_step_and_shrinks():
    opt = optim.Rprop(lr=0.1, etas=(0.5, 1.2))
    p = {"w": jnp.zeros(2)}
    state = opt.init(p)
    u1, state = opt.update({"w": jnp.array([1.0, 1.0])}, state, p)
    u2, state = opt.update({"w": jnp.array([1.0, -1.0])}, state, p)
    np.testing.assert_allclose(u1["w"], [-0.1, -0.1], rtol=1e-6)
    np.testing.assert_allclose(u2["w"], [-0.12, 0.0], rtol=1e-6)  # flipped: no step, size halved
    np.testing.assert_allclose(optax.tree.get(state, "step_size")["w"], [0.12, 0.05], rtol=1e-6)
    np.testing.assert_array_equal(optax.tree.get(state, "prev")["w"], [1.0, 0.0])


@pytest.mark.parametrize("kwargs,error,words", [
    ({"lambd": -1.0}, ValueError, "lambd"),
    ({"t0": -1.0}, ValueError, "t0"),
    ({"alpha": "x"}, TypeError, "alpha"),
])
def test_asgd_refusals(kwargs, error, words):
    with pytest.raises(error, match=words):
        optim.ASGD(**kwargs)


def test_asgd_needs_params_and_averages_after_t0():
    opt = optim.ASGD(lr=0.1, lambd=0.0, t0=1)
    with pytest.raises(ValueError, match="parameters"):
        opt.update(GRADS, opt.init(PARAMS))
    p = {"w": jnp.zeros(())}
    state = opt.init(p)
    seen = []
    for _ in range(4):
        u, state = opt.update({"w": jnp.ones(())}, state, p)
        p = optax.apply_updates(p, u)
        seen.append(float(p["w"]))
    # step t uses mu = 1 / max(1, (t - 1) - t0): ax copies p for steps 1-3, then averages p3, p4
    ax = float(optax.tree.get(state, "ax")["w"])
    assert seen == pytest.approx([-0.1, -0.2, -0.3, -0.4], rel=1e-5)
    assert ax == pytest.approx((-0.3 - 0.4) / 2, rel=1e-5)


# ---------------------------------------------------------------------------------------
# Adafactor, Muon, SparseAdam


def test_adafactor_state_is_factored_like_torch():
    params = {"conv": jnp.ones((2, 3, 4)), "bias": jnp.ones(4), "scale": jnp.ones(())}
    state = optim.Adafactor().init(params)
    row, col, var = (optax.tree.get(state, k) for k in ("row_var", "col_var", "variance"))
    assert row["conv"].shape == (2, 3, 1) and col["conv"].shape == (2, 1, 4) and var["conv"].shape == (0,)
    assert var["bias"].shape == (4,) and row["bias"].shape == (0,) and var["scale"].shape == ()
    u, _ = jax.jit(optim.Adafactor().update)(jax.tree.map(jnp.ones_like, params), state, params)
    assert jax.tree.map(jnp.shape, u) == jax.tree.map(jnp.shape, params)
    with pytest.raises(TypeError, match="pair"):
        optim.Adafactor(eps=1e-3)


def test_muon_takes_only_matrices_and_names_the_others():
    opt = optim.Muon(lr=0.02)
    with pytest.raises(ValueError, match=r"'LayerNorm\.bias' to be 2-D, got shape \(3,\)"):
        opt.init(PARAMS)
    with pytest.raises(ValueError, match="ns_steps"):
        optim.Muon(ns_steps=100)
    with pytest.raises(ValueError, match="ns_coefficients"):
        optim.Muon(ns_coefficients=(1.0, 2.0))
    muon_and_adamw = optax.partition(
        {"muon": optim.Muon(lr=0.02), "adamw": optim.AdamW()},
        lambda tree: jax.tree.map(lambda p: "muon" if p.ndim == 2 else "adamw", tree))
    new, _ = _step(muon_and_adamw)
    assert all(_moved(new).values())


def test_newton_schulz_is_nearly_orthogonal_and_bfloat16():
    from fnet.optim._muon import zeropower_via_newtonschulz

    g = jax.random.normal(jax.random.key(0), (6, 16))
    o = zeropower_via_newtonschulz(g, (3.4445, -4.775, 2.0315), 5, 1e-7)
    assert o.dtype == jnp.bfloat16 and o.shape == (6, 16)
    singular = np.linalg.svd(np.asarray(o, np.float32), compute_uv=False)
    assert 0.5 < singular.min() and singular.max() < 1.5  # torch's documented S' ~ U(0.5, 1.5)
    tall = zeropower_via_newtonschulz(g.T, (3.4445, -4.775, 2.0315), 5, 1e-7)
    np.testing.assert_array_equal(np.asarray(tall, np.float32), np.asarray(o, np.float32).T)


def test_newton_schulz_equals_torch_bit_for_bit_on_small_matrices():
    from torch.optim._muon import _zeropower_via_newtonschulz

    from fnet.optim._muon import zeropower_via_newtonschulz

    rng = np.random.default_rng(0)
    for shape in ((5, 4), (4, 7), (16, 32)):
        g = rng.standard_normal(shape).astype(np.float32)
        want = _zeropower_via_newtonschulz(torch.tensor(g), (3.4445, -4.775, 2.0315), 5, 1e-7).float().numpy()
        got = np.asarray(zeropower_via_newtonschulz(jnp.asarray(g), (3.4445, -4.775, 2.0315), 5, 1e-7), np.float32)
        np.testing.assert_array_equal(got, want)


def test_sparse_adam_leaves_absent_rows_alone():
    params = {"emb": jnp.ones((4, 3)), "bias": jnp.ones(3)}
    grads = {"emb": jnp.array([[0.0, 0.0, 0.0], [1.0, 0.0, -2.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]),
             "bias": jnp.array([0.0, 1.0, 0.0])}
    opt = optim.SparseAdam(lr=0.1)
    state = opt.init(params)
    u, state = opt.update(grads, state, params)
    assert np.all(u["emb"][0] == 0) and np.all(u["emb"][2] == 0)
    # a present row moves entirely, its zero entry too (its moments decay, as torch's)
    np.testing.assert_allclose(u["emb"][1], [-0.1, 0.0, 0.1], atol=1e-6)
    np.testing.assert_array_equal(np.asarray(u["bias"]) != 0, [False, True, False])
    assert np.all(optax.tree.get(state, "exp_avg")["emb"][0] == 0)


# ---------------------------------------------------------------------------------------
# LBFGS


def _quadratic(p):
    return jnp.sum((p["w"] - jnp.arange(3.0)) ** 2) + 0.5 * jnp.sum(p["b"] ** 2)


LBFGS_PARAMS = {"w": jnp.zeros(3), "b": jnp.ones(2)}


@pytest.mark.parametrize("kwargs,error,words", [
    ({"lr": -1.0}, ValueError, "learning rate"),
    ({"lr": sched.StepLR(1.0, 2)}, TypeError, "schedule"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"max_eval": 0}, ValueError, "max_eval"),
    ({"history_size": 0}, ValueError, "history_size"),
    ({"history_size": 2.5}, TypeError, "history_size"),
    ({"tolerance_grad": -1.0}, ValueError, "tolerance_grad"),
    ({"line_search_fn": "armijo"}, ValueError, "strong_wolfe"),
])
def test_lbfgs_refusals(kwargs, error, words):
    with pytest.raises(error, match=words):
        optim.LBFGS(**kwargs)


def test_lbfgs_refuses_bad_trees_and_states():
    opt = optim.LBFGS()
    with pytest.raises(ValueError, match="at least one parameter"):
        opt.init({})
    with pytest.raises(TypeError, match="one floating dtype"):
        opt.init({"a": jnp.zeros(2), "b": jnp.zeros(2, jnp.int32)})
    with pytest.raises(TypeError, match="LBFGS.init"):
        opt.step(_quadratic, LBFGS_PARAMS, {"d": 0})
    with pytest.raises(ValueError, match="made for 5 float32 parameters, got 3"):
        opt.step(lambda p: jnp.sum(p["w"] ** 2), {"w": jnp.zeros(3)}, opt.init(LBFGS_PARAMS))
    with pytest.raises(TypeError, match="function"):
        opt.step("loss", LBFGS_PARAMS, opt.init(LBFGS_PARAMS))


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimises_and_works_inside_jit(line_search_fn):
    opt = optim.LBFGS(line_search_fn=line_search_fn, history_size=5, tolerance_grad=1e-4)
    state = opt.init(LBFGS_PARAMS)
    params, state, loss0 = opt.step(_quadratic, LBFGS_PARAMS, state)
    assert float(loss0) == pytest.approx(float(_quadratic(LBFGS_PARAMS)))
    np.testing.assert_allclose(params["w"], [0.0, 1.0, 2.0], atol=1e-4)
    np.testing.assert_allclose(params["b"], 0.0, atol=1e-4)
    jitted = jax.jit(lambda p, s: opt.step(_quadratic, p, s))
    p2, s2, l2 = jitted(LBFGS_PARAMS, opt.init(LBFGS_PARAMS))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), p2, params)
    assert int(s2.func_evals) == int(state.func_evals) and int(s2.n_iter) == int(state.n_iter)
    # converged: the next step evaluates once and returns (torch's opt_cond at entry)
    _, s3, _ = opt.step(_quadratic, params, state)
    assert int(s3.func_evals) == int(state.func_evals) + 1 and int(s3.n_iter) == int(state.n_iter)


def test_lbfgs_keeps_history_size_pairs_oldest_dropped():
    opt = optim.LBFGS(max_iter=1, history_size=2)
    params, state = {"w": jnp.array([3.0, -2.0, 1.0])}, opt.init({"w": jnp.zeros(3)})
    loss = lambda p: jnp.sum(jnp.cosh(p["w"]) * jnp.arange(1.0, 4.0))  # noqa: E731
    for _ in range(5):
        params, state, _ = opt.step(loss, params, state)
    assert state.old_dirs.shape == (2, 3) and int(state.num_old) == 2 and int(state.n_iter) == 5


# ---------------------------------------------------------------------------------------
# MultiplicativeLR, ChainedScheduler, CyclicLR, CosineAnnealingWarmRestarts, ReduceLROnPlateau


@pytest.mark.parametrize("make,error,words", [
    (lambda: sched.MultiplicativeLR(0.1, 0.9), TypeError, "lr_lambda"),
    (lambda: sched.ChainedScheduler([]), ValueError, "at least one"),
    (lambda: sched.ChainedScheduler([sched.StepLR(0.1, 3), sched.LambdaLR(0.1, lambda e: 1.0)]), TypeError,
     r"schedulers\[1\].*LambdaLR"),
    (lambda: sched.ChainedScheduler([sched.StepLR(0.1, 3), sched.ExponentialLR(0.2, 0.9)]), ValueError, "same lr"),
    (lambda: sched.CyclicLR(0.01, 0.1, step_size_up=0), ValueError, "step_size_up"),
    (lambda: sched.CyclicLR(0.01, 0.1, step_size_down=-2), ValueError, "step_size_down"),
    (lambda: sched.CyclicLR(0.01, 0.1, mode="sawtooth"), ValueError, "mode is invalid"),
    (lambda: sched.CyclicLR(0.01, 0.1, scale_fn=lambda x: 1.0, scale_mode="epochs"), ValueError, "scale_mode"),
    (lambda: sched.CyclicLR("0.01", 0.1), TypeError, "base_lr"),
    (lambda: sched.CosineAnnealingWarmRestarts(0.1, 0), ValueError, "T_0"),
    (lambda: sched.CosineAnnealingWarmRestarts(0.1, 5, T_mult=0), ValueError, "T_mult"),
    (lambda: sched.CosineAnnealingWarmRestarts(0.1, 5, eta_min="0"), TypeError, "eta_min"),
    (lambda: sched.ReduceLROnPlateau(0.1, factor=1.0), ValueError, "factor"),
    (lambda: sched.ReduceLROnPlateau(0.1, mode="maximum"), ValueError, "mode"),
    (lambda: sched.ReduceLROnPlateau(0.1, threshold_mode="relative"), ValueError, "threshold_mode"),
    (lambda: sched.ReduceLROnPlateau(0.1, patience=-1), ValueError, "patience"),
    (lambda: sched.ReduceLROnPlateau(0.1, min_lr=[0.0, 0.1]), TypeError, "one number"),
])
def test_new_schedule_refusals(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_torch_refuses_the_same_scheduler_arguments():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 0)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="sawtooth")


def test_cyclic_momentum_needs_cycle_momentum_and_multiplicative_traced_steps():
    with pytest.raises(ValueError, match="cycle_momentum"):
        sched.CyclicLR(0.01, 0.1, cycle_momentum=False).momentum(0)
    clr = sched.CyclicLR(0.01, 0.1, step_size_up=4)
    assert float(clr.momentum(0)) == pytest.approx(0.9) and float(clr.momentum(4)) == pytest.approx(0.8)
    m = sched.MultiplicativeLR(1.0, lambda e: 1.0 - 0.01 * e)
    jitted = jax.jit(m)
    for step in (0, 1, 7):
        assert float(jitted(jnp.int32(step))) == pytest.approx(float(m(step)), rel=1e-6)


def test_reduce_on_plateau_state_machine():
    s = sched.ReduceLROnPlateau(1.0, patience=1, cooldown=1, factor=0.5, min_lr=0.2)
    state = s.init()
    assert state == sched.PlateauState(1.0, math.inf, 0, 0, 0)
    lrs = []
    for metric in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        state = s.step(state, metric)
        lrs.append(state.lr)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]  # patience 1, one epoch of cooldown
    for _ in range(4):
        state = s.step(state, 1.0)
    assert state.lr == 0.2  # min_lr
    restored = sched.PlateauState(**state._asdict())
    assert restored == state
    with pytest.raises(TypeError, match="concrete number"):
        jax.jit(lambda m: s.step(s.init(), m).lr)(1.0)
    with pytest.raises(TypeError, match="state from init"):
        s.step({"lr": 1.0}, 1.0)
    state = s.step(s.init(), jnp.float32(0.5))  # a 0-d array counts, as torch's tensors do
    assert state.best == 0.5


def test_set_lr_needs_injected_hyperparameters():
    opt = optax.inject_hyperparams(optim.SGD)(lr=0.1, momentum=0.9)
    state = opt.init(PARAMS)
    new = sched.set_lr(state, 0.025)
    assert float(new.hyperparams["lr"]) == pytest.approx(0.025) and new.hyperparams["lr"].dtype == jnp.float32
    assert float(state.hyperparams["lr"]) == pytest.approx(0.1)  # pure
    u, _ = opt.update(GRADS, new, PARAMS)
    np.testing.assert_allclose(u["fc"]["weight"], -0.025 * 0.5, rtol=1e-6)
    chained = optax.chain(optim.clip_grad_norm(1.0), opt)
    assert float(sched.set_lr(chained.init(PARAMS), 0.5)[1].hyperparams["lr"]) == 0.5
    with pytest.raises(ValueError, match="inject_hyperparams"):
        sched.set_lr(optim.SGD(lr=0.1).init(PARAMS), 0.01)


def test_muon_ns_dtype():
    with pytest.raises(TypeError, match="ns_dtype"):
        optim.Muon(ns_dtype="int8")
    p = {"w": jnp.ones((3, 4))}
    g = {"w": jax.random.normal(jax.random.key(1), (3, 4))}
    u16, _ = optim.Muon(lr=1.0, weight_decay=0.0).update(g, optim.Muon().init(p), p)
    u32, _ = optim.Muon(lr=1.0, weight_decay=0.0, ns_dtype=None).update(g, optim.Muon().init(p), p)
    assert u16["w"].dtype == u32["w"].dtype == jnp.float32
    np.testing.assert_allclose(u16["w"], u32["w"], atol=0.05)  # the same orthogonalisation, bfloat16 apart
    assert not np.array_equal(np.asarray(u16["w"]), np.asarray(u32["w"]))


# ---------------------------------------------------------------------------------------
# load_state_dict: torch optimizer state into fnet


def _torch_run(cls, steps=3, named=True, groups=None, **kwargs):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    torch.manual_seed(0)
    params = list(model.named_parameters()) if named else list(model.parameters())
    opt = getattr(torch.optim, cls)(groups(model) if groups else params, **kwargs)
    x = torch.randn(5, 3)
    for _ in range(steps):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
    return model, opt


def _fnet_model():
    return nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2))


def test_load_state_dict_fills_adam_moments_by_name():
    tmodel, topt = _torch_run("Adam", amsgrad=True)
    params, _ = fnet.load_state_dict(_fnet_model(), tmodel.state_dict())
    state = optim.load_state_dict(optim.Adam(amsgrad=True), topt.state_dict(), params)
    inner = optax.tree.get(state, "exp_avg")
    np.testing.assert_array_equal(inner["0"]["weight"], topt.state[tmodel[0].weight]["exp_avg"].numpy())
    np.testing.assert_array_equal(optax.tree.get(state, "max_exp_avg_sq")["1"]["bias"],
                                  topt.state[tmodel[1].bias]["max_exp_avg_sq"].numpy())
    assert int(optax.tree.get(state, "step")) == 3


def test_load_state_dict_numbers_parameters_from_the_model_or_names():
    tmodel, topt = _torch_run("RMSprop", named=False, momentum=0.9, centered=True)
    params, _ = fnet.load_state_dict(_fnet_model(), tmodel.state_dict())
    sd = topt.state_dict()
    with pytest.raises(ValueError, match="model="):
        optim.load_state_dict(optim.RMSprop(momentum=0.9, centered=True), sd, params)
    by_model = optim.load_state_dict(optim.RMSprop(momentum=0.9, centered=True), sd, params, model=_fnet_model())
    names = [n for n, _ in tmodel.named_parameters()]
    by_names = optim.load_state_dict(optim.RMSprop(momentum=0.9, centered=True), sd, params, param_names=names)
    jax.tree.map(np.testing.assert_array_equal, by_model, by_names)
    np.testing.assert_array_equal(optax.tree.get(by_model, "trace")["0"]["weight"],
                                  topt.state[tmodel[0].weight]["momentum_buffer"].numpy())
    np.testing.assert_array_equal(optax.tree.get(by_model, "mu")["1"]["weight"],
                                  topt.state[tmodel[1].weight]["grad_avg"].numpy())
    with pytest.raises(ValueError, match="names 3"):
        optim.load_state_dict(optim.RMSprop(), sd, params, param_names=names[:3])
    with pytest.raises(ValueError, match="not in params"):
        optim.load_state_dict(optim.RMSprop(), sd, params, param_names=["a", "b", "c", "d"])


def test_load_state_dict_refusals():
    tmodel, topt = _torch_run("Adam")
    params, _ = fnet.load_state_dict(_fnet_model(), tmodel.state_dict())
    sd = topt.state_dict()
    with pytest.raises(TypeError, match="'state' and 'param_groups'"):
        optim.load_state_dict(optim.Adam(), tmodel.state_dict(), params)
    with pytest.raises(ValueError, match="has no 'max_exp_avg_sq'"):
        optim.load_state_dict(optim.Adam(amsgrad=True), sd, params)
    small = {"0": {"weight": jnp.zeros((2, 2)), "bias": jnp.zeros(2)}, "1": params["1"]}
    with pytest.raises(ValueError, match=r"expected shape \(2, 2\), got \(2, 3\)"):
        optim.load_state_dict(optim.Adam(), sd, small)
    uneven = topt.state_dict()
    uneven["state"][0]["step"] = torch.tensor(7.0)
    with pytest.raises(ValueError, match="different numbers of steps"):
        optim.load_state_dict(optim.Adam(), uneven, params)
    _, sgd = _torch_run("SGD", lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="step="):
        optim.load_state_dict(optim.SGD(lr=sched.StepLR(0.1, 2), momentum=0.9), sgd.state_dict(), params)
    state = optim.load_state_dict(optim.SGD(lr=sched.StepLR(0.1, 2), momentum=0.9), sgd.state_dict(), params, step=3)
    assert int(optax.tree.get(state, "count")) == 3


def test_load_state_dict_param_groups_and_inject_hyperparams():
    def groups(model):
        return [{"params": list(model[0].named_parameters())},
                {"params": list(model[1].named_parameters()), "lr": 0.01}]

    tmodel, topt = _torch_run("Adamax", groups=groups)
    params, _ = fnet.load_state_dict(_fnet_model(), tmodel.state_dict())
    sd = topt.state_dict()
    assert sd["param_groups"][1]["param_names"] == ["weight", "bias"]  # torch names them per submodule
    names = [n for n, _ in tmodel.named_parameters()]
    for group, offset in ((sd["param_groups"][0], 0), (sd["param_groups"][1], 2)):
        group["param_names"] = names[offset:offset + 2]
    opt = optax.inject_hyperparams(optim.Adamax)(param_groups=[{"params": "1.*", "lr": 0.01}])
    state = optim.load_state_dict(opt, sd, params)
    assert int(state.count) == 3
    exp_inf = [leaf for leaf in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, optax.MaskedNode))
               if hasattr(leaf, "shape") and leaf.shape == (2, 3)]
    assert any(np.array_equal(np.asarray(x), topt.state[tmodel[0].weight]["exp_inf"].numpy()) for x in exp_inf)


def test_load_state_dict_resumes_lbfgs_like_torch():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    x, y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 1, dtype=torch.float64)
    topt = torch.optim.LBFGS(list(tmodel.named_parameters()), max_iter=3, history_size=4,
                             line_search_fn="strong_wolfe")

    def closure():
        topt.zero_grad()
        loss = ((tmodel(x) - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(3):
        topt.step(closure)
    with precision("float64"):
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        params, _ = fnet.load_state_dict(model, tmodel.state_dict())
        opt = optim.LBFGS(max_iter=3, history_size=4, line_search_fn="strong_wolfe")
        state = optim.load_state_dict(opt, topt.state_dict(), params)
        xj, yj = jnp.asarray(x.numpy()), jnp.asarray(y.numpy())

        def loss_fn(p):
            return jnp.mean((model.apply(p, {}, xj)[0] - yj) ** 2)

        for _ in range(4):
            topt.step(closure)
            params, state, _ = opt.step(loss_fn, params, state)
        got = fnet.state_dict(params)
        for name, value in tmodel.state_dict().items():
            np.testing.assert_allclose(got[name], value.numpy(), rtol=1e-9, atol=1e-11)
        assert int(state.n_iter) == topt.state[tmodel[0].weight]["n_iter"]


# ---------------------------------------------------------------------------------------
# swa_utils


def test_swa_utils_refusals():
    from fnet.optim import swa_utils

    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="at most one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(TypeError, match="nn.Module"):
        swa_utils.AveragedModel(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=0.9)
    for fn in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        with pytest.raises(ValueError, match="decay"):
            fn(1.5)
        with pytest.raises(ValueError):
            getattr(torch.optim.swa_utils, fn.__name__)(1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        swa_utils.SWALR(0.1, 0.01, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs"):
        swa_utils.SWALR(0.1, 0.01, anneal_epochs=-1)
    with pytest.raises(TypeError, match="nn.Module"):
        swa_utils.update_bn([], torch.nn.Linear(2, 2), {}, {})
    swa = swa_utils.AveragedModel(model)
    params, _ = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match="wrap"):
        swa.update_parameters(params, {}, params, {})
    other = {"weight": jnp.zeros((2, 2))}
    with pytest.raises(ValueError, match="do not match"):
        swa.update_parameters(*swa.wrap(params, {}), other, {})


def test_averaged_model_is_a_module_with_torch_names():
    from fnet.optim import swa_utils

    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    swa = swa_utils.AveragedModel(model)
    params, state = swa.init(jax.random.key(0))
    names = set(fnet.state_dict(params, state))
    want = set(torch.optim.swa_utils.AveragedModel(
        torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))).state_dict())
    assert names == want
    assert hash(swa) == hash(swa_utils.AveragedModel(model))
    p, s = model.init(jax.random.key(1))
    a, b = swa.update_parameters(*swa.wrap(p, s), p, s)
    jax.tree.map(np.testing.assert_array_equal, a["module"], p)  # the first update copies
    assert int(b["n_averaged"]) == 1


def test_update_bn_without_batch_norm_returns_the_state_and_leaves_the_model_alone():
    from fnet.optim import swa_utils

    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    params, state = model.init(jax.random.key(0))
    assert swa_utils.update_bn([jnp.ones((2, 3))], model, params, state) is state
    bn = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2, momentum=0.2))
    params, state = bn.init(jax.random.key(0))
    new = swa_utils.update_bn([jnp.ones((4, 3)), jnp.zeros((4, 3))], bn, params, state)
    assert bn[1].momentum == 0.2 and int(new["1"]["num_batches_tracked"]) == 2
    # the cumulative mean of the two batches' means, whatever the module's momentum
    h1 = bn[0].apply(params["0"], {}, jnp.ones((4, 3)))[0].mean(0)
    h0 = bn[0].apply(params["0"], {}, jnp.zeros((4, 3)))[0].mean(0)
    np.testing.assert_allclose(new["1"]["running_mean"], (h1 + h0) / 2, rtol=1e-6)
