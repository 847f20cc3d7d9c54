"""``PretrainedConfig``: the one configuration class every Hugging Face family derives from.

A family declares its ``model_type``, its fields with transformers' defaults
(``defaults``, in ``config.json`` order) and transformers' aliases (``attribute_map``:
GPT-2's ``hidden_size`` is ``n_embd``); this class reads and writes ``config.json``,
keeps unknown keys so they are written back unchanged, handles the label maps
(``id2label``, ``label2id``, ``num_labels``) and ``problem_type`` the way transformers
does, and makes the result immutable and hashable (a model holding one stays a valid
static argument of ``jax.jit``)::

    config = LlamaConfig.from_pretrained("path/to/checkpoint")
    config.hidden_size, config.num_key_value_heads
    smaller = config.replace(num_hidden_layers=2)
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar, Mapping

from .._files import atomic_write

__all__ = ["PretrainedConfig", "PROBLEM_TYPES", "ATTN_IMPLEMENTATIONS"]

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
# None: the fused jax.nn.dot_product_attention on accelerators, the explicit path on CPU.
ATTN_IMPLEMENTATIONS = (None, "eager", "xla", "cudnn")
# Bookkeeping keys transformers writes that say nothing about the model.
_DROPPED = ("_name_or_path", "transformers_version", "_commit_hash", "_attn_implementation_autoset")


class PretrainedConfig:
    """Base of every fnet model configuration (``BertConfig``, ``LlamaConfig``...).

    Keyword arguments are the family's ``config.json`` keys (transformers' names and
    defaults, aliases from ``attribute_map`` accepted) plus:

    Args:
        num_labels: outputs of a classification head (2), or give ``id2label``.
        id2label, label2id: label names (``{0: "LABEL_0", ...}`` by default).
        problem_type: ``"regression"``, ``"single_label_classification"``,
            ``"multi_label_classification"`` or None (chosen from the labels, as
            transformers does).
        architectures: class names recorded by ``save_pretrained``.
        dtype: the dtype the checkpoint was saved in (``"float32"``, ``"bfloat16"``);
            ``torch_dtype`` (transformers 4's name) is read as ``dtype``.
        attn_implementation: how attention runs, not saved (like transformers'):
            None picks ``jax.nn.dot_product_attention`` on GPU/TPU and the explicit
            computation on CPU; ``"eager"`` always the explicit one (attention weights,
            dropout, transformers' eager results on padded rows); ``"xla"`` / ``"cudnn"``
            force ``jax.nn.dot_product_attention`` with that implementation; transformers'
            ``"sdpa"`` is read as None.
        **kwargs: other ``config.json`` keys, kept and written back unchanged.

    PyTorch equivalent: ``transformers.PretrainedConfig``.
    """

    model_type: ClassVar[str] = ""
    # field -> transformers' default, in config.json order
    defaults: ClassVar[dict[str, Any]] = {}
    # alias -> field (transformers' attribute_map)
    attribute_map: ClassVar[dict[str, str]] = {}
    # architectures names of this family (to recognise a config.json without model_type)
    architecture_prefixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **kwargs: Any):
        name = type(self).__name__
        model_type = kwargs.pop("model_type", self.model_type)
        if model_type != self.model_type:
            raise ValueError(f"{name}: this config is for model_type {model_type!r}, not {self.model_type!r}; "
                             f"read it with fnet.models.AutoConfig (or the {model_type!r} family's config class)")
        for alias, field in self.attribute_map.items():
            if alias in kwargs:
                value = kwargs.pop(alias)
                if field in kwargs and kwargs[field] != value:
                    raise ValueError(f"{name}: {alias}={value!r} and {field}={kwargs[field]!r} name the same "
                                     f"setting with different values")
                kwargs[field] = value
        values: dict[str, Any] = {}
        for field, default in self.defaults.items():
            values[field] = _coerce(name, field, kwargs.pop(field, default), default)
        num_labels = kwargs.pop("num_labels", None)
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        if id2label is not None:
            id2label = {int(k): str(v) for k, v in dict(id2label).items()}
            if num_labels is not None and int(num_labels) != len(id2label):
                raise ValueError(f"{name}: num_labels={num_labels} disagrees with id2label, which has "
                                 f"{len(id2label)} entries")
        else:
            id2label = {i: f"LABEL_{i}" for i in range(2 if num_labels is None else int(num_labels))}
        if label2id is None:
            label2id = {v: k for k, v in id2label.items()}
        values["id2label"] = id2label
        values["label2id"] = {str(k): int(v) for k, v in dict(label2id).items()}
        values["problem_type"] = kwargs.pop("problem_type", None)
        architectures = kwargs.pop("architectures", None)
        values["architectures"] = list(architectures) if architectures else None
        dtype = kwargs.pop("dtype", None)
        torch_dtype = kwargs.pop("torch_dtype", None)
        dtype = dtype if dtype is not None else torch_dtype
        values["dtype"] = None if dtype is None else str(dtype).replace("torch.", "")
        implementation = kwargs.pop("attn_implementation", None)
        kwargs.pop("_attn_implementation", None)
        # transformers' "sdpa" (its default) means "the fused kernel where there is one": fnet's None
        values["attn_implementation"] = None if implementation == "sdpa" else implementation
        for key in _DROPPED:
            kwargs.pop(key, None)
        values["extra"] = dict(kwargs)
        self._prepare(values)
        for field, value in values.items():
            object.__setattr__(self, field, value)
        self._validate_common()
        self._validate()

    # -- family hooks ---------------------------------------------------------------------
    def _prepare(self, values: dict[str, Any]) -> None:
        """Fills derived defaults in ``values`` before they are set (``head_dim``...)."""

    def _validate(self) -> None:
        """Raises ``ValueError`` for settings the family does not support."""

    def _validate_common(self) -> None:
        name = type(self).__name__
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"{name}: problem_type must be None or one of {PROBLEM_TYPES}, "
                             f"got {self.problem_type!r}")
        if self.num_labels < 1:
            raise ValueError(f"{name}: num_labels must be at least 1, got {self.num_labels}")
        if self.attn_implementation not in ATTN_IMPLEMENTATIONS:
            raise ValueError(f"{name}: attn_implementation must be one of {ATTN_IMPLEMENTATIONS}, "
                             f"got {self.attn_implementation!r}")

    def _require_divisible(self, what: str, value: int, by: str, divisor: int) -> None:
        if divisor <= 0 or value % divisor:
            raise ValueError(f"{type(self).__name__}: {what}={value} is not a multiple of {by}={divisor}")

    # -- attributes -----------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: aliases (GPT-2's hidden_size -> n_embd)
        field = type(self).attribute_map.get(name)
        if field is not None:
            return getattr(self, field)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (cannot set {name!r}); use "
                             f"config.replace({name}=...)")

    def get(self, name: str, default: Any = None) -> Any:
        """A field, or a key kept from ``config.json`` (``extra``), or ``default``."""
        try:
            return getattr(self, name)
        except AttributeError:
            return self.extra.get(name, default)

    # -- dict / json ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` content (transformers reads it back)."""
        out: dict[str, Any] = {"model_type": self.model_type}
        if self.architectures:
            out["architectures"] = list(self.architectures)
        for field in self.defaults:
            out[field] = getattr(self, field)
        out["problem_type"] = self.problem_type
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        out["label2id"] = dict(self.label2id)
        if self.dtype is not None:
            out["dtype"] = self.dtype
        out.update(self.extra)
        return out

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], **overrides: Any) -> "PretrainedConfig":
        """From a ``config.json`` dict; ``overrides`` win (``num_labels=3``...).

        Raises:
            ValueError: ``model_type`` is another family's, or a setting is unsupported.
        """
        if not isinstance(config, Mapping):
            raise TypeError(f"{cls.__name__}.from_dict: expected a mapping, got {type(config).__name__}")
        values = dict(config)
        if "model_type" not in values and values.get("architectures") and cls.architecture_prefixes:
            arch = str(values["architectures"][0])
            if not arch.startswith(cls.architecture_prefixes):
                raise ValueError(f"{cls.__name__}: config.json describes architecture {arch!r} and has no "
                                 f"model_type; {cls.__name__} reads {cls.model_type!r} configs only")
        if "num_labels" in overrides or "id2label" in overrides:
            values.pop("id2label", None)
            values.pop("label2id", None)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> "PretrainedConfig":
        return cls.from_dict(read_json(path, cls.__name__))

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> "PretrainedConfig":
        """Reads ``config.json`` from a directory, a file, or a Hub repo id (local cache first).

        Keyword arguments that are hub options (``revision``, ``cache_dir``,
        ``local_files_only``, ``token``) locate the files; the others override config values.
        """
        from .hub import HUB_OPTIONS, resolve_model_dir

        hub = {k: kwargs.pop(k) for k in list(kwargs) if k in HUB_OPTIONS}
        path = os.fspath(name_or_path)
        if os.path.isfile(path):
            config = cls.from_json_file(path)
        else:
            config = cls.from_json_file(os.path.join(resolve_model_dir(path, **hub), "config.json"))
        return config.replace(**kwargs) if kwargs else config

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Writes ``config.json`` into ``save_directory`` (atomically)."""
        with atomic_write(os.path.join(save_directory, "config.json"), "w") as handle:
            handle.write(self.to_json_string())

    def replace(self, **changes: Any) -> "PretrainedConfig":
        """A copy with some values changed (``config.replace(num_labels=3)``)."""
        values = self.to_dict()
        if self.attn_implementation is not None:
            values["attn_implementation"] = self.attn_implementation
        return type(self).from_dict(values, **changes)

    # -- identity -------------------------------------------------------------------------
    def _key(self) -> str:
        # dtype describes how a checkpoint was stored, not what the model computes
        values = {k: v for k, v in self.to_dict().items() if k != "dtype"}
        return json.dumps([values, self.attn_implementation], sort_keys=True)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"


def read_json(path: str | os.PathLike, who: str) -> dict[str, Any]:
    """A ``config.json`` as a dict, with errors that name the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"{who}: no config file at {os.fspath(path)!r}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{who}: {os.fspath(path)!r} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{who}: {os.fspath(path)!r} does not hold a JSON object")
    return data


def _coerce(who: str, field: str, value: Any, default: Any) -> Any:
    """``int``/``float``/``bool`` fields converted as transformers' typed configs do."""
    if value is None or default is None or isinstance(value, (list, tuple, dict)):
        return value  # eos_token_id may be a list (Llama 3), as transformers allows
    try:
        if isinstance(default, bool):
            return bool(value)
        if isinstance(default, int) and not isinstance(value, bool):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, float) and not isinstance(value, bool):
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: {field} must be a {type(default).__name__}, got {value!r}") from None
    return value
