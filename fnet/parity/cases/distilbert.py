"""Parity cases: fnet.models DistilBERT against transformers (hf_configs' small DistilBERT, random weights)."""

from __future__ import annotations

from ._hf import SUMMED, SUMMED_NOTE, family_config, hf_case

FAMILY = "distilbert"

hf_case(FAMILY, "2 layers,hidden_states,attentions", "DistilBertModel", family_config("distilbert"),
        output_hidden_states=True, output_attentions=True, tol=SUMMED, note=SUMMED_NOTE)
hf_case(FAMILY, "inputs_embeds,position_ids,relu,sdpa", "DistilBertModel",
        family_config("distilbert", activation="relu"), inputs_embeds=True, position_ids=True,
        attn_implementation="sdpa")
hf_case(FAMILY, "single-label,3 classes", "DistilBertForSequenceClassification",
        family_config("distilbert", num_labels=3), labels="single")
hf_case(FAMILY, "multi-label,4 labels", "DistilBertForSequenceClassification",
        family_config("distilbert", num_labels=4), labels="multi")
hf_case(FAMILY, "5 tags,-100 on padding", "DistilBertForTokenClassification",
        family_config("distilbert", num_labels=5), labels="tokens")
hf_case(FAMILY, "tied projector,-100 on padding", "DistilBertForMaskedLM", family_config("distilbert"),
        labels="mlm", tol=SUMMED, note=SUMMED_NOTE)
