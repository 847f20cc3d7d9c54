"""Small transformers configs shared by the Hugging Face families and ``fnet.port``.

Every family that fnet implements or ports is tested against transformers' own torch
model built from one of these configs with random weights: nothing is downloaded.
The sizes are the smallest that still exercise every code path (several layers,
several heads, grouped-query attention where the family has it, padding tokens,
tied embeddings), so a parity case compiles and runs in seconds on a 2-core CPU.

    from fnet.parity import hf_configs
    config = hf_configs.config("llama")                 # a transformers.LlamaConfig
    config = hf_configs.config("gpt2", n_layer=3)       # with overrides
    model = transformers.LlamaForCausalLM(config)

transformers is imported only when a config is built.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["config", "FAMILIES", "TEXT_FAMILIES", "VISION_FAMILIES"]

# Shared sizes: a vocabulary large enough that random ids rarely repeat, a hidden size
# divisible by every head count used below.
_VOCAB = 99
_HIDDEN = 32

# family -> (transformers config class name, keyword arguments)
_SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    "bert": ("BertConfig", dict(
        vocab_size=_VOCAB, hidden_size=_HIDDEN, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64, type_vocab_size=2, pad_token_id=0,
        initializer_range=0.2)),
    "roberta": ("RobertaConfig", dict(
        vocab_size=_VOCAB, hidden_size=_HIDDEN, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64, type_vocab_size=1, pad_token_id=1,
        bos_token_id=0, eos_token_id=2, initializer_range=0.2)),
    "distilbert": ("DistilBertConfig", dict(
        vocab_size=_VOCAB, dim=_HIDDEN, n_layers=2, n_heads=4, hidden_dim=37,
        max_position_embeddings=64, pad_token_id=0, initializer_range=0.2)),
    "gpt2": ("GPT2Config", dict(
        vocab_size=_VOCAB, n_positions=64, n_embd=_HIDDEN, n_layer=2, n_head=4,
        bos_token_id=_VOCAB - 1, eos_token_id=_VOCAB - 1, pad_token_id=_VOCAB - 1,
        initializer_range=0.2)),
    # Llama 3 style: grouped-query attention (4 query heads share 2 key/value heads) and
    # llama3 RoPE scaling, so both code paths run.
    "llama": ("LlamaConfig", dict(
        vocab_size=_VOCAB, hidden_size=_HIDDEN, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, initializer_range=0.2,
        rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 16})),
    # A window shorter than the test sequences, so the sliding-window mask matters.
    "mistral": ("MistralConfig", dict(
        vocab_size=_VOCAB, hidden_size=_HIDDEN, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        sliding_window=4, pad_token_id=0, bos_token_id=1, eos_token_id=2, initializer_range=0.2)),
    "qwen2": ("Qwen2Config", dict(
        vocab_size=_VOCAB, hidden_size=_HIDDEN, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, initializer_range=0.2)),
    "resnet": ("ResNetConfig", dict(
        num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
        layer_type="basic", num_labels=5)),
    "vit": ("ViTConfig", dict(
        hidden_size=_HIDDEN, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        image_size=16, patch_size=4, num_channels=3, num_labels=5, initializer_range=0.2)),
    "convnext": ("ConvNextConfig", dict(
        num_channels=3, patch_size=2, num_stages=2, hidden_sizes=[8, 16], depths=[1, 1],
        image_size=16, num_labels=5)),
}

TEXT_FAMILIES = ("bert", "roberta", "distilbert", "gpt2", "llama", "mistral", "qwen2")
VISION_FAMILIES = ("resnet", "vit", "convnext")
FAMILIES = TEXT_FAMILIES + VISION_FAMILIES


def config(family: str, **overrides: Any) -> Any:
    """A small transformers config of ``family`` (random-weight tests, no download).

    Args:
        family: one of :data:`FAMILIES` (``"bert"``, ``"llama"``, ``"vit"``...).
        **overrides: config fields to change (``num_hidden_layers=3``, ``num_labels=2``,
            ``attn_implementation="eager"``).

    Returns:
        A ``transformers.PretrainedConfig`` subclass instance.

    Raises:
        ValueError: an unknown family (the message lists the known ones).
    """
    if family not in _SPECS:
        raise ValueError(f"hf_configs.config: unknown family {family!r}; known: {', '.join(FAMILIES)}")
    import transformers

    class_name, kwargs = _SPECS[family]
    cls: Callable[..., Any] = getattr(transformers, class_name)
    return cls(**{**kwargs, **overrides})
