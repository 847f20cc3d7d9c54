"""Hugging Face checkpoints: find them, read them, load them into fnet models, write them.

* :func:`resolve_model_dir`: a local directory, or a Hub repo id resolved through
  ``huggingface_hub`` (the local cache first; offline with ``HF_HUB_OFFLINE=1``; it
  downloads only when a network is there and the files are not cached).
* :func:`load_checkpoint`: ``model.safetensors``, a sharded
  ``model.safetensors.index.json``, or ``pytorch_model.bin`` (and its sharded index),
  the latter only through ``torch.load(weights_only=True)``.
* :func:`from_pretrained`: checkpoint -> ``(model, params)`` with transformers' rules
  for the ``bert.`` prefix, tied weights and freshly initialised heads.
* :func:`save_pretrained`: ``config.json`` + ``model.safetensors`` that
  ``transformers.AutoModel.from_pretrained`` reads.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Iterable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree
from .._checks import fmt_shape
from ..io import CheckpointError, LoadResult, StateDictError, load_state_dict, model_shapes, read_checkpoint, save

__all__ = ["resolve_model_dir", "load_checkpoint", "from_pretrained", "save_pretrained", "Pretrained",
           "HUB_OPTIONS"]

logger = logging.getLogger("fnet.models")

HUB_OPTIONS = ("revision", "cache_dir", "local_files_only", "token", "force_download")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                 "pytorch_model.bin.index.json")


# ---------------------------------------------------------------------------------------
# locating and reading


def resolve_model_dir(name_or_path: str | os.PathLike, *, revision: str | None = None,
                      cache_dir: str | None = None, local_files_only: bool | None = None,
                      token: str | bool | None = None, force_download: bool = False) -> str:
    """The local directory holding a model's ``config.json`` and weights.

    Args:
        name_or_path: a directory, or a Hub repo id (``"bert-base-uncased"``,
            ``"sentence-transformers/all-MiniLM-L6-v2"``).
        revision, cache_dir, token, force_download: passed to
            ``huggingface_hub.snapshot_download``.
        local_files_only: only the local cache (default: True when ``HF_HUB_OFFLINE``
            is set).

    Raises:
        FileNotFoundError: not a directory and not resolvable on the Hub or in the cache.
    """
    path = os.fspath(name_or_path)
    if os.path.isdir(path):
        return path
    if os.path.exists(path):
        raise FileNotFoundError(f"from_pretrained: {path!r} is a file; give the model directory (with "
                                f"config.json and model.safetensors) or a Hub repo id")
    looks_like_repo = path.count("/") <= 1 and not path.startswith((".", "/", "~"))
    if not looks_like_repo:
        raise FileNotFoundError(f"from_pretrained: no directory {path!r}")
    try:
        import huggingface_hub
    except ImportError:  # pragma: no cover - an optional dependency
        raise FileNotFoundError(f"from_pretrained: {path!r} is not a directory, and resolving it as a Hub "
                                f"repo id needs `pip install huggingface_hub`") from None
    if local_files_only is None:
        local_files_only = os.environ.get("HF_HUB_OFFLINE", "0").upper() in ("1", "ON", "YES", "TRUE")
    try:
        return huggingface_hub.snapshot_download(
            path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token,
            force_download=force_download,
            allow_patterns=["config.json", "*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin",
                            "pytorch_model.bin.index.json", "tokenizer*", "vocab.txt", "special_tokens_map.json"])
    except Exception as err:  # noqa: BLE001 - many hub error types; all mean "not available"
        where = "in the local Hugging Face cache" if local_files_only else "on the Hub or in the local cache"
        raise FileNotFoundError(f"from_pretrained: {path!r} is not a local directory and was not found "
                                f"{where} ({type(err).__name__}: {err})") from None


def _read_index(directory: str, index_name: str) -> dict[str, np.ndarray]:
    index_path = os.path.join(directory, index_name)
    try:
        with open(index_path, encoding="utf-8") as handle:
            weight_map = json.load(handle)["weight_map"]
    except (OSError, KeyError, json.JSONDecodeError) as err:
        raise CheckpointError(f"from_pretrained: {index_path!r} is not a valid shard index ({err})") from None
    tensors: dict[str, np.ndarray] = {}
    for shard in sorted(set(weight_map.values())):
        shard_path = os.path.join(directory, shard)
        if not os.path.isfile(shard_path):
            raise CheckpointError(f"from_pretrained: shard {shard!r} listed in {index_name} is missing "
                                  f"from {directory!r}")
        tensors.update(read_checkpoint(shard_path))
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise CheckpointError(f"from_pretrained: tensors listed in {index_name} are not in their shards: "
                              f"{', '.join(missing[:10])}")
    return tensors


def load_checkpoint(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a Hugging Face model directory, as numpy arrays by name.

    Looks for, in order: ``model.safetensors``, ``model.safetensors.index.json``,
    ``pytorch_model.bin``, ``pytorch_model.bin.index.json``.

    Raises:
        CheckpointError: no weight file, or a corrupt / truncated one.
    """
    directory = os.fspath(directory)
    for name in _WEIGHT_FILES:
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            continue
        if name.endswith(".index.json"):
            return _read_index(directory, name)
        return read_checkpoint(path)
    raise CheckpointError(f"from_pretrained: no weights in {directory!r}: expected one of "
                          f"{', '.join(_WEIGHT_FILES)}")


