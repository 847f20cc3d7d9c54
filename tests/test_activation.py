"""Activations: errors, signatures, printing and properties that are not value comparisons."""

from __future__ import annotations

import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnet
import fnet.functional as F
from fnet import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

FUNCTIONS = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "sigmoid",
             "tanh", "hardtanh", "hardsigmoid", "hardswish", "softplus", "softsign", "logsigmoid",
             "softmax", "log_softmax", "softmin", "prelu", "glu", "threshold", "tanhshrink",
             "softshrink", "hardshrink"]
MODULES = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
           "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "LogSigmoid",
           "Softmax", "LogSoftmax", "Softmin", "PReLU", "GLU", "Threshold", "Tanhshrink",
           "Softshrink", "Hardshrink", "RReLU", "Softmax2d"]
# Functions torch refuses for integer tensors (NotImplementedError "... not implemented for 'Long'").
FLOAT_ONLY = ["leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardsigmoid",
              "hardswish", "softplus", "logsigmoid", "softshrink", "hardshrink", "glu"]


def test_public_names():
    assert set(FUNCTIONS) <= set(F.__all__)
    assert set(MODULES) <= set(nn.__all__)


def _torch_signature(fn):
    overrides = torch.overrides.get_testing_overrides()
    return inspect.signature(overrides.get(fn, fn))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_signature_matches_torch(name):
    ours = inspect.signature(getattr(F, name)).parameters
    theirs = _torch_signature(getattr(TF, name)).parameters
    assert list(ours) == list(theirs)
    for key, param in theirs.items():
        if param.default is not inspect.Parameter.empty:
            assert ours[key].default == param.default, key


@pytest.mark.parametrize("name", MODULES)
def test_module_signature_matches_torch(name):
    ours = inspect.signature(getattr(nn, name).__init__).parameters
    init = getattr(torch.nn, name).__init__
    # torch.nn.Module.__init__(self, *args, **kwargs) refuses any argument.
    theirs = inspect.signature(init).parameters if init is not torch.nn.Module.__init__ else {"self": None}
    assert list(ours) == list(theirs)
    for key, param in theirs.items():
        if param is not None:
            assert ours[key].default == param.default, key


def test_gelu_approximate_is_keyword_only_as_in_torch():
    with pytest.raises(TypeError):
        TF.gelu(torch.ones(2), "tanh")
    with pytest.raises(TypeError):
        F.gelu(jnp.ones(2), "tanh")


