"""Parity cases: activation functions and their modules.

Most cases here are *grids*: one case runs a function (or module class) under many
configurations at once, each configuration on its own input, and returns a dict
``{configuration: output}``. Each output and the gradient with respect to each
input (``input[i]`` is the input of the i-th configuration, in the order the
outputs are listed) is compared separately, and the whole grid is compiled by one
``jax.jit``, so ~400 comparisons cost a few dozen compilations.

Inputs come from :func:`_mixed`: standard-normal values, a few large ones (``|x|``
in 30..1000, where naive formulas overflow) and the function's kinks placed
exactly (``relu`` at 0, ``hardtanh`` at its ends, the shrink functions at
``±lambd``...), so the subgradient torch's autograd picks at a kink is compared
too. Shapes cycle through ranks 0 to 4.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import torch

from fnet import functional as F
from fnet import nn
from fnet.parity import ParityCase, case_seed, module_case, precision, register, run_pair
from fnet.parity._engine import cast_inputs
from fnet.parity._stats import check, stats_case, within

TF = torch.nn.functional
SHAPES = ((3, 4), (7,), (2, 3, 4), (2, 2, 3, 2), ())
F32_TOL = {"rtol": 1.3e-6, "atol": 1e-5, "grad_rtol": 1e-5, "grad_atol": 1e-5}


def _mixed(shape, kinks=(), scale=2.0, large=2):
    """``rng -> [x]``: the kinks and ``large`` values of magnitude 30..1000 at random
    positions, N(0, scale²) elsewhere (a 0-d input takes the first special value)."""
    kinks = tuple(kinks)

    def make(rng):
        x = rng.standard_normal(shape) * scale
        flat = x.reshape(-1)
        extra = list(kinks) + list(rng.choice([-1.0, 1.0], large) * rng.uniform(30.0, 1000.0, large))
        for pos, value in zip(rng.permutation(flat.size), extra):
            flat[pos] = value
        return [flat.reshape(shape)]

    return make


def _large(shape):
    return lambda rng: [rng.choice([-1.0, 1.0], shape) * rng.uniform(30.0, 1000.0, shape)]


def _label(kwargs, **more):
    items = {**kwargs, **more}
    return ",".join(f"{k}={v!r}" for k, v in items.items()) or "defaults"


# An entry of a grid: (label, () -> (fnet_callable, torch_callable), rng -> [inputs]).
Entry = tuple[str, Callable[[], tuple[Callable, Callable]], Callable]


def grid_case(name: str, covers: Sequence[str], entries: Sequence[Entry], *,
              dtypes: Sequence[str] = ("float32", "float64"), input_dtype: str | None = None,
              tol64: dict | None = None, note: str = "") -> ParityCase:
    """Registers one case that compares every entry of a grid (under one ``jax.jit``).

    ``input_dtype`` fixes the dtype of the floating inputs (default: the case dtype).
    """
    seed = case_seed(name)
    entries = list(entries)
    # "#03 label": the number is the index of the entry's first input (input[3] in the
    # report), and keeps JAX (which sorts plain dict keys) in the same order as torch.
    labels, first = [], 0
    for label, _, make in entries:
        labels.append(f"#{first:02d} {label}")
        first += len(make(np.random.default_rng(0)))

    def run(dtype: str):
        rng = np.random.default_rng(seed)
        groups = [list(make(rng)) for _, _, make in entries]
        pairs = [build() for _, build, _ in entries]
        sizes = [len(g) for g in groups]

        def split(xs):
            out, i = [], 0
            for n in sizes:
                out.append(xs[i:i + n])
                i += n
            return out

        def fnet_fn(params, *xs):
            return OrderedDict((lab, f(*g)) for lab, (f, _), g in zip(labels, pairs, split(xs)))

        def torch_fn(*xs):
            return OrderedDict((lab, t(*g)) for lab, (_, t), g in zip(labels, pairs, split(xs)))

        with precision(dtype), warnings.catch_warnings():
            # The dim=None entries exercise torch's deprecated implicit dim on purpose.
            warnings.filterwarnings("ignore", message="Implicit dimension choice")
            inputs = cast_inputs([x for g in groups for x in g], input_dtype or dtype)
            return run_pair(name, dtype, fnet_fn=fnet_fn, params={}, torch_fn=torch_fn,
                            torch_params={}, inputs=inputs,
                            tol=tol64 if dtype == "float64" else None, seed=seed)

    return register(ParityCase(name, "activation", tuple(covers), run, tuple(dtypes), note))


def _fn_pair(fname, *args, **kwargs):
    f, t = getattr(F, fname), getattr(TF, fname)
    if kwargs.get("inplace"):
        # torch refuses in-place ops on a leaf that requires grad: run it on a copy.
        return lambda: (lambda x: f(x, *args, **kwargs), lambda x: t(x.clone(), *args, **kwargs))
    return lambda: (lambda *xs: f(*xs, *args, **kwargs), lambda *xs: t(*xs, *args, **kwargs))


# -- elementwise functions: (name, kwargs grid, kinks of a configuration) -----------

ELEMENTWISE = [
    ("relu", [{}], lambda kw: [0.0, 0.0]),
    ("relu6", [{}, {"inplace": True}], lambda kw: [0.0, 6.0]),
    ("leaky_relu", [{}, {"negative_slope": 0.2}, {"negative_slope": 0.0},
                    {"negative_slope": -0.5}, {"negative_slope": 0.1, "inplace": True}],
     lambda kw: [0.0, 0.0]),
    ("elu", [{}, {"alpha": 0.5}, {"alpha": 2.0}, {"alpha": -1.0}], lambda kw: [0.0, 0.0]),
    ("selu", [{}], lambda kw: [0.0, 0.0]),
    ("celu", [{}, {"alpha": 0.5}, {"alpha": 2.0}, {"alpha": 0.7}], lambda kw: [0.0, 0.0]),
    ("gelu", [{}, {"approximate": "none"}, {"approximate": "tanh"}], lambda kw: [0.0]),
    ("silu", [{}], lambda kw: [0.0]),
    ("mish", [{}], lambda kw: [0.0]),
    ("sigmoid", [{}], lambda kw: [0.0]),
    ("tanh", [{}], lambda kw: [0.0]),
    ("hardtanh", [{}, {"min_val": -2.0, "max_val": 0.5}, {"min_val": 0.0, "max_val": 6.0},
                  {"min_val": -0.25, "max_val": -0.25}, {"min_val": -3, "max_val": 3}],
     lambda kw: [kw.get("min_val", -1.0), kw.get("max_val", 1.0)]),
    ("hardsigmoid", [{}], lambda kw: [-3.0, 3.0]),
    ("hardswish", [{}], lambda kw: [-3.0, 3.0, 0.0]),
    ("softplus", [{}, {"beta": 2.0}, {"beta": 0.5, "threshold": 10.0}, {"threshold": 5.0},
                  {"beta": 2, "threshold": 1}, {"beta": -1.0}],
     lambda kw: [kw.get("threshold", 20.0) / kw.get("beta", 1.0)]),
    ("softsign", [{}], lambda kw: [0.0]),
    ("logsigmoid", [{}], lambda kw: [0.0]),
    ("tanhshrink", [{}], lambda kw: [0.0]),
    ("softshrink", [{}, {"lambd": 0.0}, {"lambd": 1.5}],
     lambda kw: [kw.get("lambd", 0.5), -kw.get("lambd", 0.5)]),
    ("hardshrink", [{}, {"lambd": 0.0}, {"lambd": 1.5}, {"lambd": -0.5}],
     lambda kw: [kw.get("lambd", 0.5), -kw.get("lambd", 0.5)]),
    ("threshold", [{"threshold": 0.1, "value": 20.0}, {"threshold": 0.0, "value": 0.0},
                   {"threshold": -1.5, "value": -3.0}, {"threshold": 2, "value": 1}],
     lambda kw: [kw["threshold"], kw["threshold"]]),
]

for fname, grid, kinks in ELEMENTWISE:
    entries = []
    for i, kw in enumerate(grid):
        # One rank per configuration (cycling); a lone configuration gets two.
        shapes = [SHAPES[1], SHAPES[3]] if len(grid) == 1 else [SHAPES[i % 4]]
        for shape in shapes:
            entries.append((_label(kw, shape=shape), _fn_pair(fname, **kw), _mixed(shape, kinks(kw))))
    entries.append((_label(kw, shape="0-d on a kink"), _fn_pair(fname, **kw),
                    _mixed((), kinks(kw)[:1], large=0)))
    grid_case(f"F.{fname}[grid]", [f"functional.{fname}"], entries)

# Positional arguments in torch's order.
grid_case("F.*[positional arguments]",
          ["functional.leaky_relu", "functional.elu", "functional.celu", "functional.hardtanh",
           "functional.softplus", "functional.threshold", "functional.softshrink",
           "functional.hardshrink"],
          [(f"{fname}{args}", _fn_pair(fname, *args), _mixed((3, 4), kinks))
           for fname, args, kinks in [
               ("leaky_relu", (0.3,), [0.0]), ("elu", (1.5,), [0.0]), ("celu", (0.7,), [0.0]),
               ("hardtanh", (-0.5, 2.0), [-0.5, 2.0]), ("softplus", (3.0, 6.0), [2.0]),
               ("threshold", (0.25, -4.0), [0.25]), ("softshrink", (0.25,), [0.25, -0.25]),
               ("hardshrink", (0.75,), [0.75, -0.75])]])

# torch keeps integer dtypes for the clamps and promotes to float32 for the others;
# both sides compute in those dtypes whatever the case dtype, so float32 only.
grid_case("F.*[integer inputs]",
          [f"functional.{f}" for f in ("relu", "relu6", "hardtanh", "threshold", "sigmoid", "tanh",
                                       "softsign", "tanhshrink")],
          [(f"{fname}({_label(kw)})", _fn_pair(fname, **kw), lambda rng: [rng.integers(-9, 10, (3, 5))])
           for fname, kw in [("relu", {}), ("relu6", {}), ("hardtanh", {"min_val": -1.5, "max_val": 2.5}),
                             ("threshold", {"threshold": 0.5, "value": 7.5}), ("sigmoid", {}),
                             ("tanh", {}), ("softsign", {}), ("tanhshrink", {})]],
          dtypes=("float32",),
          note="integer inputs: outputs are integer or float32 on both sides, whatever the case dtype")


# -- prelu and glu -------------------------------------------------------------------

def _prelu_inputs(shape, n_weights, weight_ndim=1):
    def make(rng):
        (x,) = _mixed(shape, [0.0, 0.0])(rng)
        return [x, rng.uniform(-1.0, 1.0, (n_weights,) if weight_ndim else ())]

    return make


grid_case("F.prelu[grid]", ["functional.prelu"],
          [(f"input={shape},weight=({n},)", _fn_pair("prelu"), _prelu_inputs(shape, n))
           for shape, n in [((5,), 1), ((), 1), ((4, 3), 1), ((4, 3), 3), ((2, 3, 5), 3),
                            ((2, 4, 3, 3), 4), ((2, 3, 5), 1), ((7, 3), 3)]]
          + [("input=(2, 3),weight=()", _fn_pair("prelu"), _prelu_inputs((2, 3), 1, weight_ndim=0))])

grid_case("F.glu[grid]", ["functional.glu"],
          [(f"shape={shape},dim={dim}", _fn_pair("glu", dim=dim), _mixed(shape))
           for shape, dim in [((6,), -1), ((6,), 0), ((4, 6), -1), ((4, 6), 0), ((2, 4, 6), 1),
                              ((2, 4, 6), -2), ((2, 3, 4, 2), 3), ((2, 3, 4, 2), -4)]]
          + [("defaults,shape=(3, 4)", _fn_pair("glu"), _mixed((3, 4))),
             ("positional dim=0,shape=(4, 3)", _fn_pair("glu", 0), _mixed((4, 3)))])


# -- softmax family ------------------------------------------------------------------

SOFTMAX = ("softmax", "log_softmax", "softmin")
SOFTMAX_GRID = [((), -1), ((6,), 0), ((3, 5), -2), ((2, 3, 4), -3), ((2, 3, 4, 2), 2),
                # dim=None: torch's deprecated implicit choice (0 for 0-, 1-, 3-d, else 1).
                ((), None), ((3, 4), None), ((2, 3, 4), None)]
for fname in SOFTMAX:
    grid_case(f"F.{fname}[grid]", [f"functional.{fname}"],
              [(f"shape={shape},dim={dim}", _fn_pair(fname, dim=dim), _mixed(shape, large=0))
               for shape, dim in SOFTMAX_GRID]
              # Large logits: exp overflows unless the max is subtracted first.
              + [("large logits,dim=1", _fn_pair(fname, dim=1), _large((4, 6))),
                 ("positional dim=0,mixed large logits", _fn_pair(fname, 0), _mixed((3, 5), large=4))])


def _dtype_pair(fname, to):
    return lambda: (lambda x: getattr(F, fname)(x, 1, dtype=to),
                    lambda x: getattr(TF, fname)(x, 1, dtype=getattr(torch, to)))


def _torch_dtype_pair(fname):
    # fnet also accepts torch dtypes directly.
    return lambda: (lambda x: getattr(F, fname)(x, dim=-1, dtype=torch.float64),
                    lambda x: getattr(TF, fname)(x, dim=-1, dtype=torch.float64))


_covers = [f"functional.{f}" for f in SOFTMAX]
_randn = _mixed((3, 4), large=0)
for case_dtype in ("float32", "float64"):
    grid_case(f"F.softmax family[dtype=case dtype,{case_dtype}]", _covers,
              [(f"{f},dtype={case_dtype}", _dtype_pair(f, case_dtype), _randn) for f in SOFTMAX]
              + [(f"{f},integer input,dtype={case_dtype}", _dtype_pair(f, case_dtype),
                  lambda rng: [rng.integers(-5, 6, (3, 4))]) for f in SOFTMAX],
              dtypes=(case_dtype,))
grid_case("F.softmax family[float32 input, dtype=float64]", _covers,
          [(f"{f},dtype=float64", _dtype_pair(f, "float64"), _randn) for f in SOFTMAX]
          + [(f"{f},dtype=torch.float64", _torch_dtype_pair(f), _randn) for f in SOFTMAX],
          dtypes=("float64",), input_dtype="float32")
grid_case("F.softmax family[float64 input, dtype=float32]", _covers,
          [(f"{f},dtype=float32", _dtype_pair(f, "float32"), _randn) for f in SOFTMAX],
          dtypes=("float64",), tol64=F32_TOL,
          note="dtype=float32 asks for the computation in float32: float32 tolerances")


# -- modules -------------------------------------------------------------------------

class _CloneInput(torch.nn.Module):
    """Runs a torch activation on a copy of its input, so ``inplace=True`` is legal on a
    leaf that requires grad (torch refuses in-place ops on those)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x.clone())


