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

    old_tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        # cudnn's flags through its context manager: torch's test utilities (imported by the
        # port's OpInfo checks) forbid setting them directly for the rest of the process.
        with torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled,
                                        benchmark=torch.backends.cudnn.benchmark,
                                        deterministic=torch.backends.cudnn.deterministic,
                                        allow_tf32=False), \
                jax.default_matmul_precision("highest"), _x64(dtype == "float64"):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old_tf32


def _x64(enabled: bool):
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(enabled)
    from jax.experimental import enable_x64, disable_x64  # JAX < 0.10

    return enable_x64() if enabled else disable_x64()


@dataclasses.dataclass
class Diff:
    """How far one fnet tensor (or one checked statistic) is from torch's.

    Attributes:
        kind: ``"output"``, ``"state"`` (buffers after the forward) or ``"grad"``.
        name: the torch name (``"conv.bias"``, ``"input[0]"``, ``"out[1]"``).
        max_abs: largest ``|fnet - torch|``.
        max_rel: largest ``|fnet - torch| / max(|torch|, atol)``: the denominator is floored
            at the tolerance's ``atol``, so a reference that is zero in exact arithmetic
            (a conv bias before BatchNorm) does not produce a meaningless 1e+300. None
            where a relative error means nothing (printed ``-``).
        ok: the verdict.
        detail: free text (shapes that differ, the statistic's values).
        rtol, atol: the elementwise tolerance the tensor was judged by (passes when
            ``|fnet - torch| <= atol + rtol * |torch|`` everywhere, the rule of
            ``torch.testing.assert_close``); None for checks that are not elementwise.
        tol: how a non-elementwise check was judged (``"6 sigma"``), when it is one.
        used: the largest ``|fnet - torch| / (atol + rtol * |torch|)``, the share of the
            tolerance used (above 1 fails); None for non-elementwise checks.
    """

    kind: str
    name: str
    max_abs: float
    max_rel: float | None
    ok: bool
    detail: str = ""
    rtol: float | None = None
    atol: float | None = None
    tol: str = ""
    used: float | None = None

    @property
    def tolerance(self) -> str:
        """The rule this entry was judged by, as printed."""
        if self.rtol is not None and self.atol is not None:
            return f"{self.atol:.2g} + {self.rtol:.2g}*|t|"
        return self.tol or "-"

    def _severity(self) -> float:
        if self.used is not None:
            return self.used
        return math.inf if not self.ok else 0.0

    def row(self, width: int = 40) -> str:
        flag = "ok" if self.ok else "FAIL"
        rel = "-" if self.max_rel is None else f"{self.max_rel:.2e}"
        used = "" if self.used is None else f" ({_percent(self.used)} of tol)"
        text = (f"{self.kind:<6} {self.name:<{width}} abs {self.max_abs:.2e} rel {rel:>8}  "
                f"tol {self.tolerance}{used} {flag}")
        return text + (f"  {self.detail}" if self.detail else "")


def _percent(used: float) -> str:
    if not math.isfinite(used):
        return "inf"
    return f"{100 * used:.0f}%" if used >= 0.01 else "<1%"


@dataclasses.dataclass
class Report:
    """The result of one comparison (one case, one dtype).

    ``print(report)`` shows one line per tensor (absolute and relative error, the
    tolerance applied, the verdict); when the comparison fails, the worst offenders come
    first. :meth:`to_markdown` and :meth:`to_json` give the same content as a table and
    as data; :meth:`assert_ok` raises ``AssertionError`` with the printed report, which is
    what a pytest test needs.
    """

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

    def ordered(self) -> list[Diff]:
        """The entries in reading order: as computed when all pass, worst first otherwise."""
        if self.ok:
            return list(self.diffs)
        return sorted(self.diffs, key=lambda d: (d.ok, -d._severity()))

    def __str__(self) -> str:
        head = f"{self.name} [{self.dtype}]: {'PASS' if self.ok else 'FAIL'}"
        if self.error:
            head += f"\n  error: {self.error}"
        elif not self.diffs:
            head += " (nothing was compared)"
        width = max([24] + [len(d.name) for d in self.diffs])
        return "\n  ".join([head] + [d.row(width) for d in self.ordered()])

    def assert_ok(self) -> None:
        """Raises ``AssertionError`` carrying the whole printed report unless every entry passed."""
        if not self.ok:
            raise AssertionError(str(self))

    def to_markdown(self) -> str:
        """The report as a markdown table (one row per tensor, worst first on failure)."""
        lines = [f"**{self.name}** [{self.dtype}]: {'PASS' if self.ok else 'FAIL'}"]
        if self.error:
            lines.append(f"\nerror: `{self.error}`")
        lines += ["", "| kind | tensor | max abs | max rel | tolerance | verdict |",
                  "|---|---|---:|---:|---|---|"]
        for d in self.ordered():
            rel = "-" if d.max_rel is None else f"{d.max_rel:.2e}"
            verdict = ("ok" if d.ok else "**FAIL**") + (f" ({d.detail})" if d.detail else "")
            lines.append(f"| {d.kind} | `{d.name}` | {d.max_abs:.2e} | {rel} | {d.tolerance} | {verdict} |")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """The report as JSON-serialisable data (``json.dumps(report.to_json())``)."""
        return {"name": self.name, "dtype": self.dtype, "ok": self.ok, "error": self.error,
                "forward_max_abs": _finite(self.forward_err), "grad_max_abs": _finite(self.grad_err),
                "diffs": [{**{k: _finite(v) if isinstance(v, float) else v
                              for k, v in dataclasses.asdict(d).items()}, "tolerance": d.tolerance}
                          for d in self.ordered()]}


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else x


