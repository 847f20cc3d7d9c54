"""Training checkpoints: every process writes its own shards, keyed by tree path; process 0
commits after a barrier; the newest complete checkpoint is never pruned.

Layout of ``checkpoint_dir``::

    latest.json                         {"run": "0a1b2c3d", "step": 12, "checkpoint": "checkpoint-000000012-0a1b2c3d"}
    checkpoint-000000012-0a1b2c3d/      complete (renamed into place only once complete)
        manifest.json                   step, run, every leaf's path, shape and dtype, the optimizer's
                                        node types, what resuming depends on, the history
        process-00000-of-00002.safetensors   the shards process 0 holds (replica 0 only), named
        process-00001-of-00002.safetensors   "<tree>/<leaf path>|<index>", e.g. "params/fc1.weight|0:32,0:64"
    checkpoint-000000015-0a1b2c3d.<8 chars>.tmp/   one being written (or a killed writer's)
    fit.lock                            held (flock) by the fit that writes here

Saving: each process writes the shards it holds into the temporary folder (no
collective moves any data), all processes meet at a barrier, then process 0 writes
``manifest.json``, renames the folder into place (the commit), points ``latest.json``
at it and prunes. Pruning touches only checkpoints of the same run (a ``fit`` with
``resume=False`` starts a new run and never deletes an earlier run's checkpoints)
and never the newest. A killed save leaves a ``.tmp`` folder that the next ``fit``
removes while holding the folder's lock.

Restoring reads leaves by name: ``params/fc1.weight`` of the checkpoint goes to
``fc1.weight`` of the model, ``opt_state/[0].mu['fc1']['weight']`` to the same path of
the optimizer state; an optimizer with other node types or paths, a model with other
names, shapes or dtypes, or a loader with another batch size or dataset length is
refused with a :class:`ResumeError` that lists what differs. Each process reads only
the regions its devices hold under the current sharding (``jax.make_array_from_callback``),
so a checkpoint written by 2 processes under FSDP restores in 1 process, or on another
mesh, and vice versa. The folder must be visible to every process (a shared file system).

Why this design rather than orbax-checkpoint's ``CheckpointManager``: measured with
orbax-checkpoint 0.12.8 (what pip resolves for jax 0.10.2; it requires ``jax>=0.6``, so
it would not narrow fnet's jax range): (1) ``CheckpointManager.save`` silently returns
False and writes nothing for a step lower than the newest one in the folder, and its
``max_to_keep`` prunes by step across every run in the folder, the two behaviours
that lost checkpoints here (a restarted run's steps are lower than the earlier run's);
wrapping it per run would still leave fnet's own pointer, locking and resume checks to
write. (2) A restore into an optimizer with another structure fails with "tree
structures do not match: opt: Source (list, 3) Target (list, 2)", naming neither the
node types nor the leaves. (3) It adds tensorstore (66 MB), uvloop, protobuf and
prometheus-client to fnet's dependencies, 0.5 s of import, and ~110 ms per save of a
two-tensor tree on this CPU (async threads, OCDBT), where this module writes one
safetensors file per process with fnet's own checked writer and reader. The design is
the one orbax uses (per-process shards keyed by tree path, a barrier, an atomic commit
by process 0); the files are plain safetensors.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import time
from typing import Any, Iterator, Mapping, NamedTuple

import jax
import numpy as np

from .. import _files, _tree
from .._checks import fmt_shape
from .._safetensors import CheckpointError, aligned_empty, open_checked, read_tensor, save_file

__all__ = ["latest_checkpoint", "load_checkpoint", "ResumeError", "CheckpointError", "TrainingCheckpoint"]

FORMAT = "fnet.train.checkpoint/1"
LATEST = "latest.json"
MANIFEST = "manifest.json"
LOCK = "fit.lock"
TREES = ("params", "state", "opt_state")
_CHECKPOINT = re.compile(r"checkpoint-(\d{9})-([0-9a-f]{8})")
_TEMPORARY = re.compile(r"(checkpoint-\d{9}-[0-9a-f]{8}|latest\.json)\.[a-z0-9_]{8}\.tmp")


class ResumeError(ValueError):
    """A checkpoint does not fit the run that would resume from it (says what changed)."""


class TrainingCheckpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    params: Any
    state: Any
    opt_state: Any
    step: int
    history: dict[str, list]
    path: str


# -- names ---------------------------------------------------------------------------------------

def _leaf_name(path: tuple) -> str:
    if path and all(isinstance(k, jax.tree_util.DictKey) for k in path):
        return ".".join(str(k.key) for k in path)  # a nested dict: the torch name
    return jax.tree_util.keystr(path)


def leaves(tree: Any) -> dict[str, Any]:
    """``{path: leaf}`` in ``jax.tree.leaves`` order: torch names for nested dicts
    (``fc1.weight``), ``keystr`` paths otherwise (``[0].mu['fc1']['weight']``)."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    named = {_leaf_name(path): leaf for path, leaf in flat}
    if len(named) != len(flat):
        raise ValueError("fit: two leaves of a tree have the same name (a dict key containing '.' next to a "
                         "nested dict of the same path); a checkpoint could keep only one of them")
    return named