def _module_pair(name, *args, **kwargs):
    def build():
        t = getattr(torch.nn, name)(*args, **kwargs)
        if getattr(t, "inplace", False):
            t = _CloneInput(t)
        return getattr(nn, name)(*args, **kwargs), t  # array-free: called like torch modules

    return build


MODULES = [
    ("ReLU", [((), {}), ((True,), {})], [0.0]),
    ("ReLU6", [((), {}), ((), {"inplace": True})], [0.0, 6.0]),
    ("LeakyReLU", [((), {}), ((0.2,), {}), ((), {"negative_slope": 0.1, "inplace": True})], [0.0]),
    ("ELU", [((), {}), ((2.0,), {}), ((), {"alpha": 0.5, "inplace": True})], [0.0]),
    ("SELU", [((), {}), ((True,), {})], [0.0]),
    ("CELU", [((), {}), ((2.0,), {}), ((), {"alpha": 0.5, "inplace": True})], [0.0]),
    ("GELU", [((), {}), (("tanh",), {}), ((), {"approximate": "none"})], [0.0]),
    ("SiLU", [((), {}), ((True,), {})], [0.0]),
    ("Mish", [((), {}), ((True,), {})], [0.0]),
    ("Sigmoid", [((), {})], [0.0]),
    ("Tanh", [((), {})], [0.0]),
    ("Hardtanh", [((), {}), ((-2.0, 0.5), {}), ((), {"min_val": -3, "max_val": 3, "inplace": True})],
     [-1.0, 1.0, -2.0, 0.5, -3.0, 3.0]),
    ("Hardsigmoid", [((), {}), ((True,), {})], [-3.0, 3.0]),
    ("Hardswish", [((), {}), ((True,), {})], [-3.0, 3.0]),
    ("Softplus", [((), {}), ((2.0, 10.0), {}), ((), {"beta": 0.5, "threshold": 4.0})], [5.0, 8.0, 20.0]),
    ("Softsign", [((), {})], [0.0]),
    ("LogSigmoid", [((), {})], [0.0]),
    ("Tanhshrink", [((), {})], [0.0]),
    ("Softshrink", [((), {}), ((1.5,), {}), ((), {"lambd": 0.0})], [0.5, -0.5, 1.5, -1.5, 0.0]),
    ("Hardshrink", [((), {}), ((1.5,), {}), ((), {"lambd": 0.0})], [0.5, -0.5, 1.5, -1.5, 0.0]),
    ("Threshold", [((0.1, 20.0), {}), ((-1.0, -2.0, True), {}), ((), {"threshold": 0.5, "value": 0.0})],
     [0.1, -1.0, 0.5]),
    ("GLU", [((), {}, [(4, 2)]), ((1,), {}, [(2, 4, 6)]), ((), {"dim": -2}, [(6, 4)]),
             ((0,), {}, [(2, 2, 2, 4)])], []),
]
_SOFTMAX_MODULE_CONFIGS = [((1,), {}, [(2, 3, 4)]), ((), {"dim": -1}, [()]), ((0,), {}, [(3, 4)]),
                           ((), {}, [(2, 3, 4)])]
