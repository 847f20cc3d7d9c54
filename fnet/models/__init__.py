"""Models: Hugging Face compatible BERT.

    from fnet.models import BertForSequenceClassification
    model = BertForSequenceClassification.from_pretrained(path, num_labels=2)
    outputs = model(**tokenizer(texts, padding=True, return_tensors="np"))
    module, params = model            # the pure pieces, for jax.jit / jax.grad / fit

Parameter trees are the transformers ``state_dict`` nested, so checkpoints load by
unflattening; ``model.save_pretrained(dir)`` writes a directory that
``transformers.AutoModel.from_pretrained`` reads.
"""

from . import bert, configuration, hub, modeling
from ._output import ModelOutput
from .bert import (BertConfig, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
                   BertModel)

__all__ = ["BertConfig", "BertModel", "BertForSequenceClassification", "BertForTokenClassification",
           "BertForMaskedLM"]
