"""Zero-cost check: fnet's train step against the plain-JAX step of the same computation.

    python benchmarks/zero_cost.py                     # every CPU model
    python benchmarks/zero_cost.py --models bert-small --repeats 20 --hlo /tmp/hlo

For each model: XLA's own cost analysis of both compiled steps (floating-point
operations, transcendental operations, bytes accessed: independent of machine load, so
the first thing to look at), the number of HLO instructions by kind, and a long interleaved timing of
the two steps (median wall-clock and process CPU time, and the fnet/plain-JAX ratios). ``--hlo DIR`` writes both
optimised HLO modules for a diff.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from _harness import measure, median, start  # noqa: E402
from run import GPU_ONLY, MODELS  # noqa: E402


def cost(compiled) -> dict[str, float]:
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list):
        analysis = analysis[0]
    return {k: float(analysis.get(k, 0.0)) for k in ("flops", "transcendentals", "bytes accessed")}


def op_counts(hlo: str) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for match in re.finditer(r"=\s*\S+\s+([a-z][a-z0-9-]*)\(", hlo):
        counts[match.group(1)] += 1
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=[k for k in MODELS if k not in GPU_ONLY])
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--hlo", help="directory for the optimised HLO text of both steps")
    args = parser.parse_args(argv)
    import importlib

    import jax

    print(f"jax {jax.__version__} on {jax.default_backend()}; load average {os.getloadavg()[0]:.1f}")
    rows = []
    for key in args.models:
        module = importlib.import_module(MODELS[key][0])
        runners = {"fnet": module.fnet_runner(), "jax": module.jax_runner()}
        info = {}
        for name, run in runners.items():
            compiled = run.lower().compile()
            hlo = compiled.as_text()
            info[name] = {"cost": cost(compiled), "ops": op_counts(hlo)}
            if args.hlo:
                os.makedirs(args.hlo, exist_ok=True)
                with open(os.path.join(args.hlo, f"{key}.{name}.hlo"), "w") as handle:
                    handle.write(hlo)
            start(run, warmup=2)
        repeats = args.repeats or max(6, getattr(module, "REPEATS", 30))
        cpu: dict = {}
        samples = measure(runners, repeats=repeats, rounds=min(repeats, 10), cpu=cpu)
        ms = {name: median(s) for name, s in samples.items()}
        cpu_ms = {name: median(s) for name, s in cpu.items()}
        print(f"\n{module.NAME}: fnet {ms['fnet']:.2f} ms, plain JAX {ms['jax']:.2f} ms, "
              f"ratio {ms['fnet'] / ms['jax']:.3f}; CPU time fnet {cpu_ms['fnet']:.2f} ms, plain JAX "
              f"{cpu_ms['jax']:.2f} ms, ratio {cpu_ms['fnet'] / cpu_ms['jax']:.3f} ({repeats} steps each)")
        for k in ("flops", "transcendentals", "bytes accessed"):
            a, b = info["fnet"]["cost"][k], info["jax"]["cost"][k]
            print(f"  {k:>16}: fnet {a:.4g}  plain JAX {b:.4g}  ratio {a / b if b else float('nan'):.3f}")
        fa, ja = info["fnet"]["ops"], info["jax"]["ops"]
        diff = {op: (fa[op], ja[op]) for op in sorted(set(fa) | set(ja)) if fa[op] != ja[op]}
        print(f"  HLO instructions: fnet {sum(fa.values())}, plain JAX {sum(ja.values())}; differing kinds "
              + ", ".join(f"{op} {a}/{b}" for op, (a, b) in diff.items()))
        rows.append((module.NAME, ms["fnet"], ms["jax"], cpu_ms["fnet"] / cpu_ms["jax"],
                     info["fnet"]["cost"]["flops"] / max(info["jax"]["cost"]["flops"], 1),
                     info["fnet"]["cost"]["bytes accessed"] / max(info["jax"]["cost"]["bytes accessed"], 1)))
    print("\n| model | fnet ms | plain JAX ms | fnet/plain JAX | by CPU time | by XLA flops | by XLA bytes |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for name, a, b, c, f, by in rows:
        print(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.3f} | {c:.3f} | {f:.3f} | {by:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
