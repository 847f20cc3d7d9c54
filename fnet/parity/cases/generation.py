"""Parity cases: greedy ``generate`` against transformers' ``generate`` on the same weights.

Each case generates from left-padded prompts of different lengths with both libraries
(transformers' default dynamic cache, fnet's static cache and jitted loop) and compares
the generated tokens and every step's logits. transformers' ``generate`` casts each
step's logits to float32 (also for a float64 model) and fnet does the same, so the
logits are compared with float32 tolerances in both dtypes.

Tokens are compared under the top-2 margin argument: at a step where transformers' two
best logits are closer than ``MARGIN`` (ten times the largest logit difference measured
across these cases), either token is a correct greedy choice for numbers that agree
within tolerance, and the two continuations may legitimately diverge from there; the
report then names the row and step and stops comparing that row. The fixed seeds below
have no such step: every token of every row is compared.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from fnet import models
from fnet.io import load_state_dict
from fnet.parity import ParityCase, case_seed, precision, register
from fnet.parity._engine import TOLERANCES, Diff, Report, _torch_dtype, diff

from ._hf import family_config, padded_batch, transformers

FAMILY = "generation"
MARGIN = 1e-4


def generation_case(name: str, fnet_cls: str, make_config: Callable[[str], Any], *, batch: int = 3,
                    prompt: int = 7, max_new_tokens: int = 12, eos_steps: tuple[int, ...] | None = None,
                    attn_implementation: tuple[str, str] = ("eager", "sdpa")) -> ParityCase:
    """Registers ``generate:<fnet_cls>[name]``.

    Args:
        eos_steps: when given, row ``b`` gets as EOS the token transformers generates for
            it at step ``eos_steps[b]`` (a first run without EOS finds them), so rows stop
            early, finished rows are padded, and generation ends when all have stopped.
        attn_implementation: transformers' attention in float32 and float64 (its eager
            attention gives NaN for left padding in float64: see ``cases/llama.py``).
    """
    cname = f"generate:{fnet_cls}[{name}]"
    seed = case_seed(cname)

    def run(dtype: str) -> Report:
        hf = transformers()
        torch.manual_seed(seed)
        impl = attn_implementation[0 if dtype == "float32" else 1]
        hm = getattr(hf, fnet_cls)(make_config(impl)).to(_torch_dtype(dtype)).eval()
        fm = getattr(models, fnet_cls)(getattr(models, type(hm.config).__name__).from_dict(hm.config.to_dict()))
        rng = np.random.default_rng(seed)
        pad = fm.config.pad_token_id if fm.config.pad_token_id is not None else 0
        ids, mask, _ = padded_batch(rng, batch, prompt, fm.config.vocab_size, pad, side="left")
        t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)
        kw: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": False, "pad_token_id": pad}
        with torch.no_grad():
            if eos_steps is not None:  # (otherwise both use the config's EOS)
                first = hm.generate(input_ids=t_ids, attention_mask=t_mask, **dict(kw, eos_token_id=hm.config.vocab_size))  # never generated
                kw["eos_token_id"] = [int(first[b, prompt + s]) for b, s in enumerate(eos_steps)]
            ref = hm.generate(input_ids=t_ids, attention_mask=t_mask, output_logits=True,
                              return_dict_in_generate=True, **kw)
        with precision(dtype):
            params, _ = load_state_dict(fm, dict(hm.named_parameters()))
            out = fm.generate(params, ids, mask, output_logits=True, return_dict_in_generate=True, **kw)
        return _compare(cname, dtype, prompt, out, ref)

    covers = (f"models.{fnet_cls}",)
    note = ("greedy tokens under the top-2 margin argument (margin 1e-4); per-step logits are float32 in "
            "both libraries (transformers casts them), so both dtypes use float32 tolerances")
    return register(ParityCase(cname, FAMILY, covers, run, note=note))


def _compare(name: str, dtype: str, prompt: int, out: Any, ref: Any) -> Report:
    tol = TOLERANCES["float32"]
    ours = np.asarray(out.sequences)
    theirs = ref.sequences.numpy()
    ref_logits = np.stack([x.float().numpy() for x in ref.logits])  # (steps, B, V)
    our_logits = np.stack([np.asarray(x) for x in out.logits])
    top2 = np.sort(ref_logits, axis=-1)[..., -2:]
    margins = top2[..., 1] - top2[..., 0]  # (steps, B)
    diffs: list[Diff] = []
    batch = theirs.shape[0]
    steps = theirs.shape[1] - prompt
    ambiguous = []
    for b in range(batch):
        close = np.flatnonzero(margins[:, b] <= MARGIN)
        last = int(close[0]) if close.size else steps - 1  # the last step whose token is decided
        if close.size:
            ambiguous.append(f"row {b} step {last} (margin {margins[last, b]:.1e})")
        compared = slice(prompt, prompt + last + (0 if close.size else 1))
        if ours.shape[1] <= compared.stop - 1:
            diffs.append(Diff("output", f"tokens[{b}]", math.inf, math.inf, False,
                              f"fnet stopped after {ours.shape[1] - prompt} steps, transformers after {steps}"))
            continue
        same = np.array_equal(ours[b, compared], theirs[b, compared])
        first_diff = "" if same else f"first difference at step {int(np.flatnonzero(ours[b, compared] != theirs[b, compared])[0])}"
        diffs.append(Diff("output", f"tokens[{b}] ({compared.stop - prompt} steps)", 0.0 if same else math.inf,
                          0.0 if same else math.inf, same, first_diff))
        n = min(last + 1, our_logits.shape[0])
        diffs.append(diff("output", f"logits[{b}] (steps 0-{n - 1})", our_logits[:n, b], ref_logits[:n, b],
                          tol["rtol"], tol["atol"]))
    same_length = ours.shape == theirs.shape
    diffs.append(Diff("output", "sequences shape", 0.0 if same_length else math.inf, 0.0 if same_length else math.inf,
                      same_length, f"fnet {ours.shape}, transformers {theirs.shape}"))
    report = Report(name, dtype, diffs)
    if ambiguous:
        report.diffs.append(Diff("output", "near-ties (not compared after)", 0.0, 0.0, True, "; ".join(ambiguous)))
    return report


generation_case("left padding", "GPT2LMHeadModel", family_config("gpt2"))
generation_case("EOS per row,finished rows padded,early stop", "GPT2LMHeadModel", family_config("gpt2"),
                eos_steps=(9, 7, 2))
generation_case("GQA,llama3 RoPE,left padding", "LlamaForCausalLM", family_config("llama"))
generation_case("sliding window 4 < 19 positions", "MistralForCausalLM", family_config("mistral"))
generation_case("sliding second layer,EOS", "Qwen2ForCausalLM",
                family_config("qwen2", use_sliding_window=True, sliding_window=5, max_window_layers=1),
                eos_steps=(3, 5, 8))
