"""Lookup-table layers: ``Embedding``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import _checks
from .. import init as init_
from ..io import to_numpy
from ..functional import _embedding as _femb
from ._module import Context, Module

__all__ = ["Embedding", "EmbeddingBag"]


def _given_table(owner: str, weight: Any, num_embeddings: int, embedding_dim: int) -> Any:
    """torch's ``_weight``: None, or a table of the layer's shape (as numpy)."""
    if weight is None:
        return None
    weight = to_numpy(weight)
    if weight.shape != (num_embeddings, embedding_dim):
        raise ValueError(f"{owner}: shape of weight does not match num_embeddings and embedding_dim: "
                         f"expected ({num_embeddings}, {embedding_dim}), got "
                         f"{_checks.fmt_shape(weight.shape)}")
    return weight


def _init_table(key: jax.Array, layer: Module) -> jax.Array:
    """``_weight`` when given, else torch's ``N(0, 1)`` with the padding row zeroed."""
    if layer._weight is not None:
        return jnp.asarray(layer._weight, dtype=layer.dtype)
    weight = init_.normal_(key, (layer.num_embeddings, layer.embedding_dim), dtype=layer.dtype or "float32")
    if layer.padding_idx is not None:
        weight = weight.at[layer.padding_idx].set(0)
    return weight


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim`` indexed by integer ids.

    Args:
        num_embeddings: size of the vocabulary.
        embedding_dim: size of each vector.
        padding_idx: this row starts at zero and gets no gradient (negative values count
            from the end and are stored normalised, as in torch).
        max_norm: rows with a larger ``norm_type``-norm come out rescaled to this norm.
            torch rewrites those rows of the weight in place; fnet parameters are
            immutable, so the stored weight is left as is and only the output is
            renormalised. Each call's outputs and gradients equal torch's; over a
            training run the stored rows differ from torch's (re-apply the renorm to
            the parameters yourself if the exact trajectory matters).
        norm_type: the p of the norm used with ``max_norm`` (default 2).
        scale_grad_by_freq: divide each row's gradient by its id's count in the batch.
        sparse: accepted for signature parity; JAX gradients are dense (optax has no
            sparse updates), so memory is that of a dense gradient.
        _weight: initial table ``(num_embeddings, embedding_dim)`` returned by ``init``
            (torch's private argument; see :meth:`from_pretrained`).
        _freeze: the weight receives no gradient (torch's ``requires_grad=False``).
        device: accepted for signature parity; placement is JAX's.
        dtype: parameter dtype (default float32).

    Shape:
        input: integer ids ``(*)``; output ``(*, embedding_dim)``.

    Parameters: ``weight (num_embeddings, embedding_dim)`` drawn from ``N(0, 1)`` with
    the ``padding_idx`` row zeroed, as in torch.

    PyTorch equivalent: ``torch.nn.Embedding``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight: Any = None,
                 _freeze: bool = False, device: Any = None, dtype: Any = None):
        super().__init__()
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = _femb._normalise_padding_idx("Embedding", padding_idx, self.num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        self._weight = _given_table("Embedding", _weight, self.num_embeddings, self.embedding_dim)
        self._freeze = bool(_freeze)
        self.dtype = dtype

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> "Embedding":
        """An ``Embedding`` whose ``init`` returns ``embeddings`` (a copy, on device).

        Args:
            embeddings: ``(num_embeddings, embedding_dim)`` array-like (numpy, jax, or a
                CPU torch tensor via ``.numpy()``).
            freeze: True (torch's default) stops gradients to the weight inside
                ``forward`` (``jax.lax.stop_gradient``), so it gets a zero gradient.
                Optimizers still see the parameter: mask it out of updates and weight
                decay (``optax.masked``), since decoupled weight decay would otherwise
                shrink a frozen table. The padding row is *not* zeroed (as in torch).

        PyTorch equivalent: ``torch.nn.Embedding.from_pretrained``.
        """
        embeddings = to_numpy(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected 2-dimensional embeddings "
                             f"(num_embeddings, embedding_dim), got shape "
                             f"{_checks.fmt_shape(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, _freeze=freeze,
                   padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        return {"weight": _init_table(key, self)}, {}

    def forward(self, ctx: Context, input: jax.Array) -> jax.Array:
        weight = ctx.params["weight"]
        if self._freeze:
            weight = jax.lax.stop_gradient(weight)
        return _femb.embedding(input, weight, self.padding_idx, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s


class EmbeddingBag(Module):
    """Sums, averages or max-pools bags of embeddings (see ``F.embedding_bag``).

    Args:
        num_embeddings, embedding_dim, max_norm, norm_type, scale_grad_by_freq, sparse, padding_idx, device, dtype: as
            :class:`Embedding`.
        mode: ``'sum'``, ``'mean'`` (default) or ``'max'``.
        _weight: initial table (torch's private argument).
        include_last_offset: ``offsets`` has ``B + 1`` entries, the last the end of the
            last bag.

    ``forward(ctx, input, offsets=None, per_sample_weights=None)``: ``input`` ``(B, N)``,
    or 1-D with ``offsets`` ``(B,)``; output ``(B, embedding_dim)``.

    Parameters: ``weight (num_embeddings, embedding_dim)`` from ``N(0, 1)``, the
    ``padding_idx`` row zeroed, as torch.

    PyTorch equivalent: ``torch.nn.EmbeddingBag``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Any = None, include_last_offset: bool = False,
                 padding_idx: int | None = None, device: Any = None, dtype: Any = None):
        super().__init__()
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        if mode not in _femb._BAG_MODES:
            raise ValueError(f"EmbeddingBag: mode has to be one of 'sum', 'mean' or 'max', got {mode!r}")
        self.mode = mode
        self.sparse = sparse
        self.padding_idx = _femb._normalise_padding_idx("EmbeddingBag", padding_idx, self.num_embeddings)
        self._weight = _given_table("EmbeddingBag", _weight, self.num_embeddings, self.embedding_dim)
        self.include_last_offset = include_last_offset
        self.dtype = dtype

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        return {"weight": _init_table(key, self)}, {}

    def forward(self, ctx: Context, input: jax.Array, offsets: jax.Array | None = None,
                per_sample_weights: jax.Array | None = None) -> jax.Array:
        return _femb.embedding_bag(input, ctx.params["weight"], offsets, self.max_norm, self.norm_type,
                                   self.scale_grad_by_freq, self.mode,
                                   per_sample_weights=per_sample_weights,
                                   include_last_offset=self.include_last_offset,
                                   padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
