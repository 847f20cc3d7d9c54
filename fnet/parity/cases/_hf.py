"""The one case builder for the Hugging Face families (BERT, RoBERTa, DistilBERT, GPT-2,
Llama/Mistral/Qwen2): an fnet model against transformers' torch model on the same
randomly initialised weights.

Each case builds the transformers model from a small config (its own init; the
shared configs in ``fnet.parity.hf_configs`` use a large ``initializer_range`` so
attention is far from uniform), loads its ``named_parameters()`` into the fnet model by
unflattening, and compares every output (logits, loss, hidden states, attention
weights) and the gradient of the engine's scalar loss with respect to every parameter
(and ``inputs_embeds`` / float labels). Batches are padded: the attention mask has zeros.
"""

from __future__ import annotations

import tempfile
from typing import Any, Callable, Sequence

import numpy as np
import torch

from fnet import models
from fnet.io import load_state_dict
from fnet.parity import ParityCase, case_seed, precision, register, run_pair
from fnet.parity._engine import _torch_dtype, cast_inputs

# float32 gradients of parameters shared by every position (LayerNorm biases, Q/K
# projections, the tied embedding) sum B*L*vocab float32 terms of magnitude ~10: their
# rounding reaches ~1.5e-5 absolute. float64 agrees to 1e-13, so the formulas are exact.
SUMMED = {"grad_atol": 5e-5}
SUMMED_NOTE = ("float32 gradients summed over every position and output (magnitude ~10) round to "
               "~1.5e-5; float64 agrees to 1e-13")


def transformers():
    import transformers as hf

    return hf