MODULES += [(m, _SOFTMAX_MODULE_CONFIGS, []) for m in ("Softmax", "LogSoftmax", "Softmin")]

for mname, configs, kinks in MODULES:
    entries = []
    for i, config in enumerate(configs):
        args, kwargs = config[:2]
        # The math is proved by the F.* grids: one rank per configuration (cycling).
        shapes = config[2] if len(config) > 2 else [SHAPES[(i + len(mname)) % 5]]
        label = ",".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
        for shape in shapes:
            entries.append((f"{mname}({label}),shape={shape}", _module_pair(mname, *args, **kwargs),
                            _mixed(shape, kinks[:4])))
    grid_case(f"nn.{mname}[grid]", [f"nn.{mname}"], entries)

# Array-free modules inside a parent, routed through ctx like a user model.
module_case("nn.Sequential[activations]", "activation",
            lambda: (nn.Sequential(nn.GELU("tanh"), nn.Hardswish(), nn.Softplus(2.0, 5.0),
                                   nn.LeakyReLU(0.2), nn.LogSoftmax(dim=1)),
                     torch.nn.Sequential(torch.nn.GELU("tanh"), torch.nn.Hardswish(),
                                         torch.nn.Softplus(2.0, 5.0), torch.nn.LeakyReLU(0.2),
                                         torch.nn.LogSoftmax(dim=1))),
            _mixed((4, 6), [0.0, -3.0, 3.0]),
            covers=["nn.GELU", "nn.Hardswish", "nn.Softplus", "nn.LeakyReLU", "nn.LogSoftmax"])


