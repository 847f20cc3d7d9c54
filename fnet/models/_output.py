"""``ModelOutput``: what Hugging Face-style models return, as a JAX pytree."""

from __future__ import annotations

from typing import Any

import jax


class ModelOutput(dict):
    """An ordered dict of the outputs that are present, readable three ways.

    ``out.logits``, ``out["logits"]`` and ``out[0]`` (position among the present
    entries, like transformers' ``ModelOutput``). Entries that are None are left out,
    as in transformers, so ``out.loss`` raises ``AttributeError`` when no labels were
    given. It is a registered pytree: models returning it work under ``jax.jit``,
    ``jax.grad`` (with ``has_aux``) and ``jax.vmap``.

    PyTorch equivalent: ``transformers.utils.ModelOutput``.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name in [k for k, v in self.items() if v is None]:
            del self[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no entry {name!r} (present: "
                                 f"{', '.join(self) or 'none'})") from None

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return super().__getitem__(key)

    def to_tuple(self) -> tuple:
        return tuple(self.values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}=...' for k in self)})"


def _flatten(out: ModelOutput):
    keys = tuple(out.keys())
    return tuple(dict.__getitem__(out, k) for k in keys), (type(out), keys)


def _unflatten(aux, children):
    cls, keys = aux
    obj = cls.__new__(cls)
    dict.__init__(obj, zip(keys, children))
    return obj


def register_output(cls: type) -> type:
    """Registers a ``ModelOutput`` subclass as a pytree node (keys are static)."""
    jax.tree_util.register_pytree_node(cls, _flatten, _unflatten)
    return cls


register_output(ModelOutput)


# transformers' output classes (fields in transformers' order; absent ones are left out)

@register_output
class BaseModelOutput(ModelOutput):
    """``last_hidden_state``, optional ``hidden_states``, ``attentions``."""


@register_output
class BaseModelOutputWithPooling(ModelOutput):
    """``last_hidden_state``, ``pooler_output``, optional ``hidden_states``, ``attentions``."""


@register_output
class BaseModelOutputWithPast(ModelOutput):
    """``last_hidden_state``, ``cache`` (the updated static KV cache, when one was given),
    optional ``hidden_states``, ``attentions``."""


@register_output
class SequenceClassifierOutput(ModelOutput):
    """``loss`` (with labels), ``logits``, optional ``hidden_states``, ``attentions``."""


@register_output
class TokenClassifierOutput(ModelOutput):
    """``loss`` (with labels), ``logits``, optional ``hidden_states``, ``attentions``."""


@register_output
class MaskedLMOutput(ModelOutput):
    """``loss`` (with labels), ``logits``, optional ``hidden_states``, ``attentions``."""


@register_output
class CausalLMOutputWithPast(ModelOutput):
    """``loss`` (with labels), ``logits``, ``cache`` (when one was given), optional
    ``hidden_states``, ``attentions``."""