def padded_batch(rng: np.random.Generator, batch: int, seq: int, vocab: int, pad: int, *, side: str = "right",
                 type_vocab: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Token ids (never ``pad`` on real positions), a mask with every row but the first
    padded by a different amount, and token types when ``type_vocab``."""
    ids = rng.integers(3, vocab, (batch, seq))
    ids = np.where(ids == pad, (pad + 1) % vocab if (pad + 1) % vocab >= 3 else 3, ids)
    mask = np.ones((batch, seq), np.int64)
    for b in range(1, batch):
        n = seq - (b * 2) % seq
        if side == "right":
            mask[b, n:] = 0
        else:
            mask[b, :seq - n] = 0
    ids = np.where(mask == 1, ids, pad)
    types = None
    if type_vocab:
        types = np.zeros((batch, seq), np.int64)
        types[:, seq // 2:] = rng.integers(0, type_vocab, (batch, seq - seq // 2))
    return ids, mask, types


def _mask_positions(out: Any, mask: Any, batch: int, seq: int) -> Any:
    """Zeroes the padded positions of per-position outputs (``(B, L, ...)`` tensors and
    ``(B, H, L, S)`` attention weights), on either side of a comparison."""
    def cast(m, x):
        return m.to(x.dtype) if isinstance(m, torch.Tensor) else m.astype(x.dtype)

    def one(x):
        if not hasattr(x, "shape") or x.ndim < 2 or tuple(x.shape[:2]) != (batch, seq):
            if hasattr(x, "shape") and x.ndim == 4 and x.shape[0] == batch and x.shape[2] == seq:
                return x * cast(mask[:, None, :, None], x)
            return x
        return x * cast(mask.reshape(tuple(mask.shape) + (1,) * (x.ndim - 2)), x)

    if isinstance(out, dict):  # keeps ModelOutput's order (a plain dict is sorted under jit)
        return type(out)({k: _mask_positions(v, mask, batch, seq) for k, v in out.items()})
    if isinstance(out, (tuple, list)):
        return type(out)(_mask_positions(v, mask, batch, seq) for v in out)
    return one(out)


def hf_case(family: str, name: str, fnet_cls: str, make_config: Callable[[str], Any], *, batch: int = 3,
            seq: int = 7, labels: str | None = None, side: str = "right", token_types: bool = False,
            inputs_embeds: bool = False, position_ids: bool = False, output_hidden_states: bool = False,
            output_attentions: bool = False, init_kwargs: dict | None = None, train: bool = False,
            attn_implementation: str | Sequence[str] = "eager", mask_padding: bool | str = False,
            tol: dict[str, float] | None = None, tol64: dict[str, float] | None = None, note: str = "",
            covers: Sequence[str] = (), load_via: str | None = None, pretrained: Callable[[], str] | None = None,
            ) -> ParityCase:
    """Registers ``models.<fnet_cls>[name]``: fnet against transformers' class of the same name.

    Args:
        make_config: ``attn_implementation -> transformers config``.
        labels: ``"single"``, ``"multi"``, ``"regression"`` (sequence labels), ``"tokens"``
            (per-token classes), ``"mlm"`` (token ids, -100 on padding) or ``"causal"``
            (the inputs, -100 on padding and on the first token after left padding).
        side: ``"right"`` or ``"left"`` padding.
        attn_implementation: transformers' implementation, or ``(float32's, float64's)``.
        load_via: load the fnet model with this Auto class (``"AutoModelForCausalLM"``)
            from the directory transformers' ``save_pretrained`` writes, instead of from
            ``named_parameters()``: the case then also proves the checkpoint path.
        pretrained: ``() -> directory`` of a real checkpoint both sides load
            (``make_config`` is then unused).
        mask_padding: compare per-position outputs at real tokens only (on both sides),
            in both dtypes (True) or in one (``"float64"``): for models whose padded rows
            transformers computes differently per attention implementation.
    """
    cname = f"models.{fnet_cls}[{name}]"
    seed = case_seed(cname)

    def run(dtype: str):
        hf = transformers()
        torch.manual_seed(seed)
        impl = attn_implementation if isinstance(attn_implementation, str) else \
            attn_implementation[0 if dtype == "float32" else 1]
        kw = dict(init_kwargs or {})
        if pretrained is not None:
            hm = getattr(hf, fnet_cls).from_pretrained(pretrained(), attn_implementation=impl)
        else:
            hm = getattr(hf, fnet_cls)(make_config(impl), **kw)
        hm = hm.to(_torch_dtype(dtype)).train(train)
        with precision(dtype):
            if load_via is not None:
                fm, params = _load_via(load_via, hm, pretrained() if pretrained is not None else None, dtype)
                if type(fm).__name__ != fnet_cls:
                    raise TypeError(f"{load_via} built {type(fm).__name__}, expected {fnet_cls}")
            else:
                fm = getattr(models, fnet_cls)(getattr(models, type(hm.config).__name__).from_dict(
                    hm.config.to_dict()), **kw)
                params, _ = load_state_dict(fm, dict(hm.named_parameters()))
        cfg = fm.config
        rng = np.random.default_rng(seed)
        pad = cfg.pad_token_id if cfg.pad_token_id is not None else 0
        ids, mask, types = padded_batch(rng, batch, seq, cfg.vocab_size, pad, side=side,
                                        type_vocab=cfg.get("type_vocab_size", 0) if token_types else 0)
        inputs: list[Any] = [ids, mask]
        names = ["input_ids", "attention_mask"]
        if types is not None:
            inputs.append(types)
            names.append("token_type_ids")
        if inputs_embeds:
            inputs[0] = rng.standard_normal((batch, seq, cfg.hidden_size))
            names[0] = "inputs_embeds"
        if position_ids:
            inputs.append(np.stack([rng.permutation(cfg.max_position_embeddings)[:seq]] * batch))
            names.append("position_ids")
        if labels == "single":
            inputs.append(rng.integers(0, cfg.num_labels, batch))
        elif labels == "multi":
            inputs.append((rng.random((batch, cfg.num_labels)) > 0.5).astype(np.float64))
        elif labels == "regression":
            inputs.append(rng.standard_normal(batch))
        elif labels == "tokens":
            inputs.append(np.where(mask == 1, rng.integers(0, cfg.num_labels, (batch, seq)), -100))
        elif labels == "mlm":
            inputs.append(np.where(mask == 1, rng.integers(0, cfg.vocab_size, (batch, seq)), -100))
        elif labels == "causal":
            # -100 on padding and on the first real token after left padding: it would be
            # predicted from a padding position, whose output no real token depends on and
            # whose value transformers computes differently per attention implementation
            previous = np.concatenate([np.ones((batch, 1), mask.dtype), mask[:, :-1]], axis=1)
            inputs.append(np.where((mask == 1) & (previous == 1), ids, -100))
        if labels is not None:
            names.append("labels")
        flags = {}
        if output_hidden_states:
            flags["output_hidden_states"] = True
        if output_attentions:
            flags["output_attentions"] = True
        masked = mask_padding is True or mask_padding == dtype
        with precision(dtype):
            cast = cast_inputs(inputs, dtype)

            def fnet_fn(p, *xs):
                import jax

                out, _ = fm.apply(p, {}, **dict(zip(names, xs)), **flags, train=train,
                                  key=jax.random.key(0) if train else None)
                out = type(out)({k: v for k, v in out.items() if k != "cache"})
                return _mask_positions(out, xs[1], batch, seq) if masked else out

            def torch_fn(*xs):
                out = hm(**dict(zip(names, xs)), **flags)
                out = {k: v for k, v in out.items() if k not in ("cache", "past_key_values")}
                return _mask_positions(out, xs[1], batch, seq) if masked else out

            return run_pair(cname, dtype, fnet_fn=fnet_fn, params=params, torch_fn=torch_fn,
                            torch_params=dict(hm.named_parameters()), inputs=cast, seed=seed,
                            tol=tol if dtype == "float32" else tol64)

    config_name = f"models.{getattr(models, fnet_cls).config_class.__name__}"
    names = (f"models.{fnet_cls}", config_name, *covers)
    if load_via is not None:
        names += (f"models.{load_via}", "models.AutoConfig")
    return register(ParityCase(cname, family, names, run, note=note))


def _load_via(auto: str, hm: Any, directory: str | None, dtype: str) -> tuple[Any, Any]:
    """transformers' model saved with its own ``save_pretrained`` (unless a checkpoint
    directory is given), then loaded by an fnet Auto class: float32 by default, float64
    kept as stored (``dtype="auto"``) or cast."""
    import jax.numpy as jnp

    load_dtype = None if dtype == "float32" else ("auto" if directory is None else jnp.float64)
    if directory is not None:
        return tuple(getattr(models, auto).from_pretrained(directory, dtype=load_dtype))
    with tempfile.TemporaryDirectory() as tmp:
        hm.save_pretrained(tmp)
        return tuple(getattr(models, auto).from_pretrained(tmp, dtype=load_dtype))


def family_config(family: str, **overrides: Any) -> Callable[[str], Any]:
    """``make_config`` for one of ``fnet.parity.hf_configs``' small configs."""
    from fnet.parity import hf_configs

    return lambda impl: hf_configs.config(family, attn_implementation=impl, **overrides)
