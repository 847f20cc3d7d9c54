"""Peak memory of ``fnet.load``: how much a process grows loading a safetensors checkpoint
into JAX arrays on the CPU, as a multiple of the file's size.

    python benchmarks/load_memory.py                       # 1 GiB checkpoint, this tree's fnet
    python benchmarks/load_memory.py --size-mib 192 --fnet-path /path/to/other/checkout

The checkpoint is a stack of ``Linear(4096, 4096)`` layers (64 MiB each, plus biases),
written once to ``--dir``. Each measurement runs in a fresh process: it builds the model,
starts JAX's CPU backend, resets the kernel's peak-RSS mark (``/proc/self/clear_refs``),
calls ``fnet.load(path, model)`` until the arrays are ready, and reports the growth of
the peak resident set (``VmHWM``) over the resident set before the call. ``--fnet-path``
measures another checkout's ``fnet`` (for example the previous reader) the same way.
Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH = 4096  # Linear(4096, 4096): 64 MiB of float32 weight


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _model(layers: int):
    from fnet import nn

    return nn.Sequential(*[nn.Linear(WIDTH, WIDTH) for _ in range(layers)])


class _Lazy:
    """A random float32 array made only when the writer asks for its bytes."""

    def __init__(self, shape, seed):
        import numpy as np

        self.shape, self.dtype, self.seed = shape, np.dtype(np.float32), seed

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        return np.random.default_rng(self.seed).standard_normal(self.shape, dtype=np.float32)


def write(path: str, layers: int) -> int:
    from fnet._safetensors import save_file

    tensors = {}
    for i in range(layers):
        tensors[f"{i}.weight"] = _Lazy((WIDTH, WIDTH), 2 * i)
        tensors[f"{i}.bias"] = _Lazy((WIDTH,), 2 * i + 1)
    save_file(tensors, path, {"format": "pt"})
    return os.path.getsize(path)


def measure(path: str, layers: int) -> dict:
    """Runs in the child: the growth of the peak resident set during ``fnet.load``."""
    import jax
    import jax.numpy as jnp

    import fnet

    model = _model(layers)
    jax.eval_shape(model.init, jax.random.key(0))
    jnp.zeros(8).block_until_ready()  # the backend's own memory is not the loader's
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset VmHWM to the current resident set
        reset = True
    except OSError:
        reset = False
    before = _status("VmRSS")
    start = time.perf_counter()
    params, state = fnet.load(path, model)
    jax.block_until_ready((params, state))
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    assert params[str(layers - 1)]["weight"].shape == (WIDTH, WIDTH)
    return {"growth": peak - before, "seconds": seconds, "peak_was_reset": reset, "fnet": fnet.__file__}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="checkpoint size (multiple of 64 MiB)")
    parser.add_argument("--dir", default="/tmp", help="where the checkpoint is written (and left)")
    parser.add_argument("--fnet-path", default=ROOT, help="checkout whose fnet is measured")
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    layers = max(1, args.size_mib // 64)
    if args.measure:
        sys.path.insert(0, args.fnet_path)
        print(json.dumps(measure(args.measure, layers)))
        return
    sys.path.insert(0, ROOT)
    path = os.path.join(args.dir, f"fnet-load-memory-{layers}x{WIDTH}.safetensors")
    if not os.path.exists(path):
        write(path, layers)
    size = os.path.getsize(path)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--size-mib", str(args.size_mib),
                          "--fnet-path", os.path.abspath(args.fnet_path), "--measure", path],
                         env=env, cwd=args.dir, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"checkpoint: {size / 2 ** 20:.1f} MiB ({layers} x Linear({WIDTH}, {WIDTH}), float32)")
    print(f"fnet: {result['fnet']}")
    print(f"fnet.load: peak resident memory grew by {result['growth'] / 2 ** 20:.1f} MiB = "
          f"{result['growth'] / size:.2f}x the file ({result['seconds']:.2f} s"
          f"{'' if result['peak_was_reset'] else '; peak not resettable, upper bound'})")


if __name__ == "__main__":
    main()
