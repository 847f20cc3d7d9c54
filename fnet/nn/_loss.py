"""Loss modules, one per ``fnet.functional`` loss, with torch's constructors.

Losses are array-free modules, callable like torch's criteria::

    criterion = nn.CrossEntropyLoss(weight=class_weights, label_smoothing=0.1)
    loss = criterion(logits, target)          # also inside jax.jit / jax.grad

Class weights are torch buffers: ``weight`` (and ``pos_weight`` for
``BCEWithLogitsLoss``) live in the ``state`` tree under torch's names, so
``fnet.state_dict(*criterion.init(key))`` has the keys of torch's
``criterion.state_dict()`` and a loaded torch checkpoint's weights are used by
``criterion.apply(params, state, input, target)``. Called directly, a loss uses the
weights given to its constructor.

The legacy ``size_average``/``reduce`` arguments are mapped to ``reduction`` at
construction with torch's warning, as torch's ``_Loss`` does. ``repr`` is torch's:
``CrossEntropyLoss()``, without arguments.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import functional as F
from ..functional import _loss as L
from ._distance import PairwiseDistance
from ._linear import Linear
from ._module import Context, Module

__all__ = [
    "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
    "CrossEntropyLoss", "NLLLoss", "KLDivLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
    "PoissonNLLLoss", "GaussianNLLLoss", "SoftMarginLoss", "HingeEmbeddingLoss",
    "MultiLabelSoftMarginLoss", "TripletMarginLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
    "TripletMarginWithDistanceLoss", "CTCLoss", "LinearCrossEntropyLoss",
]

Array = jax.Array


def _to_numpy(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


class _Loss(Module):
    """Base of the losses: the reduction, with torch's legacy ``size_average``/``reduce``."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = L._legacy_get_string(size_average, reduce)
        self.reduction = reduction

    def _buffers(self) -> dict[str, np.ndarray]:
        return {}

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        # torch registers loss weights as buffers: they go to state, under torch's names
        return {}, {name: jnp.asarray(value) for name, value in self._buffers().items()}


class _WeightedLoss(_Loss):
    """A loss with an optional ``weight`` buffer (torch's ``_WeightedLoss``)."""

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.weight = _to_numpy(weight)

    def _buffers(self) -> dict[str, np.ndarray]:
        return {} if self.weight is None else {"weight": self.weight}