def _prelu_pair(n, init=0.25):
    def build():
        t = torch.nn.PReLU(n, init)
        with torch.no_grad():  # distinct slopes, so a wrong channel mapping shows
            t.weight.uniform_(-1.0, 1.0)
        return nn.PReLU(n, init), t

    return build


for n, shape in [(1, (4, 3)), (1, ()), (3, (2, 3, 5)), (4, (2, 4, 3, 3)), (3, (7, 3))]:
    module_case(f"nn.PReLU({n})[shape={shape}]", "activation", _prelu_pair(n),
                _mixed(shape, [0.0, 0.0]), covers=["nn.PReLU"])
module_case("nn.PReLU(init=0.1)[default weights]", "activation",
            lambda: (nn.PReLU(init=0.1), torch.nn.PReLU(init=0.1)), _mixed((5,), [0.0]),
            covers=["nn.PReLU"])


# -- random activations: rrelu, RReLU, gumbel_softmax ------------------------------------------
# Random numbers differ between frameworks by design (DESIGN.md): evaluation mode is compared
# directly, training with torch's own draws handed to fnet's arithmetic (the same noise on both
# sides), and fnet's own draws by their statistics.

grid_case("F.rrelu[eval grid]", ["functional.rrelu"],
          [(f"rrelu({_label(kw)}),shape={SHAPES[i % 5]}", _fn_pair("rrelu", **kw),
            _mixed(SHAPES[i % 5], [0.0, 0.0]))
           for i, kw in enumerate([{}, {"lower": 0.1, "upper": 0.3}, {"lower": 0.2, "upper": 0.2},
                                   {"training": False, "lower": -0.5, "upper": 0.5}])])
