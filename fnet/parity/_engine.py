"""The parity engine: run fnet and PyTorch on the same weights and inputs and compare.

For a case we compute, on both sides, the outputs and the gradient of one scalar loss
with respect to every floating-point input and every parameter. The loss is
``sum_i sum(output_i * R_i)`` with fixed random ``R_i`` (a plain sum would give zero
gradients through softmax or normalisation). Differences are reported per tensor, by
torch name, as the max absolute and max relative error, and a tensor passes when
every element satisfies ``|fnet - torch| <= atol + rtol * |torch|``, the rule of
``torch.testing.assert_close``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any, Callable, Iterator, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree
from ..io import load_state_dict, to_numpy
from ..nn._module import Module

# float32: torch.testing.assert_close's defaults for the forward pass; gradients get
# rtol 1e-5 (DESIGN.md). float64: about 1e-10 everywhere.
TOLERANCES = {
    "float32": {"rtol": 1.3e-6, "atol": 1e-5, "grad_rtol": 1e-5, "grad_atol": 1e-5},
    "float64": {"rtol": 1e-10, "atol": 1e-10, "grad_rtol": 1e-10, "grad_atol": 1e-10},
}


@contextlib.contextmanager
def precision(dtype: str) -> Iterator[None]:
    """Enables 64-bit JAX for ``float64`` and forces full-precision matmuls everywhere."""
    import torch

    old_tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        with jax.default_matmul_precision("highest"), _x64(dtype == "float64"):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old_tf32


def _x64(enabled: bool):
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(enabled)
    from jax.experimental import enable_x64, disable_x64  # JAX < 0.10

    return enable_x64() if enabled else disable_x64()


@dataclasses.dataclass
class Diff:
    """How far one tensor of fnet is from torch's."""

    kind: str  # "output", "grad", "state"
    name: str
    max_abs: float
    max_rel: float
    ok: bool
    detail: str = ""

    def row(self) -> str:
        flag = "ok" if self.ok else "FAIL"
        return f"{self.kind:<6} {self.name:<40} abs {self.max_abs:.2e} rel {self.max_rel:.2e} {flag} {self.detail}"


@dataclasses.dataclass
class Report:
    """The result of one comparison (one case, one dtype)."""

    name: str
    dtype: str
    diffs: list[Diff]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.diffs) and all(d.ok for d in self.diffs)

    def _max(self, kinds: tuple[str, ...]) -> float:
        vals = [d.max_abs for d in self.diffs if d.kind in kinds]
        return max(vals) if vals else float("nan")

    @property
    def forward_err(self) -> float:
        return self._max(("output", "state"))

    @property
    def grad_err(self) -> float:
        return self._max(("grad",))

    @property
    def n_grads(self) -> int:
        return sum(d.kind == "grad" for d in self.diffs)

    def __str__(self) -> str:
        head = f"{self.name} [{self.dtype}]: {'PASS' if self.ok else 'FAIL'}"
        if self.error:
            head += f"\n  error: {self.error}"
        return "\n  ".join([head] + [d.row() for d in self.diffs])

    def assert_ok(self) -> None:
        if not self.ok:
            raise AssertionError(str(self))

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "ok": self.ok, "error": self.error,
                "forward_max_abs": _finite(self.forward_err), "grad_max_abs": _finite(self.grad_err),
                "diffs": [dataclasses.asdict(d) for d in self.diffs]}


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def diff(kind: str, name: str, got: Any, want: Any, rtol: float, atol: float) -> Diff:
    """Compares one fnet array with one torch array (assert_close's rule)."""
    got = np.asarray(to_numpy(got))
    want = np.asarray(to_numpy(want))
    if got.shape != want.shape:
        return Diff(kind, name, math.inf, math.inf, False, f"shape {got.shape} vs torch {want.shape}")
    if not (np.issubdtype(want.dtype, np.floating) or np.issubdtype(got.dtype, np.floating)):
        equal = bool(np.array_equal(got, want))
        return Diff(kind, name, 0.0 if equal else math.inf, 0.0 if equal else math.inf, equal,
                    "" if equal else "integer values differ")
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    if g.size == 0:
        return Diff(kind, name, 0.0, 0.0, True)
    both_nan = np.isnan(g) & np.isnan(w)
    same_inf = np.isinf(g) & (g == w)
    err = np.where(both_nan | same_inf, 0.0, np.abs(g - w))
    err = np.where(np.isnan(err), np.inf, err)
    rel = err / np.maximum(np.abs(w), np.finfo(np.float64).tiny)
    rel = np.where(err == 0, 0.0, rel)
    ok = bool(np.all(err <= atol + rtol * np.abs(np.where(np.isfinite(w), w, 0.0))))
    return Diff(kind, name, float(err.max()), float(rel.max()), ok)