# (fnet module, torch module) with non-default arguments, positional and keyword.
REPR_PAIRS = [
    ("ReLU", (True,), {}), ("ReLU6", (), {"inplace": True}), ("LeakyReLU", (0.2, True), {}),
    ("LeakyReLU", (), {"negative_slope": 0.1}), ("ELU", (2,), {}), ("ELU", (0.5, True), {}),
    ("SELU", (True,), {}), ("CELU", (), {"alpha": 1.5, "inplace": True}), ("GELU", ("tanh",), {}),
    ("GELU", (), {"approximate": "none"}), ("SiLU", (True,), {}), ("Mish", (True,), {}),
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("Hardtanh", (-2, 3.5, True), {}),
    ("Hardtanh", (), {"min_val": 0.0, "max_val": 1.0}), ("Hardsigmoid", (True,), {}),
    ("Hardswish", (True,), {}), ("Softplus", (2, 10), {}), ("Softplus", (), {"beta": 0.5}),
    ("Softsign", (), {}), ("LogSigmoid", (), {}), ("Softmax", (1,), {}), ("Softmax", (), {}),
    ("LogSoftmax", (), {"dim": -1}), ("Softmin", (0,), {}), ("PReLU", (3, 0.1), {}),
    ("PReLU", (), {}), ("GLU", (1,), {}), ("GLU", (), {}), ("Threshold", (0.1, 20), {}),
    ("Threshold", (1, 2.5, True), {}), ("Tanhshrink", (), {}), ("Softshrink", (1.5,), {}),
    ("Hardshrink", (), {"lambd": 0.25}), ("Hardshrink", (), {}), ("RReLU", (0.1, 0.2, True), {}),
    ("RReLU", (), {"upper": 0.5}), ("Softmax2d", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", REPR_PAIRS, ids=[f"{n}{a}{k}" for n, a, k in REPR_PAIRS])
def test_repr_matches_torch(name, args, kwargs):
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_every_module_has_a_repr_case():
    assert {name for name, _, _ in REPR_PAIRS} == set(MODULES)


def test_sequential_of_activations_prints_like_torch():
    ours = nn.Sequential(nn.Linear(3, 4), nn.GELU("tanh"), nn.PReLU(4), nn.Softmax(dim=-1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU("tanh"), torch.nn.PReLU(4),
                                 torch.nn.Softmax(dim=-1))
    assert repr(ours) == repr(theirs)


def test_relu6_is_a_hardtanh_as_in_torch():
    assert isinstance(nn.ReLU6(), nn.Hardtanh)
    assert (nn.ReLU6().min_val, nn.ReLU6().max_val) == (0.0, 6.0)


# -- errors -----------------------------------------------------------------------

@pytest.mark.parametrize("name", FLOAT_ONLY + ["softmax", "log_softmax", "softmin"])
def test_integer_input_is_refused_where_torch_refuses(name):
    args = (1,) if name in ("softmax", "log_softmax", "softmin") else ()
    with pytest.raises((NotImplementedError, RuntimeError)):
        getattr(TF, name)(torch.arange(-4, 4).reshape(2, 4), *args)
    x = jnp.arange(-4, 4).reshape(2, 4)
    with pytest.raises(TypeError, match=rf"^{name}: .*floating.*int32"):
        getattr(F, name)(x, *args)


def test_integer_input_to_a_module_names_the_layer():
    with pytest.raises(TypeError, match=r"GELU\(approximate='tanh'\): .*floating.*int32"):
        nn.GELU("tanh")(jnp.arange(3))
    with pytest.raises(TypeError, match=r"Softmax\(dim=0\): .*int32"):
        nn.Softmax(0)(jnp.arange(3))


def test_integer_dtypes_that_torch_accepts():
    x = jnp.arange(-3, 4)
    assert F.relu(x).dtype == x.dtype and F.relu6(x).dtype == x.dtype
    np.testing.assert_array_equal(F.hardtanh(x, -1.5, 1.5), TF.hardtanh(torch.arange(-3, 4), -1.5, 1.5))
    assert F.sigmoid(x).dtype == jnp.float32 and F.tanh(jnp.array([True, False])).dtype == jnp.float32
    assert F.softmax(x, 0, dtype="float32").dtype == jnp.float32
    for name in ("relu", "relu6", "hardtanh", "softsign", "tanhshrink"):
        with pytest.raises(TypeError, match=rf"^{name}: .*bool"):
            getattr(F, name)(jnp.array([True, False]))


def test_bad_gelu_approximate():
    with pytest.raises(RuntimeError):
        TF.gelu(torch.ones(2), approximate="sigmoid")
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh', got 'sigmoid'"):
        F.gelu(jnp.ones(2), approximate="sigmoid")
    with pytest.raises(ValueError, match=r"GELU: approximate .* got 'Tanh'"):
        nn.GELU("Tanh")


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape,dim", [((2, 3), 2), ((2, 3), -3), ((), 1), ((4,), -2)])
def test_softmax_dim_out_of_range(name, shape, dim):
    with pytest.raises(IndexError):
        getattr(TF, name)(torch.ones(shape), dim)
    shape_str = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
    with pytest.raises(ValueError, match=rf"^{name}: dim {dim} is out of range for input of shape "
                                         rf"{re_escape(shape_str)}"):
        getattr(F, name)(jnp.ones(shape), dim)


def re_escape(text):
    import re

    return re.escape(text)


def test_softmax_module_dim_error_names_the_layer():
    with pytest.raises(ValueError, match=r"LogSoftmax\(dim=3\): log_softmax: dim 3 is out of range .*\(2, 5\)"):
        nn.LogSoftmax(dim=3)(jnp.ones((2, 5)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 5)
            self.probs = nn.Softmax(dim=2)

        def forward(self, ctx, x):
            return self.probs(ctx, self.fc(ctx, x))

    model = Net()
    params, state = model.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"^probs \(Softmax\(dim=2\)\): softmax: dim 2 is out of range"):
        model.apply(params, state, jnp.ones((3, 5)))


def test_prelu_channel_mismatch_names_the_layer_and_both_sizes():
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        torch.nn.PReLU(3)(torch.ones(2, 4, 5))
    layer = nn.PReLU(3)
    params, state = layer.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"^PReLU\(num_parameters=3\): prelu: expected 3 channels .*got 4 "
                                         r"channels, input shape \(2, 4, 5\)"):
        layer.apply(params, state, jnp.ones((2, 4, 5)))
    # Inputs with fewer than 2 dims have one channel, as in torch.
    with pytest.raises(ValueError, match=r"got 1 channels, input shape \(3,\)"):
        layer.apply(params, state, jnp.ones(3))
    with pytest.raises(ValueError, match=r"^prelu: expected 2 channels .*got 3 channels"):
        F.prelu(jnp.ones((4, 3)), jnp.ones(2))
    with pytest.raises(ValueError, match=r"^prelu: expected weight to be a scalar or 1-D array, got shape \(1, 3\)"):
        F.prelu(jnp.ones((4, 3)), jnp.ones((1, 3)))


def test_glu_errors():
    with pytest.raises(RuntimeError):
        TF.glu(torch.ones(2, 3), 1)
    with pytest.raises(ValueError, match=r"^glu: expected an even size along dim 1 .*\(2, 3\)"):
        F.glu(jnp.ones((2, 3)), 1)
    with pytest.raises(ValueError, match=r"^glu: .*at least 1 dim"):
        F.glu(jnp.ones(()))
    with pytest.raises(ValueError, match=r"^GLU\(dim=2\): glu: dim 2 is out of range"):
        nn.GLU(2)(jnp.ones((2, 4)))


def test_argument_errors_mirror_torch():
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(jnp.ones(2), 1.0, -1.0)
    with pytest.raises(ValueError, match=r"Hardtanh: max_val \(1\) must be greater than min_val \(1\)"):
        nn.Hardtanh(1, 1)
    with pytest.raises(RuntimeError):
        TF.softshrink(torch.ones(2), -0.5)
    with pytest.raises(ValueError, match="softshrink: lambd must be >= 0, got -0.5"):
        F.softshrink(jnp.ones(2), -0.5)
    with pytest.raises(RuntimeError):
        TF.celu(torch.ones(2), alpha=0.0)
    with pytest.raises(ValueError, match="celu: alpha cannot be 0"):
        F.celu(jnp.ones(2), alpha=0.0)


def test_hardtanh_deprecated_keywords_warn_like_torch():
    with pytest.warns(FutureWarning, match="min_value"):
        layer = nn.Hardtanh(min_value=-2.0)
    assert layer.min_val == -2.0


def test_implicit_softmax_dim_warns_and_picks_torch_dim():
    for shape in [(5,), (3, 4), (2, 3, 4)]:
        x = np.random.default_rng(0).standard_normal(shape)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmin has been deprecated"):
            ours = F.softmin(jnp.asarray(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = TF.softmin(torch.from_numpy(x).float())
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)


# -- properties ---------------------------------------------------------------------

def test_direct_calls_work_like_torch():
    x = jnp.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_allclose(nn.GELU()(x), TF.gelu(torch.tensor(np.asarray(x))).numpy(), rtol=1e-6)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).sum(), 1.0, rtol=1e-6)
    assert nn.GLU()(jnp.ones((2, 4))).shape == (2, 2)
    assert jax.jit(lambda v: nn.Hardswish()(v))(x).shape == x.shape
    with pytest.raises(TypeError, match="apply"):
        nn.PReLU()(x)


def test_modules_are_frozen_and_hashable():
    assert hash(nn.GELU("tanh")) == hash(nn.GELU("tanh")) and nn.GELU("tanh") == nn.GELU("tanh")
    assert nn.GELU("tanh") != nn.GELU()
    assert nn.Softmax(1) != nn.LogSoftmax(1)
    assert len({nn.ELU(), nn.ELU(), nn.CELU(), nn.PReLU(3), nn.PReLU(3)}) == 3
    for module in (nn.LeakyReLU(0.2), nn.PReLU(3), nn.Softmax(0), nn.Hardtanh()):
        with pytest.raises(AttributeError, match="frozen"):
            module.inplace = True

    @jax.jit
    def run(x):
        return nn.Softplus(2.0, 5.0)(x)

    assert run(jnp.ones(3)).shape == (3,)
    static = jax.jit(lambda m, x: m(x), static_argnums=0)
    np.testing.assert_allclose(static(nn.LeakyReLU(0.5), jnp.array([-2.0])), [-1.0])


def test_prelu_parameters_like_torch():
    layer = nn.PReLU(4, init=0.1)
    params, state = layer.init(jax.random.key(0))
    assert state == {} and params["weight"].shape == (4,) and params["weight"].dtype == jnp.float32
    np.testing.assert_allclose(params["weight"], 0.1)
    assert set(fnet.state_dict(params)) == set(torch.nn.PReLU(4).state_dict())
    assert layer.init_value == 0.1
    params64, _ = nn.PReLU(dtype=jnp.bfloat16).init(jax.random.key(0))
    assert params64["weight"].dtype == jnp.bfloat16


def test_prelu_output_keeps_the_input_dtype():
    out = F.prelu(jnp.ones((2, 3), jnp.bfloat16), jnp.full(3, 0.25, jnp.float32))
    assert out.dtype == jnp.bfloat16


ELEMENTWISE_NAN = ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
                   "sigmoid", "tanh", "hardtanh", "hardsigmoid", "hardswish", "softplus", "softsign",
                   "logsigmoid", "tanhshrink", "softshrink", "hardshrink"]


