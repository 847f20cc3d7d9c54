"""Per-layer convolution timings on the CPU: the lowerings fnet could use for the layers of
the benchmark LeNet and CNN, forward pass, input gradient and weight gradient apart.

    python benchmarks/conv_layers.py                  # every layer
    python benchmarks/conv_layers.py cnn2 --repeats 15

Lowerings (all in torch's NCHW/OIHW layout at the interface):

- ``xla``: ``lax.conv_general_dilated`` in NCHW (XLA picks its own layout);
- ``xla-nhwc``: the same convolution computed channels-last (transposes around it), the
  form XLA:CPU hands to YNNPACK;
- ``patch``: fnet's CPU lowering (chunked patch matrices, hand-written derivative);
- ``hybrid``: ``xla-nhwc`` for the forward pass and the input gradient, the patch product
  for the weight gradient only (the lead of issue 18, tried in commit 38770fa).

Each cell is the median over ``--repeats`` calls of process CPU time and wall-clock time
(ms); on a shared machine CPU time is the steadier of the two.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

LAYERS = {  # name: (N, C_in, H = W, C_out, kernel, padding)
    "lenet1": (256, 3, 32, 6, 5, 0), "lenet2": (256, 6, 14, 16, 5, 0),
    "cnn1": (256, 3, 32, 32, 3, 1), "cnn2": (256, 32, 16, 64, 3, 1)}


def lowerings(n, k, pads):
    import jax
    from jax import lax

    from fnet.functional import _conv as C

    def xla(x, w):
        return C._native_conv(x, w, (1, 1), pads, (1, 1), 1)

    def nhwc(x, w):
        y = lax.conv_general_dilated(x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), (1, 1), pads,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y.transpose(0, 3, 1, 2)

    def config(x):
        out = x.shape[2] + sum(pads[0]) - k + 1
        return ((k, k), (1, 1), pads, (1, 1), 1, C._chunk_size(n, x.shape[1] * k * k * out * out * 4))

    def patch(x, w):
        return C._patch_conv(x, w, config(x))

    @jax.custom_jvp
    def hybrid(x, w):
        return nhwc(x, w)

    @hybrid.defjvp
    def _(primals, tangents):
        x, w = primals
        dx, dw = tangents
        cfg = config(x)
        weight_part = jax.checkpoint(lambda xc: C._chunk_conv(xc, C._grouped(dw, 1), (k, k), (1, 1), (1, 1), pads, 1))
        return nhwc(x, w), nhwc(dx, w) + C._scan_chunks(weight_part, cfg[-1], x)

    return {"xla": xla, "xla-nhwc": nhwc, "patch": patch, "hybrid": hybrid}


def timed(fn, args, repeats):
    import jax

    jax.block_until_ready(fn(*args))
    jax.block_until_ready(fn(*args))
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        jax.block_until_ready(fn(*args))
        cpu.append((time.process_time() - c0) * 1e3)
        wall.append((time.perf_counter() - w0) * 1e3)
    return statistics.median(cpu), statistics.median(wall)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("layers", nargs="*", default=list(LAYERS))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import numpy as np

    print(f"load average {os.getloadavg()[0]:.1f}; cells: CPU ms / wall ms")
    print("| layer | lowering | forward | input gradient | weight gradient |")
    print("|---|---|---:|---:|---:|")
    for name in args.layers:
        n, c_in, h, c_out, k, p = LAYERS[name]
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.standard_normal((n, c_in, h, h)), jnp.float32)
        w = jnp.asarray(rng.standard_normal((c_out, c_in, k, k)) * 0.1, jnp.float32)
        g = jnp.ones((n, c_out, h + 2 * p - k + 1, h + 2 * p - k + 1), jnp.float32)
        for label, f in lowerings(n, k, ((p, p), (p, p))).items():
            fwd = jax.jit(f)
            dx = jax.jit(lambda x, w, g, f=f: jax.vjp(lambda x: f(x, w), x)[1](g)[0])
            dw = jax.jit(lambda x, w, g, f=f: jax.vjp(lambda w: f(x, w), w)[1](g)[0])
            cells = [timed(fwd, (x, w), args.repeats), timed(dx, (x, w, g), args.repeats),
                     timed(dw, (x, w, g), args.repeats)]
            print(f"| {name} {tuple(x.shape)} -> {c_out}, k{k} | {label} | "
                  + " | ".join(f"{c:.1f} / {t:.1f}" for c, t in cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
