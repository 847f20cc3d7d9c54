"""torch side of a port: ``torch.export`` the model and turn the graph into a program.

* The model is exported twice, in ``.train()`` and ``.eval()`` mode (torch code may
  branch on ``self.training``), with the batch dimension dynamic (``Dim.AUTO`` on the
  first dimension of every tensor input) and ``preserve_module_call_signature`` on every
  submodule that maps onto an fnet layer, so that each call of such a layer is known
  exactly: its flat inputs, its outputs and the graph nodes it produced
  (``nn_module_stack``). Those nodes become one call of the fnet layer.
* Everything else is converted node by node into the torch-free
  :class:`~fnet._port._ir.Program`: ATen operator names, constant arguments, dtypes,
  which arguments an operator writes in place (its schema), which results are views of
  their input (torch's fake tensors say whether they alias), the dtype and shape torch
  recorded for each result, and the user's source line.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Mapping, Sequence

from ..io import to_numpy
from ._ir import Constant, DType, Node, Program, Ref, Spec, TensorMeta
from ._model import InputSlot
from ._optable import HANDLERS


class Unsupported(list):
    """``(operator, source line)`` pairs that no handler covers, collected over a capture."""


# -- exporting ----------------------------------------------------------------------------

def dynamic_batch_shapes(module: Any, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``Dim.AUTO`` on dimension 0 of every tensor input, keyed by ``forward``'s argument names."""
    import torch
    from torch.utils import _pytree

    signature = inspect.signature(module.forward)
    bound = signature.bind(*args, **kwargs)

    def spec(value):
        if isinstance(value, torch.Tensor) and value.ndim >= 1:
            return {0: torch.export.Dim.AUTO}
        return None

    shapes = {}
    for name, value in bound.arguments.items():
        shapes[name] = _pytree.tree_map(spec, value)
    return shapes


def export(module: Any, args: tuple, kwargs: Mapping[str, Any], *, train: bool,
           dynamic_shapes: Any, preserve: Sequence[str]) -> Any:
    """``torch.export.export`` in the given mode; the module's modes are restored after."""
    import warnings

    import torch

    modes = [(m, m.training) for m in module.modules()]
    module.train(train)
    try:
        with warnings.catch_warnings():
            # nn.RNN* re-assign _flat_weights while traced: harmless, the port maps the layer
            warnings.filterwarnings("ignore", message=".*_flat_weights.*were assigned during export")
            return torch.export.export(module, tuple(args), dict(kwargs), dynamic_shapes=dynamic_shapes,
                                       preserve_module_call_signature=tuple(preserve))
    finally:
        for m, mode in modes:
            m.training = mode


def has_dynamic_dim(ep: Any) -> bool:
    """Whether any user input kept a symbolic size."""
    import torch

    for spec in ep.graph_signature.input_specs:
        if spec.kind.name != "USER_INPUT":
            continue
        node = _placeholder(ep, spec.arg.name)
        val = node.meta.get("val") if node is not None else None
        if isinstance(val, torch.Tensor) and any(isinstance(s, torch.SymInt) and not _static(s)
                                                 for s in val.shape):
            return True
    return False


def _static(size: Any) -> bool:
    try:
        int(size.node.expr)
        return True
    except (TypeError, AttributeError, ValueError):
        return False


def _placeholder(ep: Any, name: str) -> Any:
    for node in ep.graph.nodes:
        if node.op == "placeholder" and node.name == name:
            return node
    return None


# -- specs and metadata -------------------------------------------------------------------

