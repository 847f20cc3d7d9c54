"""``fnet.port``: a PyTorch model becomes a pure fnet model in one call, proved equal.

In use::

    ported = fnet.port(torch_model, (x,))
    print(ported.report)                       # outputs and every gradient vs torch
    model, params, state = ported              # an ordinary fnet Module and its trees
    out, state = model.apply(params, state, x, train=False)

How it works (one file per step):

* ``_capture.py``: ``torch.export`` in train and eval mode, batch dimension dynamic;
  the graph becomes a torch-free program (``_ir.py``).
* ``_build.py`` / ``_mapping.py``: the torch module hierarchy becomes fnet modules; each
  submodule with an fnet twin (``Linear``, ``Conv2d``, ``LSTM``, ``MultiheadAttention``...)
  becomes that layer with the same constructor arguments, so the parameter tree is
  torch's ``state_dict``, nested.
* ``_interpret.py`` with the handlers in ``_ops_*.py``: the rest runs ATen operator by
  operator on ``fnet.functional``, ``jax.numpy`` and ``lax``, with torch's in-place and
  view semantics.
* ``_check.py``: the comparison with torch through the parity engine.

torch is imported only inside :func:`port`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Mapping, Sequence

from ._model import PortedModule, PortedNode

__all__ = ["port", "Ported", "UnsupportedOpsError", "PortedModule", "PortedNode"]


class UnsupportedOpsError(NotImplementedError):
    """The model uses ATen operators that fnet cannot run yet; lists all of them.

    Attributes:
        ops: ``{operator: [source lines]}``, every unsupported operator of the model with
            the user's source line of each use.
    """

    def __init__(self, model_name: str, ops: Mapping[str, Sequence[str]]):
        self.ops = {op: list(lines) for op, lines in ops.items()}
        width = max(len(op) for op in self.ops)
        lines = [f"fnet.port: {len(self.ops)} operator{'s' if len(self.ops) > 1 else ''} of "
                 f"{model_name} cannot be ported yet:"]
        for op, wheres in self.ops.items():
            wheres = [w for w in wheres if w] or ["(no source line recorded)"]
            lines.append(f"  {op:<{width}}  at {wheres[0]}")
            lines.extend(f"  {'':<{width}}  at {w}" for w in wheres[1:])
        lines.append("Each needs a handler in fnet/_port/_ops_*.py (a few lines on fnet.functional or "
                     "jax.numpy; see 'Porting a PyTorch model' in README.md).")
        super().__init__("\n".join(lines))


@dataclasses.dataclass
class Ported:
    """The result of :func:`port`: the fnet model, its trees and the proof.

    Unpacks as ``model, params, state = ported``.

    Attributes:
        model: a :class:`PortedModule` (an ordinary fnet ``Module``).
        params: the torch module's parameters, nested by torch name (tied parameters once).
        state: its buffers (BatchNorm statistics, non-persistent tables such as ``inv_freq``).
        reports: one :class:`fnet.parity.Report` per checked dtype (empty when
            ``check=False``); each covers eval mode and, where it draws no random numbers,
            train mode (entries prefixed ``[train]``).
        notes: what the check could not compare, and why.
        seconds: time to capture and build the port (without the check).
    """

    model: PortedModule
    params: dict
    state: dict
    reports: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.params, self.state))

    @property
    def report(self) -> Any:
        """The report of the first checked dtype (None without a check)."""
        return self.reports[0] if self.reports else None

    @property
    def ok(self) -> bool:
        return bool(self.reports) and all(r.ok for r in self.reports)

    def assert_ok(self) -> None:
        """Raises ``AssertionError`` with the reports when the port differs from torch."""
        if not self.ok:
            raise AssertionError(str(self))

    def save(self, path: Any) -> None:
        """``fnet.save`` with the torch names of the original (tied names, no non-persistent buffers)."""
        from ..io import save

        save(path, self.params, self.state, model=self.model)

    def __str__(self) -> str:
        lines = [f"fnet.port of {self.model.describe()} ({self.seconds:.1f} s)"]
        lines += [str(r) for r in self.reports] or ["not checked (check=False)"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def port(torch_module: Any, example_args: Any, example_kwargs: Mapping[str, Any] | None = None, *,
         dynamic_batch: bool = True, dynamic_shapes: Any = None, check: bool = True,
         check_dtypes: Sequence[str] = ("float32",), tol: Mapping[str, float] | None = None) -> Ported:
    """Turns a PyTorch model into an fnet model and proves it computes the same.

    Args:
        torch_module: any ``torch.nn.Module`` that ``torch.export`` can capture.
        example_args: the positional inputs of ``forward`` (a tensor or a tuple).
        example_kwargs: its keyword inputs (``attention_mask=...``).
        dynamic_batch: keep the first dimension of the inputs dynamic, so that one port
            serves every batch size (``torch.export.Dim.AUTO``); raises when torch.export
            cannot (a batch of 1 is specialised: give an example batch of 2 or more).
        dynamic_shapes: torch.export's own ``dynamic_shapes`` argument (for other
            dynamic dimensions such as sequence length); replaces ``dynamic_batch``.
        check: compare the port with the original on the example inputs (outputs and
            the gradient of every parameter and floating input) through ``fnet.parity``.
        check_dtypes: ``("float32",)``, or with ``"float64"`` (a float64 copy is ported
            and compared under ``jax_enable_x64``).
        tol: tolerance overrides for the check (``fnet.parity.TOLERANCES`` keys).

    Returns:
        A :class:`Ported`: ``model, params, state = ported``; ``ported.report``.

    Raises:
        UnsupportedOpsError: the model uses operators fnet cannot run; the message lists
            every one of them with the source line of each use.
        ValueError: torch.export could not capture the model, or not with a dynamic batch.

    PyTorch equivalent: none; the torch counterparts are ``torch.export.export`` (capture)
    and torchax/torch2jax (which run torch code on JAX but keep no module tree and prove
    nothing).
    """
    import time

    from ._build import arrays_of
    from ._check import compare_port

    args = _as_tuple(example_args)
    kwargs = dict(example_kwargs or {})
    start = time.perf_counter()
    model, tree = _make(torch_module, args, kwargs, dynamic_batch, dynamic_shapes)
    params, state = arrays_of(torch_module, tree.tied)
    result = Ported(model, params, state, seconds=time.perf_counter() - start)
    if not check:
        return result
    name = f"port:{type(torch_module).__name__}"
    for dtype in check_dtypes:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"fnet.port: check_dtypes entries are 'float32' or 'float64', got {dtype!r}")
        checked, checked_tree = model, tree
        if dtype == "float64":
            checked, checked_tree = _float64_port(torch_module, args, kwargs, dynamic_batch, dynamic_shapes)
        report, notes = compare_port(name, checked, torch_module, args, kwargs, checked_tree.tied, dtype, tol)
        result.reports.append(report)
        result.notes.extend(n for n in notes if n not in result.notes)
    return result


def _as_tuple(example_args: Any) -> tuple:
    if isinstance(example_args, tuple):
        return example_args
    if isinstance(example_args, list):
        return tuple(example_args)
    return (example_args,)


def _float64_port(torch_module, args, kwargs, dynamic_batch, dynamic_shapes):
    import copy

    import torch
    from torch.utils import _pytree

    from ..parity import precision

    double = copy.deepcopy(torch_module).double()
    cast = _pytree.tree_map(lambda t: t.double() if isinstance(t, torch.Tensor) and t.is_floating_point()
                            else t, (args, kwargs))
    with precision("float64"):
        return _make(double, cast[0], cast[1], dynamic_batch, dynamic_shapes)


def _make(torch_module: Any, args: tuple, kwargs: dict, dynamic_batch: bool, dynamic_shapes: Any):
    import torch

    from . import _capture
    from ._build import Tree
    from ._handlers import load

    if not isinstance(torch_module, torch.nn.Module):
        raise TypeError(f"fnet.port: expected a torch.nn.Module, got {type(torch_module).__name__}")
    load()
    tree = Tree(torch_module)
    if dynamic_shapes is None and dynamic_batch:
        dynamic_shapes = _capture.dynamic_batch_shapes(torch_module, args, kwargs)
    programs, slots, unsupported, in_spec = {}, None, {}, None
    for mode in ("train", "eval"):
        try:
            ep = _capture.export(torch_module, args, kwargs, train=mode == "train", dynamic_shapes=dynamic_shapes,
                                 preserve=sorted(set(tree.mapped) - tree.single_input))
        except Exception as err:
            raise ValueError(f"fnet.port: torch.export could not capture {type(torch_module).__name__} "
                             f"in {mode} mode: {type(err).__name__}: {err}") from err
        if dynamic_batch and not _capture.has_dynamic_dim(ep):
            raise ValueError(
                f"fnet.port: torch.export kept no input dimension of {type(torch_module).__name__} "
                f"dynamic, so the port would serve only the example batch size. torch specialises "
                f"sizes 0 and 1 (use an example batch of 2 or more) and sizes the code fixes "
                f"(x.view(32, -1)); pass dynamic_batch=False for a port of fixed shapes.")
        program, mode_slots, missing = _capture.convert(ep, tree.mapped, tree.canonical, tree.single_input)
        for op, where in missing:
            unsupported.setdefault(op, [])
            if where not in unsupported[op]:
                unsupported[op].append(where)
        programs[mode] = program
        slots = mode_slots
        in_spec = _capture.convert_spec(ep.call_spec.in_spec)
    if unsupported:
        raise UnsupportedOpsError(type(torch_module).__name__, unsupported)
    model = PortedModule(type(torch_module).__name__, torch_module.extra_repr(), tree.children, tree.arrays,
                         programs, in_spec, tuple(slots), tree.tied, tree.mapped,
                         is_module_list=type(torch_module).__name__ == "ModuleList")
    return model, tree
