"""Auto classes: pick the fnet family from ``config.json``'s ``model_type``, as transformers does.

For example::

    from transformers import AutoTokenizer
    from fnet.models import AutoModelForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path)
    outputs = model(**tokenizer("Hello, my dog is cute", return_tensors="np"))

``path`` is a local directory or a Hub repo id resolved through the local Hugging
Face cache (see :func:`fnet.models.hub.resolve_model_dir`). A ``model_type`` that fnet
does not implement raises a ``ValueError`` listing the supported ones.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from .bert import BertConfig, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, BertModel
from .configuration import PretrainedConfig, read_json
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
           "AutoModelForMaskedLM", "AutoModelForCausalLM", "CONFIG_MAPPING"]

CONFIG_MAPPING: dict[str, type] = {c.model_type: c for c in (
    BertConfig, RobertaConfig, DistilBertConfig, GPT2Config, LlamaConfig, MistralConfig, Qwen2Config)}
MODEL_MAPPING = {"bert": BertModel, "roberta": RobertaModel, "distilbert": DistilBertModel, "gpt2": GPT2Model,
                 "llama": LlamaModel, "mistral": MistralModel, "qwen2": Qwen2Model}
MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING = {
    "bert": BertForSequenceClassification, "roberta": RobertaForSequenceClassification,
    "distilbert": DistilBertForSequenceClassification, "gpt2": GPT2ForSequenceClassification,
    "llama": LlamaForSequenceClassification, "mistral": MistralForSequenceClassification,
    "qwen2": Qwen2ForSequenceClassification}
MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING = {
    "bert": BertForTokenClassification, "roberta": RobertaForTokenClassification,
    "distilbert": DistilBertForTokenClassification, "gpt2": GPT2ForTokenClassification,
    "llama": LlamaForTokenClassification, "mistral": MistralForTokenClassification,
    "qwen2": Qwen2ForTokenClassification}
MODEL_FOR_MASKED_LM_MAPPING = {"bert": BertForMaskedLM, "roberta": RobertaForMaskedLM,
                               "distilbert": DistilBertForMaskedLM}
MODEL_FOR_CAUSAL_LM_MAPPING = {"gpt2": GPT2LMHeadModel, "llama": LlamaForCausalLM, "mistral": MistralForCausalLM,
                               "qwen2": Qwen2ForCausalLM}


def _unsupported(who: str, model_type: Any, supported: list[str], task: str | None = None) -> ValueError:
    import fnet

    what = f"model_type {model_type!r}" if model_type is not None else "a config.json without model_type"
    known = f" ({what} is known, but not for {task})" if task and model_type in CONFIG_MAPPING else ""
    port = (" To run another architecture, convert its torch module with fnet.port."
            if hasattr(fnet, "port") else "")
    return ValueError(f"{who}: {what} is not supported{known}; fnet implements {', '.join(sorted(supported))}."
                      f"{port}")


def _model_type(data: dict[str, Any], who: str) -> str:
    """``model_type``, or the family an ``architectures`` entry names (old configs)."""
    model_type = data.get("model_type")
    if model_type is None:
        for arch in data.get("architectures") or ():
            # the longest prefix wins: "DistilBert..." is not "Bert..."
            matches = [c for c in CONFIG_MAPPING.values() if any(str(arch).startswith(p)
                                                                 for p in c.architecture_prefixes)]
            if matches:
                best = max(matches, key=lambda c: max(len(p) for p in c.architecture_prefixes
                                                      if str(arch).startswith(p)))
                return best.model_type
    if model_type not in CONFIG_MAPPING:
        raise _unsupported(who, model_type, list(CONFIG_MAPPING))
    return model_type


def _read_config(name_or_path: str | os.PathLike, who: str, hub: dict[str, Any]) -> dict[str, Any]:
    from .hub import resolve_model_dir

    path = os.fspath(name_or_path)
    if os.path.isfile(path):
        return read_json(path, who)
    directory = resolve_model_dir(path, **hub)
    config_path = os.path.join(directory, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{who}: {directory!r} has no config.json")
    return read_json(config_path, who)


class AutoConfig:
    """The config class of ``config.json``'s ``model_type`` (``LlamaConfig``, ``BertConfig``...).

    PyTorch equivalent: ``transformers.AutoConfig``.
    """

    def __init__(self) -> None:
        raise TypeError("AutoConfig is not instantiated: use AutoConfig.from_pretrained(path) or "
                        "AutoConfig.for_model(model_type, **kwargs)")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        """Reads ``config.json`` (directory, file or Hub repo id); other keywords override values.

        Raises:
            ValueError: an unsupported ``model_type`` (the message lists the supported ones).
        """
        from .hub import HUB_OPTIONS

        hub = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_OPTIONS}
        data = _read_config(pretrained_model_name_or_path, "AutoConfig", hub)
        config_class = CONFIG_MAPPING[_model_type(data, "AutoConfig")]
        return config_class.from_dict(data, **kwargs)

    @classmethod
    def for_model(cls, model_type: str, **kwargs: Any) -> PretrainedConfig:
        """A config of ``model_type`` with transformers' defaults and ``kwargs``."""
        if model_type not in CONFIG_MAPPING:
            raise _unsupported("AutoConfig.for_model", model_type, list(CONFIG_MAPPING))
        return CONFIG_MAPPING[model_type](**kwargs)


