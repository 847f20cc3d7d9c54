"""No import cycles inside fnet: module A importing B (at the top or inside a function) while
B imports A back makes the next change to either harder than it needs to be.

A package's ``__init__`` only re-exports its submodules, so edges out of an ``__init__`` are
not followed (``fnet/nn/__init__.py`` importing ``fnet.nn._conv`` is not a dependency of the
layers on each other); an import *of* a package counts as an import of its ``__init__``.
"""

from __future__ import annotations

import ast
import os

import fnet

ROOT = os.path.dirname(fnet.__file__)


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _modules() -> dict[str, str]:
    found = {}
    for directory, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                found[_module_name(path)] = path
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """``module -> the fnet modules it imports`` (every import statement, nested ones included)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        is_package = path.endswith("__init__.py")
        edges: set[str] = set()
        if not is_package:
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                targets = []
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = _resolve(module, is_package, node)
                    # `from . import x` imports the submodule x when there is one
                    targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
                for target in targets:
                    while target and target not in modules:  # a name inside a module: the module
                        target = target.rpartition(".")[0]
                    if target.startswith("fnet") and target != module:
                        edges.add(target)
        graph[module] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_checker_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_nested_and_relative_imports():
    graph = import_graph()
    assert "fnet._checks" in graph["fnet.nn._linear"]
    assert "fnet.io" in graph["fnet._port"] or any("fnet.io" in graph[m] for m in graph if m.startswith("fnet._port."))


def test_no_import_cycles_inside_fnet():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (each line one strongly connected group):\n" + "\n".join(
        " <-> ".join(c) for c in cycles)