# ---------------------------------------------------------------------------------------
# loading into a model


class Pretrained(tuple):
    """``(model, params)`` from :func:`from_pretrained`, with the loader's report attached.

    Attributes:
        model, params: the pair it unpacks into.
        result: the :class:`fnet.io.LoadResult` of the load (``missing_keys``,
            ``unexpected_keys``, ``mismatched_keys``).
        loading_info: the report as transformers' ``output_loading_info`` dict.
    """

    result: LoadResult

    def __new__(cls, model: Any, result: LoadResult):
        self = super().__new__(cls, (model, result.params))
        self.result = result
        return self

    @property
    def model(self) -> Any:
        return self[0]

    @property
    def params(self) -> dict:
        return self[1]

    @property
    def loading_info(self) -> dict[str, list]:
        return self.result.loading_info()


def _rename_legacy(key: str) -> str:
    """Old TF-converted checkpoints name LayerNorm parameters gamma/beta (transformers renames)."""
    if key.endswith(".gamma"):
        return key[: -len(".gamma")] + ".weight"
    if key.endswith(".beta"):
        return key[: -len(".beta")] + ".bias"
    return key


def _prefix_rule(checkpoint: Iterable[str], expected: set[str], prefix: str) -> Callable[[str], str]:
    """transformers' rule: strip or add the base-model prefix (``bert.``) so names line up."""
    dotted = prefix + "."
    has_prefix = any(k.startswith(dotted) for k in checkpoint)
    expects_prefix = any(k.startswith(dotted) for k in expected)
    if has_prefix and not expects_prefix:
        # a task checkpoint into the base model: its head keys stay (reported as unexpected)
        return lambda k: k[len(dotted):] if k.startswith(dotted) else k
    if expects_prefix and not has_prefix:
        return lambda k: dotted + k if dotted + k in expected else k
    return lambda k: k


def _is_backbone(key: str, prefix: str) -> bool:
    """Embeddings and encoder: what a pretrained checkpoint must provide (heads may be new)."""
    if key.startswith(prefix + "."):
        key = key[len(prefix) + 1:]
    return key.startswith(("embeddings.", "encoder."))


