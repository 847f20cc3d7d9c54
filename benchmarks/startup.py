"""Start-up benchmark: how long fnet takes to its first training step, cold and with the
persistent compilation cache.

    python benchmarks/startup.py                       # every CPU model
    python benchmarks/startup.py --models mlp bert-small --repeats 3

For each model, fresh Python processes run what a training script does: ``import fnet``
(timed apart, with jax), build the model and its train step (``make_train_step``, as in
``run.py``) and take the first step (tracing, compilation, one step), then one more
(the steady step time, for reference). Three processes per model and repeat:

- **cold**: no persistent cache;
- **first start with the cache**: ``fnet.config.enable_compilation_cache(DIR)`` with an
  empty ``DIR`` (compiles and writes the cache);
- **second start**: the same ``DIR`` again (reads the cache).

"start-up" is the time from the start of building the model to the end of its first
step (parameter initialisation, tracing, compilation or cache reads, and the step),
minus one steady step. The table gives medians over ``--repeats`` rounds. Writes ``benchmarks/results/startup_cpu.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

DEFAULT_MODELS = ["mlp", "lenet", "cnn", "lstm", "transformer", "bert-small"]
PHASES = ["cold", "cache_write", "cache_read"]


def child(model: str, cache: str | None) -> dict:
    t0 = time.perf_counter()
    import jax  # noqa: F401

    import fnet

    import_s = time.perf_counter() - t0
    if cache:
        fnet.config.enable_compilation_cache(cache)
    import importlib

    from run import MODELS

    module = importlib.import_module(MODELS[model][0])
    t1 = time.perf_counter()
    run = module.fnet_runner()
    run()
    first_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    run()
    steady_s = time.perf_counter() - t2
    return {"import_s": import_s, "first_s": first_s, "steady_s": steady_s}


def spawn(model: str, cache: str | None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", model] + (["--cache", cache] if cache else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(f"{model}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(rows: dict, meta: dict) -> str:
    import importlib

    from run import MODELS

    lines = [f"Start-up of a training script, seconds (median of {meta['repeats']} rounds), {meta['device']}; load "
             f"average {meta['load_average_start'][0]:.1f} at the start, {meta['load_average_end'][0]:.1f} at the end. "
             f"{meta['date']}. " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".", "",
             "import: `import jax, fnet`. Start-up: building the model and its train step, parameter "
             "initialisation, tracing, compilation (or cache reads) and the first step, minus one steady "
             "step. Second start: a new process with `fnet.config.enable_compilation_cache(DIR)` on the "
             "`DIR` that the first start with the cache filled.",
             "", "| model | import | start-up, cold | start-up, cache empty | start-up, second start "
             "| steady step |", "|---|---:|---:|---:|---:|---:|"]
    for model, phases in rows.items():
        name = importlib.import_module(MODELS[model][0]).NAME
        med = {p: {"import_s": statistics.median(r["import_s"] for r in phases[p]),
                   "start_s": statistics.median(r["first_s"] - r["steady_s"] for r in phases[p]),
                   "steady_s": statistics.median(r["steady_s"] for r in phases[p])} for p in PHASES}
        lines.append(f"| {name} | {med['cold']['import_s']:.2f} | {med['cold']['start_s']:.2f} | "
                     f"{med['cache_write']['start_s']:.2f} | {med['cache_read']['start_s']:.2f} | "
                     f"{med['cold']['steady_s']:.3f} |")
    commit = f" at commit {meta['commit']}" if meta.get("commit") else ""
    lines += ["", f"Command: `{meta['command'].strip()}`{commit}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--markdown", dest="md_path")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.cache)))
        return 0
    from run import _cores, _cpu_name, run_record, save_results

    load_start = os.getloadavg()
    rows: dict[str, dict[str, list[dict]]] = {m: {p: [] for p in PHASES} for m in args.models}
    for r in range(args.repeats):
        for model in args.models:
            with tempfile.TemporaryDirectory(prefix="fnet-startup-") as cache:
                rows[model]["cold"].append(spawn(model, None))
                rows[model]["cache_write"].append(spawn(model, cache))
                rows[model]["cache_read"].append(spawn(model, cache))
            print(f"round {r + 1} {model}: " + ", ".join(
                f"{p} {rows[model][p][-1]['first_s'] - rows[model][p][-1]['steady_s']:.2f} s" for p in PHASES)
                  + f" (import {rows[model]['cold'][-1]['import_s']:.2f} s)", flush=True)
    import jax
    import jaxlib

    meta = run_record("startup.py", argv, load_start, device=f"{_cpu_name()}, {_cores()} cores",
                      repeats=args.repeats,
                      versions={"python": platform.python_version(), "jax": jax.__version__, "jaxlib": jaxlib.__version__})
    table = markdown(rows, meta)
    save_results(table, {**meta, "results": rows},
                 args.json_path or os.path.join(HERE, "results", "startup_cpu.json"),
                 args.md_path or os.path.join(HERE, "results", "startup_cpu.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