def flatten_outputs(out: Any, prefix: str = "out") -> list[tuple[str, Any]]:
    """Tensors of a (nested) output in order: tuples, lists, dicts and dataclass-like outputs."""
    if out is None:
        return []
    if isinstance(out, Mapping):
        items: list[tuple[str, Any]] = []
        for k, v in out.items():
            items.extend(flatten_outputs(v, f"{prefix}.{k}"))
        return items
    if isinstance(out, (tuple, list)):
        items = []
        for i, v in enumerate(out):
            items.extend(flatten_outputs(v, f"{prefix}[{i}]"))
        return items
    return [(prefix, out)]


def _is_float(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    if type(x).__module__.startswith("torch"):
        return bool(x.dtype.is_floating_point)
    return bool(jnp.issubdtype(dtype, jnp.floating))


def cotangents(outputs: Sequence[tuple[str, Any]], seed: int) -> list[np.ndarray | None]:
    """Fixed random weights for the scalar loss, one per floating output (float64)."""
    rng = np.random.default_rng(seed + 7919)
    cots: list[np.ndarray | None] = []
    for _, value in outputs:
        cots.append(rng.standard_normal(np.shape(value)) if _is_float(value) else None)
    return cots


def cast_inputs(inputs: Sequence[Any], dtype: str) -> list[np.ndarray]:
    """Floating inputs to the case dtype, integers to int64 (torch's long)."""
    cast = []
    for x in inputs:
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.floating):
            x = x.astype(dtype)
        elif np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.int64)
        cast.append(x)
    return cast


def _jax_input(x: np.ndarray) -> jax.Array:
    if x.dtype == np.int64 and jax.dtypes.canonicalize_dtype(np.int64) != np.int64:
        x = x.astype(np.int32)
    return jnp.asarray(x)


def _torch_dtype(dtype: str):
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[dtype]


