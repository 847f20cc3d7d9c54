"""Models: Hugging Face families in JAX, loadable from and savable to transformers checkpoints.

Classify, or generate (``path`` a checkpoint directory or Hub repo id)::

    from transformers import AutoTokenizer
    from fnet.models import AutoModelForCausalLM, AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    outputs = model(**tokenizer(texts, padding=True, return_tensors="np"))
    module, params = model            # the pure pieces, for jax.jit / jax.grad / fit

    lm = AutoModelForCausalLM.from_pretrained(path)
    ids = lm.generate(**tokenizer(prompts, padding=True, padding_side="left", return_tensors="np"),
                      max_new_tokens=32)

Families: BERT, RoBERTa, DistilBERT (encoders, with sequence/token classification and
masked-LM heads); GPT-2 and the Llama family (Llama 2/3, Mistral, Qwen2; decoders with
causal-LM, sequence and token classification heads and ``generate``). Parameter trees
are the transformers ``state_dict`` nested, so checkpoints load by unflattening;
``model.save_pretrained(dir)`` writes a directory that transformers'
``AutoModel*.from_pretrained`` reads.
"""

from . import auto, bert, configuration, distilbert, generation, gpt2, hub, llama, modeling, roberta
from ._output import ModelOutput
from .auto import (AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM,
                   AutoModelForSequenceClassification, AutoModelForTokenClassification)
from .bert import (BertConfig, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
                   BertModel)
from .distilbert import (DistilBertConfig, DistilBertForMaskedLM, DistilBertForSequenceClassification,
                         DistilBertForTokenClassification, DistilBertModel)
from .gpt2 import GPT2Config, GPT2ForSequenceClassification, GPT2ForTokenClassification, GPT2LMHeadModel, GPT2Model
from .llama import (LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification, LlamaForTokenClassification,
                    LlamaModel, MistralConfig, MistralForCausalLM, MistralForSequenceClassification,
                    MistralForTokenClassification, MistralModel, Qwen2Config, Qwen2ForCausalLM,
                    Qwen2ForSequenceClassification, Qwen2ForTokenClassification, Qwen2Model)
from .roberta import (RobertaConfig, RobertaForMaskedLM, RobertaForSequenceClassification,
                      RobertaForTokenClassification, RobertaModel)

__all__ = ["AutoConfig", "AutoModel", "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
           "AutoModelForMaskedLM", "AutoModelForCausalLM",
           "BertConfig", "BertModel", "BertForSequenceClassification", "BertForTokenClassification",
           "BertForMaskedLM",
           "RobertaConfig", "RobertaModel", "RobertaForSequenceClassification", "RobertaForTokenClassification",
           "RobertaForMaskedLM",
           "DistilBertConfig", "DistilBertModel", "DistilBertForSequenceClassification",
           "DistilBertForTokenClassification", "DistilBertForMaskedLM",
           "GPT2Config", "GPT2Model", "GPT2LMHeadModel", "GPT2ForSequenceClassification", "GPT2ForTokenClassification",
           "LlamaConfig", "LlamaModel", "LlamaForCausalLM", "LlamaForSequenceClassification",
           "LlamaForTokenClassification",
           "MistralConfig", "MistralModel", "MistralForCausalLM", "MistralForSequenceClassification",
           "MistralForTokenClassification",
           "Qwen2Config", "Qwen2Model", "Qwen2ForCausalLM", "Qwen2ForSequenceClassification",
           "Qwen2ForTokenClassification"]
