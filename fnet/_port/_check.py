"""The proof that comes with a port: the parity engine run on the example inputs.

For each dtype asked for, the port is compared with the torch original on the example
inputs by :func:`fnet.parity.run_pair` (outputs, and the gradient of the engine's scalar
loss with respect to every parameter and every floating input), in ``.eval()`` mode and
in ``.train()`` mode (buffers included: BatchNorm's running statistics and
``num_batches_tracked``). A training forward that draws random numbers (dropout) cannot
be compared value by value; it is skipped with a note (dropout itself is checked by the
``dropout`` parity family). The float64 comparison ports a float64 copy of the model,
since torch.export records dtypes in the graph.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..parity import Diff, Report, precision, run_pair
from ..parity._engine import _torch_dtype, cast_inputs
from ._build import arrays_of


@dataclasses.dataclass
class Comparison:
    """The torch inputs of a check as a flat list plus how to rebuild ``(args, kwargs)``."""

    leaves: list[Any]
    rebuild: Callable[[list[Any]], tuple[tuple, dict]]
    tensor_positions: list[int]

    @classmethod
    def of(cls, args: Sequence[Any], kwargs: Mapping[str, Any]) -> "Comparison":
        import torch
        from torch.utils import _pytree

        leaves, spec = _pytree.tree_flatten((tuple(args), dict(kwargs)))
        positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]

        def rebuild(values: list[Any]) -> tuple[tuple, dict]:
            full = list(leaves)
            for pos, v in zip(positions, values):
                full[pos] = v
            return _pytree.tree_unflatten(full, spec)

        return cls(leaves, rebuild, positions)

    def arrays(self) -> list[np.ndarray]:
        from ..io import to_numpy

        return [to_numpy(self.leaves[i]) for i in self.tensor_positions]


def compare_port(name: str, model: Any, torch_module: Any, args: Sequence[Any], kwargs: Mapping[str, Any],
                 tied: Mapping[str, str], dtype: str, tol: Mapping[str, float] | None = None
                 ) -> tuple[Report, list[str]]:
    """Compares ``model`` (a port of ``torch_module`` in ``dtype``) in eval and train mode.

    Returns:
        One :class:`~fnet.parity.Report` (the training-mode entries are prefixed
        ``[train]``) and notes on what could not be compared.
    """
    comparison = Comparison.of(args, kwargs)
    notes: list[str] = []
    diffs: list[Diff] = []
    errors: list[str] = []
    with precision(dtype):
        inputs = cast_inputs(comparison.arrays(), dtype)
        for mode in ("eval", "train"):
            train = mode == "train"
            module = copy.deepcopy(torch_module).to(_torch_dtype(dtype))
            module.train(train)
            params, state = arrays_of(module, tied)

            def fnet_fn(p, *xs, train=train, state=state):
                call_args, call_kwargs = comparison.rebuild(list(xs))
                return model.apply(p, state, *call_args, train=train, key=None, **call_kwargs)

            def torch_fn(*xs, module=module):
                call_args, call_kwargs = comparison.rebuild(list(xs))
                return module(*call_args, **call_kwargs)

            def torch_state(module=module):
                return {k: v.detach() for k, v in module.state_dict().items()
                        if k not in dict(module.named_parameters())}

            try:
                report = run_pair(name, dtype, fnet_fn=fnet_fn, params=params, torch_fn=torch_fn,
                                  torch_params=dict(module.named_parameters()), inputs=inputs, tol=tol,
                                  torch_state=torch_state if train else None, fnet_returns_state=True)
            except ValueError as err:
                if train and "PRNG key" in str(err):
                    notes.append("training mode not compared: the model draws random numbers in "
                                 "training (dropout); eval mode is compared, and dropout is checked "
                                 "by its statistics in the dropout parity family")
                    continue
                raise
            for d in report.diffs:
                diffs.append(dataclasses.replace(d, name=f"[train] {d.name}") if train else d)
            if report.error:
                errors.append(f"{mode}: {report.error}")
    return Report(name, dtype, diffs, "; ".join(errors) or None), notes
