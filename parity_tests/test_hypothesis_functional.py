"""Hypothesis-driven parity for the functional activations and the softmax family.

Each example draws a function, valid arguments for it, an input shape of rank 0-4
and values (small, large up to |x| = 1000, and exactly on the function's kinks),
then compares outputs and input gradients with torch through
``fnet.parity.compare_functions``. Derandomized, so every run checks the same
examples; the registered grids in ``fnet/parity/cases/activation.py`` cover the
configurations users reach for, these cover the corners in between.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnet.functional as F
from fnet.parity import compare_functions

TF = torch.nn.functional
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
floats = st.floats

# name -> (strategy of kwargs, kwargs -> kinks)
ELEMENTWISE = {
    "relu": (st.just({}), lambda kw: [0.0]),
    "relu6": (st.just({}), lambda kw: [0.0, 6.0]),
    "leaky_relu": (st.fixed_dictionaries({"negative_slope": floats(-1, 1)}), lambda kw: [0.0]),
    "elu": (st.fixed_dictionaries({"alpha": floats(0.05, 3)}), lambda kw: [0.0]),
    "selu": (st.just({}), lambda kw: [0.0]),
    "celu": (st.fixed_dictionaries({"alpha": floats(0.05, 3)}), lambda kw: [0.0]),
    "gelu": (st.fixed_dictionaries({"approximate": st.sampled_from(["none", "tanh"])}), lambda kw: [0.0]),
    "silu": (st.just({}), lambda kw: [0.0]),
    "mish": (st.just({}), lambda kw: [0.0]),
    "sigmoid": (st.just({}), lambda kw: [0.0]),
    "tanh": (st.just({}), lambda kw: [0.0]),
    "hardtanh": (st.tuples(floats(-5, 5), floats(0, 5)).map(
        lambda t: {"min_val": t[0], "max_val": t[0] + t[1]}), lambda kw: [kw["min_val"], kw["max_val"]]),
    "hardsigmoid": (st.just({}), lambda kw: [-3.0, 3.0]),
    "hardswish": (st.just({}), lambda kw: [-3.0, 3.0]),
    "softplus": (st.fixed_dictionaries({"beta": floats(0.1, 5), "threshold": floats(1, 30)}),
                 lambda kw: [kw["threshold"] / kw["beta"]]),
    "softsign": (st.just({}), lambda kw: [0.0]),
    "logsigmoid": (st.just({}), lambda kw: [0.0]),
    "tanhshrink": (st.just({}), lambda kw: [0.0]),
    "softshrink": (st.fixed_dictionaries({"lambd": floats(0, 3)}), lambda kw: [kw["lambd"], -kw["lambd"]]),
    "hardshrink": (st.fixed_dictionaries({"lambd": floats(-1, 3)}), lambda kw: [kw["lambd"], -kw["lambd"]]),
    "threshold": (st.fixed_dictionaries({"threshold": floats(-5, 5), "value": floats(-20, 20)}),
                  lambda kw: [kw["threshold"]]),
}


def _values(shape, kinks):
    element = st.one_of(floats(-4, 4), floats(-1000, 1000), st.sampled_from(list(kinks) or [0.0]))
    return hnp.arrays(np.float64, shape, elements=element)


@st.composite
def elementwise_examples(draw, name):
    kwargs_strategy, kinks = ELEMENTWISE[name]
    kwargs = draw(kwargs_strategy)
    x = draw(_values(draw(SHAPES), kinks(kwargs)))
    return kwargs, x


@st.composite
def softmax_examples(draw, float64: bool):
    shape = draw(SHAPES)
    rank = max(len(shape), 1)
    dim = draw(st.one_of(st.none(), st.integers(-rank, rank - 1)))
    dtype = draw(st.sampled_from([None, "float64"])) if float64 else None
    x = draw(_values(shape, [0.0]))
    return {"dim": dim, "dtype": dtype}, x


@st.composite
def gated_examples(draw):
    """glu (a dim of even size) or prelu (one slope, or one per channel of dim 1)."""
    shape = list(draw(SHAPES))
    if draw(st.booleans()) and shape:
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        shape[dim] = 2 * draw(st.integers(1, 3))
        return "glu", {"dim": dim}, [draw(_values(tuple(shape), [0.0]))]
    n = draw(st.sampled_from([1, shape[1]])) if len(shape) >= 2 else 1
    weight_shape = draw(st.sampled_from([(n,), ()])) if n == 1 else (n,)
    weight = draw(hnp.arrays(np.float64, weight_shape, elements=floats(-2, 2)))
    return "prelu", {}, [draw(_values(tuple(shape), [0.0])), weight]


def _check(name, kwargs, inputs, dtype):
    t_kwargs = dict(kwargs)
    if t_kwargs.get("dtype"):
        t_kwargs["dtype"] = getattr(torch, t_kwargs["dtype"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # softmax's implicit-dim deprecation, on both sides
        report = compare_functions(getattr(F, name), getattr(TF, name), inputs, dtype=dtype,
                                   kwargs=kwargs, torch_kwargs=t_kwargs, name=f"{name}{kwargs}")
    report.assert_ok()


# One test per function, so every function gets its own examples; the case dtype is
# drawn too (float64 more often, as it is the stricter comparison).
DTYPES = st.sampled_from(["float64", "float64", "float32"])


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_activation(name):
    @settings(max_examples=4, **SETTINGS)
    @given(elementwise_examples(name), DTYPES)
    def check(example, dtype):
        kwargs, x = example
        _check(name, kwargs, [x], dtype)

    check()


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_family(name, dtype):
    @settings(max_examples=4 if dtype == "float64" else 3, **SETTINGS)
    @given(softmax_examples(float64=dtype == "float64"))
    def check(example):
        kwargs, x = example
        _check(name, kwargs, [x], dtype)

    check()


def test_glu_and_prelu():
    @settings(max_examples=10, **SETTINGS)
    @given(gated_examples(), DTYPES)
    def check(example, dtype):
        name, kwargs, inputs = example
        _check(name, kwargs, inputs, dtype)

    check()
