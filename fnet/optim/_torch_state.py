"""Resume a torch optimizer in fnet: ``torch.optim.Optimizer.state_dict()`` into an fnet optimizer state.

torch's optimizer ``state_dict()`` is ``{"state": {id: {"step": ..., "exp_avg": ...}},
"param_groups": [{"params": [ids...], "lr": ..., ...}]}``: per-parameter buffers keyed
by the parameter's position in the optimizer. fnet's state is the optimizer's
``init(params)`` tree, whose NamedTuple fields carry torch's buffer names
(``exp_avg``, ``momentum_buffer``, ``square_avg``...) over parameter trees named like a
``state_dict``. :func:`load_state_dict` fills the second from the first::

    opt = fnet.optim.Adam(lr=1e-3)
    params, _ = fnet.load_state_dict(model, torch_model.state_dict())
    opt_state = fnet.optim.load_state_dict(opt, torch_opt.state_dict(), params, model=model)
    # the next fnet update equals torch's next optimizer.step()

Hyperparameters come from the fnet optimizer's constructor, as in torch (where
``load_state_dict`` also restores the param groups' ``lr`` etc., fnet does not read
them: build the fnet optimizer with the same arguments).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._groups import leaf_name
from ._lbfgs import LBFGS, LBFGSState

__all__ = ["load_state_dict"]

# optax states fnet composes, and the torch buffer each field holds.
_OPTAX_FIELDS = {
    ("TraceState", "trace"): "momentum_buffer",  # SGD / RMSprop momentum
    ("ScaleByRmsState", "nu"): "square_avg",  # RMSprop
    ("ScaleByRStdDevState", "mu"): "grad_avg",  # RMSprop(centered=True)
    ("ScaleByRStdDevState", "nu"): "square_avg",
    ("ScaleByAdaDeltaState", "e_g"): "square_avg",  # Adadelta
    ("ScaleByAdaDeltaState", "e_x"): "acc_delta",
}
# fnet's own states name their fields after torch's buffers.
_TORCH_FIELDS = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "exp_inf", "mu_product", "momentum_buffer", "sum",
                 "prev", "step_size", "eta", "mu", "ax", "row_var", "col_var", "variance"}
_COUNTS = ("step", "count")


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def _model_order(model: Any) -> list[str]:
    """torch's ``named_parameters()`` order of an fnet module (its ``init`` order)."""
    from .._tree import flatten

    order: list[str] = []

    def trace(key):
        params, _ = model.init(key)
        order.extend(flatten(params))
        return 0

    jax.eval_shape(trace, jax.random.key(0))
    return order


def _param_names(state_dict: Mapping, ids: list[Any], param_names: Sequence[str] | None, model: Any,
                 known: set[str]) -> dict[Any, str]:
    groups = state_dict["param_groups"]
    if all("param_names" in g for g in groups):
        names = [n for g in groups for n in g["param_names"]]
        source = "the state_dict's param_names"
    elif param_names is not None:
        names = list(param_names)
        source = "param_names"
    elif model is not None:
        if len(groups) != 1:
            raise ValueError(f"load_state_dict: the torch optimizer has {len(groups)} param groups, so its "
                             "parameter order is not the model's: pass param_names=[...] in the order the groups "
                             "list them")
        names = _model_order(model)
        source = "the model's named_parameters order"
    else:
        raise ValueError("load_state_dict: torch's optimizer state_dict numbers its parameters 0, 1, ...; "
                         "pass model=<the fnet module> (torch's model.parameters() order) or param_names=[...] "
                         "(the state_dict names in the order torch's optimizer was given them), or build the torch "
                         "optimizer from model.named_parameters() so its state_dict carries the names")
    if len(names) != len(ids):
        raise ValueError(f"load_state_dict: the torch optimizer has {len(ids)} parameters, {source} names "
                         f"{len(names)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"load_state_dict: {source} names parameters that are not in params: {unknown[:5]}; "
                         f"params has {sorted(known)[:5]}...")
    return dict(zip(ids, names))


def _is_param_tree(value: Any, known: set[str]) -> bool:
    if not isinstance(value, Mapping) or not value:
        return False
    leaves = jax.tree_util.tree_flatten_with_path(value, is_leaf=lambda x: isinstance(x, optax.MaskedNode))[0]
    return bool(leaves) and all(leaf_name(path) in known for path, _ in leaves)