def run_pair(name: str, dtype: str, *, fnet_fn: Callable, params: Mapping, torch_fn: Callable,
             torch_params: Mapping[str, Any], inputs: Sequence[Any], grad_inputs: bool = True,
             tol: Mapping[str, float] | None = None, seed: int = 0,
             torch_state: Callable[[], Mapping[str, Any]] | None = None,
             fnet_returns_state: bool = False, jit: bool = True) -> Report:
    """The core comparison used by every case kind.

    Args:
        fnet_fn: ``(params, *inputs) -> outputs`` (or ``(outputs, new_state)`` when
            ``fnet_returns_state``).
        params: fnet parameter tree (same values as ``torch_params``).
        torch_fn: ``(*inputs) -> outputs`` using tensors that require grad.
        torch_params: ``{torch name: tensor}`` whose gradients are compared.
        inputs: numpy arrays already cast to the dtype.
        torch_state: returns torch's buffers after the forward (compared to new_state).
    """
    import torch

    tol = {**TOLERANCES[dtype], **(tol or {})}
    diffs: list[Diff] = []
    float_idx = [i for i, x in enumerate(inputs) if np.issubdtype(np.asarray(x).dtype, np.floating)]
    if not grad_inputs:
        float_idx = []

    # torch side
    t_inputs = []
    for i, x in enumerate(inputs):
        t = torch.from_numpy(np.array(x))
        if i in float_idx:
            t.requires_grad_(True)
        t_inputs.append(t)
    t_out_raw = torch_fn(*t_inputs)
    t_outs = flatten_outputs(t_out_raw)
    cots = cotangents(t_outs, seed)
    loss = None
    for (_, value), cot in zip(t_outs, cots):
        if cot is not None and value.requires_grad:
            term = (value * torch.from_numpy(cot).to(value.dtype)).sum()
            loss = term if loss is None else loss + term
    t_params = dict(torch_params)
    if loss is not None:
        wrt = [t_inputs[i] for i in float_idx] + list(t_params.values())
        grads = torch.autograd.grad(loss, wrt, allow_unused=True) if wrt else []
    else:
        grads = [None] * (len(float_idx) + len(t_params))
    t_in_grads = grads[:len(float_idx)]
    t_param_grads = dict(zip(t_params, grads[len(float_idx):]))

    # fnet side
    j_inputs = [_jax_input(np.asarray(x)) for x in inputs]

    def loss_fn(p, diff_inputs):
        all_inputs = list(j_inputs)
        for i, v in zip(float_idx, diff_inputs):
            all_inputs[i] = v
        result = fnet_fn(p, *all_inputs)
        new_state = None
        if fnet_returns_state:
            result, new_state = result
        outs = flatten_outputs(result)
        total = jnp.zeros((), dtype)
        for (_, value), cot in zip(outs, cots):
            if cot is not None and jnp.issubdtype(jnp.asarray(value).dtype, jnp.floating):
                total = total + jnp.sum(value * jnp.asarray(cot, jnp.asarray(value).dtype))
        return total, (result, new_state)

    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
    if jit:
        grad_fn = jax.jit(grad_fn)
    (_, (j_out_raw, j_state)), (j_param_grads, j_in_grads) = grad_fn(
        params, [j_inputs[i] for i in float_idx])

    j_outs = flatten_outputs(j_out_raw)
    if len(j_outs) != len(t_outs):
        return Report(name, dtype, diffs, f"fnet returned {len(j_outs)} tensors, torch {len(t_outs)}")
    for (label, got), (_, want) in zip(j_outs, t_outs):
        diffs.append(diff("output", label, got, want, tol["rtol"], tol["atol"]))
    if torch_state is not None and j_state is not None:
        flat_state = _tree.flatten(j_state)
        for key, want in torch_state().items():
            if key not in flat_state:
                diffs.append(Diff("state", key, math.inf, math.inf, False, "missing in fnet state"))
                continue
            diffs.append(diff("state", key, flat_state[key], want, tol["rtol"], tol["atol"]))
    for n, (i, got) in enumerate(zip(float_idx, j_in_grads)):
        want = t_in_grads[n]
        want = np.zeros(np.shape(inputs[i])) if want is None else want
        diffs.append(diff("grad", f"input[{i}]", got, want, tol["grad_rtol"], tol["grad_atol"]))
    flat_grads = _tree.flatten(j_param_grads)
    for key, tensor in t_params.items():
        want = t_param_grads[key]
        want = np.zeros(tuple(tensor.shape)) if want is None else want
        if key not in flat_grads:
            diffs.append(Diff("grad", key, math.inf, math.inf, False, "parameter missing in fnet"))
            continue
        diffs.append(diff("grad", key, flat_grads[key], want, tol["grad_rtol"], tol["grad_atol"]))
    extra = sorted(set(flat_grads) - set(t_params))
    for key in extra:
        diffs.append(Diff("grad", key, math.inf, math.inf, False, "fnet parameter unknown to torch"))
    return Report(name, dtype, diffs)


