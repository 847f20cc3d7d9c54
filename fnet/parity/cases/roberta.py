"""Parity cases: fnet.models RoBERTa against transformers (hf_configs' small RoBERTa, random weights)."""

from __future__ import annotations

from ._hf import SUMMED, SUMMED_NOTE, family_config, hf_case

FAMILY = "roberta"

hf_case(FAMILY, "2 layers,padding_idx positions,hidden_states,attentions", "RobertaModel", family_config("roberta"),
        output_hidden_states=True, output_attentions=True, tol=SUMMED, note=SUMMED_NOTE)
hf_case(FAMILY, "inputs_embeds,no pooler,sdpa", "RobertaModel", family_config("roberta"), inputs_embeds=True,
        init_kwargs={"add_pooling_layer": False}, attn_implementation="sdpa")
hf_case(FAMILY, "<s> head,3 classes", "RobertaForSequenceClassification", family_config("roberta", num_labels=3),
        labels="single")
hf_case(FAMILY, "regression,num_labels=1", "RobertaForSequenceClassification",
        family_config("roberta", num_labels=1), labels="regression")
hf_case(FAMILY, "5 tags,-100 on padding", "RobertaForTokenClassification", family_config("roberta", num_labels=5),
        labels="tokens")
hf_case(FAMILY, "tied decoder,-100 on padding", "RobertaForMaskedLM", family_config("roberta"), labels="mlm",
        tol=SUMMED, note=SUMMED_NOTE)
