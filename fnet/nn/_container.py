"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``.

Children of a container are named like torch names them (``"0"``, ``"1"``, ... or the
dict keys), so ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))`` has the parameters
``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``.

``ModuleList`` and ``ModuleDict`` can be filled torch-style (``append``, ``extend``,
``insert``, ``d[key] = module``) until they are first used by ``init``/``apply`` or
hashed; after that they are frozen like every other module.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

import jax
import numpy as np

from ._module import Context, Module, Parameter, _path_id

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]

_SEALED = "_fnet_sealed"


def _check_module(owner: str, name: str, module: Any) -> "Module":
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: entry {name!r} must be an fnet.nn.Module, got {type(module).__name__}")
    return module


class _Container(Module):
    """Shared machinery: an ordered list of ``(name, module)`` pairs."""

    def _set_items(self, items: list[tuple[str, Module]]) -> None:
        object.__setattr__(self, "_items", items)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._items:
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def _all_children(self) -> Iterator[tuple[str, Module]]:
        return iter(list(self._items))

    def _config(self) -> tuple:
        self._seal()
        return tuple((name, module) for name, module in self._items)

    def _seal(self) -> None:
        object.__setattr__(self, _SEALED, True)

    def _mutable(self, what: str) -> None:
        if self.__dict__.get(_SEALED, False):
            raise AttributeError(
                f"{type(self).__name__}.{what}: the container was already used by init/apply "
                f"or hashed, and is frozen now; build the whole container before using it"
            )

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter([module for _, module in self._items])


class Sequential(_Container):
    """Chains modules: the output of each is the input of the next.

    Args:
        *args: modules, named ``"0"``, ``"1"``, ...; or a single ``OrderedDict``
            of ``name -> module``.

    PyTorch equivalent: ``torch.nn.Sequential``.
    """

    def __init__(self, *args: Module):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            items = [(str(k), _check_module("Sequential", k, m)) for k, m in args[0].items()]
        else:
            items = [(str(i), _check_module("Sequential", str(i), m)) for i, m in enumerate(args)]
        self._set_items(items)

    def __getitem__(self, idx: int | slice) -> Module:
        if isinstance(idx, slice):
            return Sequential(OrderedDict(self._items[idx]))
        return self._items[idx][1]

    def append(self, module: Module) -> "Sequential":
        self._mutable("append")
        self._items.append((str(len(self._items)), _check_module("Sequential", len(self._items), module)))
        return self

    def forward(self, ctx: Context, input: Any) -> Any:
        for _, module in self._items:
            input = module(ctx, input)
        return input


class ModuleList(_Container):
    """A list of modules whose parameters are named ``"0"``, ``"1"``, ...

    ``forward`` is not defined: a parent calls ``self.layers[i](ctx, x)``.

    PyTorch equivalent: ``torch.nn.ModuleList``.
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        self._set_items([])
        if modules is not None:
            for module in modules:
                self._items.append((str(len(self._items)), _check_module("ModuleList", len(self._items), module)))

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ModuleList([m for _, m in self._items[idx]])
        return self._items[idx][1]

    def append(self, module: Module) -> "ModuleList":
        self._mutable("append")
        self._items.append((str(len(self._items)), _check_module("ModuleList", len(self._items), module)))
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        self._mutable("insert")
        modules = [m for _, m in self._items]
        modules.insert(index, _check_module("ModuleList", index, module))
        self._set_items([(str(i), m) for i, m in enumerate(modules)])


class ModuleDict(_Container):
    """An ordered dict of modules; the keys are the parameter-name prefixes.

    PyTorch equivalent: ``torch.nn.ModuleDict``.
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        self._set_items([])
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        for name, module in self._items:
            if name == key:
                return module
        raise KeyError(key)

    def __setitem__(self, key: str, module: Module) -> None:
        self._mutable("__setitem__")
        key = str(key)
        _check_module("ModuleDict", key, module)
        for i, (name, _) in enumerate(self._items):
            if name == key:
                self._items[i] = (key, module)
                return
        self._items.append((key, module))

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def __contains__(self, key: object) -> bool:
        return any(name == key for name, _ in self._items)

    def __getattr__(self, name: str) -> Module:
        # torch registers the entries as submodules, so `d.key` works too
        for key, module in self.__dict__.get("_items", ()):
            if key == name:
                return module
        raise AttributeError(f"{type(self).__name__} has no attribute or key {name!r}")

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter([name for name, _ in self._items])

    def keys(self) -> list[str]:
        return [name for name, _ in self._items]

    def values(self) -> list[Module]:
        return [module for _, module in self._items]

    def items(self) -> list[tuple[str, Module]]:
        return list(self._items)