def compare(fnet_model: Module, torch_module: Any, inputs: Sequence[Any], *, dtype: str = "float32",
            train: bool = False, kwargs: Mapping[str, Any] | None = None,
            tol: Mapping[str, float] | None = None, seed: int = 0, name: str | None = None,
            compare_state: bool = True, grad_inputs: bool = True) -> Report:
    """Loads ``torch_module``'s weights into ``fnet_model`` and compares both.

    Args:
        fnet_model: the fnet module.
        torch_module: the equivalent ``torch.nn.Module`` (its weights are used).
        inputs: numpy arrays (floating ones are cast to ``dtype`` and differentiated).
        dtype: ``"float32"`` or ``"float64"`` (64-bit JAX is enabled for the call).
        train: torch's ``.train()`` vs ``.eval()``; fnet's ``train=`` flag. Cases with
            randomness in training compare through :func:`run_pair` with shared masks.
        kwargs: keyword inputs passed to both forwards (masks, flags).
        tol: overrides of ``rtol``, ``atol``, ``grad_rtol``, ``grad_atol``.
        compare_state: in training, compare torch's buffers after the forward with
            fnet's new state (BatchNorm running statistics).

    Returns:
        A :class:`Report` with one entry per output, buffer and gradient.

    Example::

        report = fnet.parity.compare(nn.Linear(3, 2), torch.nn.Linear(3, 2), [x])
        report.assert_ok()
    """
    import copy

    import torch

    kwargs = dict(kwargs or {})
    with precision(dtype):
        module = copy.deepcopy(torch_module).to(_torch_dtype(dtype))
        module.train(train)
        cast = cast_inputs(inputs, dtype)
        loaded = load_state_dict(fnet_model, module.state_dict())
        params, state = loaded

        def fnet_fn(p, *xs):
            return fnet_model.apply(p, state, *xs, train=train, key=None, **kwargs)

        def torch_fn(*xs):
            return module(*xs, **kwargs)

        def torch_state():
            return {k: v.detach() for k, v in module.state_dict().items()
                    if k not in dict(module.named_parameters())}

        return run_pair(name or type(fnet_model).__name__, dtype, fnet_fn=fnet_fn, params=params,
                        torch_fn=torch_fn, torch_params=dict(module.named_parameters()),
                        inputs=cast, tol=tol, seed=seed,
                        torch_state=torch_state if (train and compare_state) else None,
                        fnet_returns_state=True, grad_inputs=grad_inputs)


def compare_functions(fnet_fn: Callable, torch_fn: Callable, inputs: Sequence[Any], *,
                      dtype: str = "float32", kwargs: Mapping[str, Any] | None = None,
                      torch_kwargs: Mapping[str, Any] | None = None,
                      tol: Mapping[str, float] | None = None, seed: int = 0,
                      name: str | None = None, grad_inputs: bool = True, jit: bool = True) -> Report:
    """Compares two parameter-free functions (``F.gelu`` vs ``torch.nn.functional.gelu``).

    ``kwargs`` go to both; ``torch_kwargs`` (when given) to torch instead, for tensors
    that must be built on the torch side. Keyword values that are numpy arrays are
    converted to jax arrays / torch tensors of the case dtype.
    """
    import torch

    kwargs = dict(kwargs or {})
    with precision(dtype):
        cast = cast_inputs(inputs, dtype)

        def convert(kw: Mapping[str, Any], to_torch: bool) -> dict:
            out = {}
            for k, v in kw.items():
                if isinstance(v, np.ndarray):
                    (v,) = cast_inputs([v], dtype)
                    v = torch.from_numpy(v) if to_torch else _jax_input(v)
                out[k] = v
            return out

        j_kwargs = convert(kwargs, False)
        t_kwargs = convert(torch_kwargs if torch_kwargs is not None else kwargs, True)
        return run_pair(name or getattr(fnet_fn, "__name__", "function"), dtype,
                        fnet_fn=lambda p, *xs: fnet_fn(*xs, **j_kwargs), params={},
                        torch_fn=lambda *xs: torch_fn(*xs, **t_kwargs), torch_params={},
                        inputs=cast, tol=tol, seed=seed, grad_inputs=grad_inputs, jit=jit)
