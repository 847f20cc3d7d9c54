"""Inference benchmark: the eval-mode forward pass of the suite's models, fnet against PyTorch.

    python benchmarks/inference.py                          # every CPU model, batch 1 and its training batch
    python benchmarks/inference.py --models cnn bert-small --batches 1 64
    python benchmarks/inference.py --no-compile

For each model and batch size: fnet's ``model.apply(params, state, x)`` (eval mode,
``train=False``) under ``jax.jit``, and the same ``torch.nn.Module`` in ``eval()`` mode
three ways: eager under ``torch.no_grad()``, eager under ``torch.inference_mode()``, and
``torch.compile(model)`` called under ``torch.inference_mode()``. BERT small is
``BertForSequenceClassification`` (logits of 2 labels, no ``labels=``). The runners are
started first (compilation, warm-up) and then timed interleaved, as in ``run.py``; PyTorch
runs at the faster of all cores and one thread (chosen on the eager runner, shown as
``(Nt)``). Writes ``benchmarks/results/inference_cpu.{md,json}``.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")

from _harness import BudgetExceeded, block, measure, median, start  # noqa: E402
from run import (MODELS, _cores, _cpu_name, _error, _pick_torch_threads, add_retain_option,  # noqa: E402
                 retain_if_asked, retain_note, run_record, save_results)

DEFAULT_MODELS = ["mlp", "lenet", "cnn", "lstm", "transformer", "bert-small"]
FRAMEWORKS = ["fnet", "torch.no_grad", "torch.inference_mode", "torch.compile"]
LABELS = {"fnet": "fnet", "torch.no_grad": "PyTorch eager (no_grad)",
          "torch.inference_mode": "PyTorch inference_mode", "torch.compile": "torch.compile"}


def _logits(out):
    """Model outputs are arrays, or Hugging Face-style outputs with ``.logits``."""
    return getattr(out, "logits", out)


def fnet_runner(module, batch: int):
    import jax
    import jax.numpy as jnp

    model = module.fnet_model()
    params, state = model.init(jax.random.key(0))
    forward = jax.jit(lambda p, s, x: _logits(model.apply(p, s, x)[0]))
    x = jnp.asarray(module.data(batch)[0])
    return lambda: block(forward(params, state, x))


def torch_runner(module, batch: int, mode: str):
    import torch

    model = module.torch_model().eval()
    x = torch.as_tensor(module.data(batch)[0])
    call = torch.compile(model) if mode == "torch.compile" else model
    context = torch.no_grad if mode == "torch.no_grad" else torch.inference_mode

    def run():
        with context():
            _logits(call(x))

    return run


def run_case(key: str, module, batch: int, frameworks: list[str], budget: float, compile_budget: float,
             torch_threads: list[int]) -> dict:
    import torch

    t_case = time.perf_counter()
    runners, first_s, warm_s, notes, info = {}, {}, {}, {}, {}
    for framework in frameworks:
        try:
            run = fnet_runner(module, batch) if framework == "fnet" else torch_runner(module, batch, framework)
            limit = compile_budget if framework == "torch.compile" else None
            first_s[framework], warm_s[framework] = start(run, warmup=2, budget=limit)
            runners[framework] = run
            if framework == "torch.no_grad" and len(torch_threads) > 1:
                known = {torch.get_num_threads(): median(warm_s[framework]) * 1e3}
                info["torch_threads"], info["torch_thread_ms"] = _pick_torch_threads(run, torch_threads, known)
                warm_s[framework] = [info["torch_thread_ms"][info["torch_threads"]] / 1e3]
        except Exception as err:
            if isinstance(err, BudgetExceeded) or "BudgetExceeded" in str(err):
                notes[framework] = f"skipped: start-up (compilation) took over {compile_budget:.0f} s"
            else:
                notes[framework] = _error(err)
    steady = sum(median(w) for w in warm_s.values() if w) or 1e-3
    left = max(budget - (time.perf_counter() - t_case), budget / 5, 2.0)
    repeats = max(5, min(200, math.floor(left / steady)))
    samples = measure(runners, repeats=repeats) if runners else {}
    ms = {f: median(s) for f, s in samples.items()}
    return {"key": key, "model": module.NAME.split(", batch")[0], "batch": batch, "ms": ms,
            "min_ms": {f: min(s) for f, s in samples.items()}, "samples": {f: len(s) for f, s in samples.items()},
            "first_s": first_s, "notes": notes, "seconds": time.perf_counter() - t_case, **info}


def markdown(rows: list[dict], meta: dict) -> str:
    cols = [f for f in FRAMEWORKS if any(f in r["ms"] or f in r["notes"] for r in rows)]
    lines = [f"Eval-mode forward pass, median ms over interleaved repeats, {meta['device']}; load average "
             f"{meta['load_average_start'][0]:.1f} at the start, {meta['load_average_end'][0]:.1f} at the end. "
             f"{meta['date']}, {meta['seconds']:.0f} s. " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
             + "." + retain_note(meta), "",
             "Ratios below 1 mean fnet is faster. (Nt): PyTorch's intra-op thread count, the faster of those "
             "tried (on the no_grad runner; the other PyTorch columns use the same).", "",
             "| model | batch | " + " | ".join(LABELS[c] for c in cols)
             + " | fnet/no_grad | fnet/inference_mode | fnet/torch.compile |",
             "|---|---:|" + "---:|" * (len(cols) + 3)]
    footnotes = []
    for r in rows:
        ms = r["ms"]
        cells = []
        for c in cols:
            if c in ms:
                threads = r.get("torch_threads") if c.startswith("torch") else None
                cells.append(f"{ms[c]:.2f}" + (f" ({threads}t)" if threads is not None else ""))
            elif c in r["notes"]:
                footnotes.append(f"{r['model']}, batch {r['batch']}, {LABELS[c]}: {r['notes'][c]}")
                cells.append(f"n/a [{len(footnotes)}]")
            else:
                cells.append("-")
        ratios = [f"{ms['fnet'] / ms[c]:.2f}" if "fnet" in ms and c in ms else "-"
                  for c in ("torch.no_grad", "torch.inference_mode", "torch.compile")]
        lines.append(f"| {r['model']} | {r['batch']} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    if footnotes:
        lines += ["", "Notes:", ""] + [f"{i}. {t}" for i, t in enumerate(footnotes, 1)]
    commit = f" at commit {meta['commit']}" if meta.get("commit") else ""
    lines += ["", f"Command: `{meta['command'].strip()}`{commit}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--batches", type=int, nargs="*", default=None,
                        help="batch sizes (default: 1 and each model's training batch)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds for the timed phases, shared "
                        "equally by the cases (start-up comes on top)")
    parser.add_argument("--compile-budget", type=float, default=90.0)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--torch-threads", type=int, nargs="*", default=None)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--markdown", dest="md_path")
    add_retain_option(parser)
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    retain_if_asked(args)

    import logging

    import jax
    import torch

    logging.getLogger("torch").setLevel(logging.ERROR)
    if jax.default_backend() != "cpu":
        parser.error("inference.py measures the CPU (set JAX_PLATFORMS=cpu)")
    torch_threads = args.torch_threads or sorted({_cores(), 1}, reverse=True)
    if len(torch_threads) == 1:
        torch.set_num_threads(torch_threads[0])
    frameworks = [f for f in FRAMEWORKS if not (args.no_compile and f == "torch.compile")]
    cases = []
    for key in args.models:
        module = importlib.import_module(MODELS[key][0])
        for batch in args.batches or sorted({1, module.BATCH if hasattr(module, "BATCH") else module.CONFIG.batch}):
            cases.append((key, module, batch))
    versions = {"python": platform.python_version(), "jax": jax.__version__, "torch": torch.__version__}
    device = f"{_cpu_name()}, {_cores()} cores"
    print(f"device: {device}; " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)
    rows = []
    for key, module, batch in cases:
        row = run_case(key, module, batch, frameworks, args.budget / len(cases), args.compile_budget, torch_threads)
        rows.append(row)
        print(f"{row['model']} batch {batch} ({row['seconds']:.0f} s): "
              + ", ".join(f"{f} {t:.2f} ms" for f, t in row["ms"].items())
              + (f" [{row['notes']}]" if row["notes"] else ""), flush=True)
    meta = run_record("inference.py", argv, load_start, device=device, versions=versions, cpu_count=_cores(),
                      seconds=time.perf_counter() - t_start, retain_host_memory=args.retain_host_memory)
    table = markdown(rows, meta)
    save_results(table, {**meta, "results": rows},
                 args.json_path or os.path.join(HERE, "results", "inference_cpu.json"),
                 args.md_path or os.path.join(HERE, "results", "inference_cpu.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