def _as_parameter(owner: str, name: Any, value: Any) -> Parameter:
    """A ``Parameter`` declaration, or an array-like made into one (torch wraps plain
    tensors in ``Parameter`` too)."""
    if isinstance(value, Parameter):
        if type(value) is not Parameter:
            raise TypeError(f"{owner}: entry {name!r} must be an nn.Parameter (a trainable array), got "
                            f"{type(value).__name__}")
        return value
    if isinstance(value, Module):
        raise TypeError(f"{owner}: entry {name!r} is a module; use ModuleList/ModuleDict for modules")
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value) if isinstance(value, (np.ndarray, jax.Array, list, tuple, int, float)) else None
    if array is None or array.dtype == object:
        raise TypeError(f"{owner}: entry {name!r} must be an nn.Parameter or an array, got "
                        f"{type(value).__name__}")
    return Parameter(array)


def _describe(decl: Parameter, typename: bool) -> str:
    """torch's ``Parameter containing: [torch.float32 of size 3x4]`` line."""
    dtype = np.dtype(decl.dtype or (decl.value.dtype if decl.value is not None else "float32"))
    size = "x".join(str(d) for d in decl.shape)
    if typename:  # ParameterDict prints torch.typename: FloatTensor, DoubleTensor, ...
        names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "int64": "LongTensor", "int32": "IntTensor", "bool": "BoolTensor"}
        kind = names.get(dtype.name, f"{dtype.name}Tensor")
    else:
        kind = dtype.name
    return f"Parameter containing: [torch.{kind} of size {size}]"


class _ParameterContainer(Module):
    """An ordered list of ``(name, Parameter)``; fillable until first used, like ModuleList."""

    _typename = False

    def _set_params(self, items: list[tuple[str, Parameter]]) -> None:
        object.__setattr__(self, "_params", items)

    def _config(self) -> tuple:
        self._seal()
        return tuple((name, decl._config_key()) for name, decl in self._params)

    def _seal(self) -> None:
        object.__setattr__(self, _SEALED, True)

    def _mutable(self, what: str) -> None:
        if self.__dict__.get(_SEALED, False):
            raise AttributeError(f"{type(self).__name__}.{what}: the container was already used by "
                                 f"init/apply or hashed, and is frozen now; build it whole before use")

    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        return {name: decl.create(jax.random.fold_in(key, _path_id(name)))
                for name, decl in self._params}, {}

    def __len__(self) -> int:
        return len(self._params)

    def extra_repr(self) -> str:
        return "\n".join(f"  ({name}): {_describe(decl, self._typename)}" for name, decl in self._params)


class ParameterList(_ParameterContainer):
    """A list of parameters named ``"0"``, ``"1"``, ... (torch's state_dict names).

    Entries are ``nn.Parameter`` declarations (``nn.Parameter((3, 4), init=fnet.init.ones_)``)
    or arrays (initial values). A parent reads the arrays with ``self.plist(ctx)``, which
    returns them as a list in order (torch iterates the module: ``for p in self.plist``).

    PyTorch equivalent: ``torch.nn.ParameterList``.
    """

    def __init__(self, values: Iterable[Any] | None = None):
        super().__init__()
        self._set_params([])
        for value in values or ():
            self.append(value)

    def append(self, value: Any) -> "ParameterList":
        self._mutable("append")
        self._params.append((str(len(self._params)), _as_parameter("ParameterList", len(self._params), value)))
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        for value in values:
            self.append(value)
        return self

    def __getitem__(self, idx: int) -> Parameter:
        return self._params[idx][1]

    def __iter__(self) -> Iterator[Parameter]:
        return iter([decl for _, decl in self._params])

    def forward(self, ctx: Context) -> list[jax.Array]:
        return [ctx.params[name] for name, _ in self._params]


class ParameterDict(_ParameterContainer):
    """An ordered dict of parameters; the keys are the state_dict names.

    Values are ``nn.Parameter`` declarations or arrays. A parent reads the arrays with
    ``self.pdict(ctx)``, a dict ``{key: array}`` in insertion order.

    PyTorch equivalent: ``torch.nn.ParameterDict``.
    """

    _typename = True

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None):
        super().__init__()
        self._set_params([])
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key: str, value: Any) -> None:
        self._mutable("__setitem__")
        key = str(key)
        decl = _as_parameter("ParameterDict", key, value)
        for i, (name, _) in enumerate(self._params):
            if name == key:
                self._params[i] = (key, decl)
                return
        self._params.append((key, decl))

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Adds or replaces entries. As torch, a plain (unordered) mapping is added in sorted
        key order; an ``OrderedDict``, a ``ParameterDict`` or a sequence of pairs in order."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = list(parameters)
        for key, value in pairs:
            self[key] = value

    def __getitem__(self, key: str) -> Parameter:
        for name, decl in self._params:
            if name == key:
                return decl
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return any(name == key for name, _ in self._params)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, _ in self._params])

    def keys(self) -> list[str]:
        return [name for name, _ in self._params]

    def values(self) -> list[Parameter]:
        return [decl for _, decl in self._params]

    def items(self) -> list[tuple[str, Parameter]]:
        return list(self._params)

    def forward(self, ctx: Context) -> dict[str, jax.Array]:
        return {name: ctx.params[name] for name, _ in self._params}
