"""fnet.config: host-memory reuse (``retain_host_memory``).

The compilation cache is covered where it is used (``tests/test_data.py``) and measured by
``benchmarks/startup.py``. ``retain_host_memory`` changes process-wide ``malloc`` settings
that only take effect before JAX's backend starts, so each case runs in a fresh process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import fnet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One 64 MiB output per call, dropped before the next. glibc gives a block that large its
# own mapping (mmap), returned to the OS when it is freed (munmap), so the next call faults
# its 16384 pages in again; with retain_host_memory it comes from the heap, kept for reuse.
_PROGRAM = textwrap.dedent("""
    import json, resource, sys
    import fnet
    applied = fnet.config.retain_host_memory() if sys.argv[1] == "retain" else None
    import jax, jax.numpy as jnp

    def heap():
        for line in open("/proc/self/maps"):
            if line.rstrip().endswith("[heap]"):
                low, high = line.split()[0].split("-")
                return int(low, 16), int(high, 16)

    step = jax.jit(lambda x, k: jnp.sin(x) * k)
    x = jnp.ones((4096, 4096), jnp.float32)
    for k in range(3):
        step(x, 1.0 * k).block_until_ready()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    total, addresses = 0.0, []
    for k in range(10):
        y = step(x, 1.0 * k)
        total += float(y[0, 0])
        addresses.append(y.unsafe_buffer_pointer())
        del y
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
    low, high = heap()
    print(json.dumps({"applied": applied, "faults_per_call": faults, "total": total,
                      "in_heap": all(low <= a < high for a in addresses)}))
""")


def _run(mode: str) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("GLIBC_TUNABLES", None)
    done = subprocess.run([sys.executable, "-c", _PROGRAM, mode], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings exist on Linux only")
def test_large_blocks_come_from_the_heap_instead_of_a_mapping_of_their_own():
    default, retained = _run("default"), _run("retain")
    assert retained["applied"] is True
    assert retained["total"] == default["total"]  # the same numbers
    # default: each output is a mapping of its own, outside the heap, faulted in on every call
    assert not default["in_heap"] and default["faults_per_call"] > 8000, default
    # retained: every output lies in the heap, which is never trimmed. (How many page
    # faults remain depends on the machine's page reclaimer; the training steps of
    # benchmarks/README.md, *Host memory*, went from 25000-195000 to 0-20000 per step.)
    assert retained["in_heap"], retained


def test_refused_once_a_backend_has_started_saying_when_to_call_it():
    import jax.numpy as jnp

    jnp.ones(1).block_until_ready()  # this test process's backend is running
    with pytest.raises(RuntimeError, match=r"fnet\.config\.retain_host_memory: must be called before JAX's "
                                           r"first computation.*GLIBC_TUNABLES="):
        fnet.config.retain_host_memory()


def test_without_glibc_it_warns_and_changes_nothing(monkeypatch):
    monkeypatch.setattr(fnet.config, "_backend_started", lambda: False)
    monkeypatch.setattr(fnet.config.sys, "platform", "darwin")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fnet.config.retain_host_memory() is False
    assert [str(w.message) for w in caught] == [
        "fnet.config.retain_host_memory: the C library is not glibc; nothing was changed"]