def from_pretrained(cls: type, pretrained_model_name_or_path: str | os.PathLike, *, config: Any = None,
                    dtype: Any = None, key: jax.Array | None = None, strict: bool = True,
                    ignore_mismatched_sizes: bool = False, output_loading_info: bool = False,
                    revision: str | None = None, cache_dir: str | None = None,
                    local_files_only: bool | None = None, token: str | bool | None = None,
                    force_download: bool = False, **config_overrides: Any):
    """Builds ``cls`` from a Hugging Face model directory or Hub repo id and loads its weights.

    Args:
        cls: a BERT class (``BertModel``, ``BertForSequenceClassification``...).
        pretrained_model_name_or_path: directory or repo id (see :func:`resolve_model_dir`).
        config: a ``BertConfig`` to use instead of the checkpoint's ``config.json``.
        dtype: floating dtype of the parameters (default float32).
        key: PRNG key for parameters the checkpoint does not have (a new head).
        strict: raise when embeddings or encoder tensors are missing (a head, the
            pooler and an MLM head may always be newly initialised, as in transformers).
            With ``strict=False`` every missing tensor is initialised and reported.
        ignore_mismatched_sizes: re-initialise tensors whose shape differs from the
            checkpoint's (e.g. a classifier with another number of labels) instead of
            raising.
        output_loading_info: return ``(model, params, loading_info)``.
        revision, cache_dir, local_files_only, token, force_download: Hub options.
        **config_overrides: config values to change (``num_labels=3``, ``problem_type=...``).

    Returns:
        ``Pretrained(model, params)`` (unpacks as a pair; ``.loading_info`` holds
        ``missing_keys``, ``unexpected_keys``, ``mismatched_keys`` and
        ``newly_initialized_keys``), or a triple with ``output_loading_info=True``.
        Newly initialised and unused tensors are also logged as warnings on the
        ``fnet.models`` logger, the way transformers reports them.

    Raises:
        FileNotFoundError: the model cannot be found.
        CheckpointError: no weight file or a corrupt one.
        StateDictError: shapes differ (naming each tensor), or backbone tensors are
            missing with ``strict=True``.
        ValueError: the config is not a BERT config.
    """
    from .bert import BertConfig

    directory = resolve_model_dir(pretrained_model_name_or_path, revision=revision, cache_dir=cache_dir,
                                  local_files_only=local_files_only, token=token,
                                  force_download=force_download)
    if config is None:
        config_path = os.path.join(directory, "config.json")
        if not os.path.isfile(config_path):
            raise FileNotFoundError(f"from_pretrained: {directory!r} has no config.json")
        config = BertConfig.from_json_file(config_path)
    if config_overrides:
        config = config.replace(**config_overrides)
    model = cls(config)
    name = os.fspath(pretrained_model_name_or_path)

    raw = load_checkpoint(directory)
    want_params, want_state = model_shapes(model)
    expected = set(want_params) | set(want_state)
    prefix = cls.base_model_prefix
    legacy = {_rename_legacy(k) for k in raw}
    align = _prefix_rule(legacy, expected, prefix)
    ignored = tuple(model._keys_to_ignore_on_load)
    tied = set(model._tied_keys)
    result = load_state_dict(
        model, raw, strict=strict, dtype=dtype if dtype is not None else jnp.float32, key=key,
        rename=lambda k: align(_rename_legacy(k)),
        ignore=lambda k: k in tied or any(k == pat or k.endswith("." + pat) for pat in ignored),
        allow_missing=lambda k: not _is_backbone(k, prefix), allow_unexpected=lambda k: True,
        ignore_mismatched_sizes=ignore_mismatched_sizes, copy=False,
        where=f"{cls.__name__}.from_pretrained({name!r})")
    info = result.loading_info()
    if info["unexpected_keys"]:
        logger.warning("Some weights of the model checkpoint at %s were not used when initializing %s: %s",
                       name, cls.__name__, info["unexpected_keys"])
    if result.newly_initialized_keys:
        logger.warning("Some weights of %s were not initialized from the model checkpoint at %s and are "
                       "newly initialized: %s\nYou should probably TRAIN this model on a down-stream task "
                       "to be able to use it for predictions and inference.", cls.__name__, name,
                       result.newly_initialized_keys)
    if output_loading_info:
        return model, result.params, info
    return Pretrained(model, result)


# ---------------------------------------------------------------------------------------
# writing


def save_pretrained(model: Any, params: Mapping, save_directory: str | os.PathLike) -> None:
    """Writes ``config.json`` and ``model.safetensors`` in transformers' layout.

    The weights are the flattened parameter tree (torch names; tied MLM weights
    written once, as transformers does) in a safetensors file with
    ``{"format": "pt"}`` metadata, written atomically. ``config.json`` records
    ``architectures: [<class name>]`` so ``AutoModelFor...`` picks the right head.
    """
    want_params, _ = model_shapes(model)
    flat = _tree.flatten(params)
    missing = [k for k in want_params if k not in flat]
    extra = [k for k in flat if k not in want_params]
    if missing or extra:
        raise StateDictError(f"save_pretrained: params do not match {type(model).__name__}: missing "
                             f"{missing[:10]}, unexpected {extra[:10]}")
    for k, spec in want_params.items():
        if tuple(np.shape(flat[k])) != tuple(spec.shape):
            raise StateDictError(f"save_pretrained: {k} has shape {fmt_shape(np.shape(flat[k]))}, the model "
                                 f"expects {fmt_shape(spec.shape)}")
    os.makedirs(save_directory, exist_ok=True)
    config = model.config.replace(architectures=[type(model).__name__])
    config.save_pretrained(save_directory)
    save(os.path.join(save_directory, "model.safetensors"), params, metadata={"format": "pt"})
