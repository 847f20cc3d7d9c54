"""``AdaptiveLogSoftmaxWithLoss`` (Grave et al., 2017): a head over the frequent classes
plus one cluster token per tail, each tail a low-rank projection to its classes.

torch selects the rows of each cluster with value-dependent indexing; fnet runs every
row through every tail and masks, which gives torch's outputs and gradients (a tail's
parameters only receive gradient from the rows of its cluster) with static shapes, at
the cost of computing the tails for all rows.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from .. import _checks
from .._checks import concrete
from ..functional._loss import _OutOfBoundsError
from ._container import ModuleList, Sequential
from ._linear import Linear
from ._module import Context, Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]


class _ASMoutput(NamedTuple):
    """``output``: the target log-probability of each row; ``loss``: their negated mean."""

    output: jax.Array
    loss: jax.Array


class AdaptiveLogSoftmaxWithLoss(Module):
    """Efficient softmax approximation for large output spaces.

    Args:
        in_features: size of each input row.
        n_classes: number of classes.
        cutoffs: increasing class boundaries ``1 <= c_1 < ... < n_classes``: classes below
            ``c_1`` are in the head, the others in one tail cluster per interval.
        div_value: tail ``i`` projects to ``in_features // div_value ** (i + 1)`` first.
        head_bias: give the head a bias.
        device: accepted for signature parity; dtype: parameter dtype.

    ``forward(ctx, input, target)`` returns ``(output, loss)`` (a named tuple, as torch):
    ``input`` ``(N, in_features)`` with ``target`` ``(N,)``, or ``(in_features,)`` with ``()``.
    :meth:`log_prob` and :meth:`predict` take this module's own parameters, so inside a
    parent's forward: ``self.asm.log_prob(ctx.params["asm"], x)``.

    Parameters: ``head.weight`` (and ``head.bias``), ``tail.{i}.0.weight``,
    ``tail.{i}.1.weight``, as torch names them.

    PyTorch equivalent: ``torch.nn.AdaptiveLogSoftmaxWithLoss``.
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int], div_value: float = 4.0,
                 head_bias: bool = False, device: Any = None, dtype: Any = None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: cutoffs should be a sequence of unique, "
                             f"positive integers sorted in an increasing order, where each value is "
                             f"between 1 and n_classes-1 = {n_classes - 1}, got {cutoffs}")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device, dtype=dtype)
        tails = []
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            tails.append(Sequential(Linear(in_features, hsz, bias=False, device=device, dtype=dtype),
                                    Linear(hsz, osz, bias=False, device=device, dtype=dtype)))
        self.tail = ModuleList(tails)

    def forward(self, ctx: Context, input: jax.Array, target: jax.Array) -> _ASMoutput:
        _checks.check_floating(None, input)
        _checks.check_integer(None, target, "target")
        x, t = jnp.asarray(input), jnp.asarray(target)
        if t.ndim == 1:
            if x.ndim != 2:
                _checks.fail(None, "a 2-D input (N, in_features) for a 1-D target", x)
            if x.shape[0] != t.shape[0]:
                raise ValueError(f"input and target should have the same size in the batch "
                                 f"dimension, got {x.shape[0]} and {t.shape[0]}")
        elif t.ndim == 0:
            if x.ndim != 1:
                _checks.fail(None, "a 1-D input (in_features,) for a 0-D target", x)
        else:
            raise ValueError(f"expected a 0-D or 1-D target (multi-target is not supported), "
                             f"got shape {_checks.fmt_shape(t.shape)}")
        batched = t.ndim == 1
        x = x if batched else x[None]
        t = (t if batched else t[None]).astype(jnp.int32)
        values = concrete(t)
        if values is not None and values.size and (values.min() < 0 or values.max() >= self.n_classes):
            raise _OutOfBoundsError(f"target values should be in [0, {self.n_classes - 1}], but "
                                    f"values in range [{values.min()}, {values.max()}] were found")
        head_logprob = jax.nn.log_softmax(self.head(ctx, x), axis=1)
        cluster = jnp.zeros_like(t)
        output = jnp.zeros(t.shape, head_logprob.dtype)
        for i, (low, high) in enumerate(itertools.pairwise(self.cutoffs)):
            inside = (t >= low) & (t < high)
            cluster = jnp.where(inside, self.shortlist_size + i, cluster)
            cluster_logprob = jax.nn.log_softmax(self.tail[i](ctx, x), axis=1)
            local = jnp.take_along_axis(cluster_logprob, jnp.clip(t - low, 0, high - low - 1)[:, None], 1)[:, 0]
            output = output + jnp.where(inside, local, jnp.zeros((), local.dtype))
        in_range = (t >= 0) & (t < self.n_classes)
        gather = jnp.where(t < self.shortlist_size, t, cluster)
        gather = jnp.where(in_range, gather, 0)
        output = output + jnp.take_along_axis(head_logprob, gather[:, None], 1)[:, 0]
        output = jnp.where(in_range, output, jnp.nan)  # out of range under jit (torch raises)
        loss = jnp.mean(-output)
        return _ASMoutput(output if batched else output[0], loss)

    def _full_log_prob(self, ctx: Context, x: jax.Array) -> jax.Array:
        head_logprob = jax.nn.log_softmax(self.head(ctx, x), axis=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = jax.nn.log_softmax(self.tail[i](ctx, x), axis=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i][:, None])
        return jnp.concatenate(parts, axis=1)

    def _run(self, params: Any, input: jax.Array, what: str) -> jax.Array:
        self._seal()
        ctx = Context(self, params, {}, False, None, ())
        _checks.check_floating(None, input)
        _checks.check_ndim(None, input, (2,), "a 2-D input (N, in_features)")
        log_prob = self._full_log_prob(ctx, jnp.asarray(input))
        return log_prob if what == "log_prob" else jnp.argmax(log_prob, axis=1)

    def log_prob(self, params: Any, input: jax.Array) -> jax.Array:
        """Log-probabilities of all ``n_classes`` classes: ``(N, in_features) -> (N, n_classes)``.

        Args:
            params: this module's parameter tree (from ``init`` or ``load_state_dict``).
            input: ``(N, in_features)``.

        PyTorch equivalent: ``AdaptiveLogSoftmaxWithLoss.log_prob``.
        """
        return self._run(params, input, "log_prob")

    def predict(self, params: Any, input: jax.Array) -> jax.Array:
        """The most probable class of each row: ``log_prob(params, input).argmax(1)``
        (torch's shortcut through the head gives the same classes).

        PyTorch equivalent: ``AdaptiveLogSoftmaxWithLoss.predict``.
        """
        return self._run(params, input, "predict")

    def extra_repr(self) -> str:
        return ""