for _args in [(), (0.05, 0.5)]:
    module_case(f"nn.RReLU{_args}[eval]", "activation",
                lambda a=_args: (nn.RReLU(*a), torch.nn.RReLU(*a)), _mixed((3, 4, 5), [0.0, 0.0]),
                covers=["nn.RReLU"])


def _rrelu_same_noise(name: str, shape: tuple[int, ...], lower: float, upper: float) -> None:
    """torch draws one slope per non-positive element, in order; the gradient of the sum
    of its output is exactly those slopes (1 elsewhere), which fnet then applies."""
    from fnet.functional._activation import _rrelu_with_noise

    seed = case_seed(name)

    def run(dtype: str):
        rng = np.random.default_rng(seed)
        (x,) = cast_inputs(_mixed(shape, [0.0, 0.0])(rng), dtype)
        probe = torch.from_numpy(x.copy()).requires_grad_(True)
        torch.manual_seed(seed)
        TF.rrelu(probe, lower, upper, training=True).sum().backward()
        slopes = probe.grad.numpy()

        def torch_fn(t):
            torch.manual_seed(seed)
            return TF.rrelu(t, lower, upper, training=True)

        with precision(dtype):
            return run_pair(name, dtype, fnet_fn=lambda p, j: _rrelu_with_noise(j, slopes),
                            torch_fn=torch_fn, params={}, torch_params={}, inputs=[x], seed=seed)

    register(ParityCase(name, "activation", ("functional.rrelu",), run))