def convert_spec(spec: Any) -> Spec:
    """A torch pytree ``TreeSpec`` as a torch-free :class:`Spec`."""
    if spec.is_leaf():
        return Spec("leaf")
    children = tuple(convert_spec(c) for c in (spec.children() if hasattr(spec, "children")
                                                 else spec.children_specs))
    kind = spec.type
    if kind is tuple or (isinstance(kind, type) and issubclass(kind, tuple)):
        return Spec("tuple", children=children)
    if kind is list:
        return Spec("list", children=children)
    if isinstance(kind, type) and issubclass(kind, dict):
        keys = tuple(spec.context) if spec.context is not None else ()
        if kind.__module__.startswith("transformers"):
            return Spec("output", keys, children, kind.__name__)
        return Spec("dict", keys, children)
    raise TypeError(f"fnet.port: cannot port inputs or outputs of type {kind!r}; use tensors, tuples, "
                    f"lists and dicts")


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def tensor_meta(val: Any) -> Any:
    import torch

    if isinstance(val, torch.Tensor):
        shape = tuple(int(s) if not isinstance(s, torch.SymInt) or _static(s) else None for s in val.shape)
        return TensorMeta(_dtype_name(val.dtype), shape)
    if isinstance(val, (tuple, list)) and val and any(isinstance(v, torch.Tensor) for v in val):
        return tuple(tensor_meta(v) for v in val)
    return None


def source_line(node: Any) -> str:
    """``file.py:42 in forward: code`` for the innermost frame outside torch itself."""
    trace = node.meta.get("stack_trace") or ""
    frames = []
    lines = trace.strip().splitlines()
    for i, line in enumerate(lines):
        line = line.strip()
        if line.startswith('File "'):
            code = lines[i + 1].strip() if i + 1 < len(lines) and not lines[i + 1].strip().startswith("File") else ""
            frames.append((line, code))
    torch_dir = os.sep + "torch" + os.sep
    for header, code in reversed(frames):
        path = header.split('"')[1]
        if torch_dir not in path:
            lineno = header.split("line ")[1].split(",")[0] if "line " in header else "?"
            func = header.split(" in ")[-1] if " in " in header else ""
            return f"{os.path.basename(path)}:{lineno} in {func}: {code}"
    return ""


def target_name(target: Any) -> str:
    """``"aten.add.Tensor"`` for ATen overloads, ``"operator.mul"`` for Python functions."""
    import torch

    if isinstance(target, torch._ops.OpOverload):
        return str(target)
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher_order.{target.name()}"
    module = getattr(target, "__module__", None) or ""
    if module in ("_operator", "operator"):
        module = "operator"
    elif module.startswith("torch"):
        module = "torch"
    return f"{module}.{getattr(target, '__name__', repr(target))}"


# -- graph conversion ---------------------------------------------------------------------