@pytest.mark.parametrize("name", ELEMENTWISE_NAN)
def test_nan_propagates_as_in_torch(name):
    x = np.array([np.nan, 0.0, -1.0], np.float32)
    ours = np.asarray(getattr(F, name)(jnp.asarray(x)))
    theirs = getattr(TF, name)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))


@pytest.mark.parametrize("name", ["softplus", "elu", "selu", "celu", "mish", "logsigmoid", "gelu",
                                  "silu", "sigmoid", "tanhshrink", "softsign"])
def test_gradients_stay_finite_for_huge_inputs(name):
    x = jnp.array([-1e4, -88.0, 88.0, 1e4], jnp.float32)
    grads = jax.jit(jax.grad(lambda v: getattr(F, name)(v).sum()))(x)
    assert bool(jnp.all(jnp.isfinite(grads))), grads
    xt = torch.tensor(np.asarray(x), requires_grad=True)
    getattr(TF, name)(xt).sum().backward()
    np.testing.assert_allclose(grads, xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_softmax_family_composes_with_jit_vmap_grad():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((5, 3, 4)), jnp.float32)
    vm = jax.vmap(lambda v: F.log_softmax(v, dim=-1))(x)
    np.testing.assert_allclose(vm, jax.jit(F.log_softmax, static_argnames="dim")(x, dim=-1), rtol=1e-6)
    g = jax.grad(lambda v: F.softmax(v, 1)[:, 0].sum())(x[0])
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-6)  # softmax is shift-invariant