_rrelu_same_noise("F.rrelu[training, torch's slopes]", (4, 5, 6), 1 / 8, 1 / 3)
_rrelu_same_noise("F.rrelu[training, lower=0.05, upper=0.8, torch's slopes]", (7, 9), 0.05, 0.8)


def _gumbel_same_noise(name: str, shape: tuple[int, ...], **kwargs) -> None:
    """torch's noise is ``-log(Exp(1))`` from ``empty_like(logits).exponential_()``; the same
    call after the same seed reproduces it exactly, and fnet applies it."""
    from fnet.functional._activation import _gumbel_softmax_with_noise

    seed = case_seed(name)
    tau, hard, dim = kwargs.get("tau", 1.0), kwargs.get("hard", False), kwargs.get("dim", -1)

    def run(dtype: str):
        rng = np.random.default_rng(seed)
        (x,) = cast_inputs([rng.standard_normal(shape) * 2], dtype)
        torch.manual_seed(seed)
        gumbels = (-torch.empty_like(torch.from_numpy(x)).exponential_().log()).numpy()

        def torch_fn(t):
            torch.manual_seed(seed)
            return TF.gumbel_softmax(t, **kwargs)

        with precision(dtype):
            return run_pair(name, dtype, torch_fn=torch_fn, params={}, torch_params={},
                            fnet_fn=lambda p, j: _gumbel_softmax_with_noise(j, jnp.asarray(gumbels),
                                                                          tau, hard, dim, "gumbel_softmax"),
                            inputs=[x], seed=seed)

    register(ParityCase(name, "activation", ("functional.gumbel_softmax",), run))


_gumbel_same_noise("F.gumbel_softmax[torch's noise, defaults]", (6, 5))
_gumbel_same_noise("F.gumbel_softmax[torch's noise, tau=0.5, dim=1]", (3, 4, 5), tau=0.5, dim=1)
_gumbel_same_noise("F.gumbel_softmax[torch's noise, hard=True, tau=2]", (8, 7), tau=2.0, hard=True)
_gumbel_same_noise("F.gumbel_softmax[torch's noise, hard=True, dim=0]", (5, 3), hard=True, dim=0)


