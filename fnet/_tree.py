"""Helpers that move between nested parameter trees and flat torch-style names."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

SEP = "."


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flattens a nested dict into ``{"a.b.c": leaf}`` (insertion order kept).

    Raises:
        ValueError: two paths give the same name (``{"a.b": x, "a": {"b": y}}``):
            a flat state_dict could hold only one of the two arrays.
    """
    flat: dict[str, Any] = {}
    _flatten_into(flat, tree, prefix)
    return flat


def _flatten_into(flat: dict[str, Any], tree: Mapping[str, Any], prefix: str) -> None:
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            _flatten_into(flat, value, key + SEP)
        elif key in flat:
            raise ValueError(f"two entries of the tree are both named {key!r} once flattened with "
                             f"{SEP!r} (a key containing {SEP!r} next to a nested dict of the same "
                             f"path); rename one, a state_dict can hold only one of them")
        else:
            flat[key] = value


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`flatten`: ``{"a.b": x}`` becomes ``{"a": {"b": x}}``."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        node = tree
        parts = key.split(SEP)
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


def merge_ordered(params: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """Merges a parameter tree and a buffer tree in torch's state_dict order.

    torch writes, for every module, its own parameters, then its own buffers,
    then its children in registration order. Leaves of each level come first.
    """
    merged: dict[str, Any] = {}
    for source in (params, state):
        for name, value in source.items():
            if not isinstance(value, Mapping):
                if name in merged:
                    raise ValueError(f"{name!r} is both a parameter and a buffer; a state_dict can "
                                     f"hold only one of them")
                merged[name] = value
    children: list[str] = []
    for source in (params, state):
        for name, value in source.items():
            if isinstance(value, Mapping) and name not in children:
                children.append(name)
    for name in children:
        merged[name] = merge_ordered(params.get(name, {}), state.get(name, {}))
    return merged


def get_path(tree: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = tree
    for part in path:
        if not isinstance(node, Mapping):
            return {}
        node = node.get(part, {})
    return node


def set_path(tree: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """Returns a copy of ``tree`` with ``value`` placed at ``path`` (copy on write)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    new = dict(tree)
    new[head] = set_path(tree.get(head, {}), rest, value)
    return new


def iter_leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    yield from flatten(tree, prefix).items()
