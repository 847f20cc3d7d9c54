"""Parameter groups: torch's ``[{"params": ..., "weight_decay": 0.0}, ...]`` for optax.

torch selects the parameters of a group by handing the tensors over. fnet optimizers are
built before the parameters exist, so a group names its parameters by *selector*,
matched against each leaf's torch ``state_dict`` name (the dotted path of the leaf in
the parameter tree, ``"encoder.layer.0.attention.self.query.bias"``):

* a glob pattern (``fnmatch`` rules, case-sensitive): ``"*.bias"``, ``"*LayerNorm*"``,
  ``"fc1.*"``; a pattern without wildcards matches that exact name;
* a predicate ``fn(name) -> bool``, or ``fn(name, param) -> bool`` to select by shape
  (``lambda name, p: p.ndim < 2``; under ``jit`` the second argument is a tracer, so use
  its shape and dtype, never its values);
* a list/tuple/set of the above (a leaf matches when any of them does).

Every other key of a group overrides the optimizer's default for that group (any
constructor argument: ``lr``, ``weight_decay``, ``betas``, ``momentum``...). Parameters
that no group selects use the defaults, as if they were torch's first group. As in torch
(``"some parameters appear in more than one parameter group"``), a parameter selected by
two groups is an error; unlike torch, an unknown key in a group is an error too (torch
stores it silently, so a typo like ``"weight_deacy"`` would change nothing).

The result is ``optax.partition`` (``multi_transform``) of one optimizer per group, so
each group keeps its own state and step count, exactly as torch's groups do.

PyTorch equivalent: ``torch.optim.AdamW([{"params": decay}, {"params": no_decay,
"weight_decay": 0.0}], lr=1e-3)``; fnet: ``fnet.optim.AdamW(lr=1e-3, param_groups=[
{"params": ["*.bias", "*LayerNorm*"], "weight_decay": 0.0}])``.
"""

from __future__ import annotations

import fnmatch
import inspect
from typing import Any, Callable, Mapping, Sequence

import jax
import optax

DEFAULT_LABEL = "defaults"


def leaf_name(path: Sequence[Any]) -> str:
    """The torch state_dict name of a leaf from its JAX key path (``fc1.weight``)."""
    parts = []
    for key in path:
        if isinstance(key, jax.tree_util.DictKey):
            parts.append(str(key.key))
        elif isinstance(key, jax.tree_util.SequenceKey):
            parts.append(str(key.idx))
        elif isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(key.name)
        elif isinstance(key, jax.tree_util.FlattenedIndexKey):
            parts.append(str(key.key))
        else:  # pragma: no cover - other key kinds print themselves
            parts.append(str(key).strip(".[]'\""))
    return ".".join(parts)


def _arity(fn: Callable) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1
    positional = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
        return 2
    return 2 if len(positional) >= 2 else 1


def compile_selector(where: str, selector: Any) -> Callable[[str, Any], bool]:
    """Turns a selector (glob, predicate or a collection of them) into ``(name, leaf) -> bool``."""
    if isinstance(selector, str):
        pattern = selector
        return lambda name, leaf: fnmatch.fnmatchcase(name, pattern)
    if callable(selector):
        fn = selector
        if _arity(fn) == 2:
            return lambda name, leaf: bool(fn(name, leaf))
        return lambda name, leaf: bool(fn(name))
    if isinstance(selector, (list, tuple, set, frozenset)):
        if not selector:
            raise ValueError(f"{where}: expected 'params' to name at least one pattern or predicate, got "
                             f"an empty {type(selector).__name__}")
        parts = [compile_selector(where, s) for s in selector]
        return lambda name, leaf: any(p(name, leaf) for p in parts)
    raise TypeError(f"{where}: expected 'params' to be a glob pattern (str), a predicate "
                    f"fn(name) / fn(name, param) -> bool, or a list of them, got {selector!r} "
                    f"({type(selector).__name__}); fnet selects parameters by their state_dict "
                    "names because the optimizer is built before the parameters exist")


def labeler(name: str, selectors: list[Callable[[str, Any], bool]]) -> Callable[[Any], Any]:
    """``tree -> tree of labels`` for ``optax.partition``: group index, or the defaults."""

    def labels(tree: Any) -> Any:
        def one(path, leaf):
            leaf_id = leaf_name(path)
            hits = [i for i, sel in enumerate(selectors) if sel(leaf_id, leaf)]
            if len(hits) > 1:
                raise ValueError(f"{name}: parameter {leaf_id!r} is selected by param_groups "
                                 f"{hits}; as in torch, a parameter may appear in only one group")
            return str(hits[0]) if hits else DEFAULT_LABEL

        return jax.tree_util.tree_map_with_path(one, tree)

    return labels


def build(name: str, builder: Callable[..., optax.GradientTransformation], defaults: Mapping[str, Any],
          param_groups: Sequence[Mapping[str, Any]] | None) -> optax.GradientTransformation:
    """One optimizer for the defaults, or ``optax.partition`` of one per group.

    Args:
        name: the optimizer's name for error messages (``"AdamW"``).
        builder: ``(where, **hyperparameters) -> GradientTransformation``; it validates
            them and names ``where`` in its errors.
        defaults: the constructor's hyperparameters.
        param_groups: torch-style group dicts whose ``"params"`` is a selector.
    """
    default_tx = builder(name, **defaults)
    if param_groups is None:
        return default_tx
    if isinstance(param_groups, Mapping) or not isinstance(param_groups, (list, tuple)):
        raise TypeError(f"{name}: expected param_groups to be a list of dicts like "
                        f"{{'params': '*.bias', 'weight_decay': 0.0}}, got {param_groups!r}")
    transforms = {DEFAULT_LABEL: default_tx}
    selectors = []
    for i, group in enumerate(param_groups):
        where = f"{name} param_groups[{i}]"
        if not isinstance(group, Mapping):
            raise TypeError(f"{where}: expected a dict with a 'params' selector, got {group!r}")
        if "params" not in group:
            raise ValueError(f"{where}: expected a 'params' key (a glob pattern, predicate or list "
                             f"of them), got keys {sorted(group)}")
        overrides = {k: v for k, v in group.items() if k != "params"}
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise ValueError(f"{where}: unknown hyperparameter(s) {unknown}; expected some of "
                             f"{sorted(defaults)}")
        transforms[str(i)] = builder(where, **{**defaults, **overrides})
        selectors.append(compile_selector(where, group["params"]))
    return optax.partition(transforms, labeler(name, selectors))