class _Converter:
    """Converts one exported program; ``mapped`` holds the fnet layers by torch path."""

    def __init__(self, ep: Any, mapped: Mapping[str, Any], canonical: Mapping[str, str],
                 single_input: Any = ()):
        self.ep = ep
        self.mapped = mapped
        self.single_input = set(single_input)
        self.canonical = canonical
        self.nodes: list[Node] = []
        self.refs: dict[str, Ref] = {}
        self.unsupported = Unsupported()

    def arg(self, value: Any) -> Any:
        import torch
        import torch.fx

        if isinstance(value, torch.fx.Node):
            if value.name not in self.refs:
                raise ValueError(f"fnet.port: node {value.name} is used before it is computed")
            return self.refs[value.name]
        if isinstance(value, (list, tuple)):
            return tuple(self.arg(v) for v in value)
        if isinstance(value, torch.dtype):
            return DType(_dtype_name(value))
        if isinstance(value, (torch.device, torch.layout, torch.memory_format)):
            return None
        if isinstance(value, torch.Tensor):
            return Constant(to_numpy(value))
        return value

    def emit(self, node: Node, name: str | None = None) -> Ref:
        ref = Ref(len(self.nodes))
        self.nodes.append(node)
        if name is not None:
            self.refs[name] = ref
        return ref

    def convert(self) -> tuple[Program, list[InputSlot]]:
        ep = self.ep
        groups, lasts = self.module_calls()
        user_inputs: list[InputSlot] = []
        specs = {s.arg.name: s for s in ep.graph_signature.input_specs if hasattr(s.arg, "name")}
        for node in ep.graph.nodes:
            if node.op == "placeholder":
                self.placeholder(node, specs.get(node.name), user_inputs)
            elif node.op == "call_function":
                group = groups.get(node.name)
                if group is None:
                    self.call(node)
                elif node.name == lasts[group]:
                    self.module_call(group)
            elif node.op == "output":
                outputs = tuple(self.arg(v) for v in node.args[0])
            else:  # get_attr of sub-graphs (torch.cond, while_loop, ...)
                self.unsupported.append((f"{node.op} {node.target}", source_line(node)))
                self.refs[node.name] = Ref(-1)
        user = [i for i, s in enumerate(ep.graph_signature.output_specs) if s.kind.name == "USER_OUTPUT"]
        out_spec = convert_spec(ep.call_spec.out_spec)
        program = Program(tuple(self.nodes), tuple(outputs[i] for i in user), out_spec)
        return program, user_inputs

    def placeholder(self, node: Any, spec: Any, user_inputs: list[InputSlot]) -> None:
        kind = spec.kind.name if spec is not None else "USER_INPUT"
        if kind == "PARAMETER":
            self.emit(Node("param", self.canonical.get(spec.target, spec.target)), node.name)
        elif kind == "BUFFER":
            self.emit(Node("buffer", self.canonical.get(spec.target, spec.target)), node.name)
        elif kind in ("CONSTANT_TENSOR", "CUSTOM_OBJ"):
            value = self.ep.constants.get(spec.target)
            self.emit(Node("constant", spec.target, (Constant(to_numpy(value)),)), node.name)
        elif kind == "USER_INPUT":
            val = node.meta.get("val")
            meta = tensor_meta(val)
            user_inputs.append(InputSlot(node.name, meta if isinstance(meta, TensorMeta) else None,
                                         None if meta is not None else val, meta is not None))
            self.emit(Node("input", str(len(user_inputs) - 1), meta=meta), node.name)
        else:
            self.unsupported.append((f"input of kind {kind}", ""))
            self.refs[node.name] = Ref(-1)

    def call(self, node: Any) -> None:
        import torch

        name = target_name(node.target)
        args = tuple(self.arg(a) for a in node.args)
        kwargs = tuple((k, self.arg(v)) for k, v in node.kwargs.items())
        meta = tensor_meta(node.meta.get("val"))
        where = source_line(node)
        writes: tuple[int, ...] = ()
        inplace = False
        view_of = None
        schema = getattr(node.target, "_schema", None)
        handler_name = name
        if schema is not None:
            written = tuple(i for i, a in enumerate(schema.arguments)
                            if a.alias_info is not None and a.alias_info.is_write)
            handler = HANDLERS.get(name)
            if handler is not None and handler.writes:
                writes = handler.writes
            elif written:
                writes, inplace = written, True
                if name not in HANDLERS:
                    packet, _, overload = name.rpartition(".")
                    handler_name = f"{packet.rstrip('_')}.{overload}"
                if torch.Tag.inplace_view in node.target.tags:
                    view_of = written[0]
            else:
                view_of = self.view_source(node, schema)
        if handler_name not in HANDLERS:
            self.unsupported.append((name, where))
        if inplace and (len(writes) != 1 or writes[0] >= len(args)):
            self.unsupported.append((f"{name} (writes into {len(writes)} arguments)", where))
        self.emit(Node("op", handler_name, args, kwargs, meta, where, writes, inplace, view_of), node.name)

    def view_source(self, node: Any, schema: Any) -> int | None:
        """Position of the argument the result is a view of (None: a new tensor)."""
        if not schema.returns or schema.returns[0].alias_info is None:
            return None
        for i, a in enumerate(schema.arguments):
            if a.alias_info is None or a.alias_info.is_write or i >= len(node.args):
                continue
            return i if _really_aliases(node, node.args[i]) else None
        return None

    # -- mapped layers ------------------------------------------------------------------
    def module_calls(self) -> tuple[dict[str, str], dict[str, str]]:
        """node name -> call id of the mapped layer it belongs to; the last node of each call.

        A layer whose ``forward`` takes several arguments (``MultiheadAttention``, ``LSTM``
        with ``hx``) is known by its preserved call signature. A single-input layer
        (``Linear``, ``Conv2d``, ``LayerNorm``...) needs none, which keeps ``torch.export``
        fast: its call reads exactly one tensor from outside (besides its own arrays) and
        exactly one of its values is used outside; anything else is interpreted op by op.
        """
        self.calls: dict[str, tuple[list[Any], list[Any], Spec]] = {}
        for entry in self.ep.module_call_graph:
            if entry.signature is not None and entry.fqn:
                sig = entry.signature
                self.calls[entry.fqn] = (list(sig.inputs), [getattr(o, "name", None) for o in sig.outputs],
                                         convert_spec(sig.in_spec))
        members: dict[str, list[Any]] = {}
        for node in self.ep.graph.nodes:
            if node.op != "call_function":
                continue
            for key, value in (node.meta.get("nn_module_stack") or {}).items():
                path = value[0] if isinstance(value, tuple) else ""
                if not isinstance(path, str) or path not in self.mapped:
                    continue
                call = path + (f"@{key.rsplit('@', 1)[1]}" if "@" in key else "")
                members.setdefault(call, []).append(node)
                break  # the outermost mapped module owns the node
        groups: dict[str, str] = {}
        lasts: dict[str, str] = {}
        for call, nodes in members.items():
            nodes = _without_size_arithmetic(nodes)
            if nodes and call not in self.calls and call.split("@")[0] in self.single_input:
                self.single_input_call(call, nodes)
            if not nodes or call not in self.calls or not self.valid_group(call, nodes):
                continue
            for node in nodes:
                groups[node.name] = call
            lasts[call] = nodes[-1].name
        return groups, lasts

    def single_input_call(self, call: str, nodes: list[Any]) -> None:
        """Registers the call of a one-argument layer when its boundary is unambiguous."""
        import torch
        import torch.fx

        names = {n.name for n in nodes}
        own = {spec.arg.name for spec in self.ep.graph_signature.input_specs
               if spec.kind.name in ("PARAMETER", "BUFFER") and hasattr(spec.arg, "name")}
        inputs: list[Any] = []
        for node in nodes:
            for source in node.all_input_nodes:
                if source.name in names or source.name in own or source in inputs:
                    continue
                if not isinstance(source.meta.get("val"), torch.Tensor):
                    continue  # sizes
                inputs.append(source)
        outputs = [n for n in nodes if any(u.name not in names for u in n.users)]
        if len(inputs) == 1 and len(outputs) == 1 and isinstance(outputs[0].meta.get("val"), torch.Tensor):
            spec = Spec("tuple", children=(Spec("tuple", children=(Spec("leaf"),)), Spec("dict")))
            self.calls[call] = ([inputs[0]], [outputs[0].name], spec)

    def valid_group(self, call: str, nodes: list[Any]) -> bool:
        """A call maps onto the fnet layer only if it reads nothing and writes nothing else."""
        import torch.fx

        names = {n.name for n in nodes}
        outputs = set(self.calls[call][1])
        path = call.split("@")[0]
        for node in nodes:
            for user in node.users:
                if user.name not in names and node.name not in outputs:
                    return False  # an intermediate value escapes the layer
            schema = getattr(node.target, "_schema", None)
            if schema is None:
                continue
            for i, a in enumerate(schema.arguments):
                if a.alias_info is not None and a.alias_info.is_write and i < len(node.args):
                    written = node.args[i]
                    if isinstance(written, torch.fx.Node) and written.name not in names:
                        target = self.buffer_target(written)
                        if target is None or not target.startswith(path + "."):
                            return False  # writes into its input (ReLU(inplace=True)) or elsewhere
        return True

    def buffer_target(self, node: Any) -> str | None:
        for spec in self.ep.graph_signature.input_specs:
            if getattr(spec.arg, "name", None) == node.name and spec.kind.name == "BUFFER":
                return spec.target
        return None

    def module_call(self, call: str) -> None:
        inputs, outputs, spec = self.calls[call]
        args = []
        for a in inputs:
            name = getattr(a, "name", None)
            args.append(self.refs[name] if name in self.refs else getattr(a, "value", None))
        path = call.split("@")[0]
        ref = self.emit(Node("module", path, tuple(args), spec=spec,
                             where=f"{path} ({type(self.mapped[path]).__name__})"))
        for k, name in enumerate(outputs):
            if name:
                self.emit(Node("op", "operator.getitem", (ref, k)), name)


