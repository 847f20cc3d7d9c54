"""Scale-out on JAX's own sharding: data parallelism, FSDP and tensor-parallel rule sets.

A :class:`ShardingPlan` says, for a ``jax.sharding.Mesh``, how the batch is split and
how each parameter (by its torch name and shape) and its optimizer state are laid out::

    mesh = jax.make_mesh((8,), ("data",))
    plan = fnet.sharding.fully_sharded(mesh)            # or data_parallel(mesh)
    result = fnet.train.fit(model, params, state, opt, loader, F.cross_entropy, plan=plan)

Everything is ``NamedSharding``/``PartitionSpec``: XLA inserts the all-gathers,
reduce-scatters and all-reduces. Nothing here is a home-made collective.

Several hosts (TPU pods, multi-node GPU): call ``jax.distributed.initialize()`` first
(see the README's "Scaling out"), build the mesh over ``jax.devices()`` and give each
process's ``DataLoader`` ``num_shards=jax.process_count(), shard_index=jax.process_index()``;
:meth:`ShardingPlan.shard_batch` assembles the global batch from the local slices.
"""

from __future__ import annotations

import fnmatch
import math
import re
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from . import _tree

__all__ = ["ShardingPlan", "data_parallel", "fully_sharded", "tensor_parallel", "make_mesh",
           "BERT_TENSOR_PARALLEL_RULES", "MLP_TENSOR_PARALLEL_RULES", "LLAMA_TENSOR_PARALLEL_RULES",
           "GPT2_TENSOR_PARALLEL_RULES", "DISTILBERT_TENSOR_PARALLEL_RULES", "HF_TENSOR_PARALLEL_RULES",
           "per_device_bytes"]

Rule = Callable[[str, tuple[int, ...]], PartitionSpec | None]


def make_mesh(shape: Sequence[int] | None = None, axis_names: Sequence[str] = ("data",),
              devices: Sequence[Any] | None = None) -> Mesh:
    """``jax.make_mesh`` over ``devices`` (default: all of them), with ``Auto`` axes.

    ``jax.make_mesh`` orders the devices by the hardware topology (neighbouring TPU
    chips on the same axis); fnet only adds the default shape (every device on one
    axis) and the axis type its plans use (see :class:`ShardingPlan`).

    Args:
        shape: the mesh's shape; default ``(len(devices),)``.
        axis_names: one name per axis (``("data", "model")``).
        devices: the devices; default ``jax.devices()``.

    PyTorch equivalent: ``torch.distributed.device_mesh.init_device_mesh``.
    """
    devices = list(devices if devices is not None else jax.devices())
    shape = tuple(shape) if shape is not None else (len(devices),)
    if math.prod(shape) != len(devices):
        raise ValueError(f"make_mesh: a mesh of shape {shape} needs {math.prod(shape)} devices, "
                         f"got {len(devices)}")
    if len(axis_names) != len(shape):
        raise ValueError(f"make_mesh: {len(shape)} axes need {len(shape)} names, got {tuple(axis_names)}")
    return jax.make_mesh(shape, tuple(axis_names), devices=devices,
                         axis_types=(jax.sharding.AxisType.Auto,) * len(shape))


def _with_auto_axes(mesh: Mesh) -> Mesh:
    """The same devices and axis names with ``Auto`` axis types.

    fnet's plans say where arrays live (``NamedSharding`` of the parameters, optimizer
    state and batch) and let XLA's partitioner choose every intermediate layout. A mesh
    with ``Explicit`` axes (``jax.make_mesh``'s default in recent JAX) makes sharding part
    of each array's type instead, and a plain ``x @ w`` with both operands split over
    ``"data"`` (FSDP) is then a type error; on the ``Auto`` view of the mesh the same
    program compiles, with the same placement.
    """
    types = getattr(mesh, "axis_types", None)
    if types is None or all(t == jax.sharding.AxisType.Auto for t in types):
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(jax.sharding.AxisType.Auto,) * len(mesh.axis_names))


