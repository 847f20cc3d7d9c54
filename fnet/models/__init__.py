"""Models: Hugging Face compatible BERT.

    from fnet.models import BertForSequenceClassification
    model, params = BertForSequenceClassification.from_pretrained(path, num_labels=2)

Parameter trees are the transformers ``state_dict`` nested, so checkpoints load by
unflattening; ``model.save_pretrained(dir, params)`` writes a directory that
``transformers.AutoModel.from_pretrained`` reads.
"""

from . import bert, hub
from ._output import ModelOutput
from .bert import (BertConfig, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
                   BertModel)

__all__ = ["BertConfig", "BertModel", "BertForSequenceClassification", "BertForTokenClassification",
           "BertForMaskedLM"]
