"""Fault table, part 2: SIGKILL during ``fnet.save`` and during ``fit``.

Each row kills a real process (a child forked by ``tests/crash_server.py``, which imported
fnet once) at one point of a save or of training, then checks what a restart finds: the
previous checkpoint intact (or the new one complete), no checkpoint that was already
committed lost, the pointer valid, the dead writer's temporaries removed by the next save
or ``fit``, and training resumed from the last complete checkpoint ending bit-identical to
an uninterrupted run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import fnet
from fnet import _files
from fnet import train as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "tests", "crash_server.py")
_spec = importlib.util.spec_from_file_location("crash_server", SERVER)
crash_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crash_server)


@pytest.fixture(scope="module")
def crash(tmp_path_factory):
    """``crash(scenario, **args) -> {"signal": 9} | {"exit": code}``, run in a forked child."""
    cache = tmp_path_factory.mktemp("xla-cache")
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    server = subprocess.Popen([sys.executable, SERVER, str(cache)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT)
    logs = tmp_path_factory.mktemp("crash-logs")

    def read_line(timeout: float) -> dict:
        ready, _, _ = select.select([server.stdout], [], [], timeout)
        if not ready:
            server.kill()
            pytest.fail(f"crash server gave no answer within {timeout} s")
        line = server.stdout.readline()
        if not line:
            pytest.fail("crash server exited")
        return json.loads(line)

    assert read_line(180) == {"ready": True}
    count = [0]

    def run(scenario: str, **args) -> dict:
        count[0] += 1
        log = logs / f"{count[0]}-{scenario}.log"
        server.stdin.write(json.dumps({"scenario": scenario, "args": {**args, "log": str(log)}}) + "\n")
        server.stdin.flush()
        answer = read_line(300)
        answer["log"] = log.read_text() if log.exists() else ""
        return answer

    yield run
    server.stdin.close()
    server.wait(timeout=60)


def _age(path, seconds: float = 60.0) -> None:
    """Makes a temporary look ``seconds`` old (the clean-up's grace period is 10 s)."""
    then = time.time() - seconds
    for root, _, files in os.walk(path):
        for f in files:
            os.utime(os.path.join(root, f), (then, then))
    os.utime(path, (then, then))


def _temporaries(directory) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


# -- fnet.save -------------------------------------------------------------------------------------------

SAVE_POINTS = [
    ("created", "old"),    # the temporary exists, empty
    ("tensor:3", "old"),   # half of the data written
    ("fsync", "old"),      # all data written, not yet durable
    ("replace", "old"),    # durable, not yet renamed
    ("replaced", "new"),   # renamed, the directory not yet fsynced
]


@pytest.mark.parametrize("point,survivor", SAVE_POINTS, ids=[p[0] for p in SAVE_POINTS])
def test_save_killed_keeps_a_complete_checkpoint_and_the_next_save_cleans_up(crash, tmp_path, point, survivor):
    path = tmp_path / "model.safetensors"
    old, new = crash_server.save_tensors(0), crash_server.save_tensors(1)
    fnet.save(path, old)
    answer = crash("save", path=str(path), point=point)
    assert answer.get("signal") == 9, answer
    loaded = fnet.io.read_checkpoint(path)
    for name, value in (old if survivor == "old" else new).items():
        np.testing.assert_array_equal(loaded[name], value)
    leftovers = _temporaries(tmp_path)
    assert len(leftovers) == (0 if survivor == "new" else 1), leftovers
    if leftovers:
        assert _files.temporary_pattern("model.safetensors").fullmatch(leftovers[0])
        fnet.save(path, new)  # a young temporary may be a writer that just started: kept
        assert _temporaries(tmp_path) == leftovers
        _age(tmp_path / leftovers[0])
    fnet.save(path, old)  # the dead writer's temporary (unlocked, old) goes now
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_clean_up_touches_only_fnets_pattern_and_never_a_live_writer(tmp_path):
    import fcntl

    names = ["model.safetensors.abcd1234.tmp", "model.safetensors.tmp", "model.safetensors.ABCD1234.tmp",
             "model.safetensors.abcd123.tmp", "other.safetensors.abcd1234.tmp", "model.safetensors.abcd1234.tmp.1",
             "model.safetensors.live_123.tmp"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
        _age(tmp_path / name)
    with open(tmp_path / "model.safetensors.live_123.tmp", "rb") as live:
        fcntl.flock(live, fcntl.LOCK_EX)
        removed = _files.clean_stale_temporaries(str(tmp_path), "model.safetensors")
    assert [os.path.basename(p) for p in removed] == ["model.safetensors.abcd1234.tmp"]
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:])


# -- fit ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def step():
    """The step fit builds, compiled once for every resume in this module."""
    import fnet.functional as F

    model, _, _, _, opt = crash_server.setup()
    return T.make_train_step(model, F.cross_entropy, opt, check_finite=True, check_values=True)


@pytest.fixture(scope="module")
def reference(step):
    return crash_server.run_fit(None, train_step=step)


# point, the step latest_checkpoint gives after the kill, the committed steps that must be there
FIT_POINTS = [
    ("step:6", 4, [4]),            # training, between checkpoints
    ("shard:1", None, []),         # inside the first save: nothing committed yet
    ("shard:2", 4, [4]),           # writing shards of step 8
    ("manifest:2", 4, [4]),        # shards of step 8 written, no manifest
    ("commit:2", 8, [4, 8]),       # step 8 renamed into place, latest.json still says 4
    ("pointer:2", 8, [4, 8]),      # half of the new latest.json written
    ("prune:3", 12, [8, 12]),      # step 4 renamed for deletion, not yet deleted
]


@pytest.mark.parametrize("point,latest,steps", FIT_POINTS, ids=[p[0] for p in FIT_POINTS])
def test_fit_killed_resumes_from_the_last_complete_checkpoint_bit_identical(crash, tmp_path, reference, step, point,
                                                                            latest, steps):
    answer = crash("fit", directory=str(tmp_path), point=point)
    assert answer.get("signal") == 9, answer["log"][-3000:]
    entry = T.latest_checkpoint(tmp_path)
    assert (entry and entry["step"]) == latest
    committed = sorted(int(n.split("-")[1]) for n in os.listdir(tmp_path) if n.startswith("checkpoint-")
                       and not n.endswith(".tmp"))
    assert committed == steps
    model, _, _, _, opt = crash_server.setup()
    for name in os.listdir(tmp_path):  # every committed checkpoint is complete and readable
        if name.startswith("checkpoint-") and not name.endswith(".tmp"):
            assert T.load_checkpoint(tmp_path / name, model, opt).step == int(name.split("-")[1])
    if point.startswith("pointer"):
        json.loads((tmp_path / "latest.json").read_text())  # the old pointer, intact
    resumed = crash_server.run_fit(str(tmp_path), train_step=step)
    assert resumed.step == reference.step == 12
    for a, b in zip(jax.tree.leaves((reference.params, reference.opt_state)),
                    jax.tree.leaves((resumed.params, resumed.opt_state)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed.history["epoch"] == [1, 2]
    np.testing.assert_allclose(resumed.history["loss"], reference.history["loss"], rtol=1e-6)
    assert _temporaries(tmp_path) == []  # the dead writer's folders and files are gone
    run = T.latest_checkpoint(tmp_path)["run"]
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("checkpoint-")) == [
        f"checkpoint-000000008-{run}", f"checkpoint-000000012-{run}"]