class _Filler:
    def __init__(self, by_name: dict[str, Mapping[str, Any]], step: int | None, where: str):
        self.by_name = by_name
        self.step = step
        self.where = where
        self.known = set(by_name)
        self.used: set[tuple[str, str]] = set()

    def torch_value(self, name: str, key: str, like: jax.Array) -> jax.Array:
        entry = self.by_name[name]
        if key not in entry:
            if like.size == 0:  # Adafactor's placeholder for a buffer torch does not keep for this shape
                return like
            raise ValueError(f"{self.where}: torch's state of parameter {name!r} has no {key!r} (it has "
                             f"{sorted(entry)}); was the torch optimizer built with the same options, and has it "
                             f"stepped?")
        value = _to_numpy(entry[key])
        if value.shape != tuple(like.shape):
            raise ValueError(f"{self.where}: {key!r} of parameter {name!r}: expected shape {tuple(like.shape)}, "
                             f"got {value.shape} from torch")
        self.used.add((name, key))
        return jnp.asarray(value, like.dtype)

    def fill_tree(self, tree: Any, key: str) -> Any:
        def one(path, leaf):
            if isinstance(leaf, optax.MaskedNode):
                return leaf
            return self.torch_value(leaf_name(path), key, leaf)

        return jax.tree_util.tree_map_with_path(one, tree, is_leaf=lambda x: isinstance(x, optax.MaskedNode))

    def fill_scalar(self, value: jax.Array, key: str, names: list[str]) -> jax.Array:
        values = {float(_to_numpy(self.by_name[n][key])) for n in names if key in self.by_name[n]}
        if not values:
            raise ValueError(f"{self.where}: torch's state has no {key!r} for parameters {names[:5]}")
        if len(values) > 1:
            raise ValueError(f"{self.where}: torch's {key!r} differs between parameters ({sorted(values)}); fnet "
                             "keeps one per optimizer")
        for n in names:
            self.used.add((n, key))
        return jnp.asarray(values.pop(), value.dtype)

    def count(self, value: jax.Array, cls: str, names: list[str]) -> jax.Array:
        if self.step is None:
            if cls == "SGDDampenedMomentumState" and names and all("momentum_buffer" in self.by_name[n]
                                                                    for n in names):
                return jnp.asarray(1, value.dtype)  # only "not the first step" matters there
            raise ValueError(f"{self.where}: the fnet optimizer keeps a step count ({cls}) but torch's state has "
                             "no 'step' for these parameters; pass step=<number of optimizer steps taken>")
        return jnp.asarray(self.step, value.dtype)

    def walk(self, node: Any) -> Any:
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            cls = type(node).__name__
            trees = [v for v in node if _is_param_tree(v, self.known)]
            names = sorted({leaf_name(p) for t in trees for p, leaf in
                            jax.tree_util.tree_flatten_with_path(
                                t, is_leaf=lambda x: isinstance(x, optax.MaskedNode))[0]
                            if not isinstance(leaf, optax.MaskedNode)})
            fields = {}
            for field, value in zip(node._fields, node):
                key = _OPTAX_FIELDS.get((cls, field), field if field in _TORCH_FIELDS else None)
                if _is_param_tree(value, self.known):
                    if key is None:
                        raise ValueError(f"{self.where}: fnet state {cls}.{field} has no torch counterpart "
                                         "this loader knows")
                    fields[field] = self.fill_tree(value, key)
                elif field in _COUNTS and hasattr(value, "dtype") and jnp.issubdtype(value.dtype, jnp.integer):
                    fields[field] = self.count(value, cls, names)
                elif key is not None and hasattr(value, "dtype") and np.ndim(value) == 0:
                    fields[field] = self.fill_scalar(value, key, names)
                else:
                    fields[field] = self.walk(value)
            return type(node)(**fields)
        if isinstance(node, (list, tuple)):
            return type(node)(self.walk(x) for x in node)
        if isinstance(node, Mapping):
            return {k: self.walk(v) for k, v in node.items()}
        return node


def _torch_step(state: Mapping[Any, Mapping[str, Any]], where: str) -> int | None:
    steps = {int(float(_to_numpy(s["step"]))) for s in state.values() if "step" in s}
    if len(steps) > 1:
        raise ValueError(f"{where}: torch's parameters have taken different numbers of steps {sorted(steps)}; "
                         "fnet keeps one count per optimizer")
    return steps.pop() if steps else None