def diff(kind: str, name: str, got: Any, want: Any, rtol: float, atol: float) -> Diff:
    """Compares one fnet array with one torch array (``torch.testing.assert_close``'s rule).

    NaNs in the same places and infinities of the same sign count as equal, as in
    ``assert_close(equal_nan=True)``; integer and boolean arrays must be equal.
    """
    got = np.asarray(to_numpy(got))
    want = np.asarray(to_numpy(want))
    if got.shape != want.shape:
        return Diff(kind, name, math.inf, None, False, f"shape {got.shape} vs torch {want.shape}", rtol, atol,
                    used=math.inf)
    if not (np.issubdtype(want.dtype, np.floating) or np.issubdtype(got.dtype, np.floating)):
        equal = bool(np.array_equal(got, want))
        return Diff(kind, name, 0.0 if equal else math.inf, None, equal,
                    "" if equal else "integer values differ", tol="equal")
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    if g.size == 0:
        return Diff(kind, name, 0.0, 0.0, True, "empty", rtol, atol, used=0.0)
    both_nan = np.isnan(g) & np.isnan(w)
    same_inf = np.isinf(g) & (g == w)
    err = np.where(both_nan | same_inf, 0.0, np.abs(g - w))
    err = np.where(np.isnan(err), np.inf, err)
    magnitude = np.abs(np.where(np.isfinite(w), w, 0.0))
    rel = np.where(err == 0, 0.0, err / np.maximum(magnitude, max(atol, np.finfo(np.float64).tiny)))
    allowed = atol + rtol * magnitude
    used = np.where(err == 0, 0.0, err / np.where(allowed > 0, allowed, np.finfo(np.float64).tiny))
    ok = bool(np.all(err <= allowed))
    return Diff(kind, name, float(err.max()), float(rel.max()), ok, "", rtol, atol, used=float(used.max()))


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
                diffs.append(Diff("state", key, math.inf, None, False, "missing in fnet state"))
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
            diffs.append(Diff("grad", key, math.inf, None, False, "parameter missing in fnet"))
            continue
        diffs.append(diff("grad", key, flat_grads[key], want, tol["grad_rtol"], tol["grad_atol"]))
    extra = sorted(set(flat_grads) - set(t_params))
    for key in extra:
        diffs.append(Diff("grad", key, math.inf, None, False, "fnet parameter unknown to torch"))
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

        import numpy as np, torch
        import fnet
        from fnet import nn

        x = np.random.default_rng(0).standard_normal((5, 3))
        report = fnet.parity.compare(nn.Linear(3, 2), torch.nn.Linear(3, 2), [x], dtype="float64")
        print(report.to_markdown())
        report.assert_ok()
    """
    import copy

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


def assert_close(fnet_model: Module | Callable, torch_module: Any, inputs: Sequence[Any], *,
                 dtype: str = "float32", train: bool = False, kwargs: Mapping[str, Any] | None = None,
                 tol: Mapping[str, float] | None = None, seed: int = 0, name: str | None = None,
                 grad_inputs: bool = True) -> Report:
    """Asserts that an fnet model (or function) and its torch twin agree: outputs and gradients.

    The one-line form of :func:`compare` (or :func:`compare_functions` when
    ``fnet_model`` is a plain function) for a pytest suite: it raises ``AssertionError``
    whose message is the whole report, worst tensors first, and returns the report
    when everything is within tolerance.

    Args:
        fnet_model: an fnet ``Module`` (the torch module's weights are loaded into it),
            or a function of arrays compared with the torch function ``torch_module``.
        torch_module: the ``torch.nn.Module`` (or torch function) it must equal.
        inputs: numpy arrays; floating ones are cast to ``dtype`` and differentiated.
        dtype, train, kwargs, tol, seed, name, grad_inputs: see :func:`compare`.

    Example::

        import numpy as np, torch
        import fnet
        from fnet import nn
        import fnet.functional as F

        def test_block_matches_torch():
            x = np.random.default_rng(0).standard_normal((2, 8))
            fnet.parity.assert_close(nn.LayerNorm(8), torch.nn.LayerNorm(8), [x])
            fnet.parity.assert_close(F.gelu, torch.nn.functional.gelu, [x], dtype="float64")

        test_block_matches_torch()
    """
    if isinstance(fnet_model, Module):
        report = compare(fnet_model, torch_module, inputs, dtype=dtype, train=train, kwargs=kwargs, tol=tol,
                         seed=seed, name=name, grad_inputs=grad_inputs)
    elif callable(fnet_model):
        report = compare_functions(fnet_model, torch_module, inputs, dtype=dtype, kwargs=kwargs, tol=tol,
                                   seed=seed, name=name, grad_inputs=grad_inputs)
    else:
        raise TypeError(f"assert_close: expected an fnet Module or a function, got {type(fnet_model).__name__}")
    report.assert_ok()
    return report
