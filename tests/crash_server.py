"""Crash scenarios for ``tests/test_faults_kill.py``: forked children that SIGKILL themselves.

Run as a script, it imports fnet once and then, for each JSON line on stdin
(``{"scenario": "save" | "fit", "args": {...}}``), forks a child that runs the scenario
and kills itself with SIGKILL at the requested point (no ``finally``, no ``atexit``, no
flush: what a power cut or the OOM killer leaves), and answers one JSON line
(``{"signal": 9}`` or ``{"exit": code}``). Forking from a process that has imported
JAX but not started its backend is safe, and makes each kill cost milliseconds plus the
scenario's own work, instead of a new interpreter. Compiled programs are shared between
children through JAX's persistent compilation cache.

Imported as a module (the tests load it by path), it only provides :func:`setup` and
:func:`run_fit`, so that the test process trains exactly what the children train.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback


def setup():
    """The model, loader, initial trees and optimizer every fit scenario trains."""
    import jax
    import optax

    from fnet import data as D
    from fnet import nn

    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    ds = D.make_classification(48, n_features=4, n_classes=3, separation=4.0, seed=3)
    loader = D.DataLoader(ds, batch_size=8, shuffle=True, seed=0)  # 6 steps per epoch
    params, state = model.init(jax.random.key(0))
    return model, loader, params, state, optax.adam(0.01)


def run_fit(directory, epochs=2, **kw):
    """12 steps; checkpoints (when ``directory``) at steps 4, 8 and 12, the 2 newest kept."""
    import fnet.functional as F
    from fnet import train

    model, loader, params, state, opt = setup()
    return train.fit(model, params, state, opt, loader, F.cross_entropy, epochs=epochs, progress=False,
                     checkpoint_dir=directory, checkpoint_every=4, **kw)


def save_tensors(seed: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    return {"a": rng.standard_normal((64, 32)).astype(np.float32), "b": rng.standard_normal(32).astype(np.float32),
            "c": rng.integers(0, 9, (16, 16)).astype(np.int64), "d": rng.standard_normal((8, 8)).astype(np.float32)}


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _patch(owner, name, when, after=False):
    """Makes ``owner.name`` SIGKILL the process on the calls for which ``when(*args)`` is true
    (before the real call runs, or just after it with ``after=True``)."""
    real = getattr(owner, name)

    def patched(*args, **kwargs):
        if not after and when(*args, **kwargs):
            _die()
        result = real(*args, **kwargs)
        if after and when(*args, **kwargs):
            _die()
        return result

    setattr(owner, name, patched)


def _counter():
    count = [0]

    def tick(*args, **kwargs):
        count[0] += 1
        return count[0]

    return tick


def scenario_save(path: str, point: str, seed: int = 1) -> None:
    """``fnet.save`` over an existing checkpoint, killed at ``point``."""
    import tempfile

    import fnet
    from fnet import _files, _safetensors

    if point == "created":  # the temporary exists, nothing written yet
        _patch(tempfile, "mkstemp", lambda *a, **k: True, after=True)
    elif point.startswith("tensor:"):
        tick, n = _counter(), int(point.split(":")[1])
        _patch(_safetensors, "write_tensor", lambda *a: tick() == n)
    elif point == "fsync":
        _patch(os, "fsync", lambda *a: True)
    elif point == "replace":
        _patch(os, "replace", lambda *a: True)
    elif point == "replaced":  # renamed, the directory not yet fsynced
        _patch(_files, "fsync_directory", lambda *a: True)
    fnet.save(path, save_tensors(seed))


def scenario_fit(directory: str, point: str) -> None:
    """``run_fit`` killed at ``point``: ``step:N`` before step N, or inside the Nth checkpoint
    save at ``shard:N`` (writing this process's shards), ``manifest:N`` (before the
    manifest), ``commit:N`` (after the folder's rename, before the pointer), ``pointer:N``
    (half-way through writing latest.json), ``prune:N`` (a doomed folder renamed, not yet
    deleted)."""
    import shutil

    from fnet import _files, _safetensors
    from fnet.train import _checkpoint, _fit

    kind, n = point.split(":")
    n = int(n)
    saves = [0]
    real_save = _checkpoint.CheckpointWriter.save

    def counting_save(self, *args, **kwargs):
        saves[0] += 1
        return real_save(self, *args, **kwargs)

    _checkpoint.CheckpointWriter.save = counting_save
    in_save = lambda: saves[0] == n  # noqa: E731
    if kind == "step":
        real_step = _fit._Loop._step

        def step(self, *args):
            if self.step == n:
                _die()
            return real_step(self, *args)

        _fit._Loop._step = step
    elif kind == "shard":
        tick = _counter()
        _patch(_safetensors, "write_tensor", lambda *a: in_save() and tick() == 3)
    elif kind == "manifest":
        _patch(_files, "atomic_write", lambda path, *a: in_save() and str(path).endswith("manifest.json"))
    elif kind == "commit":
        _patch(os, "rename", lambda src, dst: in_save() and ".tmp" in src and ".tmp" not in dst, after=True)
    elif kind == "pointer":
        real_dump = json.dump

        def dump(obj, handle, *args, **kwargs):
            if in_save() and isinstance(obj, dict) and "checkpoint" in obj:  # the pointer, not the manifest
                handle.write(json.dumps(obj)[:20])
                handle.flush()
                _die()
            return real_dump(obj, handle, *args, **kwargs)

        json.dump = dump
    elif kind == "prune":
        _patch(shutil, "rmtree", lambda *a, **k: in_save())
    run_fit(directory)


def main() -> None:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_num_cpu_devices", 8)  # as tests/conftest.py: the same programs as the tests
    jax.config.update("jax_compilation_cache_dir", sys.argv[1])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    import optax  # noqa: F401 - imported once here, not in every child

    import fnet  # noqa: F401
    import fnet.train  # noqa: F401

    scenarios = {"save": scenario_save, "fit": scenario_fit}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                log = os.open(request["args"].pop("log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(log, 1)
                os.dup2(log, 2)
                scenarios[request["scenario"]](**request["args"])
            except BaseException:  # noqa: BLE001 - reported through the log and the exit code
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        answer = ({"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)})
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