class ShardingPlan:
    """How a model, its optimizer state and its batches are laid out on a mesh.

    Args:
        mesh: the device mesh; one with ``Explicit`` axes (``jax.make_mesh``'s default)
            is used with ``Auto`` axes (the same devices and names), since the plan
            leaves intermediate layouts to XLA.
        data_axis: mesh axis (or tuple of axes) the batch's first dimension is split over.
        rules: ``(name, shape) -> PartitionSpec | None`` functions tried in order for
            each parameter (torch name such as ``"encoder.layer.0.attention.self.query.weight"``);
            the first non-None answer wins, otherwise the parameter is replicated.
    """

    def __init__(self, mesh: Mesh, data_axis: str | tuple[str, ...] | None = "data",
                 rules: Sequence[Rule] = ()):
        self.mesh = _with_auto_axes(mesh)
        self.data_axis = data_axis
        self.rules = list(rules)

    # -- parameters ----------------------------------------------------------------------------
    def spec(self, name: str, shape: tuple[int, ...]) -> PartitionSpec:
        for rule in self.rules:
            spec = rule(name, tuple(shape))
            if spec is not None:
                self._check(name, shape, spec)
                return spec
        return PartitionSpec()

    def _check(self, name: str, shape: tuple[int, ...], spec: PartitionSpec) -> None:
        for dim, axes in zip(shape, tuple(spec)):
            if axes is None:
                continue
            size = math.prod(self.mesh.shape[a] for a in (axes if isinstance(axes, tuple) else (axes,)))
            if dim % size:
                raise ValueError(f"sharding rule for {name!r}: dimension {dim} of shape {tuple(shape)} "
                                 f"is not divisible by mesh axes {axes} of size {size}")

    def param_shardings(self, params: Any) -> Any:
        """A tree of ``NamedSharding`` matching ``params`` (nested torch-named dicts)."""
        flat = _tree.flatten(params)
        return _tree.unflatten({name: NamedSharding(self.mesh, self.spec(name, np.shape(v)))
                                for name, v in flat.items()})

    def opt_state_shardings(self, opt_state: Any, params: Any) -> Any:
        """Optimizer state follows its parameter: a leaf whose key path ends with a parameter's
        torch name and has its shape gets that parameter's sharding; the rest (step
        counts, scalars) is replicated."""
        specs = {name: self.spec(name, np.shape(v)) for name, v in _tree.flatten(params).items()}
        shapes = {name: tuple(np.shape(v)) for name, v in _tree.flatten(params).items()}

        def leaf_sharding(path, leaf):
            keys = [str(k.key) for k in path if isinstance(k, jax.tree_util.DictKey)]
            for start in range(len(keys)):
                name = ".".join(keys[start:])
                if name in specs and shapes[name] == tuple(np.shape(leaf)):
                    return NamedSharding(self.mesh, specs[name])
            return NamedSharding(self.mesh, PartitionSpec())

        return jax.tree_util.tree_map_with_path(leaf_sharding, opt_state)

    def compute_shardings(self, params: Any) -> Any:
        """Where each parameter lives while the forward and backward passes use it.

        A split over the data axis (FSDP) is storage only: inside the step the parameter
        is all-gathered before use and its gradient reduce-scattered back (ZeRO-3).
        Without this, XLA propagates the storage split into the activations, which forces
        it to rematerialise whole tensors at reshapes (BERT's attention heads) and
        compiles 3-4x slower. Splits over other axes (tensor parallelism) are kept.
        """
        data = set(self.data_axis if isinstance(self.data_axis, tuple) else (self.data_axis,))

        def drop_data(axes):
            if axes is None:
                return None
            kept = tuple(a for a in (axes if isinstance(axes, tuple) else (axes,)) if a not in data)
            return None if not kept else kept[0] if len(kept) == 1 else kept

        flat = _tree.flatten(params)
        return _tree.unflatten({
            name: NamedSharding(self.mesh, PartitionSpec(*(drop_data(a) for a in self.spec(name, np.shape(v)))))
            for name, v in flat.items()})

    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    def shard_params(self, params: Any) -> Any:
        """Places ``params`` (or a buffer tree) on the mesh according to the rules."""
        return jax.device_put(params, self.param_shardings(params))

    def shard_opt_state(self, opt_state: Any, params: Any) -> Any:
        return jax.device_put(opt_state, self.opt_state_shardings(opt_state, params))

    # -- batches --------------------------------------------------------------------------------
    def batch_sharding(self, ndim: int = 1) -> NamedSharding:
        """Splits the first dimension over ``data_axis``; other dimensions are replicated."""
        if ndim == 0 or self.data_axis is None:
            return self.replicated()
        return NamedSharding(self.mesh, PartitionSpec(self.data_axis, *([None] * (ndim - 1))))

    @property
    def data_parallel_size(self) -> int:
        if self.data_axis is None:
            return 1
        axes = self.data_axis if isinstance(self.data_axis, tuple) else (self.data_axis,)
        return math.prod(self.mesh.shape[a] for a in axes)

    def shard_batch(self, batch: Any) -> Any:
        """Places a batch on the mesh, split over the data axis.

        On one process ``batch`` is the global batch. With several processes each one
        passes its local slice (``DataLoader(num_shards=process_count, shard_index=...)``)
        and the global array is assembled with ``jax.make_array_from_process_local_data``.
        """
        def place(x):
            x = np.asarray(x) if not isinstance(x, jax.Array) else x
            sharding = self.batch_sharding(np.ndim(x))
            if np.ndim(x) and np.shape(x)[0] % max(1, self.data_parallel_size // jax.process_count()):
                raise ValueError(f"shard_batch: batch dimension {np.shape(x)[0]} is not divisible by the "
                                 f"{self.data_parallel_size} devices of the data axis {self.data_axis!r}")
            if jax.process_count() > 1:
                return jax.make_array_from_process_local_data(sharding, np.asarray(x))
            return jax.device_put(x, sharding)

        return jax.tree.map(place, batch)

    def constrain(self, tree: Any, shardings: Any) -> Any:
        return jax.tree.map(jax.lax.with_sharding_constraint, tree, shardings)

    def __repr__(self) -> str:
        return f"ShardingPlan(mesh={dict(self.mesh.shape)}, data_axis={self.data_axis!r}, rules={len(self.rules)})"


def data_parallel(mesh: Mesh | None = None, axis: str = "data") -> ShardingPlan:
    """Batch split over ``axis``; parameters and optimizer state replicated (DDP)."""
    return ShardingPlan(mesh or make_mesh(axis_names=(axis,)), axis, [])


def fsdp_rule(axis: str, size: int, min_size: int = 1024) -> Rule:
    """Shards a parameter along its largest dimension divisible by ``size`` (FSDP / ZeRO-3)."""

    def rule(name: str, shape: tuple[int, ...]) -> PartitionSpec | None:
        if math.prod(shape) < min_size or not shape:
            return None
        candidates = [d for d in sorted(range(len(shape)), key=lambda d: -shape[d]) if shape[d] % size == 0]
        if not candidates:
            return None
        spec = [None] * len(shape)
        spec[candidates[0]] = axis
        return PartitionSpec(*spec)

    return rule


def fully_sharded(mesh: Mesh | None = None, axis: str = "data", shard_axis: str | None = None,
                  min_size: int = 1024) -> ShardingPlan:
    """FSDP: the batch split over ``axis`` and every parameter of at least ``min_size``
    elements (and its optimizer state) split over ``shard_axis`` (default: the same axis),
    so each device holds about ``1/n`` of the model and optimizer state."""
    mesh = mesh or make_mesh(axis_names=(axis,))
    shard_axis = shard_axis or axis
    return ShardingPlan(mesh, axis, [fsdp_rule(shard_axis, mesh.shape[shard_axis], min_size)])


def pattern_rules(rules: Sequence[tuple[str, tuple]], axis_map: dict[str, str] | None = None) -> Rule:
    """Glob patterns on torch names -> partition specs (``("model", None)`` etc.)."""
    compiled = [(re.compile(fnmatch.translate(p)), spec) for p, spec in rules]

    def rule(name: str, shape: tuple[int, ...]) -> PartitionSpec | None:
        for pattern, spec in compiled:
            if pattern.match(name) and len(spec) == len(shape):
                axes = tuple((axis_map or {}).get(a, a) if a is not None else None for a in spec)
                return PartitionSpec(*axes)
        return None

    return rule


# Megatron-style: the first Linear of a pair splits its output features (column parallel),
# the second its input features (row parallel), so the pair needs one all-reduce.
BERT_TENSOR_PARALLEL_RULES = [
    ("*attention.self.query.weight", ("model", None)), ("*attention.self.query.bias", ("model",)),
    ("*attention.self.key.weight", ("model", None)), ("*attention.self.key.bias", ("model",)),
    ("*attention.self.value.weight", ("model", None)), ("*attention.self.value.bias", ("model",)),
    ("*attention.output.dense.weight", (None, "model")),
    ("*intermediate.dense.weight", ("model", None)), ("*intermediate.dense.bias", ("model",)),
    ("*output.dense.weight", (None, "model")),
    ("*self_attn.in_proj_weight", ("model", None)), ("*self_attn.in_proj_bias", ("model",)),
    ("*self_attn.out_proj.weight", (None, "model")),
    ("*linear1.weight", ("model", None)), ("*linear1.bias", ("model",)), ("*linear2.weight", (None, "model")),
]
MLP_TENSOR_PARALLEL_RULES = [
    ("*fc1.weight", ("model", None)), ("*fc1.bias", ("model",)), ("*fc2.weight", (None, "model")),
]
# The Hugging Face decoders and DistilBERT (RoBERTa's names are BERT's): transformers' own
# tp_plan ("colwise" q/k/v/gate/up, "rowwise" o/down), with the vocabulary of the LM head
# split too. Llama/Mistral/Qwen2 (grouped-query attention: k/v split over their own heads):
LLAMA_TENSOR_PARALLEL_RULES = [
    ("*self_attn.q_proj.weight", ("model", None)), ("*self_attn.q_proj.bias", ("model",)),
    ("*self_attn.k_proj.weight", ("model", None)), ("*self_attn.k_proj.bias", ("model",)),
    ("*self_attn.v_proj.weight", ("model", None)), ("*self_attn.v_proj.bias", ("model",)),
    ("*self_attn.o_proj.weight", (None, "model")),
    ("*mlp.gate_proj.weight", ("model", None)), ("*mlp.gate_proj.bias", ("model",)),
    ("*mlp.up_proj.weight", ("model", None)), ("*mlp.up_proj.bias", ("model",)),
    ("*mlp.down_proj.weight", (None, "model")),
    ("lm_head.weight", ("model", None)),
]
# GPT-2's Conv1D stores (in, out), the transpose of Linear: column parallel splits the last
# dimension. c_attn packs q, k and v; splitting it is valid (XLA reshards at the head split).
GPT2_TENSOR_PARALLEL_RULES = [
    ("*attn.c_attn.weight", (None, "model")), ("*attn.c_attn.bias", ("model",)),
    ("*attn.c_proj.weight", ("model", None)),
    ("*mlp.c_fc.weight", (None, "model")), ("*mlp.c_fc.bias", ("model",)),
    ("*mlp.c_proj.weight", ("model", None)),
    ("lm_head.weight", ("model", None)),
]
DISTILBERT_TENSOR_PARALLEL_RULES = [
    ("*attention.q_lin.weight", ("model", None)), ("*attention.q_lin.bias", ("model",)),
    ("*attention.k_lin.weight", ("model", None)), ("*attention.k_lin.bias", ("model",)),
    ("*attention.v_lin.weight", ("model", None)), ("*attention.v_lin.bias", ("model",)),
    ("*attention.out_lin.weight", (None, "model")),
    ("*ffn.lin1.weight", ("model", None)), ("*ffn.lin1.bias", ("model",)), ("*ffn.lin2.weight", (None, "model")),
]
# Every family of fnet.models (BERT and RoBERTa through BERT's names).
HF_TENSOR_PARALLEL_RULES = (BERT_TENSOR_PARALLEL_RULES + LLAMA_TENSOR_PARALLEL_RULES + GPT2_TENSOR_PARALLEL_RULES
                            + DISTILBERT_TENSOR_PARALLEL_RULES)


def tensor_parallel(mesh: Mesh, rules: Sequence[tuple[str, tuple]] = BERT_TENSOR_PARALLEL_RULES,
                    data_axis: str | None = "data", model_axis: str = "model",
                    fsdp_min_size: int | None = None) -> ShardingPlan:
    """Tensor parallelism over ``model_axis`` by name rules, data parallelism over ``data_axis``,
    optionally FSDP over ``data_axis`` for what the rules do not cover."""
    rule_list: list[Rule] = [pattern_rules(rules, {"model": model_axis})]
    if fsdp_min_size is not None and data_axis is not None:
        rule_list.append(fsdp_rule(data_axis, mesh.shape[data_axis], fsdp_min_size))
    return ShardingPlan(mesh, data_axis, rule_list)


def per_device_bytes(*trees: Any) -> dict[Any, int]:
    """Bytes held on each device by the arrays of ``trees`` (shards counted where they live)."""
    totals: dict[Any, int] = {}
    for tree in trees:
        for leaf in jax.tree.leaves(tree):
            if isinstance(leaf, jax.Array):
                for shard in leaf.addressable_shards:
                    totals[shard.device] = totals.get(shard.device, 0) + shard.data.nbytes
    return totals
