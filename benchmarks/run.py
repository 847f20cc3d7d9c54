"""The benchmark suite: one training step (forward, backward, Adam/AdamW update) of the same
models with the same shapes in fnet, plain JAX, PyTorch eager, torch.compile, Flax NNX and
Equinox, timed in one run.

    python benchmarks/run.py                       # every model, every installed framework
    python benchmarks/run.py --models mlp lenet    # a subset
    python benchmarks/run.py --budget 300 --no-compile

Prints a markdown table: median step time (ms) per framework, fnet/PyTorch-eager,
fnet/best-peer (the fastest of PyTorch eager, torch.compile, Flax NNX, Equinox) and
fnet/plain-JAX (the cost of fnet's abstractions), then the start-up (compile) times.
Writes both to benchmarks/results/{cpu,gpu}.{md,json} unless --json/--markdown say
otherwise. On a machine with a GPU, JAX and torch use it (and BERT-base joins).

The run keeps to about --budget seconds (default 420) by giving each model a share of what is
left and timing as many steps as fit (at least 3, at most the model's REPEATS).
torch.compile's start-up is stopped after --compile-budget seconds and reported as
skipped.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import os
import platform
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

# One compile thread: inductor's subprocess pool is slower than in-process compilation on
# a 2-core machine and breaks when its start-up is interrupted by the compile budget.
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
# JAX and torch share the GPU: no up-front grab of 75% of its memory by JAX.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from _harness import BudgetExceeded, measure, median, start  # noqa: E402

MODELS = {  # key -> (module in benchmarks/, relative cost used to share the time budget)
    "mlp": ("_mlp", 0.5),
    "lenet": ("_lenet", 1.0),
    "cnn": ("_cnn", 1.5),
    "lstm": ("_lstm", 1.0),
    "transformer": ("_transformer", 1.5),
    "bert-small": ("_bert_small", 2.5),
    "bert-base": ("_bert_base", 3.0),
}
GPU_ONLY = {"bert-base"}
FRAMEWORKS = ["fnet", "jax", "torch", "torch.compile", "flax", "equinox"]
PEERS = ["torch", "torch.compile", "flax", "equinox"]
LABELS = {"fnet": "fnet", "jax": "plain JAX", "torch": "PyTorch", "torch.compile": "torch.compile",
          "flax": "Flax NNX", "equinox": "Equinox"}
MIN_REPEATS = 3


def _available(framework: str) -> bool:
    name = {"torch.compile": "torch", "jax": "optax", "fnet": "fnet", "flax": "flax.nnx"}.get(framework, framework)
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def _runner(module, framework: str, torch_device: str):
    if framework == "torch":
        return module.torch_runner(compile=False, device=torch_device)
    if framework == "torch.compile":
        return module.torch_runner(compile=True, device=torch_device)
    fn = getattr(module, f"{framework}_runner", None)
    return fn() if fn else None


def _commit() -> str | None:
    """The checkout's commit (with ``+dirty`` for uncommitted changes), when git can tell."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} CPU"