def _load_lbfgs(opt: LBFGS, torch_state: Mapping, params: Any, names: dict[Any, str], ids: list[Any]) -> LBFGSState:
    """torch's LBFGS state (flat vectors in torch's parameter order) in fnet's leaf order."""
    where = "load_state_dict(LBFGS)"
    state = opt.init(params)
    if not torch_state:
        return state
    entry = torch_state[ids[0]]  # torch keeps LBFGS's state under its first parameter
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    shapes = {leaf_name(path): leaf.shape for path, leaf in leaves}
    torch_order = [names[i] for i in ids]
    sizes = [int(np.prod(shapes[n])) for n in torch_order]
    offsets = dict(zip(torch_order, np.cumsum([0] + sizes[:-1])))
    fnet_order = [leaf_name(path) for path, _ in leaves]
    perm = np.concatenate([np.arange(offsets[n], offsets[n] + int(np.prod(shapes[n]))) for n in fnet_order])

    def vector(x):
        v = _to_numpy(x).reshape(-1)
        if v.shape[0] != perm.shape[0]:
            raise ValueError(f"{where}: expected flat vectors of {perm.shape[0]} entries, got {v.shape[0]}")
        return jnp.asarray(v[perm], state.d.dtype)

    old_dirs, old_stps, ro = entry.get("old_dirs", []), entry.get("old_stps", []), entry.get("ro", [])
    if len(old_dirs) > opt.history_size:
        raise ValueError(f"{where}: torch's history holds {len(old_dirs)} pairs, more than history_size="
                         f"{opt.history_size}")
    dirs, stps, ros = np.array(state.old_dirs), np.array(state.old_stps), np.array(state.ro)
    for i, (y, s, r) in enumerate(zip(old_dirs, old_stps, ro)):
        dirs[i], stps[i], ros[i] = np.asarray(vector(y)), np.asarray(vector(s)), float(_to_numpy(r))
    scalar = lambda x, default: jnp.asarray(default if x is None else float(_to_numpy(x)), state.d.dtype)  # noqa: E731
    return state._replace(
        func_evals=jnp.int32(entry.get("func_evals", 0)), n_iter=jnp.int32(entry.get("n_iter", 0)),
        d=vector(entry["d"]) if "d" in entry else state.d, t=scalar(entry.get("t"), 0.0),
        old_dirs=jnp.asarray(dirs), old_stps=jnp.asarray(stps), ro=jnp.asarray(ros),
        num_old=jnp.int32(len(old_dirs)), H_diag=scalar(entry.get("H_diag"), 1.0),
        prev_flat_grad=vector(entry["prev_flat_grad"]) if "prev_flat_grad" in entry else state.prev_flat_grad,
        prev_loss=scalar(entry.get("prev_loss"), 0.0))


def load_state_dict(optimizer: Any, state_dict: Mapping[str, Any], params: Any, *, model: Any = None,
                    param_names: Sequence[str] | None = None, step: int | None = None) -> Any:
    """The fnet optimizer state equivalent to a torch optimizer's ``state_dict()``.

    Args:
        optimizer: the fnet optimizer (``fnet.optim.Adam(...)``, also inside
            ``optax.inject_hyperparams``/``optax.chain``, with ``param_groups``, or an
            :class:`~fnet.optim.LBFGS`) built with the torch optimizer's hyperparameters.
        state_dict: ``torch_optimizer.state_dict()`` (or ``torch.load`` of one).
        params: the parameter tree the state is for (names are torch's state_dict keys).
        model: the fnet module, to number the parameters as torch's
            ``model.parameters()`` does (one param group).
        param_names: instead of ``model``: the parameters' names in the order torch's
            optimizer was given them (across its param groups). Neither is needed when
            the torch optimizer was built from ``model.named_parameters()``.
        step: the number of steps taken, for the step counts fnet keeps where torch
            keeps none (SGD's schedules, Muon's); torch's own ``step`` is used otherwise.

    Returns:
        ``optimizer.init(params)`` with every buffer torch had filled in (moments,
        momentum buffers, accumulators, step counts), ready for the next ``update``.

    Raises:
        ValueError: a parameter is missing from torch's state or has another shape, the
            names cannot be matched, or torch's steps differ between parameters.

    PyTorch equivalent: ``optimizer.load_state_dict(state_dict)``.
    """
    where = "load_state_dict"
    if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
        raise TypeError(f"{where}: expected a torch optimizer state_dict with 'state' and 'param_groups', "
                        f"got {type(state_dict).__name__}"
                        + (f" with keys {sorted(state_dict)[:5]}" if isinstance(state_dict, Mapping) else ""))
    if not isinstance(params, Mapping):
        raise TypeError(f"{where}: expected params to be a parameter tree (nested dict), got {type(params).__name__}")
    known = {leaf_name(path) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]}
    ids = [i for g in state_dict["param_groups"] for i in g["params"]]
    names = _param_names(state_dict, ids, param_names, model, known)
    torch_state = state_dict["state"]
    if isinstance(optimizer, LBFGS):
        return _load_lbfgs(optimizer, torch_state, params, names, ids)
    if not hasattr(optimizer, "init"):
        raise TypeError(f"{where}: expected an fnet optimizer (an optax GradientTransformation), got "
                        f"{type(optimizer).__name__}")
    by_name = {n: {} for n in known}
    for i, entry in torch_state.items():
        if i not in names:
            raise ValueError(f"{where}: torch's state has parameter id {i!r}, which no param group lists")
        by_name[names[i]] = entry
    torch_step = _torch_step(torch_state, where)
    filler = _Filler(by_name, torch_step if step is None else int(step), where)
    return filler.walk(optimizer.init(params))
