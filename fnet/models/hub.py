"""Hugging Face checkpoints: find them, read them, load them into fnet models, write them.

* :func:`resolve_model_dir`: a local directory, or a Hub repo id resolved through
  ``huggingface_hub`` (the local cache first; offline with ``HF_HUB_OFFLINE=1``; it
  downloads only when a network is there and the files are not cached).
* :func:`load_checkpoint`: ``model.safetensors``, a sharded
  ``model.safetensors.index.json``, or ``pytorch_model.bin`` (and its sharded index),
  the latter only through ``torch.load(weights_only=True)``.
* :func:`from_pretrained`: checkpoint -> a bound :class:`~fnet.models.modeling.Pretrained`
  model with transformers' rules for the base-model prefix, tied weights and freshly
  initialised heads. The hub knows no family: the model class names its
  ``config_class``, ``base_model_prefix`` and which keys are required.
* :func:`save_pretrained`: ``config.json`` + ``model.safetensors`` (or shards and
  ``model.safetensors.index.json``) that ``transformers.AutoModel.from_pretrained`` reads.
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
from .._files import atomic_write
from .._safetensors import save_file
from ..io import CheckpointError, StateDictError, load_state_dict, model_shapes, read_checkpoint, to_numpy

__all__ = ["resolve_model_dir", "load_checkpoint", "from_pretrained", "save_pretrained",
           "HUB_OPTIONS", "parse_size"]

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


def from_pretrained(cls: type, pretrained_model_name_or_path: str | os.PathLike, *, config: Any = None,
                    dtype: Any = None, key: jax.Array | None = None, strict: bool = True,
                    ignore_mismatched_sizes: bool = False, output_loading_info: bool = False,
                    revision: str | None = None, cache_dir: str | None = None,
                    local_files_only: bool | None = None, token: str | bool | None = None,
                    force_download: bool = False, **config_overrides: Any):
    """Builds ``cls`` from a Hugging Face model directory or Hub repo id and loads its weights.

    Args:
        cls: a model class (``BertModel``, ``LlamaForCausalLM``...); its ``config_class``
            reads ``config.json``.
        pretrained_model_name_or_path: directory or repo id (see :func:`resolve_model_dir`).
        config: a config of ``cls.config_class`` to use instead of ``config.json``.
        dtype: floating dtype of the parameters: None (default) float32; ``"auto"``
            keeps each tensor's dtype as stored (bf16/fp16 checkpoints stay bf16/fp16);
            a dtype (``jnp.bfloat16``) casts every floating tensor to it.
        key: PRNG key for parameters the checkpoint does not have (a new head).
        strict: raise when base-model tensors are missing (``cls.is_required_key``: a
            task head, a pooler or an LM head may always be newly initialised, as in
            transformers). With ``strict=False`` every missing tensor is initialised and
            reported.
        ignore_mismatched_sizes: re-initialise tensors whose shape differs from the
            checkpoint's (e.g. a classifier with another number of labels) instead of
            raising.
        output_loading_info: return ``(model, params, loading_info)``.
        revision, cache_dir, local_files_only, token, force_download: Hub options.
        **config_overrides: config values to change (``num_labels=3``, ``problem_type=...``).

    Returns:
        ``Pretrained(model, params)``: callable like a transformers model
        (``model(**inputs)``), unpacks as a pair; ``.loading_info`` holds
        ``missing_keys``, ``unexpected_keys``, ``mismatched_keys`` and
        ``newly_initialized_keys``), or a triple with ``output_loading_info=True``.
        Newly initialised and unused tensors are also logged as warnings on the
        ``fnet.models`` logger, the way transformers reports them.

    Raises:
        FileNotFoundError: the model cannot be found.
        CheckpointError: no weight file or a corrupt one.
        StateDictError: shapes differ (naming each tensor), or base-model tensors are
            missing with ``strict=True``.
        ValueError: ``config.json`` is another family's (its ``model_type``).
    """
    directory = resolve_model_dir(pretrained_model_name_or_path, revision=revision, cache_dir=cache_dir,
                                  local_files_only=local_files_only, token=token,
                                  force_download=force_download)
    if config is None:
        config_path = os.path.join(directory, "config.json")
        if not os.path.isfile(config_path):
            raise FileNotFoundError(f"from_pretrained: {directory!r} has no config.json")
        config = cls.config_class.from_json_file(config_path)
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
    tied = set(model._tied_keys) - expected  # the second name of a tied weight: a copy
    result = load_state_dict(
        model, raw, strict=strict, dtype=_load_dtype(dtype), key=key,
        rename=lambda k: align(_rename_legacy(k)),
        ignore=lambda k: k in tied or any(k == pat or k.endswith("." + pat) for pat in ignored),
        allow_missing=lambda k: not model.is_required_key(k), allow_unexpected=lambda k: True,
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
    return model.bind(result.params, info, result)


def _load_dtype(dtype: Any) -> Any:
    """The dtype floating checkpoint tensors load as: float32 by default, as stored with "auto"."""
    if dtype is None:
        return jnp.float32
    if isinstance(dtype, str):
        if dtype != "auto":
            raise ValueError(f"from_pretrained: dtype must be None, 'auto' or a floating dtype, got {dtype!r}")
        return None
    return dtype


# ---------------------------------------------------------------------------------------
# writing


def parse_size(size: int | str) -> int:
    """``5_000_000``, ``"200MB"``, ``"5GB"``, ``"1GiB"`` -> bytes (transformers' ``max_shard_size``)."""
    if isinstance(size, (int, np.integer)):
        return int(size)
    text = str(size).strip().upper()
    units = {"KIB": 2 ** 10, "MIB": 2 ** 20, "GIB": 2 ** 30, "KB": 10 ** 3, "MB": 10 ** 6, "GB": 10 ** 9, "B": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            try:
                return int(float(text[: -len(unit)]) * factor)
            except ValueError:
                break
    raise ValueError(f"save_pretrained: max_shard_size must be a number of bytes or a size such as '200MB', "
                     f"got {size!r}")


def save_pretrained(model: Any, params: Mapping, save_directory: str | os.PathLike, *,
                    max_shard_size: int | str = "5GB", dtype: Any = None) -> None:
    """Writes ``config.json`` and safetensors weights in transformers' layout.

    The weights are the flattened parameter tree (torch names; tied weights written
    once, as transformers does) with ``{"format": "pt"}`` metadata. Up to
    ``max_shard_size`` they go to one ``model.safetensors``; beyond it to
    ``model-00001-of-0000N.safetensors`` shards plus ``model.safetensors.index.json``
    (transformers' ``weight_map``), the index written last. Every file is written
    atomically, and weight files of an earlier save in the same directory that the
    new one does not use are removed afterwards (a stale ``model.safetensors`` would
    otherwise shadow new shards). ``config.json`` records ``architectures: [<class
    name>]`` so ``AutoModelFor...`` picks the right head, and the weights' ``dtype``.

    Args:
        model, params: the model and its parameter tree.
        save_directory: created if needed.
        max_shard_size: bytes or a size string (``"200MB"``, ``"5GB"``).
        dtype: cast floating weights to this dtype (``jnp.bfloat16``); default as they are.
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
    limit = parse_size(max_shard_size)
    tensors = {}
    for k in want_params:
        array = to_numpy(flat[k])
        if dtype is not None and (np.issubdtype(array.dtype, np.floating) or array.dtype.name == "bfloat16"):
            array = np.asarray(jnp.asarray(array, dtype))
        tensors[k] = array
    float_dtypes = {a.dtype.name for a in tensors.values()
                    if np.issubdtype(a.dtype, np.floating) or a.dtype.name == "bfloat16"}
    os.makedirs(save_directory, exist_ok=True)
    directory = os.fspath(save_directory)
    shards: list[dict[str, np.ndarray]] = [{}]
    size = 0
    for k, array in tensors.items():
        if shards[-1] and size + array.nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][k] = array
        size += array.nbytes
    meta = {"format": "pt"}
    if len(shards) == 1:
        written = {"model.safetensors"}
        save_file(shards[0], os.path.join(directory, "model.safetensors"), meta)
    else:
        names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
        weight_map = {}
        for shard_name, shard in zip(names, shards):
            save_file(shard, os.path.join(directory, shard_name), meta)
            weight_map.update({k: shard_name for k in shard})
        index = {"metadata": {"total_size": int(sum(a.nbytes for a in tensors.values()))},
                 "weight_map": weight_map}
        with atomic_write(os.path.join(directory, "model.safetensors.index.json"), "w") as handle:
            handle.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
        written = set(names) | {"model.safetensors.index.json"}
    changes: dict[str, Any] = {"architectures": [type(model).__name__]}
    if len(float_dtypes) == 1:
        changes["dtype"] = float_dtypes.pop()
    model.config.replace(**changes).save_pretrained(directory)
    for stale in os.listdir(directory):
        is_weights = stale == "model.safetensors" or stale == "model.safetensors.index.json" or (
            stale.startswith("model-") and stale.endswith(".safetensors"))
        if is_weights and stale not in written:
            os.remove(os.path.join(directory, stale))
