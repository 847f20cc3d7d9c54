"""The port interpreter operator by operator, on torch's own OpInfo samples.

For every OpInfo of ``torch.testing._internal`` (and its in-place variant), each sample
call is traced to an ATen graph with ``make_fx`` (the core operators torch's kernels
dispatch to), converted to a port program and run by the interpreter under
``jax_enable_x64``; outputs must equal torch's in value and dtype. Graphs that use an
operator without a handler are skipped (``fnet.port`` reports those itself), as are
random operators (compared by the dropout family and ``tests/test_port.py`` instead).
The default run takes the first sample of each operator; ``-m slow`` takes eight.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch's OpInfo database imports it

SHARDS = 6

# Operators whose values are random draws (compared statistically elsewhere) or
# uninitialised memory.
RANDOM = ("normal", "rand", "randn", "randint", "bernoulli", "multinomial", "uniform", "exponential",
          "cauchy", "geometric", "log_normal", "dropout", "rrelu", "empty", "new_empty", "randperm")

# Known limits, each with its reason.
LIMITS = {
    "chalf": "complex32 has no JAX dtype",
    "nn.functional.scaled_dot_product_attention": "samples with dropout_p > 0 are random draws",
    "nn.functional.multi_head_attention_forward": "samples with dropout_p > 0 are random draws",
}


@functools.lru_cache(maxsize=None)
def _op_db():
    from torch.testing._internal.common_methods_invocations import op_db

    return op_db


def _canonical_dtype(array: np.ndarray) -> np.dtype:
    return np.asarray(array).dtype


def _run_sample(info, fn, sample, inplace: bool):
    """None when the sample passed or was skipped, else a failure message."""
    import jax
    import jax.numpy as jnp
    from torch.fx.experimental.proxy_tensor import make_fx
    from torch.utils import _pytree

    from fnet._port import _capture
    from fnet._port._interpret import run_program
    from fnet.io import to_numpy

    leaves, spec = _pytree.tree_flatten((sample.input, sample.args, sample.kwargs))
    positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]

    def call(*tensors):
        full = list(leaves)
        for i, t in zip(positions, tensors):
            full[i] = t
        inp, args, kwargs = _pytree.tree_unflatten(full, spec)
        return fn(inp.clone() if inplace else inp, *args, **kwargs)

    tensors = [leaves[i] for i in positions]
    if any(t.is_complex() or t.dtype == torch.bfloat16 or t.is_sparse for t in tensors):
        return None
    try:
        traced = make_fx(call)(*[t.clone() for t in tensors])
        want = call(*[t.clone() for t in tensors])
    except Exception:  # torch itself rejects the sample under tracing
        return None
    program, unsupported = _capture.convert_graph(traced)
    if unsupported:
        return None
    want = [w for w in _pytree.tree_leaves(want) if isinstance(w, torch.Tensor)]
    if not want:  # only sizes (broadcast_shapes): nothing to compare
        return None
    if any(w.is_complex() or w.dtype in (torch.bfloat16, torch.float16) for w in want):
        return None
    def run(*xs):
        return run_program(program, inputs=list(xs), param=None, buffer=None, call_module=None,
                           train=False, next_key=None)[0]

    with jax.enable_x64(True):
        inputs = [jnp.asarray(t.numpy()) for t in tensors]
        try:
            try:
                got = jax.jit(run)(*inputs)  # one compilation per sample
            except jax.errors.ConcretizationTypeError:
                got = run(*inputs)  # value-dependent Python (.item()): eager
        except Exception as err:
            return f"raised {type(err).__name__}: {str(err).splitlines()[0][:200]}"
        got = [np.asarray(g) for g in got if g is not None and hasattr(g, "shape")]
    if len(got) != len(want):
        return f"{len(got)} outputs, torch {len(want)}"
    for g, w in zip(got, want):
        w = to_numpy(w.resolve_conj())
        if g.shape != w.shape:
            return f"shape {g.shape}, torch {w.shape}"
        if g.dtype != w.dtype:
            return f"dtype {g.dtype}, torch {w.dtype}"
        # float32 rounding relative to the output's scale (sums, FFTs of large values)
        scale = float(np.nanmax(np.abs(w), initial=0.0)) if w.size and np.issubdtype(w.dtype, np.floating) else 0.0
        if not np.allclose(g, w, rtol=1e-5, atol=1e-5 * max(1.0, scale), equal_nan=True):
            return f"max difference {np.nanmax(np.abs(g.astype(float) - w.astype(float))):.2e}"
    return None


def _check_shard(shard: int, samples: int) -> None:
    from fnet._port._handlers import load

    load()
    failures = []
    for index, info in enumerate(_op_db()):
        if index % SHARDS != shard or info.name in LIMITS or info.name.startswith(RANDOM):
            continue
        if any(part in info.name for part in RANDOM) or torch.float32 not in info.supported_dtypes("cpu"):
            continue
        torch.manual_seed(index)
        try:
            # the raw generator: OpInfo.sample_inputs inspects the call stack on every call
            cases = list(itertools.islice(info.sample_inputs_func(info, "cpu", torch.float32, False), samples))
        except Exception:
            continue
        variants = [("", info.op)] + ([("_", info.inplace_variant)] if info.inplace_variant else [])
        for suffix, fn in variants:
            for k, sample in enumerate(cases):
                message = _run_sample(info, fn, sample, bool(suffix))
                if message:
                    failures.append(f"{info.name}{suffix} sample {k}: {message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_interpreter_matches_torch_on_opinfo_samples(shard):
    _check_shard(shard, samples=1)


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_interpreter_matches_torch_on_more_opinfo_samples(shard):
    _check_shard(shard, samples=8)