def convert_graph(module: Any) -> tuple[Program, Unsupported]:
    """A plain ATen ``GraphModule`` (``make_fx``) as a :class:`Program`; placeholders are its inputs.

    The outputs come back as a flat tuple. Used to test the interpreter operator by
    operator against torch (``parity_tests/test_port_ops.py``).
    """
    converter = _Converter(None, {}, {})
    outputs: tuple = ()
    count = 0
    for node in module.graph.nodes:
        if node.op == "get_attr":  # tensor constants
            value = getattr(module, node.target)
            converter.emit(Node("constant", node.target, (Constant(to_numpy(value)),)), node.name)
        elif node.op == "placeholder":
            converter.emit(Node("input", str(count), meta=tensor_meta(node.meta.get("val"))), node.name)
            count += 1
        elif node.op == "call_function":
            converter.call(node)
        elif node.op == "output":
            result = node.args[0]
            outputs = tuple(converter.arg(v) for v in (result if isinstance(result, (tuple, list)) else [result]))
    leaves = Spec("tuple", children=tuple(Spec("leaf") for _ in outputs))
    return Program(tuple(converter.nodes), outputs, leaves), converter.unsupported


# Operators whose result is a view only sometimes (torch copies when it must).
_MAYBE_VIEWS = {"aten.reshape.default", "aten.flatten.using_ints", "aten.reshape_as.default",
                "aten.contiguous.default", "aten.to.dtype", "aten.to.dtype_layout", "aten.to.device",
                "aten.to.other", "aten.type_as.default", "aten.to.prim_dtype"}


