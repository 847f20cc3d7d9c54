"""Parity cases: fnet.models BERT against transformers, randomly initialised small configs
(the case builder is ``_hf.hf_case``; the real all-MiniLM-L6-v2 checkpoint is in ``auto.py``)."""

from __future__ import annotations

from ._hf import SUMMED, SUMMED_NOTE, hf_case, transformers

FAMILY = "bert"


def _config(hidden=16, heads=4, layers=1, inter=24, vocab=40, maxpos=16, **kw):
    def make(impl):
        return transformers().BertConfig(
            vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
            intermediate_size=inter, max_position_embeddings=maxpos, initializer_range=0.3,
            attn_implementation=impl, **kw)

    return make


hf_case(FAMILY, "2 layers,H=4,hidden_states,attentions", "BertModel", _config(layers=2), token_types=True,
        output_hidden_states=True, output_attentions=True, tol=SUMMED, note=SUMMED_NOTE)
hf_case(FAMILY, "hidden=12,H=3,gelu_new,inputs_embeds,position_ids,no pooler,sdpa", "BertModel",
        _config(hidden=12, heads=3, inter=20, hidden_act="gelu_new", type_vocab_size=3), token_types=True,
        inputs_embeds=True, position_ids=True, init_kwargs={"add_pooling_layer": False},
        attn_implementation="sdpa")
hf_case(FAMILY, "single-label,3 classes,train,dropout=0", "BertForSequenceClassification",
        _config(num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0), token_types=True,
        labels="single", train=True)
hf_case(FAMILY, "multi-label,4 labels,attentions", "BertForSequenceClassification",
        _config(hidden=8, heads=2, num_labels=4), token_types=True, labels="multi", output_attentions=True)
hf_case(FAMILY, "regression,num_labels=1", "BertForSequenceClassification", _config(num_labels=1),
        token_types=True, labels="regression")
hf_case(FAMILY, "5 tags,-100 on padding", "BertForTokenClassification", _config(num_labels=5, heads=2),
        token_types=True, labels="tokens", output_hidden_states=True)
hf_case(FAMILY, "tied decoder,-100 on padding", "BertForMaskedLM", _config(hidden_act="relu"), token_types=True,
        labels="mlm", tol=SUMMED, note=SUMMED_NOTE)
