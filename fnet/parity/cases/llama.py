"""Parity cases: the Llama family (Llama 2/3, Mistral, Qwen2) against transformers (hf_configs'
small configs, random weights).

float32 runs transformers' eager attention and compares every position (left-padding
rows included: fnet's explicit path reproduces eager there). float64 runs transformers'
SDPA, because its eager attention computes the softmax in float32, which turns the
dtype's most negative mask value into -inf and gives NaN rows for left padding in
float64; SDPA computes padded rows differently, so float64 compares real tokens only.
"""

from __future__ import annotations

from ._hf import family_config, hf_case

FAMILY = "llama"

# float64: transformers' LlamaRMSNorm upcasts to float32 whatever the input dtype (for a
# float64 model, a downcast) and its causal-LM loss casts the logits to float32; fnet keeps
# float64. Measured: outputs within 1e-6, gradients (up to ~100) within 6e-5 absolute,
# below 1e-6 of each tensor's largest entry. With transformers' norm patched to compute in
# float64 the gradients agree to 2e-8 (then limited by its float32 loss).
_F64 = {"rtol": 1e-5, "atol": 1e-5, "grad_rtol": 1e-5, "grad_atol": 1e-4}
_F64_NOTE = ("float64: transformers computes RMSNorm and the causal-LM loss in float32 even for float64 models; "
             "measured up to 6e-5 on gradients of ~100 (below 1e-6 of the largest)")
# float32: with vocabulary-wide logits and every hidden state weighted by the engine's
# random cotangents, gradients reach ~100 (initializer_range 0.2); rounding stays below
# 3e-6 of each tensor's largest entry (measured up to 2.8e-4 absolute).
_F32 = {"grad_atol": 5e-4}
_F32_NOTE = "float32 gradients of ~100 round to 2.8e-4 (below 3e-6 of each tensor's largest entry); " + _F64_NOTE


def case(name, cls, family, side="left", large=False, **kw):
    kw.setdefault("attn_implementation", ("eager", "sdpa"))
    return hf_case(FAMILY, name, cls, family, side=side, mask_padding="float64", tol=_F32 if large else None,
                   tol64=_F64, note=_F32_NOTE if large else _F64_NOTE, **kw)


# Llama 3: grouped-query attention (4 query heads, 2 key/value heads) and llama3 RoPE scaling.
# Attention weights need transformers' eager attention in both dtypes; right padding has no
# fully masked rows, so its float32 softmax stays finite in float64.
case("GQA,llama3 RoPE,hidden_states,attentions", "LlamaModel", family_config("llama"), side="right",
     attn_implementation="eager", output_hidden_states=True, output_attentions=True, large=True)
case("causal labels,right padding", "LlamaForCausalLM", family_config("llama"), side="right", seq=9,
     labels="causal", large=True)
# Llama 2 style: multi-head attention, linear RoPE scaling, biases, tied embeddings
case("MHA,linear RoPE,biases,tied,inputs_embeds", "LlamaForCausalLM",
     family_config("llama", num_key_value_heads=4, attention_bias=True, mlp_bias=True, tie_word_embeddings=True,
                   rope_parameters={"rope_type": "linear", "rope_theta": 500.0, "factor": 2.0}),
     inputs_embeds=True, large=True)
case("last token,3 classes", "LlamaForSequenceClassification", family_config("llama", num_labels=3),
     labels="single")
case("5 tags", "LlamaForTokenClassification", family_config("llama", num_labels=5), labels="tokens", large=True)
# Mistral: a sliding window of 4 positions over 9-token sequences
case("sliding window 4,hidden_states", "MistralModel", family_config("mistral"), seq=9, output_hidden_states=True,
     large=True)
case("sliding window 4,causal labels", "MistralForCausalLM", family_config("mistral"), seq=9, labels="causal",
     large=True)
case("last token,2 classes", "MistralForSequenceClassification", family_config("mistral", num_labels=2),
     seq=9, labels="single")
case("5 tags", "MistralForTokenClassification", family_config("mistral", num_labels=5), labels="tokens")
# Qwen2: q/k/v biases; the second layer uses a sliding window (use_sliding_window, max_window_layers=1)
case("qkv biases,sliding second layer,hidden_states", "Qwen2Model",
     family_config("qwen2", use_sliding_window=True, sliding_window=3, max_window_layers=1), seq=9,
     output_hidden_states=True, large=True)
case("qkv biases,causal labels", "Qwen2ForCausalLM", family_config("qwen2"), labels="causal", large=True)
case("last token,3 classes", "Qwen2ForSequenceClassification", family_config("qwen2", num_labels=3),
     labels="single")
case("5 tags", "Qwen2ForTokenClassification", family_config("qwen2", num_labels=5), labels="tokens")