def _hint(size: Any) -> int:
    node = getattr(size, "node", None)
    hint = getattr(node, "hint", None) if node is not None else None
    return int(hint) if hint is not None else int(size)


def _really_aliases(node: Any, source: Any) -> bool:
    """Whether a possibly-aliasing result is a view, decided as torch decides it.

    ``reshape``/``flatten`` view when the source's strides allow it, ``contiguous`` when
    the source is contiguous, ``to``/``type_as`` when nothing changes. Everything else
    whose schema aliases (``view``, ``transpose``, ``select``, ``slice``...) is a view.
    """
    import torch

    name = target_name(node.target)
    if name not in _MAYBE_VIEWS:
        return True
    val = node.meta.get("val")
    src = getattr(source, "meta", {}).get("val")
    if not (isinstance(val, torch.Tensor) and isinstance(src, torch.Tensor)):
        return True
    if name.startswith("aten.to.") or name == "aten.type_as.default":
        return val.dtype == src.dtype and not node.kwargs.get("copy", False)
    layout = torch.empty_strided([_hint(s) for s in src.shape], [_hint(s) for s in src.stride()],
                                 device="meta")
    if name == "aten.contiguous.default":
        return layout.is_contiguous()
    try:
        layout.view([_hint(s) for s in val.shape])
        return True
    except RuntimeError:
        return False


def _without_size_arithmetic(nodes: list[Any]) -> list[Any]:
    """A layer call's nodes minus the size arithmetic that only reads sizes from outside.

    torch.export computes a symbolic size once (``batch * heads``) and reuses it in later
    calls; such nodes stay in the program (they are Python ints under JAX) instead of
    making the first call's nodes look used outside the layer.
    """
    import torch
    import torch.fx

    inside = {n.name for n in nodes}
    lifted: set[str] = set()
    for node in nodes:
        val = node.meta.get("val")
        if isinstance(val, torch.Tensor) or val is None:
            continue
        sources = [a for a in node.all_input_nodes if isinstance(a, torch.fx.Node)]
        if all(a.name not in inside or a.name in lifted for a in sources):
            lifted.add(node.name)
    return [n for n in nodes if n.name not in lifted]


def convert(ep: Any, mapped: Mapping[str, Any], canonical: Mapping[str, str], single_input: Any = ()
            ) -> tuple[Program, list[InputSlot], Unsupported]:
    """One exported program as a :class:`Program`, its input slots and what it cannot run."""
    converter = _Converter(ep, mapped, canonical, single_input)
    program, slots = converter.convert()
    return program, slots, converter.unsupported

