"""The module protocol: frozen configuration objects plus pure ``init``/``apply``.

A module holds configuration only (sizes, flags, child modules). Its arrays live in
two nested dicts returned by :meth:`Module.init`: ``params`` (what torch calls
parameters) and ``state`` (torch's buffers). Flattening either with ``"."`` gives
exactly torch's ``state_dict`` names, because the attribute name of a child is its
prefix, as in torch.

User models look like torch modules with one extra argument, the context::

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, ctx, x):
            return self.fc2(ctx, F.relu(self.fc1(ctx, x)))

``self.fc1(ctx, x)`` routes ``ctx`` to the ``fc1`` subtree of the parameters and
state, derives ``fc1``'s own random key and passes the train flag along.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any, Callable, Iterator, Mapping

import jax
import numpy as np

from .. import _tree
from .._checks import StateDictError, located
from . import _lazy_sizes

_FROZEN = "_fnet_frozen"
_DEPTH = "_fnet_init_depth"
_CACHE = "_fnet_cache"


class Parameter:
    """Declares a trainable array owned directly by a user-defined module.

    Args:
        data_or_shape: an initial value (array-like), or a shape when ``init`` is given.
        init: a function ``(key, shape, dtype) -> Array`` (any ``fnet.init`` function).
        dtype: dtype of the created array (default float32).

    Example::

        self.scale = nn.Parameter((16,), init=fnet.init.ones_)
        ...
        def forward(self, ctx, x):
            return x * ctx.params["scale"]

    PyTorch equivalent: ``torch.nn.Parameter``.
    """

    kind = "params"

    def __init__(self, data_or_shape: Any, init: Callable | None = None, dtype: Any = None):
        if init is None:
            self.value = np.asarray(data_or_shape, dtype=dtype)
            self.shape = self.value.shape
        else:
            self.value = None
            self.shape = tuple(int(s) for s in data_or_shape)
        self.init = init
        self.dtype = dtype

    def create(self, key: jax.Array):
        import jax.numpy as jnp

        if self.init is None:
            return jnp.asarray(self.value)
        dtype = self.dtype or jnp.float32
        return self.init(key, self.shape, dtype=dtype)

    def _config_key(self):
        value = None if self.value is None else _freeze(self.value)
        return (type(self).__name__, self.shape, value, self.init, str(self.dtype))

    def __repr__(self):
        return f"{type(self).__name__}(shape={self.shape})"


class Buffer(Parameter):
    """Declares a non-trainable array (torch buffer) kept in the ``state`` tree.

    Args:
        data_or_shape, init, dtype: as for :class:`Parameter`.
        persistent: like torch, False keeps the buffer out of the ``state_dict``
            (``fnet.state_dict(..., model=m)``, ``fnet.save(..., model=m)``) and
            ``fnet.load_state_dict`` neither expects nor accepts it; it is still state,
            created by ``init`` (rotary ``inv_freq`` tables, ``position_ids``).

    PyTorch equivalent: ``torch.nn.Buffer`` / ``Module.register_buffer(name, t, persistent)``.
    """

    kind = "state"

    def __init__(self, data_or_shape: Any, init: Callable | None = None, dtype: Any = None,
                 persistent: bool = True):
        super().__init__(data_or_shape, init, dtype)
        self.persistent = bool(persistent)

    def _config_key(self):
        return super()._config_key() + (self.persistent,)


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a configuration value."""
    if isinstance(value, Module):
        return value
    if isinstance(value, (Parameter,)):
        return value._config_key()
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return ("dict",) + tuple((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        arr = np.asarray(value)
        return ("array", arr.shape, str(arr.dtype), arr.tobytes())
    if isinstance(value, (set, frozenset)):
        return ("set",) + tuple(sorted(_freeze(v) for v in value))
    return value


def _path_id(path: str) -> int:
    return zlib.crc32(path.encode("utf-8")) & 0x7FFFFFFF


class Module:
    """Base class of every fnet layer and user model.

    Subclasses write a torch-style ``__init__`` that stores configuration and child
    modules as attributes, and ``forward(self, ctx, *inputs)``. After ``__init__``
    returns the object is frozen: it is hashable and can be a static argument of
    ``jax.jit``.

    Layers with arrays of their own override :meth:`reset_parameters`.

    PyTorch equivalent: ``torch.nn.Module``.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _freezing_init(cls.__dict__["__init__"])

    def __init__(self):
        pass

    # -- immutability -------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get(_FROZEN, False):
            raise AttributeError(
                f"{type(self).__name__} is frozen after construction: fnet modules hold "
                f"configuration only (cannot set {name!r}). Build a new module instead."
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self.__dict__.get(_FROZEN, False):
            raise AttributeError(f"{type(self).__name__} is frozen after construction")
        object.__delattr__(self, name)

    def _config(self) -> tuple:
        return tuple((k, _freeze(v)) for k, v in vars(self).items() if not k.startswith("_fnet_"))

    def __hash__(self) -> int:
        self._seal()
        cache = self._cache()
        if "hash" not in cache:
            cache["hash"] = hash((type(self), self._config()))
        return cache["hash"]

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(self) is not type(other):
            return NotImplemented
        return self._config() == other._config()  # type: ignore[union-attr]

    def _cache(self) -> dict:
        cache = self.__dict__.get(_CACHE)
        if cache is None:
            cache = {}
            object.__setattr__(self, _CACHE, cache)
        return cache

    # -- structure -----------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct children in registration order (torch's ``named_children``)."""
        for name, value in vars(self).items():
            if isinstance(value, Module) and not name.startswith("_"):
                yield name, value

    def _all_children(self) -> Iterator[tuple[str, "Module"]]:
        """Like ``named_children`` but repeats a module registered under two names."""
        return self.named_children()

    def children(self) -> Iterator["Module"]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """Every module of the tree, this one first, with dotted names (like torch)."""
        seen: set[int] = set()

        def walk(module: Module, name: str):
            if id(module) in seen:
                return
            seen.add(id(module))
            yield name, module
            for child_name, child in module.named_children():
                yield from walk(child, f"{name}.{child_name}" if name else child_name)

        yield from walk(self, prefix)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def _declared(self) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter) and not name.startswith("_"):
                yield name, value

    def tied_parameters(self) -> dict[str, str]:
        """Extra ``state_dict`` names of parameters shared with another module.

        Returns ``{alias: canonical}`` flat torch names: the parameter tree holds the
        array once, under ``canonical``; ``fnet.state_dict(..., model=m)`` also writes
        it as ``alias`` and ``fnet.load_state_dict`` accepts either name, as torch does
        for tied weights. (A module registered twice needs nothing here: the tree
        structure already says so.) Empty by default.
        """
        return {}

    def non_persistent_buffers(self) -> list[str]:
        """Flat names of every buffer declared ``persistent=False`` in this tree."""
        names = []
        for prefix, module in self.named_modules():
            for name, decl in module._declared():
                if decl.kind == "state" and not getattr(decl, "persistent", True):
                    names.append(f"{prefix}.{name}" if prefix else name)
        return names

    def _paths(self) -> dict[int, tuple[str, ...]]:
        """``id(module) -> path`` for every descendant, first occurrence wins."""
        self._seal()
        cache = self._cache()
        if "paths" not in cache:
            paths: dict[int, tuple[str, ...]] = {}

            def walk(module: Module, path: tuple[str, ...]):
                for name, child in module.named_children():
                    if id(child) not in paths:
                        paths[id(child)] = path + (name,)
                        walk(child, path + (name,))

            walk(self, ())
            cache["paths"] = paths
        return cache["paths"]

    # -- arrays ----------------------------------------------------------------------
    def reset_parameters(self, key: jax.Array) -> tuple[dict, dict]:
        """Creates this module's own arrays (not its children's).

        Returns:
            ``(params, state)``: two flat dicts keyed by torch's attribute names.
        """
        params: dict = {}
        state: dict = {}
        for name, decl in self._declared():
            value = decl.create(jax.random.fold_in(key, _path_id(name)))
            (params if decl.kind == "params" else state)[name] = value
        return params, state

    def init(self, key: jax.Array, *example_inputs: Any, **example_kwargs: Any) -> tuple[dict, dict]:
        """Creates fresh parameters and buffers with torch's default initialisation.

        Args:
            key: a JAX PRNG key (``jax.random.key(0)``).
            *example_inputs, **example_kwargs: an example of ``forward``'s inputs, needed
                only by models with lazy layers (``nn.LazyLinear`` ...): it runs through
                the model under ``jax.eval_shape`` (no computation) to infer their sizes.

        Returns:
            ``(params, state)``: nested dicts whose flattened names are torch's
            ``state_dict`` keys. Modules without buffers give ``state == {}``.
            A module that appears twice in the tree is initialised once, under its
            first name (torch's ``named_parameters`` does the same).
        """
        if not example_inputs and not example_kwargs:
            return self._init_tree(key, set())
        sizes = _lazy_sizes.infer_sizes(self, example_inputs, example_kwargs)
        with _lazy_sizes.sizes_known(sizes):
            return self._init_tree(key, set())

    def _init_tree(self, key: jax.Array, seen: set[int]) -> tuple[dict, dict]:
        self._seal()
        seen.add(id(self))
        params, state = self.reset_parameters(jax.random.fold_in(key, _path_id("")))
        for name, child in self.named_children():
            if id(child) in seen:
                continue
            child_params, child_state = child._init_tree(jax.random.fold_in(key, _path_id(name)), seen)
            if child_params:
                params[name] = child_params
            if child_state:
                state[name] = child_state
        return params, state

    def _seal(self) -> None:
        """Hook for containers that stay fillable until first use."""

    def apply(self, params: Mapping, state: Mapping, *inputs: Any, train: bool = False,
              key: jax.Array | None = None, **kwargs: Any) -> tuple[Any, dict]:
        """Runs the module as a pure function.

        Args:
            params: the parameter tree from :meth:`init` or ``fnet.load_state_dict``.
            state: the buffer tree (``{}`` for modules without buffers).
            *inputs: the inputs of ``forward``.
            train: torch's ``module.train()`` (True) or ``module.eval()`` (False).
            key: PRNG key, required when ``train=True`` and the model draws random
                numbers (dropout).
            **kwargs: keyword inputs of ``forward`` (masks, initial states).

        Returns:
            ``(output, new_state)``. With ``train=False`` the state is returned unchanged.
        """
        self._seal()
        ctx = Context(self, params, state, bool(train), key, ())
        try:
            output = located(ctx.where, lambda: self.forward(ctx, *inputs, **kwargs))
        except KeyError as err:
            mismatch = self._tree_mismatch(params, state)
            if not mismatch:
                raise
            where = getattr(err, "_fnet_where", None) or self.describe()
            raise StateDictError(
                f"{where}: looking up {err.args[0]!r} failed: the trees given to "
                f"{type(self).__name__}.apply do not fit the model (another model's params?):\n\t"
                + "\n\t".join(mismatch)) from None
        return output, (ctx.new_state if train else state)

    def _tree_mismatch(self, params: Mapping, state: Mapping) -> list[str]:
        """torch-style lines listing the names ``params``/``state`` lack or add (empty: they fit)."""
        want_params, want_state = (_tree.flatten(t) for t in jax.eval_shape(self.init, jax.random.key(0)))
        lines = []
        for what, want, tree in (("params", want_params, params), ("state", want_state, state)):
            given = _tree.flatten(tree) if isinstance(tree, Mapping) else {}
            missing = [k for k in want if k not in given]
            unexpected = [k for k in given if k not in want]
            if missing:
                lines.append(f"Missing key(s) in {what}: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                lines.append(f"Unexpected key(s) in {what}: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        return lines

    def forward(self, ctx: "Context", *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward(self, ctx, ...)")

    def __call__(self, ctx: "Context", *inputs: Any, **kwargs: Any) -> Any:
        """``child(ctx, x)`` inside a parent's forward; ``module(x)`` for array-free modules.

        Modules without parameters (activations, losses, ``Flatten``) can be called
        directly like torch modules, ``nn.CrossEntropyLoss()(logits, target)``; that
        call runs in eval mode (``train=False``). Modules with parameters need their
        arrays: ``module.apply(params, state, x)``.
        """
        if not isinstance(ctx, Context):
            return self._direct_call(ctx, *inputs, **kwargs)
        sub = ctx._enter(self)
        output = located(sub.where, lambda: self.forward(sub, *inputs, **kwargs))
        ctx._leave(sub)
        return output

    def _direct_call(self, *inputs: Any, **kwargs: Any) -> Any:
        reason = self._no_direct_call()
        if reason is None:
            shapes, _ = jax.eval_shape(self.init, jax.random.key(0))
            if shapes:
                reason = "it has parameters"
        if reason is not None:
            raise TypeError(
                f"{self.describe()}: cannot be called like a function because {reason}. Inside a "
                f"parent's forward call it as `self.child(ctx, x)`; on its own use "
                f"`out, state = module.apply(params, state, x)`."
            )
        _, state = self.init(jax.random.key(0))  # buffers from configuration (loss weights)
        return self.apply({}, state, *inputs, train=False, **kwargs)[0]

    def _no_direct_call(self) -> str | None:
        """Why this module cannot be called as ``module(x)`` (None: it can)."""
        return None

    # -- printing --------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def describe(self) -> str:
        """One line: the class and its configuration, ``Linear(in_features=4, ...)``."""
        return f"{type(self).__name__}({self.extra_repr()})"

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self.named_children():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not list(self.named_children()):
            return f"{type(self).__name__}({lines[0]})"
        body = "\n  ".join(lines)
        return f"{type(self).__name__}(\n  {body}\n)"


def _freezing_init(init: Callable) -> Callable:
    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        depth = self.__dict__.get(_DEPTH, 0)
        object.__setattr__(self, _DEPTH, depth + 1)
        try:
            init(self, *args, **kwargs)
        finally:
            object.__setattr__(self, _DEPTH, depth)
        if depth == 0:
            object.__delattr__(self, _DEPTH)
            object.__setattr__(self, _FROZEN, True)

    return wrapped


class Context:
    """What ``forward`` receives: this module's parameters, buffers, key and mode.

    Attributes:
        params: this module's parameter subtree (``ctx.params["weight"]``).
        state: this module's buffer subtree.
        train: True for torch's ``.train()`` mode.
        path: dotted name of the module in the model (``"encoder.layer.0"``).
    """

    __slots__ = ("module", "params", "state", "train", "key", "path_parts", "new_state",
                 "_calls", "_own_draws")

    def __init__(self, module: Module, params: Mapping, state: Mapping, train: bool,
                 key: jax.Array | None, path: tuple[str, ...]):
        self.module = module
        self.params = params if params is not None else {}
        self.state = state if state is not None else {}
        self.train = train
        self.key = key
        self.path_parts = path
        self.new_state = self.state
        self._calls: dict[tuple[str, ...], int] = {}
        self._own_draws = 0

    @property
    def path(self) -> str:
        return ".".join(self.path_parts)

    def where(self) -> str:
        """How errors name this module: ``"fc1 (Linear(...))"``, the model itself by its class.

        The module call prepends it to every error raised inside ``forward`` (once, by the
        innermost module), so a layer's messages need not name the layer themselves.
        """
        if self.path_parts:
            return f"{self.path} ({self.module.describe()})"
        return self.module.describe()

    def next_key(self) -> jax.Array:
        """A fresh PRNG key for this module; raises a clear error when none was given."""
        if self.key is None:
            raise ValueError(
                "train=True draws random numbers and needs a PRNG key; "
                "call model.apply(params, state, x, train=True, key=jax.random.key(0)) "
                "(a new key each step: key, sub = jax.random.split(key))"
            )
        self._own_draws += 1
        return jax.random.fold_in(self.key, self._own_draws)

    def dropout_key(self, p: float) -> jax.Array | None:
        """The ``key=`` of a dropout with probability ``p``: a fresh key when training with
        ``0 < p < 1``, else None.

        torch's ``F.dropout(x, p, self.training)`` becomes
        ``F.dropout(x, p, ctx.train, key=ctx.dropout_key(p))``, with no conditional: in eval
        mode, and for ``p`` 0 or 1 (nothing to draw), no key is needed and None comes back.
        Training with ``0 < p < 1`` still needs ``apply(..., key=...)`` and raises
        :meth:`next_key`'s error without one: a forgotten key must not quietly switch
        dropout off. (Named for its use rather than ``next_key(optional=True)``, which would
        read as "None when no key was given", exactly that silent failure.)
        """
        if not self.train or not 0.0 < float(p) < 1.0:
            return None
        return self.next_key()

    def update_state(self, **values: Any) -> None:
        """Records new buffer values for this module (kept only when ``train=True``)."""
        if not self.train:
            return
        new = dict(self.new_state)
        new.update(values)
        self.new_state = new

    def _enter(self, child: Module) -> "Context":
        if child is self.module:
            raise ValueError("a module cannot call itself through ctx")
        rel = self.module._paths().get(id(child))
        if rel is None:
            raise ValueError(
                f"{child.describe()} is not a child of this module. Assign it "
                f"as an attribute in __init__ (self.name = ...) so that it gets parameters."
            )
        key = None
        if self.key is not None:
            count = self._calls.get(rel, 0)
            self._calls[rel] = count + 1
            key = jax.random.fold_in(jax.random.fold_in(self.key, _path_id(".".join(rel))), count)
        return Context(child, _tree.get_path(self.params, rel), _tree.get_path(self.new_state, rel),
                       self.train, key, self.path_parts + rel)

    def _leave(self, sub: "Context") -> None:
        if sub.new_state is not sub.state and self.train:
            rel = sub.path_parts[len(self.path_parts):]
            self.new_state = _tree.set_path(self.new_state, rel, sub.new_state)
