"""Parity cases: fnet.models BERT against transformers, randomly initialised small configs.

Each case builds the transformers model (its own init, with a larger
``initializer_range`` so attention is far from uniform), loads its
``named_parameters()`` into the fnet model by unflattening, and compares every output
(logits, loss, hidden states, attention weights) and the gradient of the engine's
scalar loss with respect to every parameter (and ``inputs_embeds`` / float labels).
Batches are padded: the attention mask has zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fnet import models
from fnet.io import load_state_dict
from fnet.parity import ParityCase, case_seed, precision, register, run_pair
from fnet.parity._engine import _torch_dtype, cast_inputs

FAMILY = "bert"


def _hf():
    import transformers

    return transformers


def _batch(rng, batch, seq, vocab, type_vocab=2):
    ids = rng.integers(1, vocab, (batch, seq))
    mask = np.ones((batch, seq), np.int64)
    for b in range(batch):  # every sequence but the first is padded
        n = seq - (b * 2) % seq if b else seq
        mask[b, n:] = 0
        ids[b, n:] = 0
    types = np.zeros((batch, seq), np.int64)
    types[:, seq // 2:] = rng.integers(0, type_vocab, (batch, seq - seq // 2))
    return ids, mask, types


def bert_case(name: str, fnet_cls: str, config: dict[str, Any], *, batch: int = 3, seq: int = 7,
              labels: str | None = None, output_hidden_states: bool = False, output_attentions: bool = False,
              inputs_embeds: bool = False, position_ids: bool = False, add_pooling_layer: bool = True,
              attn_implementation: str = "eager", train: bool = False,
              tol: dict[str, float] | None = None, note: str = "") -> ParityCase:
    cname = f"models.{fnet_cls}[{name}]"
    seed = case_seed(cname)

    def run(dtype: str):
        hf = _hf()
        torch.manual_seed(seed)
        hc = hf.BertConfig(**config, attn_implementation=attn_implementation)
        cfg = models.BertConfig.from_dict(hc.to_dict())
        kw = {} if fnet_cls != "BertModel" else {"add_pooling_layer": add_pooling_layer}
        hm = getattr(hf, fnet_cls)(hc, **kw)
        fm = getattr(models, fnet_cls)(cfg, **kw)
        rng = np.random.default_rng(seed)
        ids, mask, types = _batch(rng, batch, seq, config["vocab_size"], config.get("type_vocab_size", 2))
        inputs: list[Any] = [ids, mask, types]
        names = ["input_ids", "attention_mask", "token_type_ids"]
        if inputs_embeds:
            inputs[0] = rng.standard_normal((batch, seq, config["hidden_size"]))
            names[0] = "inputs_embeds"
        if position_ids:
            inputs.append(np.stack([rng.permutation(config["max_position_embeddings"])[:seq]] * batch))
            names.append("position_ids")
        if labels == "single":
            inputs.append(rng.integers(0, cfg.num_labels, batch))
        elif labels == "multi":
            inputs.append((rng.random((batch, cfg.num_labels)) > 0.5).astype(np.float64))
        elif labels == "regression":
            inputs.append(rng.standard_normal(batch))
        elif labels == "tokens":
            lab = rng.integers(0, cfg.num_labels if fnet_cls != "BertForMaskedLM" else cfg.vocab_size,
                               (batch, seq))
            inputs.append(np.where(mask == 1, lab, -100))
        if labels is not None:
            names.append("labels")
        flags = {"output_hidden_states": output_hidden_states, "output_attentions": output_attentions}
        with precision(dtype):
            hm = hm.to(_torch_dtype(dtype)).train(train)
            params, _ = load_state_dict(fm, dict(hm.named_parameters()))
            cast = cast_inputs(inputs, dtype)

            def fnet_fn(p, *xs):
                import jax

                out, _ = fm.apply(p, {}, **dict(zip(names, xs)), **flags, train=train,
                                  key=jax.random.key(0) if train else None)
                return out

            def torch_fn(*xs):
                return hm(**dict(zip(names, xs)), **flags)

            return run_pair(cname, dtype, fnet_fn=fnet_fn, params=params, torch_fn=torch_fn,
                            torch_params=dict(hm.named_parameters()), inputs=cast, seed=seed,
                            tol=tol if dtype == "float32" else None)

    covers = [f"models.{fnet_cls}", "models.BertConfig"]
    return register(ParityCase(cname, FAMILY, tuple(covers), run, note=note))


# float32 gradients of parameters shared by every position (LayerNorm biases, Q/K
# projections, the tied embedding) sum B*L*vocab float32 terms of magnitude ~10: their
# rounding reaches ~1.5e-5 absolute. float64 agrees to 1e-13, so the formulas are exact.
_SUMMED = {"grad_atol": 5e-5}
_SUMMED_NOTE = ("float32 gradients summed over every position and output (magnitude ~10) round to "
                "~1.5e-5; float64 agrees to 1e-13")


def _config(hidden=16, heads=4, layers=1, inter=24, vocab=40, maxpos=16, **kw):
    return dict(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                intermediate_size=inter, max_position_embeddings=maxpos, initializer_range=0.3, **kw)


bert_case("2 layers,H=4,hidden_states,attentions", "BertModel", _config(layers=2),
          output_hidden_states=True, output_attentions=True, tol=_SUMMED, note=_SUMMED_NOTE)
bert_case("hidden=12,H=3,gelu_new,inputs_embeds,position_ids,no pooler,sdpa", "BertModel",
          _config(hidden=12, heads=3, inter=20, hidden_act="gelu_new", type_vocab_size=3),
          inputs_embeds=True, position_ids=True, add_pooling_layer=False, attn_implementation="sdpa")
bert_case("single-label,3 classes,train,dropout=0", "BertForSequenceClassification",
          _config(num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
          labels="single", train=True)
bert_case("multi-label,4 labels,attentions", "BertForSequenceClassification",
          _config(hidden=8, heads=2, num_labels=4), labels="multi", output_attentions=True)
bert_case("regression,num_labels=1", "BertForSequenceClassification", _config(num_labels=1),
          labels="regression")
bert_case("5 tags,-100 on padding", "BertForTokenClassification", _config(num_labels=5, heads=2),
          labels="tokens", output_hidden_states=True)
bert_case("tied decoder,-100 on padding", "BertForMaskedLM", _config(hidden_act="relu"), labels="tokens",
          tol=_SUMMED, note=_SUMMED_NOTE)