def test_hessian_of_kinked_functions_is_defined():
    # custom_jvp rules (elu family, hardsigmoid) must themselves be differentiable.
    fns = (F.elu, F.celu, F.selu, F.hardsigmoid)
    h = jax.jit(jax.hessian(lambda v: sum(fn(v).sum() for fn in fns)))(jnp.array([-1.0, 0.5]))
    np.testing.assert_allclose(np.diag(h), [np.exp(-1.0) * (2 + 1.0507009873554805 * 1.6732632423543772),
                                            0.0], rtol=1e-6)


# -- RReLU, rrelu, gumbel_softmax, Softmax2d ------------------------------------------------

def test_rrelu_training_needs_a_key_and_floats():
    x = jnp.linspace(-1, 1, 6)
    with pytest.raises(ValueError, match=r"^rrelu: training=True .* needs a PRNG key"):
        F.rrelu(x, training=True)
    with pytest.raises(TypeError, match=r"^rrelu: .*floating.*int32"):
        F.rrelu(jnp.arange(3))
    out = F.rrelu(x, 0.1, 0.3, training=True, key=jax.random.key(0))
    assert jnp.all(jnp.where(x > 0, out == x, (out <= 0.1 * x) & (out >= 0.3 * x)))


def test_rrelu_module_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"RReLU: lower bound must be less than or equal to the upper"):
        nn.RReLU(0.5, 0.1)
    with pytest.raises(TypeError, match=r"RReLU\(lower=0.125, upper=0.3333333333333333\): cannot be called"
                                        r" like a function because a torch module starts in train mode"):
        nn.RReLU()(jnp.ones(3))
    with pytest.raises(ValueError, match=r"RReLU\(.*\): train=True draws random numbers and needs a PRNG key"):
        nn.RReLU().apply({}, {}, -jnp.ones(3), train=True)
    with pytest.raises(TypeError, match=r"^RReLU\(.*\): rrelu: expected a floating-point input, got dtype int32"):
        nn.RReLU().apply({}, {}, jnp.arange(3))
    assert repr(nn.RReLU(0.1, 0.2, True)) == repr(torch.nn.RReLU(0.1, 0.2, True))
    assert repr(nn.RReLU()) == repr(torch.nn.RReLU())


