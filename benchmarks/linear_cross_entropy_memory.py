"""Peak memory of ``F.linear_cross_entropy`` (chunked over the vocabulary) against the
reference ``F.cross_entropy(F.linear(x, W), target)``, forward and backward.

    python benchmarks/linear_cross_entropy_memory.py                 # N=4096, D=1024, V=32768
    python benchmarks/linear_cross_entropy_memory.py --vocab 131072 --chunk 8192
    python benchmarks/linear_cross_entropy_memory.py --time          # also time both steps

For each variant it compiles ``jax.value_and_grad`` of the loss with respect to the input
and the weight, and prints XLA's memory analysis of the compiled step: the temporary
buffers it allocates (``temp``, where the logits and their gradient live), and the
arguments and outputs (the same for both: x, W and their gradients). The numbers come
from XLA's buffer assignment, so they are exact for the compiled program and do not
depend on the machine's load. ``--time`` runs each step a few times and prints the
median wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=4096, help="N, rows of the input")
    parser.add_argument("--features", type=int, default=1024, help="D, in_features")
    parser.add_argument("--vocab", type=int, default=32768, help="V, number of classes")
    parser.add_argument("--chunk", type=int, default=4096, help="vocabulary entries per chunk")
    parser.add_argument("--time", action="store_true", help="also time each compiled step")
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    import fnet.functional as F

    n, d, v = args.tokens, args.features, args.vocab
    x = jax.ShapeDtypeStruct((n, d), jnp.float32)
    w = jax.ShapeDtypeStruct((v, d), jnp.float32)
    t = jax.ShapeDtypeStruct((n,), jnp.int32)

    def reference(x, w, t):
        return F.cross_entropy(F.linear(x, w), t)

    def chunked(x, w, t):
        return F.linear_cross_entropy(x, w, t, chunk_size=args.chunk)

    mib = 2 ** 20
    logits = n * v * 4
    print(f"N={n}, D={d}, V={v}, float32; one (N, V) logits array is {logits / mib:.0f} MiB; "
          f"chunk={args.chunk} ({jax.devices()[0].platform})")
    print("| variant | temporaries | arguments | outputs | temporaries / logits |")
    print("|---|---:|---:|---:|---:|")
    compiled = {}
    for label, fn in (("reference: cross_entropy(linear(x, W))", reference),
                      (f"linear_cross_entropy, chunk {args.chunk}", chunked)):
        step = jax.jit(jax.value_and_grad(fn, argnums=(0, 1)))
        exe = step.lower(x, w, t).compile()
        mem = exe.memory_analysis()
        compiled[label] = exe
        print(f"| {label} | {mem.temp_size_in_bytes / mib:.1f} MiB | {mem.argument_size_in_bytes / mib:.1f} MiB "
              f"| {mem.output_size_in_bytes / mib:.1f} MiB | {mem.temp_size_in_bytes / logits:.3f} |")
    if args.time:
        key = jax.random.key(0)
        xs = jax.random.normal(key, (n, d), jnp.float32)
        ws = 0.02 * jax.random.normal(jax.random.fold_in(key, 1), (v, d), jnp.float32)
        ts = jax.random.randint(jax.random.fold_in(key, 2), (n,), 0, v)
        for label, exe in compiled.items():
            jax.block_until_ready(exe(xs, ws, ts))
            times = []
            for _ in range(5):
                start = time.perf_counter()
                jax.block_until_ready(exe(xs, ws, ts))
                times.append(time.perf_counter() - start)
            loss = float(exe(xs, ws, ts)[0])
            print(f"{label}: median {statistics.median(times) * 1e3:.0f} ms, loss {loss:.6f}")


if __name__ == "__main__":
    main()
