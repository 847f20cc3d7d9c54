"""``evaluate``: mean metrics over a loader in eval mode."""

from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from ..nn._module import Module
from ._step import ComputeLoss, LossFn, make_eval_step


def batch_size(batch: Any) -> int:
    """Samples in a batch: the first dimension of its first array (1 for scalars)."""
    leaves = jax.tree.leaves(batch)
    return int(np.shape(leaves[0])[0]) if leaves and np.ndim(leaves[0]) else 1


def evaluate(model: Module, params, state, loader, loss_fn: LossFn | None = None, *,
             compute_loss: ComputeLoss | None = None, eval_step: Callable | None = None) -> dict[str, float]:
    """Mean loss (and accuracy) over ``loader`` in eval mode, weighted by batch size.

    Losses with ``reduction='mean'`` are averaged per batch and re-weighted by batch
    size, which equals the dataset mean except with ``ignore_index``/class weights.
    """
    eval_step = eval_step or make_eval_step(model, loss_fn, compute_loss=compute_loss)
    totals: dict[str, float] = {}
    count = 0
    for batch in loader:
        n = batch_size(batch)
        for name, value in eval_step(params, state, batch).items():
            totals[name] = totals.get(name, 0.0) + float(value) * n
        count += n
    if count == 0:
        raise ValueError("evaluate: the loader produced no batches")
    return {name: total / count for name, total in totals.items()}