def _random_activation_stats(dtype: str, seed: int) -> list:
    diffs = []
    key = jax.random.key(seed)
    # rrelu: slopes of negative inputs are U(lower, upper); positive inputs pass unchanged
    x = -jnp.ones((200, 500), dtype)
    lower, upper = 0.1, 0.4
    slopes = -np.asarray(F.rrelu(x, lower, upper, training=True, key=key), np.float64)
    n = slopes.size
    diffs.append(check("rrelu: slopes within [lower, upper]",
                       bool(slopes.min() >= lower and slopes.max() <= upper)))
    diffs.append(within("rrelu: mean slope", slopes.mean(), (lower + upper) / 2,
                        (upper - lower) / math.sqrt(12 * n)))
    diffs.append(within("rrelu: slope variance", slopes.var(), (upper - lower) ** 2 / 12,
                        (upper - lower) ** 2 / math.sqrt(180 * n)))
    torch.manual_seed(seed)
    t_slopes = -TF.rrelu(-torch.ones(200, 500, dtype=getattr(torch, dtype)), lower, upper,
                         training=True).numpy()
    diffs.append(within("rrelu: mean slope vs torch's", slopes.mean(), t_slopes.mean(),
                        (upper - lower) / math.sqrt(6 * n)))
    positive = np.asarray(F.rrelu(-x, lower, upper, training=True, key=key))
    diffs.append(check("rrelu: positive inputs unchanged", bool(np.all(positive == 1))))
    layer = nn.RReLU(lower, upper)
    a = np.asarray(layer.apply({}, {}, x, train=True, key=key)[0])
    b = np.asarray(layer.apply({}, {}, x, train=True, key=jax.random.key(seed + 1))[0])
    diffs.append(check("nn.RReLU train: random slopes in range, different per key",
                       bool(np.all((-a >= lower) & (-a <= upper))) and not np.array_equal(a, b)))
    diffs.append(check("nn.RReLU eval: the mean slope",
                       bool(np.allclose(np.asarray(layer.apply({}, {}, x)[0]), -(lower + upper) / 2))))
    # gumbel_softmax: the argmax of a sample is categorical(softmax(logits))
    logits = jnp.asarray(np.log([0.1, 0.2, 0.3, 0.4]), dtype)
    m = 40_000
    samples = np.asarray(F.gumbel_softmax(jnp.broadcast_to(logits, (m, 4)), tau=0.5, hard=True, key=key))
    diffs.append(check("gumbel_softmax hard: one-hot rows", bool(np.all(samples.sum(1) == 1)
                                                                   and np.all((samples == 0) | (samples == 1)))))
    for c, prob in enumerate([0.1, 0.2, 0.3, 0.4]):
        diffs.append(within(f"gumbel_softmax: frequency of class {c}", samples[:, c].mean(), prob,
                            math.sqrt(prob * (1 - prob) / m)))
    soft = np.asarray(F.gumbel_softmax(jnp.broadcast_to(logits, (m, 4)), tau=2.0, key=key))
    diffs.append(check("gumbel_softmax soft: rows sum to 1, argmax as hard with the same key",
                       bool(np.allclose(soft.sum(1), 1, atol=1e-5))
                       and bool(np.array_equal(soft.argmax(1),
                                               np.asarray(F.gumbel_softmax(jnp.broadcast_to(logits, (m, 4)),
                                                                           tau=0.5, hard=True,
                                                                           key=key)).argmax(1)))))
    return diffs


stats_case("F.rrelu+nn.RReLU+F.gumbel_softmax[statistics of fnet's draws]", "activation",
           _random_activation_stats, ("functional.rrelu", "nn.RReLU", "functional.gumbel_softmax"))

# -- Softmax2d -----------------------------------------------------------------------------------

for _shape in [(2, 3, 4, 5), (3, 4, 5)]:
    module_case(f"nn.Softmax2d[shape={_shape}]", "activation",
                lambda: (nn.Softmax2d(), torch.nn.Softmax2d()), lambda rng, s=_shape: [rng.standard_normal(s)],
                covers=["nn.Softmax2d"])
