"""Parity cases: fnet.models GPT-2 against transformers (hf_configs' small GPT-2, random weights).

Left padding is what generation uses; transformers' eager attention gives a fully
masked (left-padding) query row the mean of all values, and fnet's explicit path does
the same, so every position is compared.
"""

from __future__ import annotations

from ._hf import SUMMED, SUMMED_NOTE, family_config, hf_case

FAMILY = "gpt2"

# Measured: with every hidden state and attention map weighted by the engine's random
# cotangents, gradients reach ~10 (initializer_range 0.2); float32 rounding reaches 5.3e-5
# absolute on them, float64 agrees to 1e-13.
_LARGE = {"grad_atol": 1e-4}
_LARGE_NOTE = ("float32 gradients of order 10 (all hidden states and attention maps weighted) round to "
               "5.3e-5; float64 agrees to 1e-13")
# transformers' ForCausalLMLoss casts the logits to float32 (logits.float()), also in a
# float64 model: measured loss 3.8e-7, gradients 4e-8 from that rounding.
_LM64 = {"rtol": 1e-6, "atol": 1e-6, "grad_rtol": 1e-6, "grad_atol": 1e-6}
_LM_NOTE = (SUMMED_NOTE + "; float64: transformers computes the causal-LM loss in float32 (logits.float()), "
            "measured 3.8e-7 on the loss, 4e-8 on gradients")

hf_case(FAMILY, "left padding,scale by layer,hidden_states,attentions", "GPT2Model",
        family_config("gpt2", scale_attn_by_inverse_layer_idx=True), side="left", output_hidden_states=True,
        output_attentions=True, tol=_LARGE, note=_LARGE_NOTE)
hf_case(FAMILY, "inputs_embeds,position_ids,gelu,sdpa", "GPT2Model", family_config("gpt2", activation_function="gelu"),
        inputs_embeds=True, position_ids=True, attn_implementation="sdpa", mask_padding=True)
hf_case(FAMILY, "tied head,causal labels,right padding", "GPT2LMHeadModel", family_config("gpt2"), seq=9,
        labels="causal", tol=SUMMED, tol64=_LM64, note=_LM_NOTE)
hf_case(FAMILY, "untied head,left padding", "GPT2LMHeadModel", family_config("gpt2", tie_word_embeddings=False),
        side="left", labels="causal", tol=SUMMED, tol64=_LM64, note=_LM_NOTE)
hf_case(FAMILY, "last token,3 classes,left padding", "GPT2ForSequenceClassification",
        family_config("gpt2", num_labels=3), side="left", labels="single")
hf_case(FAMILY, "5 tags,-100 on padding", "GPT2ForTokenClassification", family_config("gpt2", num_labels=5),
        labels="tokens")