class _AutoModel:
    """Dispatch on ``model_type`` to the family class of one task."""

    _mapping: ClassVar[dict[str, type]] = {}
    _task: ClassVar[str] = ""

    def __init__(self) -> None:
        raise TypeError(f"{type(self).__name__} is not instantiated: use {type(self).__name__}.from_pretrained(path) "
                        f"or {type(self).__name__}.from_config(config)")

    @classmethod
    def _class_for(cls, model_type: str) -> type:
        if model_type not in cls._mapping:
            raise _unsupported(cls.__name__, model_type, list(cls._mapping), cls._task)
        return cls._mapping[model_type]

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        """Loads the checkpoint into the class its ``model_type`` names; see
        :func:`fnet.models.hub.from_pretrained` for the keyword arguments (``num_labels=``,
        ``dtype=``, ``strict=``, hub options...).

        Returns:
            A bound model: ``outputs = model(**inputs)``; ``module, params = model``.

        Raises:
            ValueError: an unsupported ``model_type`` (the message lists the supported ones).
        """
        from .hub import HUB_OPTIONS

        config = kwargs.get("config")
        if config is not None:
            model_type = config.model_type
        else:
            hub = {k: kwargs[k] for k in kwargs if k in HUB_OPTIONS}
            model_type = _model_type(_read_config(pretrained_model_name_or_path, cls.__name__, hub), cls.__name__)
        return cls._class_for(model_type).from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    @classmethod
    def from_config(cls, config: PretrainedConfig) -> Any:
        """A fresh (unbound) model of the class ``config.model_type`` names; ``model.init(key)``
        draws transformers' initialisation."""
        if not isinstance(config, PretrainedConfig):
            raise TypeError(f"{cls.__name__}.from_config: expected a fnet.models config (AutoConfig...), got "
                            f"{type(config).__name__}")
        return cls._class_for(config.model_type)(config)


class AutoModel(_AutoModel):
    """The base model (no head) of ``model_type``. PyTorch equivalent: ``transformers.AutoModel``."""

    _mapping = MODEL_MAPPING
    _task = "a base model"


class AutoModelForSequenceClassification(_AutoModel):
    """Sequence classification / regression. PyTorch equivalent:
    ``transformers.AutoModelForSequenceClassification``."""

    _mapping = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING
    _task = "sequence classification"


class AutoModelForTokenClassification(_AutoModel):
    """Token classification. PyTorch equivalent: ``transformers.AutoModelForTokenClassification``."""

    _mapping = MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING
    _task = "token classification"


class AutoModelForMaskedLM(_AutoModel):
    """Masked language modelling (the encoders). PyTorch equivalent: ``transformers.AutoModelForMaskedLM``."""

    _mapping = MODEL_FOR_MASKED_LM_MAPPING
    _task = "masked language modelling"


class AutoModelForCausalLM(_AutoModel):
    """Causal language modelling with ``generate`` (the decoders). PyTorch equivalent:
    ``transformers.AutoModelForCausalLM``."""

    _mapping = MODEL_FOR_CAUSAL_LM_MAPPING
    _task = "causal language modelling"
