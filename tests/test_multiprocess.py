"""Real multi-process training: two processes on localhost (``jax.distributed``, gloo
collectives, one CPU device each) run ``fit`` under ``data_parallel`` and ``fully_sharded``
(every parameter of 64+ elements split between the processes) with checkpoints, SIGKILL
themselves mid-run, are restarted, and end bit-identical to an uninterrupted run; the
checkpoint they wrote then restores in this single process, on one device and on an
8-device FSDP mesh.

The processes are ``examples/multihost_fit.py``, started exactly as the README's
"Several hosts" section shows. Marked ``multiprocess``: the default run deselects it and
CI runs it on its own (``python -m pytest -m multiprocess -p no:xdist``), not inside the
``-n 2`` workers, which would put four processes on two cores.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

import fnet
from fnet import sharding
from fnet import train as T

pytestmark = pytest.mark.multiprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "multihost_fit.py")


_spec = importlib.util.spec_from_file_location("multihost_fit", EXAMPLE)
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)  # for its model class; main() is not run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _pair(*args: str, timeout: float = 300) -> tuple[list[int], str]:
    """Runs the example as processes 0 and 1; returns their exit codes and output."""
    port = _free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    env.pop("XLA_FLAGS", None)
    procs = [subprocess.Popen([sys.executable, EXAMPLE, "--coordinator", f"localhost:{port}", "--num-processes",
                               "2", "--process-id", str(i), *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=timeout)[0])
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
        pytest.fail(f"the two processes did not finish within {timeout} s (a collective that not every "
                    f"process joined hangs like this): {' '.join(args)}")
    text = "\n".join(line for out in outputs for line in out.splitlines()
                     if not line.startswith(("WARNING", "I0000", "E0000", "[Gloo]")))
    return [p.returncode for p in procs], text


@pytest.mark.parametrize("plan", ["data_parallel", "fully_sharded"])
def test_killed_two_process_fit_resumes_bit_identical(tmp_path, plan):
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    codes, out = _pair("--plan", plan, "--checkpoint-dir", str(reference), "--out", str(tmp_path / "ref.npz"))
    assert codes == [0, 0], out
    local = "[32, 32]" if plan == "fully_sharded" else "[64, 32]"  # FSDP: each process holds half
    assert "24 steps, final loss" in out and f"holds fc1.weight{local} of [64, 32]" in out, out

    # Both processes die at step 13, after the checkpoint of step 12 and before that of 16.
    codes, out = _pair("--plan", plan, "--checkpoint-dir", str(crashed), "--die-at-step", "13")
    assert codes == [-9, -9], out
    latest = T.latest_checkpoint(crashed)
    assert latest["step"] == 12
    assert sorted(os.listdir(crashed)) == ["checkpoint-000000008-" + latest["run"],
                                           "checkpoint-000000012-" + latest["run"], "fit.lock", "latest.json"]
    assert len(os.listdir(latest["path"])) == 3  # manifest + one shard file per process

    codes, out = _pair("--plan", plan, "--checkpoint-dir", str(crashed), "--out", str(tmp_path / "resumed.npz"))
    assert codes == [0, 0], out
    ref, resumed = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "resumed.npz")
    assert sorted(ref) == sorted(resumed) and any(k.startswith("opt_state/") for k in ref)
    for name in ref:
        np.testing.assert_array_equal(ref[name], resumed[name], err_msg=name)

    # The checkpoint the two processes wrote restores here, in one process.
    model, opt = example.MLP(), optax.adam(1e-2)
    single = T.load_checkpoint(crashed, model, opt)
    assert single.step == 24 and single.history["epoch"] == [1, 2, 3]
    for name, value in fnet.state_dict(single.params).items():
        np.testing.assert_array_equal(value, resumed[f"params/{name}"], err_msg=name)
    for i, leaf in enumerate(jax.tree.leaves(single.opt_state)):
        np.testing.assert_array_equal(np.asarray(leaf), resumed[f"opt_state/{i}"])
    plan8 = sharding.fully_sharded(sharding.make_mesh((8,), ("data",)), min_size=64)
    on8 = T.load_checkpoint(crashed, model, opt, plan=plan8)
    assert len(on8.params["fc1"]["weight"].sharding.device_set) == 8
    np.testing.assert_array_equal(np.asarray(on8.params["fc1"]["weight"]), resumed["params/fc1.weight"])