class L1Loss(_Loss):
    """Mean absolute error. Shape: input ``(*)``, target ``(*)``; output scalar or ``(*)``.

    PyTorch equivalent: ``torch.nn.L1Loss``.
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error. Shape: input ``(*)``, target ``(*)``; output scalar or ``(*)``.

    PyTorch equivalent: ``torch.nn.MSELoss``.
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss with threshold ``beta`` (see ``F.smooth_l1_loss``).

    PyTorch equivalent: ``torch.nn.SmoothL1Loss``.
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber loss with threshold ``delta`` (see ``F.huber_loss``).

    PyTorch equivalent: ``torch.nn.HuberLoss``.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        if isinstance(delta, bool) or not isinstance(delta, (float, int)):
            raise TypeError(f"HuberLoss: delta must be a float or int, got {type(delta).__name__}")
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross entropy on probabilities (see ``F.binary_cross_entropy``).

    Args:
        weight: rescaling weight broadcastable to the target's shape (a buffer,
            ``state["weight"]``).

    Shape: input ``(*)`` in ``[0, 1]``, target ``(*)`` of the same shape.

    PyTorch equivalent: ``torch.nn.BCELoss``.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.binary_cross_entropy(input, target, ctx.state.get("weight"), reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross entropy in one stable expression.

    Args:
        weight: rescaling weight broadcastable to the input (buffer ``weight``).
        pos_weight: weight of positive examples broadcast against the target, e.g.
            ``(C,)`` for ``(N, C)`` targets (buffer ``pos_weight``).

    PyTorch equivalent: ``torch.nn.BCEWithLogitsLoss``.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean", pos_weight: Any = None):
        super().__init__(size_average, reduce, reduction)
        self.weight = _to_numpy(weight)
        self.pos_weight = _to_numpy(pos_weight)

    def _buffers(self) -> dict[str, np.ndarray]:
        return {name: value for name, value in (("weight", self.weight), ("pos_weight", self.pos_weight))
                if value is not None}

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.binary_cross_entropy_with_logits(input, target, ctx.state.get("weight"),
                                                  reduction=self.reduction,
                                                  pos_weight=ctx.state.get("pos_weight"))


class NLLLoss(_WeightedLoss):
    """Negative log likelihood of class indices (see ``F.nll_loss``).

    Shape: input ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` log-probabilities (class axis
    1, torch's layout); target ``()``, ``(N,)`` or ``(N, d1, ...)`` integers.

    PyTorch equivalent: ``torch.nn.NLLLoss``.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.nll_loss(input, target, ctx.state.get("weight"), ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy of logits against class indices or class probabilities.

    Args:
        weight: per-class weights ``(C,)`` (buffer ``weight``).
        ignore_index: class-index targets to skip.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: in ``[0, 1]``.

    Shape: input ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` logits (class axis 1, torch's
    layout); target integer ``()``, ``(N,)`` or ``(N, d1, ...)``, or probabilities of
    the input's shape. See ``F.cross_entropy``.

    PyTorch equivalent: ``torch.nn.CrossEntropyLoss``.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.cross_entropy(input, target, ctx.state.get("weight"), ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities (see ``F.kl_div``).

    Use ``reduction='batchmean'`` for the true KL divergence; ``'mean'`` divides by the
    number of elements and warns, as in torch.

    PyTorch equivalent: ``torch.nn.KLDivLoss``.
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """Cosine embedding loss of pairs labelled 1 / -1 (see ``F.cosine_embedding_loss``).

    Shape: input1, input2 ``(N, D)`` or ``(D,)``; target ``(N,)`` or ``()``.

    PyTorch equivalent: ``torch.nn.CosineEmbeddingLoss``.
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, ctx: Context, input1: Array, input2: Array, target: Array) -> Array:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -y (x1 - x2) + margin)`` (see ``F.margin_ranking_loss``).

    PyTorch equivalent: ``torch.nn.MarginRankingLoss``.
    """

    def __init__(self, margin: float = 0.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, ctx: Context, input1: Array, input2: Array, target: Array) -> Array:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log likelihood (see ``F.poisson_nll_loss``).

    PyTorch equivalent: ``torch.nn.PoissonNLLLoss``.
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average: bool | None = None,
                 eps: float = 1e-8, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, ctx: Context, log_input: Array, target: Array) -> Array:
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log likelihood (see ``F.gaussian_nll_loss``); keyword-only
    arguments, as in torch.

    PyTorch equivalent: ``torch.nn.GaussianNLLLoss``.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(None, None, reduction)
        self.full = full
        self.eps = eps

    def forward(self, ctx: Context, input: Array, target: Array, var: Array | float) -> Array:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Two-class logistic loss with labels 1 / -1 (see ``F.soft_margin_loss``).

    PyTorch equivalent: ``torch.nn.SoftMarginLoss``.
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """Hinge embedding loss of distances labelled 1 / -1 (see ``F.hinge_embedding_loss``).

    PyTorch equivalent: ``torch.nn.HingeEmbeddingLoss``.
    """

    def __init__(self, margin: float = 1.0, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Multi-label one-versus-all logistic loss (see ``F.multilabel_soft_margin_loss``).

    Args:
        weight: per-class weights ``(C,)`` (buffer ``weight``).

    PyTorch equivalent: ``torch.nn.MultiLabelSoftMarginLoss``.
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.multilabel_soft_margin_loss(input, target, ctx.state.get("weight"),
                                             reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """Triplet loss with a p-norm distance (see ``F.triplet_margin_loss``).

    PyTorch equivalent: ``torch.nn.TripletMarginLoss``.
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin}")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, ctx: Context, anchor: Array, positive: Array, negative: Array) -> Array:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss (see ``F.multi_margin_loss``).

    Args:
        p: 1 or 2.
        margin: the margin.
        weight: per-class weights ``(C,)`` (buffer ``weight``).

    PyTorch equivalent: ``torch.nn.MultiMarginLoss``.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None,
                 size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got p={p}")
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D, got "
                             f"{self.weight.ndim}D instead")
        self.p = p
        self.margin = margin

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=ctx.state.get("weight"), reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss over target classes listed per row, padded with -1 (see
    ``F.multilabel_margin_loss``).

    PyTorch equivalent: ``torch.nn.MultiLabelMarginLoss``.
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """Triplet loss with any distance function (see ``F.triplet_margin_with_distance_loss``).

    Args:
        distance_function: ``(x1, x2) -> distances``: a JAX function or an fnet module
            (default: ``nn.PairwiseDistance()``, a child as in torch). It is part of the
            configuration, so a module built with a lambda is equal only to itself.
        margin: must be positive.
        swap: use the distance swap of Balntas et al.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    PyTorch equivalent: ``torch.nn.TripletMarginWithDistanceLoss``.
    """

    def __init__(self, *, distance_function: Any = None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} instead")
        # torch keeps a PairwiseDistance() child by default (it shows in repr)
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin = margin
        self.swap = swap

    def forward(self, ctx: Context, anchor: Array, positive: Array, negative: Array) -> Array:
        distance = self.distance_function
        if isinstance(distance, Module):  # a child module (an nn.PairwiseDistance, ...) runs through ctx
            def distance(a, b, module=distance):
                return module(ctx, a, b)
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=distance, margin=self.margin,
                                                   swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist Temporal Classification loss (see ``F.ctc_loss``, including the
    gradient torch reports for ``log_probs``).

    Args:
        blank: the blank class (default 0).
        reduction: ``'none'`` | ``'mean'`` (per-sample loss over target length, then the
            batch mean) | ``'sum'``.
        zero_infinity: impossible alignments give loss 0 and gradient 0.

    ``forward(ctx, log_probs, targets, input_lengths, target_lengths)``: ``log_probs``
    ``(T, N, C)`` or ``(T, C)``; ``targets`` ``(N, S)`` or concatenated.

    PyTorch equivalent: ``torch.nn.CTCLoss``.
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, ctx: Context, log_probs: Array, targets: Array, input_lengths: Any,
                target_lengths: Any) -> Array:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                          reduction=self.reduction, zero_infinity=self.zero_infinity)


class LinearCrossEntropyLoss(_WeightedLoss):
    """A ``Linear(in_features, num_classes)`` projection and cross entropy, fused so the
    logits are never materialised (see ``F.linear_cross_entropy``).

    Args:
        in_features: size of each input row.
        num_classes: ``C``.
        out_features: ``(d_1, ..., d_K)`` for a K-dimensional loss (default ``()``).
        bias: learn a bias of the projection (default False, as torch).
        device: accepted for signature parity; dtype: parameter dtype.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: per-class weights ``(C,)`` (buffer ``weight``).
        ignore_index: ignored class index (``None``: -100 for index targets).
        label_smoothing: in ``[0, 1]``.
        options: torch's ``LinearCrossEntropyOptions``; accepted and ignored (fnet always
            chunks over the vocabulary).
        chunk_size: fnet only: vocabulary entries per chunk.

    Parameters: ``linear.weight (C * prod(out_features), in_features)`` and
    ``linear.bias``, stored flat as torch stores them.

    PyTorch equivalent: ``torch.nn.LinearCrossEntropyLoss``.
    """

    def __init__(self, in_features: int, num_classes: int, *, out_features: tuple[int, ...] = (),
                 bias: bool = False, device: Any = None, dtype: Any = None, reduction: str = "mean",
                 weight: Any = None, ignore_index: int | None = None, label_smoothing: float = 0.0,
                 options: Any = None, chunk_size: int | None = None):
        weight_array = _to_numpy(weight)
        if weight_array is not None and weight_array.shape != (num_classes,):
            raise ValueError(f"LinearCrossEntropyLoss: expected weight shape to be ({num_classes},), got "
                             f"{tuple(weight_array.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise ValueError(f"LinearCrossEntropyLoss: expected label_smoothing to be in range [0, 1], "
                             f"got {label_smoothing}")
        super().__init__(weight, None, None, reduction)
        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = Linear(in_features, int(np.prod(self.out_features, dtype=np.int64)) * num_classes,
                             bias=bias, device=device, dtype=dtype)
        self.options = options
        self.chunk_size = chunk_size

    def forward(self, ctx: Context, input: Array, target: Array) -> Array:
        params = ctx.params["linear"]
        in_features = self.linear.in_features
        linear_weight = params["weight"].reshape((self.num_classes, *self.out_features, in_features))
        linear_bias = params.get("bias")
        if linear_bias is not None:
            linear_bias = linear_bias.reshape((self.num_classes, *self.out_features))
        return F.linear_cross_entropy(
            input, linear_weight, target, linear_bias=linear_bias, weight=ctx.state.get("weight"),
            reduction=self.reduction, ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing, chunk_size=self.chunk_size)

    def _no_direct_call(self) -> str | None:
        return "it has parameters"

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
