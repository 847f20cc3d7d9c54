"""The benchmark suite: one training step (forward, backward, Adam/AdamW update) of the same
models with the same shapes in fnet, plain JAX, PyTorch eager, torch.compile, Flax NNX and
Equinox, timed in one run.

    python benchmarks/run.py                       # CPU: every model, every installed framework
    python benchmarks/run.py --models mlp lenet    # a subset
    python benchmarks/run.py --json out.json --markdown out.md

Prints a markdown table: median step time (ms) per framework, fnet/PyTorch-eager,
fnet/best-peer (the fastest of PyTorch eager, torch.compile, Flax NNX, Equinox) and
fnet/plain-JAX (the cost of fnet's abstractions). Compile time (the first call) is
reported separately. On a machine with a GPU, JAX and torch use it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from _harness import measure  # noqa: E402

MODELS = {  # key -> module in benchmarks/
    "mlp": "_mlp",
    "lenet": "_lenet",
    "cnn": "_cnn",
    "lstm": "_lstm",
    "transformer": "_transformer",
    "bert-small": "_bert_small",
    "bert-base": "_bert_base",
}
FRAMEWORKS = ["fnet", "jax", "torch", "torch.compile", "flax", "equinox"]
PEERS = ["torch", "torch.compile", "flax", "equinox"]


def _available(framework: str) -> bool:
    name = {"torch.compile": "torch", "jax": "jax", "fnet": "jax"}.get(framework, framework)
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def _runner(module, framework: str, torch_device: str):
    if framework == "fnet":
        return getattr(module, "fnet_runner", None) and module.fnet_runner()
    if framework == "jax":
        return getattr(module, "jax_runner", None) and module.jax_runner()
    if framework == "torch":
        return module.torch_runner(compile=False, device=torch_device)
    if framework == "torch.compile":
        return module.torch_runner(compile=True, device=torch_device)
    fn = getattr(module, f"{framework}_runner", None)
    return fn() if fn else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help=f"subset of {list(MODELS)}")
    parser.add_argument("--frameworks", nargs="*", default=FRAMEWORKS)
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per framework")
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--markdown", dest="md_path")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile on CPU)")
    args = parser.parse_args(argv)

    import jax
    import torch

    on_gpu = jax.default_backend() == "gpu"
    torch_device = "cuda" if on_gpu and torch.cuda.is_available() else "cpu"
    if torch_device == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    if on_gpu:
        jax.config.update("jax_default_matmul_precision", "highest")  # fp32 in both (TF32 off)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    models = args.models or [m for m in MODELS if on_gpu or m != "bert-base"]
    frameworks = [f for f in args.frameworks if _available(f) and not (args.no_compile and f == "torch.compile")]
    device = jax.devices()[0].device_kind if on_gpu else f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"
    print(f"device: {device}; jax {jax.__version__}, torch {torch.__version__}", flush=True)

    results = []
    for key in models:
        module = importlib.import_module(MODELS[key])
        runners = {}
        notes = {}
        for framework in frameworks:
            try:
                run = _runner(module, framework, torch_device)
            except Exception as err:  # a framework that cannot build this model is reported, not fatal
                notes[framework] = f"{type(err).__name__}: {err}"[:120]
                continue
            if run is not None:
                runners[framework] = run
        repeats = args.repeats or getattr(module, "REPEATS", 30)
        t0 = time.perf_counter()
        compile_s = {}
        for framework, run in list(runners.items()):
            try:  # the first call compiles/traces: timed on its own, and catches failures early
                compile_s[framework] = measure({framework: run}, repeats=1, warmup=0, rounds=1)[framework][1]
            except Exception as err:
                notes[framework] = f"{type(err).__name__}: {err}"[:120]
                runners.pop(framework)
        timed = measure(runners, repeats=repeats) if runners else {}
        row = {"model": module.NAME, "key": key, "ms": {f: t[0] for f, t in timed.items()},
               "compile_s": compile_s, "notes": notes,
               "seconds": time.perf_counter() - t0}
        results.append(row)
        print(_row_text(row), flush=True)

    table = markdown(results, device)
    print()
    print(table)
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump({"device": device, "results": results}, handle, indent=1)
    if args.md_path:
        with open(args.md_path, "w") as handle:
            handle.write(table + "\n")
    return 0


def _ratio(row, a, b):
    ms = row["ms"]
    return f"{ms[a] / ms[b]:.2f}" if a in ms and b in ms else "-"


def _row_text(row) -> str:
    parts = ", ".join(f"{f} {t:.2f} ms" for f, t in row["ms"].items())
    return f"{row['model']}: {parts}" + (f" ({row['notes']})" if row["notes"] else "")


def markdown(results, device: str) -> str:
    cols = [f for f in FRAMEWORKS if any(f in r["ms"] for r in results)]
    lines = [f"Train step, median ms ({device}); ratios < 1 mean fnet is faster.", "",
             "| model | " + " | ".join(cols) + " | fnet/PyTorch | fnet/best peer | fnet/plain JAX | fnet compile s |",
             "|---|" + "---|" * (len(cols) + 4)]
    for r in results:
        ms = r["ms"]
        peers = [ms[p] for p in PEERS if p in ms]
        best = f"{ms['fnet'] / min(peers):.2f}" if "fnet" in ms and peers else "-"
        cells = [f"{ms[c]:.2f}" if c in ms else "-" for c in cols]
        compile_s = f"{r['compile_s']['fnet']:.1f}" if "fnet" in r["compile_s"] else "-"
        lines.append(f"| {r['model']} | " + " | ".join(cells) +
                     f" | {_ratio(r, 'fnet', 'torch')} | {best} | {_ratio(r, 'fnet', 'jax')} | {compile_s} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