def node_types(tree: Any) -> list[str]:
    """``"path: Type"`` for every container of ``tree`` that is not a dict (optimizer states)."""

    def walk(treedef, path: str) -> Iterator[str]:
        data = treedef.node_data()
        if data is None:
            return
        kind, aux = data
        children = treedef.children()
        if kind is not dict:
            yield f"{path or '(root)'}: {kind.__name__}"
        if kind is dict:
            names = [f"[{k!r}]" for k in aux]
        elif hasattr(kind, "_fields"):
            names = [f".{f}" for f in kind._fields]
        else:
            names = [f"[{i}]" for i in range(len(children))]
        for name, child in zip(names, children):
            yield from walk(child, path + name)

    return list(walk(jax.tree.structure(tree), ""))


def _spec(leaf: Any) -> dict:
    dtype = leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype
    return {"shape": [int(s) for s in np.shape(leaf)], "dtype": str(dtype)}


def describe(trees: Mapping[str, Any]) -> dict:
    """The manifest's description of the trees: leaves (path -> shape, dtype) and node types."""
    return {name: {"leaves": {path: _spec(leaf) for path, leaf in leaves(tree).items()},
                   "nodes": node_types(tree)} for name, tree in trees.items()}


def _index_text(index: tuple[slice, ...], shape: tuple[int, ...]) -> str:
    return ",".join(f"{s.start or 0}:{dim if s.stop is None else s.stop}" for s, dim in zip(index, shape))


def _parse_index(text: str, shape: tuple[int, ...]) -> tuple[slice, ...]:
    if not shape:
        return ()
    parts = [p.split(":") for p in text.split(",")]
    return tuple(slice(int(a), int(b)) for a, b in parts)


# -- what resuming depends on -----------------------------------------------------------------------

def loader_conditions(loader: Any) -> dict[str, Any]:
    """The loader settings a resumed run must share with the one that saved."""
    conditions: dict[str, Any] = {"steps_per_epoch": len(loader)}
    dataset = getattr(loader, "dataset", None)
    if dataset is not None and hasattr(dataset, "__len__"):
        conditions["dataset_length"] = len(dataset)
    for name in ("batch_size", "shuffle", "seed", "drop_last"):
        if hasattr(loader, name) and isinstance(getattr(loader, name), (int, bool, float, str)):
            conditions[name] = getattr(loader, name)
    return conditions