def test_softmax2d_wants_3d_or_4d_input():
    with pytest.raises(ValueError, match=r"^Softmax2d\(\): expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) "
                                         r"input, got shape \(2, 3\)"):
        nn.Softmax2d()(jnp.ones((2, 3)))
    assert repr(nn.Softmax2d()) == repr(torch.nn.Softmax2d())
    out = nn.Softmax2d()(jnp.ones((2, 3, 4, 5)))
    np.testing.assert_allclose(np.asarray(out.sum(1)), 1.0, rtol=1e-6)


def test_gumbel_softmax_errors():
    logits = jnp.zeros((2, 4))
    with pytest.raises(ValueError, match=r"^gumbel_softmax: draws Gumbel noise and needs a PRNG key"):
        F.gumbel_softmax(logits)
    with pytest.raises(TypeError, match=r"^gumbel_softmax: expected a floating-point input"):
        F.gumbel_softmax(jnp.zeros((2, 4), jnp.int32), key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"^gumbel_softmax: dim 2 is out of range"):
        F.gumbel_softmax(logits, dim=2, key=jax.random.key(0))
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(logits, eps=1e-5, key=jax.random.key(0))


@pytest.mark.parametrize("fnet_fn,torch_fn", [(F.rrelu, TF.rrelu), (F.gumbel_softmax, TF.gumbel_softmax)])
def test_random_functions_keep_torchs_signature_plus_a_key(fnet_fn, torch_fn):
    ours = inspect.signature(fnet_fn).parameters
    theirs = inspect.signature(torch_fn).parameters
    assert list(ours) == list(theirs) + ["key"]
    assert ours["key"].kind is inspect.Parameter.KEYWORD_ONLY
    for name, param in theirs.items():
        assert ours[name].default == param.default, name
