"""XLA:CPU flag sweep: fnet's training step per model under each candidate ``XLA_FLAGS`` setting.

    python benchmarks/xla_flags.py                                  # default candidates, every CPU model
    python benchmarks/xla_flags.py --models cnn lstm --rounds 3
    python benchmarks/xla_flags.py --settings "" xla_cpu_experimental_ynn_fusion_type=-reduce

XLA reads its flags once per process, so every setting runs in its own process (the
model's step is built, compiled and timed there). The settings take turns, round after
round, so that a background load hits them alike; the table gives each setting's median
step time over the rounds (wall-clock and process CPU time) and its ratio to the
no-flag setting, with the spread of the per-round ratios. A setting that aborts XLA (an
unknown flag, a crash in a library path) is reported as such. ``--hlo`` also counts the
library fusions (``__xnn_fusion`` / ``__ynn_fusion`` / oneDNN custom calls) that formed
in the compiled step, to show which flags actually change the program.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

YNN = "--xla_cpu_experimental_ynn_fusion_type="
XNN = "--xla_cpu_experimental_xnn_fusion_type="
CANDIDATES = [  # jaxlib 0.10.2's default YNN list fuses dots (with their element-wise epilogue and
    "",          # reductions), reductions and NHWC convolutions; "=" with nothing turns YNN off
    YNN,
    YNN + "-reduce",
    YNN + "-individual_convolution",
    YNN + "individual_dot",
    "--xla_cpu_use_xnnpack=true",
]
DEFAULT_MODELS = ["mlp", "lenet", "cnn", "lstm", "transformer", "bert-small"]
FUSION_MARKERS = ("__ynn_fusion", "__xnn_fusion", "__onednn")


def _flags(setting: str) -> str:
    """``"a=1 b=2"`` -> ``"--a=1 --b=2"`` (argparse cannot take values that start with ``--``)."""
    return " ".join(f if f.startswith("--") else "--" + f for f in setting.split())


def child(models: list[str], repeats: int, hlo: bool) -> dict:
    """Runs in the process whose XLA_FLAGS are under test: builds, compiles, times."""
    import importlib

    from _harness import start
    from run import MODELS

    out = {}
    for key in models:
        module = importlib.import_module(MODELS[key][0])
        run = module.fnet_runner()
        t0 = time.perf_counter()
        first, _ = start(run, warmup=1)
        wanted = min(repeats, getattr(module, "REPEATS", repeats))
        wall, cpu = [], []
        for _ in range(wanted):
            c0, w0 = time.process_time(), time.perf_counter()
            run()
            wall.append((time.perf_counter() - w0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
        row = {"ms": statistics.median(wall), "cpu_ms": statistics.median(cpu), "first_s": first,
               "seconds": time.perf_counter() - t0}
        if hlo:
            text = run.lower().compile().as_text()
            row["fusions"] = {m: text.count(m) for m in FUSION_MARKERS if m in text}
        out[key] = row
    return out


def spawn(setting: str, models: list[str], repeats: int, hlo: bool, timeout: float) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), setting) if f)
    env["FNET_XLA_FLAGS"] = "0"  # measure exactly the setting, without fnet's defaults
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--repeats", str(repeats), "--models", *models]
    if hlo:
        cmd.append("--hlo")
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        return {"error": f"exit {proc.returncode}: " + (tail[-1][:200] if tail else "")}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(settings: list[str], models: list[str], runs: dict) -> str:
    lines = ["| setting | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models)]
    base = runs[settings[0]]
    for s in settings:
        cells = []
        for m in models:
            ok = [r[m] for r in runs[s] if m in r]
            errors = [r["error"] for r in runs[s] if "error" in r]
            if not ok:
                cells.append(f"failed ({errors[0]})" if errors else "-")
                continue
            ms = statistics.median(r["ms"] for r in ok)
            cell = f"{ms:.1f}"
            if s != settings[0]:
                # per-round ratios against the baseline run of the same round, wall-clock and CPU time
                for field in ("ms", "cpu_ms"):
                    ratios = [a[m][field] / b[m][field] for a, b in zip(runs[s], base) if m in a and m in b]
                    if ratios:
                        cell += (f" {'wall' if field == 'ms' else 'cpu'} {statistics.median(ratios):.2f}"
                                 f" ({min(ratios):.2f}-{max(ratios):.2f})")
            fusions = ok[0].get("fusions")
            if fusions is not None:
                cell += " [" + (", ".join(f"{k.strip('_')} {v}" for k, v in fusions.items()) or "no library fusion") + "]"
            cells.append(cell)
        lines.append(f"| `{s or '(no flags)'}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--settings", nargs="*", default=None, help="XLA_FLAGS strings, leading '--' optional; the "
                        "first is the baseline the ratios are taken against (default: no flags, then the candidates)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per model (at most its REPEATS)")
    parser.add_argument("--hlo", action="store_true", help="count library fusions in the compiled step")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per process")
    parser.add_argument("--json", dest="json_path", help="write every measurement here (after each process)")
    parser.add_argument("--render", metavar="JSON", help="only print the table of a saved (or interrupted) sweep")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.models, args.repeats, args.hlo)))
        return 0
    if args.render:
        with open(args.render) as handle:
            saved = json.load(handle)
        print(table(saved["settings"], saved["models"], saved["runs"]))
        return 0
    settings = CANDIDATES if args.settings is None else [_flags(s) for s in args.settings]
    runs: dict[str, list[dict]] = {s: [] for s in settings}
    for r in range(args.rounds):
        for s in settings:
            result = spawn(s, args.models, args.repeats, args.hlo and r == 0, args.timeout)
            runs[s].append(result)
            summary = result.get("error") or ", ".join(f"{m} {v['ms']:.1f}" for m, v in result.items())
            print(f"round {r + 1} `{s or '(none)'}`: {summary}", flush=True)
            if args.json_path:  # after every process, so that an interrupted sweep keeps what it measured
                with open(args.json_path, "w") as handle:
                    json.dump({"settings": settings, "models": args.models, "runs": runs}, handle, indent=1)
    print()
    print("fnet training step, median ms over rounds; against the first setting: median (and range) of the "
          "per-round ratios by wall-clock and by process CPU time")
    print(table(settings, args.models, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