def _differences(manifest: dict, trees: dict, conditions: dict) -> list[str]:
    """How this run (``describe(...)`` of its trees, its conditions) differs from a manifest."""
    lines = []
    for name, value in manifest.get("conditions", {}).items():
        if name in conditions and conditions[name] != value:
            lines.append(f"{name}: {value!r} in the checkpoint, {conditions[name]!r} now")
    for tree, new in trees.items():
        old = manifest["trees"].get(tree, {"leaves": {}, "nodes": []})
        old_leaves, new_leaves = old["leaves"], new["leaves"]
        missing = [p for p in new_leaves if p not in old_leaves]
        extra = [p for p in old_leaves if p not in new_leaves]
        if missing:
            lines.append(f"{tree}: this run has {_some(missing)}, which the checkpoint lacks")
        if extra:
            lines.append(f"{tree}: the checkpoint has {_some(extra)}, which this run lacks")
        for path, spec in new_leaves.items():
            if path in old_leaves and old_leaves[path] != spec:
                was = old_leaves[path]
                lines.append(f"{tree} {path}: {was['dtype']} {fmt_shape(was['shape'])} in the checkpoint, "
                             f"{spec['dtype']} {fmt_shape(spec['shape'])} now")
        if old["nodes"] != new["nodes"]:
            gone = [n for n in old["nodes"] if n not in new["nodes"]]
            added = [n for n in new["nodes"] if n not in old["nodes"]]
            parts = ([f"checkpoint only: {_some(gone)}"] if gone else []) + (
                [f"this run only: {_some(added)}"] if added else [])
            lines.append(f"{tree} structure differs ({'; '.join(parts) or 'the same nodes in another order'})")
    return lines