def _cores() -> int:
    """Cores this process may run on (``taskset`` and container limits included)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _error(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".splitlines()[0]
    return text[:160]


def _pick_torch_threads(run, candidates: list[int], known: dict[int, float]) -> tuple[int, dict[int, float]]:
    """Times a warm PyTorch runner at each intra-op thread count and keeps the fastest.

    On a quiet machine that is every core; on an oversubscribed one (a shared CPU) torch's
    OpenMP barriers stall whenever one of its threads is descheduled, and one thread can be
    ten times faster. Picking the faster setting is the fair comparison for PyTorch.
    ``known`` holds timings already taken (the warm-up steps at the current setting).
    """
    import statistics

    import torch

    timings = dict(known)
    for n in candidates:
        if n in timings:
            continue
        torch.set_num_threads(n)
        steps = []
        for _ in range(3):  # the first step at a new thread count is not counted
            t0 = time.perf_counter()
            run()
            steps.append(time.perf_counter() - t0)
            if steps[-1] > 1.0 and len(steps) >= 2:
                break
        timings[n] = statistics.median(steps[1:]) * 1e3
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best, timings


def run_model(key: str, module, frameworks: list[str], torch_device: str, budget: float,
              compile_budget: float, repeats: int | None, torch_threads: list[int]) -> dict:
    """Starts every framework on one model, then times them interleaved within ``budget``.

    torch.compile starts last, with what is left of its budget, so that a slow compilation
    cannot crowd out the other frameworks.
    """
    import torch

    t_model = time.perf_counter()
    notes: dict[str, str] = {}
    info: dict = {}
    runners, first_s, warm_s = {}, {}, {}
    order = [f for f in frameworks if f != "torch.compile"] + [f for f in frameworks if f == "torch.compile"]
    for framework in order:
        try:
            run = _runner(module, framework, torch_device)
        except Exception as err:  # a framework that cannot build this model is reported, not fatal
            notes[framework] = _error(err)
            continue
        if run is None:
            continue
        limit = None
        if framework == "torch.compile":
            # leave a third of the model's share for the timed steps
            left = budget * 2 / 3 - (time.perf_counter() - t_model)
            limit = max(min(compile_budget, left), 10.0)
        # torch.compile recompiles on its second call; elsewhere one warm-up step is enough
        # when steps are slow, two otherwise
        warmup = 2 if framework == "torch.compile" else None
        try:
            first_s[framework], warm_s[framework] = start(run, warmup=warmup, budget=limit)
            runners[framework] = run
            if framework == "torch" and len(torch_threads) > 1:
                known = {torch.get_num_threads(): median(warm_s[framework]) * 1e3}
                threads, timings = _pick_torch_threads(run, torch_threads, known)
                info["torch_threads"] = threads
                info["torch_thread_ms"] = timings
                warm_s[framework] = [timings[threads] / 1e3]  # the steady step at the chosen setting
        except Exception as err:  # torch wraps the budget's exception in its own errors
            if isinstance(err, BudgetExceeded) or "BudgetExceeded" in str(err):
                notes[framework] = f"skipped: start-up (compilation) took over {limit:.0f} s"
            else:
                notes[framework] = _error(err)
    runners = {f: runners[f] for f in frameworks if f in runners}  # time in the table's order
    steady = {f: median(warm_s[f]) if warm_s[f] else first_s[f] for f in runners}
    # the timed phase gets what is left of the share, and never less than a fifth of it or 5 s
    # (so that a slow start-up still leaves cheap models many repeats)
    left = max(budget - (time.perf_counter() - t_model), budget / 5, 5.0)
    wanted = repeats or getattr(module, "REPEATS", 30)
    per_step = sum(steady.values()) or 1.0
    n = wanted if repeats else max(MIN_REPEATS, min(wanted, math.floor(left / per_step)))
    cpu: dict[str, list[float]] = {}
    samples = measure(runners, repeats=n, cpu=cpu) if runners else {}
    ms = {f: median(s) for f, s in samples.items()}
    compile_s = {f: max(0.0, first_s[f] + sum(warm_s[f]) - (1 + len(warm_s[f])) * ms[f] / 1e3) for f in ms}
    return {"key": key, "model": module.NAME, "ms": ms, "min_ms": {f: min(s) for f, s in samples.items()},
            "cpu_ms": {f: median(s) for f, s in cpu.items()},
            "samples": {f: len(s) for f, s in samples.items()}, "compile_s": compile_s, "notes": notes,
            "explain": getattr(module, "NOTES", ""), "seconds": time.perf_counter() - t_model, **info}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None, help=f"subset of {list(MODELS)}")
    parser.add_argument("--frameworks", nargs="*", default=FRAMEWORKS)
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per framework (default: each "
                        "model's REPEATS, fewer when the budget is short)")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run (default 420)")
    parser.add_argument("--compile-budget", type=float, default=None,
                        help="seconds allowed for torch.compile's start-up per model (default 90 on CPU, 300 on GPU)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--torch-threads", type=int, nargs="*", default=None,
                        help="PyTorch intra-op thread counts to try per model, the fastest is kept "
                             "(default on CPU: all cores and 1)")
    parser.add_argument("--json", dest="json_path", help="default benchmarks/results/<cpu|gpu>.json")
    parser.add_argument("--markdown", dest="md_path", help="default benchmarks/results/<cpu|gpu>.md")
    add_retain_option(parser)
    parser.add_argument("--render", metavar="JSON", help="only rewrite the markdown table of a saved run "
                        "(with the models' current notes) and print it")
    args = parser.parse_args(argv)
    if args.render:
        return _render(args.render, args.md_path)
    t_start = time.perf_counter()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    retain_if_asked(args)
    import logging

    import jax
    import torch

    # torch logs a full traceback when the compile budget interrupts inductor; the table says it
    logging.getLogger("torch").setLevel(logging.ERROR)
    on_gpu = jax.default_backend() == "gpu"
    torch_device = "cuda" if on_gpu and torch.cuda.is_available() else "cpu"
    if on_gpu:  # full float32 in both (TF32 off), as the parity suite runs
        jax.config.update("jax_default_matmul_precision", "highest")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    compile_budget = args.compile_budget or (300.0 if on_gpu else 90.0)
    cores = _cores()
    torch_threads = args.torch_threads or ([] if on_gpu else sorted({cores, 1}, reverse=True))
    if len(torch_threads) == 1:
        torch.set_num_threads(torch_threads[0])
    keys = args.models or [m for m in MODELS if on_gpu or m not in GPU_ONLY]
    unknown = [k for k in keys if k not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    frameworks = [f for f in args.frameworks if _available(f) and not (args.no_compile and f == "torch.compile")]
    missing = [f for f in args.frameworks if f not in frameworks and f != "torch.compile"]
    if on_gpu:
        torch_name = torch.cuda.get_device_name() if torch_device == "cuda" else "CPU"
        device = f"{jax.devices()[0].device_kind} (JAX), {torch_name} (torch)"
    else:
        device = f"{_cpu_name()}, {_cores()} cores"
    versions = {"python": platform.python_version(), "jax": jax.__version__, "torch": torch.__version__}
    for name in ("flax", "equinox", "optax", "transformers"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            pass
    print(f"device: {device}; " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    if missing:
        print(f"not installed: {missing}", flush=True)

    results = []
    weights = {k: MODELS[k][1] for k in keys}
    for i, key in enumerate(keys):
        module = importlib.import_module(MODELS[key][0])
        left = args.budget - (time.perf_counter() - t_start)
        share = left * weights[key] / sum(weights[k] for k in keys[i:])
        row = run_model(key, module, frameworks, torch_device, share, compile_budget, args.repeats, torch_threads)
        results.append(row)
        print(_row_text(row), flush=True)

    meta = run_record("run.py", argv, load_start, device=device, versions=versions, cpu_count=_cores(),
                      seconds=time.perf_counter() - t_start, retain_host_memory=args.retain_host_memory)
    table = markdown(results, meta)
    kind = "gpu" if on_gpu else "cpu"
    save_results(table, {**meta, "results": results}, args.json_path or os.path.join(HERE, "results", f"{kind}.json"),
                 args.md_path or os.path.join(HERE, "results", f"{kind}.md"))
    return 0


def add_retain_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retain-host-memory", action="store_true",
                        help="call fnet.config.retain_host_memory() first: glibc keeps freed memory for reuse, "
                             "for every framework in the process")


def retain_if_asked(args: argparse.Namespace) -> None:
    """Applies ``--retain-host-memory`` before JAX's backend and torch's threads take their
    ``malloc`` arenas (it has no effect on threads that already have one)."""
    if args.retain_host_memory:
        import fnet

        fnet.config.retain_host_memory()


def retain_note(meta: dict) -> str:
    return (" Every framework ran with `fnet.config.retain_host_memory()` (glibc keeps freed memory for "
            "reuse)." if meta.get("retain_host_memory") else "")


def run_record(script: str, argv: list[str] | None, load_start: Any, **fields: Any) -> dict:
    """What every benchmark records beside its results: ``fields``, the date, the load
    average at the start and the end, the command line and the commit."""
    return {**fields, "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "load_average_start": load_start,
            "load_average_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "command": f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:]),
            "commit": _commit()}


def save_results(table: str, record: dict, json_path: str, md_path: str) -> None:
    """Prints a run's markdown table and writes it and its raw record (JSON), creating the folders."""
    print()
    print(table)
    for path in (json_path, md_path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(json_path, "w") as handle:
        json.dump(record, handle, indent=1)
    with open(md_path, "w") as handle:
        handle.write(table + "\n")
    seconds = f" ({record['seconds']:.0f} s)" if "seconds" in record else ""
    print(f"\nwrote {md_path} and {json_path}{seconds}")


def _render(json_path: str, md_path: str | None) -> int:
    with open(json_path) as handle:
        saved = json.load(handle)
    for row in saved["results"]:
        module = importlib.import_module(MODELS[row["key"]][0])
        row["explain"] = getattr(module, "NOTES", "")
    table = markdown(saved["results"], saved)
    print(table)
    with open(md_path or os.path.splitext(json_path)[0] + ".md", "w") as handle:
        handle.write(table + "\n")
    return 0


def _ratio(ms: dict, a: str, b: str) -> str:
    return f"{ms[a] / ms[b]:.2f}" if a in ms and b in ms else "-"


def _row_text(row) -> str:
    parts = ", ".join(f"{f} {t:.1f} ms" for f, t in row["ms"].items())
    if "torch_threads" in row:
        parts += f" (torch threads {row['torch_threads']}: " + ", ".join(
            f"{n} -> {t:.1f} ms" for n, t in row["torch_thread_ms"].items()) + ")"
    notes = "; ".join(f"{f}: {n}" for f, n in row["notes"].items())
    return f"{row['model']} ({row['seconds']:.0f} s): {parts}" + (f" [{notes}]" if notes else "")


def markdown(results, meta) -> str:
    cols = [f for f in FRAMEWORKS if any(f in r["ms"] or f in r["notes"] for r in results)]
    load = meta.get("load_average_start")
    load_text = (f"; load average {load[0]:.1f} at the start, {meta['load_average_end'][0]:.1f} at the end "
                 f"on {meta['cpu_count']} cores" if load else "")
    lines = [f"Train step (forward + backward + optimizer update), median ms over interleaved repeats, "
             f"{meta['device']}{load_text}. {meta['date']}, {meta['seconds']:.0f} s. "
             + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + "."
             + retain_note(meta), "",
             "Ratios below 1 mean fnet is faster; fnet/plain JAX is the cost of fnet's abstractions, by "
             "wall-clock and (in brackets) by process CPU time, which a busy machine disturbs less. "
             "(Nt): the PyTorch intra-op thread count used, the faster of those tried for that model.", "",
             "| model | " + " | ".join(LABELS[c] for c in cols) +
             " | fnet/PyTorch | fnet/best peer | fnet/plain JAX |",
             "|---|" + "---:|" * (len(cols) + 3)]
    footnotes: list[str] = []
    for r in results:
        ms = r["ms"]
        peers = {p: ms[p] for p in PEERS if p in ms}
        best = min(peers, key=peers.get) if peers else None
        best_text = f"{ms['fnet'] / peers[best]:.2f} ({LABELS[best]})" if "fnet" in ms and best else "-"
        cells = []
        for c in cols:
            if c in ms:
                threads = r.get("torch_threads") if c in ("torch", "torch.compile") else None
                cells.append(f"{ms[c]:.1f}" + (f" ({threads}t)" if threads is not None else ""))
            elif c in r["notes"]:
                footnotes.append(f"{r['model']}, {LABELS[c]}: {r['notes'][c]}")
                cells.append(f"n/a [{len(footnotes)}]")
            else:
                cells.append("-")
        name = r["model"]
        if r.get("explain"):
            footnotes.append(f"{r['model']}: {r['explain']}")
            name += f" [{len(footnotes)}]"
        zero = _ratio(ms, "fnet", "jax")
        if zero != "-":
            zero += f" ({_ratio(r['cpu_ms'], 'fnet', 'jax')})"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_ratio(ms, 'fnet', 'torch')} | {best_text} | {zero} |")
    lines += ["", "Process CPU time per step, median ms (all threads; what a busy machine disturbs least).", "",
              "| model | " + " | ".join(LABELS[c] for c in cols) + " |", "|---|" + "---:|" * len(cols)]
    for r in results:
        cells = [f"{r['cpu_ms'][c]:.1f}" if c in r.get("cpu_ms", {}) else "-" for c in cols]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    lines += ["", "Start-up (compile) seconds: first call plus warm-up steps, minus the same number of "
              "steady steps.", "",
              "| model | " + " | ".join(LABELS[c] for c in cols) + " |", "|---|" + "---:|" * len(cols)]
    for r in results:
        cells = [f"{r['compile_s'][c]:.1f}" if c in r["compile_s"] else "-" for c in cols]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    if footnotes:
        lines += ["", "Notes:", ""] + [f"{i}. {text}" for i, text in enumerate(footnotes, 1)]
    commit = f" at commit {meta['commit']}" if meta.get("commit") else ""
    lines += ["", f"Command: `{meta['command'].strip()}`{commit}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