def _some(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# -- reading the folder -------------------------------------------------------------------------------

def _read_json(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{what} {path!r} is corrupt ({type(err).__name__}: {err})") from None


def committed(directory: str, run: str | None = None) -> list[tuple[int, str, str]]:
    """Complete checkpoints ``(step, run, folder name)`` in ``directory``, oldest step first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        match = _CHECKPOINT.fullmatch(name)
        if match and (run is None or match.group(2) == run) and os.path.isdir(os.path.join(directory, name)):
            found.append((int(match.group(1)), match.group(2), name))
    return sorted(found)


def latest_checkpoint(directory: str | os.PathLike) -> dict | None:
    """The checkpoint ``fit(checkpoint_dir=directory, resume=True)`` resumes from, or None.

    Returns:
        ``{"step", "run", "checkpoint", "path"}`` of the newest complete checkpoint of
        the run ``latest.json`` names (newer than the pointer when a save was cut
        between its commit and the pointer's update), or None for a folder without
        checkpoints.

    Raises:
        CheckpointError: ``latest.json`` is corrupt or points to a checkpoint that is
            missing (the message lists the complete checkpoints present).
    """
    directory = os.fspath(directory)
    pointer_path = os.path.join(directory, LATEST)
    present = committed(directory)
    listing = ", ".join(name for _, _, name in present) or "none"
    try:
        pointer = _read_json(pointer_path, "fit: the checkpoint pointer")
    except FileNotFoundError:
        if not present:
            return None
        # Cut between the first commit and the first pointer: the newest complete one.
        times = []
        for step, run, name in present:
            with contextlib.suppress(FileNotFoundError, CheckpointError):
                times.append((_read_json(os.path.join(directory, name, MANIFEST), "manifest").get("time", 0), step,
                              run, name))
        if not times:
            return None
        _, step, run, name = max(times)
        return {"step": step, "run": run, "checkpoint": name, "path": os.path.join(directory, name)}
    except CheckpointError as err:
        raise CheckpointError(f"{err}; complete checkpoints in that folder: {listing} (delete latest.json to "
                              f"resume from the newest one, or pass resume=False)") from None
    if not (isinstance(pointer, dict) and isinstance(pointer.get("run"), str) and isinstance(pointer.get("step"), int)
            and isinstance(pointer.get("checkpoint"), str)):
        raise CheckpointError(f"fit: the checkpoint pointer {pointer_path!r} is corrupt: expected an object with "
                              f"run, step and checkpoint, got {json.dumps(pointer)[:200]}; complete checkpoints "
                              f"in that folder: {listing}")
    run = pointer["run"]
    mine = committed(directory, run)
    if not any(name == pointer["checkpoint"] for _, _, name in mine):
        raise CheckpointError(f"fit: {pointer_path!r} points to {pointer['checkpoint']!r}, which is missing from "
                              f"{directory!r}; complete checkpoints there: {listing} (delete latest.json to resume "
                              f"from the newest one, or pass resume=False)")
    step, _, name = mine[-1]
    return {"step": step, "run": run, "checkpoint": name, "path": os.path.join(directory, name)}


def read_manifest(path: str) -> dict:
    manifest_path = os.path.join(path, MANIFEST)
    try:
        manifest = _read_json(manifest_path, "fit: the checkpoint manifest")
    except FileNotFoundError:
        raise CheckpointError(f"fit: {path!r} has no {MANIFEST}: not a complete fnet training checkpoint") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"fit: {manifest_path!r} is not an {FORMAT} manifest (format "
                              f"{manifest.get('format') if isinstance(manifest, dict) else None!r})")
    return manifest


# -- restoring ----------------------------------------------------------------------------------------

class _Shards:
    """Every stored shard of a checkpoint, by tree and leaf path, read on demand."""

    def __init__(self, path: str, manifest: dict):
        self.path = path
        self.where: dict[str, list[tuple[tuple[slice, ...], str, Any]]] = {}
        self.handles = {}
        self.last: tuple[Any, np.ndarray] | None = None  # devices of one array overlap the same shards
        for file in manifest["files"]:
            file_path = os.path.join(path, file)
            if not os.path.exists(file_path):
                self.close()
                raise CheckpointError(f"fit: {path!r} lacks {file}, which its manifest lists (written by "
                                      f"another process; the folder must be shared by every process)")
            handle, header = open_checked(file_path)
            self.handles[file] = (handle, file_path)
            for name, entry in header.entries.items():
                leaf, _, index = name.rpartition("|")
                self.where.setdefault(leaf, []).append((_parse_index(index, entry.shape), file, entry))

    def close(self) -> None:
        for handle, _ in self.handles.values():
            handle.close()

    def region(self, leaf: str, shape: tuple[int, ...], dtype: np.dtype, index: tuple[slice, ...]) -> np.ndarray:
        """The values of ``leaf[index]`` assembled from the shards that overlap it."""
        index = tuple(slice(*s.indices(d)[:2]) for s, d in zip(index, shape))
        out = aligned_empty(tuple(s.stop - s.start for s in index), dtype)
        covered = 0
        for stored, file, entry in self.where.get(leaf, []):
            overlap = tuple(slice(max(a.start, b.start), min(a.stop, b.stop)) for a, b in zip(index, stored))
            if any(s.start >= s.stop for s in overlap):
                continue
            if entry.dtype != dtype:
                raise CheckpointError(f"fit: {self.path!r}: {leaf} is stored as {entry.dtype}, expected {dtype}")
            if self.last is None or self.last[0] is not entry:
                handle, file_path = self.handles[file]
                self.last = (entry, read_tensor(handle, entry, file_path))
            data = self.last[1]
            out[tuple(slice(o.start - i.start, o.stop - i.start) for o, i in zip(overlap, index))] = \
                data[tuple(slice(o.start - s.start, o.stop - s.start) for o, s in zip(overlap, stored))]
            covered += math.prod(s.stop - s.start for s in overlap)
        if covered != out.size:
            raise CheckpointError(f"fit: {self.path!r}: the shard files hold {covered} of the {out.size} values of "
                                  f"{leaf} (a process's file is incomplete or from another checkpoint)")
        return out


def restore(path: str, manifest: dict, templates: Mapping[str, Any], shardings: Mapping[str, Any]) -> dict:
    """Reads the trees ``templates`` describe (arrays or ShapeDtypeStructs) by leaf path.

    ``shardings[tree]`` is a matching tree of shardings, or None for the default device.
    """
    shards = _Shards(path, manifest)
    try:
        out = {}
        for tree_name, template in templates.items():
            named = leaves(template)
            flat, treedef = list(named.values()), jax.tree.structure(template)
            paths = list(named)
            targets = jax.tree.leaves(shardings[tree_name]) if shardings.get(tree_name) is not None else None
            arrays = []
            for i, (leaf_path, leaf) in enumerate(zip(paths, flat)):
                name, shape, dtype = f"{tree_name}/{leaf_path}", tuple(np.shape(leaf)), np.dtype(leaf.dtype)
                if targets is None:
                    arrays.append(jax.device_put(shards.region(name, shape, dtype, tuple(slice(None) for _ in shape))))
                else:
                    arrays.append(jax.make_array_from_callback(
                        shape, targets[i], lambda index, n=name, s=shape, d=dtype: shards.region(n, s, d, index)))
            out[tree_name] = jax.tree.unflatten(treedef, arrays)
        return out
    finally:
        shards.close()


def load_checkpoint(directory: str | os.PathLike, model: Any, optimizer: Any = None, *, plan: Any = None
                    ) -> TrainingCheckpoint:
    """Reads the checkpoint ``fit`` would resume from in ``directory``, in this process.

    Args:
        directory: a ``fit`` ``checkpoint_dir`` (its newest checkpoint is read) or one
            ``checkpoint-<step>-<run>`` folder.
        model: the model (names, shapes and dtypes of parameters and buffers).
        optimizer: the optax transformation whose state was saved (None: not read).
        plan: a :class:`fnet.sharding.ShardingPlan` to place the arrays by (default:
            the default device). A checkpoint written by several processes or on
            another mesh restores here.

    Raises:
        CheckpointError: no checkpoint, or a corrupt one.
        ResumeError: the model or optimizer does not fit the checkpoint (what differs).
    """
    from ..io import model_shapes

    directory = os.fspath(directory)
    if os.path.exists(os.path.join(directory, MANIFEST)):
        path = directory
    else:
        entry = latest_checkpoint(directory)
        if entry is None:
            raise CheckpointError(f"load_checkpoint: no training checkpoint in {directory!r}")
        path = entry["path"]
    manifest = read_manifest(path)
    shapes = model_shapes(model)
    templates = {"params": _tree.unflatten(shapes[0]), "state": _tree.unflatten(shapes[1])}
    if optimizer is not None:
        templates["opt_state"] = jax.eval_shape(optimizer.init, templates["params"])
    check_fits(manifest, templates, {}, path)
    shardings = {}
    if plan is not None:
        shardings = {"params": plan.param_shardings(templates["params"]),
                     "state": plan.param_shardings(templates["state"])}
        if optimizer is not None:
            shardings["opt_state"] = plan.opt_state_shardings(templates["opt_state"], templates["params"])
    trees = restore(path, manifest, templates, shardings)
    return TrainingCheckpoint(trees["params"], trees["state"], trees.get("opt_state"), manifest["step"],
                              manifest["progress"]["history"], path)


def check_fits(manifest: dict, templates: Mapping[str, Any], conditions: dict, path: str) -> None:
    """Raises :class:`ResumeError` listing every difference between the checkpoint and this run."""
    lines = _differences(manifest, describe(templates), conditions)
    if lines:
        raise ResumeError(f"fit: cannot resume from {path!r} (step {manifest['step']}): it was written by a run "
                          f"that differs from this one:\n\t" + "\n\t".join(lines)
                          + "\nResume with the same model, optimizer and loader, or pass resume=False to start "
                            "a new run (the checkpoints already in the folder are kept).")


# -- writing --------------------------------------------------------------------------------------------

def barrier(name: str) -> None:
    """All processes meet here (a no-op with one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def agree(values: list[int]) -> list[int]:
    """Process 0's values (small non-negative ints), on every process."""
    if jax.process_count() == 1:
        return values
    from jax.experimental import multihost_utils

    return [int(v) for v in np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(values, np.int32)))]


class CheckpointWriter:
    """Writes the checkpoints of one run of ``fit`` into ``directory``."""

    def __init__(self, directory: str, run: str, keep: int | None, conditions: dict):
        self.directory = directory
        self.run = run
        self.keep = keep
        self.conditions = conditions

    def save(self, step: int, trees: Mapping[str, Any], progress: dict) -> str:
        """Writes and commits the checkpoint of ``step``; returns its folder (on every process)."""
        name = f"checkpoint-{step:09d}-{self.run}"
        token = hashlib.sha256(f"{self.run}/{step}".encode()).hexdigest()[:8]
        final = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, f"{name}.{token}.tmp")
        count, index = jax.process_count(), jax.process_index()
        os.makedirs(tmp, exist_ok=True)
        tensors = {}
        for tree_name, tree in trees.items():
            for leaf_path, leaf in leaves(tree).items():
                key = f"{tree_name}/{leaf_path}"
                if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                    raise TypeError(f"fit: cannot checkpoint {key}: it holds PRNG keys ({leaf.dtype}); "
                                    f"store jax.random.key_data(key) instead")
                if isinstance(leaf, jax.Array) and not (leaf.is_fully_addressable and count > 1):
                    for shard in leaf.addressable_shards:
                        if shard.replica_id == 0:
                            tensors[f"{key}|{_index_text(shard.index, leaf.shape)}"] = shard.data
                elif index == 0:  # host values, and arrays every process holds whole: process 0 writes them
                    value = np.asarray(leaf)
                    tensors[f"{key}|{_index_text(tuple(slice(None) for _ in value.shape), value.shape)}"] = value
        files = [f"process-{i:05d}-of-{count:05d}.safetensors" for i in range(count)]
        save_file(tensors, os.path.join(tmp, files[index]), {"producer": "fnet.train"})
        barrier(f"fnet.train checkpoint {step} written")
        if index == 0:
            manifest = {"format": FORMAT, "run": self.run, "step": step, "time": time.time(),
                        "processes": count, "files": files, "trees": describe(trees),
                        "conditions": self.conditions, "progress": progress}
            with _files.atomic_write(os.path.join(tmp, MANIFEST), "w") as handle:
                json.dump(manifest, handle)
            _files.fsync_directory(tmp)
            if os.path.exists(final):  # the same run saved this step before (a resumed attempt)
                _remove(self.directory, name)
            os.rename(tmp, final)  # the commit
            _files.fsync_directory(self.directory)
            with _files.atomic_write(os.path.join(self.directory, LATEST), "w") as handle:
                json.dump({"format": FORMAT, "run": self.run, "step": step, "checkpoint": name}, handle)
            self.prune()
        return final

    def prune(self) -> None:
        """Keeps this run's ``keep`` newest checkpoints; never another run's, never the newest."""
        if not self.keep:
            return
        mine = committed(self.directory, self.run)
        for _, _, name in mine[:-self.keep]:
            _remove(self.directory, name)


def _remove(directory: str, name: str) -> None:
    """Deletes a checkpoint folder so that a kill half-way never leaves a half-deleted one
    that looks complete: it is first renamed to a temporary name (cleaned up later)."""
    doomed = os.path.join(directory, f"{name}.{secrets.token_hex(4)}.tmp")
    os.rename(os.path.join(directory, name), doomed)
    _files.fsync_directory(directory)
    shutil.rmtree(doomed, ignore_errors=True)


@contextlib.contextmanager
def folder_lock(directory: str) -> Iterator[None]:
    """Process 0 holds ``fit.lock`` while training; another ``fit`` on the folder is refused."""
    if jax.process_index() != 0:
        yield
        return
    os.makedirs(directory, exist_ok=True)
    fd = os.open(os.path.join(directory, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if _files.try_lock(fd) is False:
            raise CheckpointError(f"fit: another fit is training with checkpoint_dir={directory!r} (it holds "
                                  f"{os.path.join(directory, LOCK)!r}); give each run its own folder")
        # With the lock held no other fit writes here: every temporary is a dead writer's.
        _files.clean_stale_temporaries(directory, pattern=_TEMPORARY, min_age=0.0)
        yield
    finally:
        os.close(fd)


def new_run_id() -> str:
    """Eight hex digits below 2**31 (so that process 0 can broadcast it as an int32)."""
    return f"{secrets.randbelow(2 ** 31):08x}"
