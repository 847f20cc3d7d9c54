"""``python -m fnet.parity``: run every registered parity case against PyTorch on the CPU.

Prints one row per case and dtype (forward max error, gradient max error, verdict) and a
summary line; ``--json PATH`` writes the full report; exits 1 when any case fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fnet.parity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", dest="pattern", help="only cases whose name contains PATTERN")
    parser.add_argument("--family", help="only this family (see --list)")
    parser.add_argument("--dtype", choices=["float32", "float64", "all"], default="all",
                        help="dtypes to run (default: all each case supports)")
    parser.add_argument("--json", dest="json_path", help="write the full report to this file")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--quick", action="store_true", help="skip cases marked slow")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every tensor's error")
    parser.add_argument("--summary", dest="summary_path",
                        help="write a per-family markdown summary (the README's parity table) here")
    from .._port import cli as port_cli

    port_cli.add_arguments(parser)
    args = parser.parse_args(argv)

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from . import _registry

    cases = port_cli.cases(args) if args.port else _registry.all_cases(args.family, args.pattern)
    if args.quick:
        cases = [c for c in cases if not c.slow]
    if args.list:
        for case in cases:
            print(f"{case.family:<12} {case.name}  covers: {', '.join(case.covers)}")
        print(f"{len(cases)} cases")
        return 0
    if not cases:
        print("no parity case matches", file=sys.stderr)
        return 2

    width = max(len(c.name) for c in cases)
    header = f"{'case':<{width}}  {'dtype':<7}  {'fwd max err':>11}  {'grad max err':>12}  {'grads':>5}  result"
    print(header)
    print("-" * len(header))
    results = []
    failed = 0
    start = time.perf_counter()
    for case in cases:
        dtypes = case.dtypes if args.dtype == "all" else [d for d in case.dtypes if d == args.dtype]
        for dtype in dtypes:
            t0 = time.perf_counter()
            try:
                report = case.run(dtype)
            except Exception as err:  # a crashing case is a failing case, reported by name
                from ._engine import Report

                report = Report(case.name, dtype, [], f"{type(err).__name__}: {err}")
            elapsed = time.perf_counter() - t0
            status = "PASS" if report.ok else "FAIL"
            failed += not report.ok
            print(f"{case.name:<{width}}  {dtype:<7}  {_fmt(report.forward_err):>11}  "
                  f"{_fmt(report.grad_err):>12}  {report.n_grads:>5}  {status}", flush=True)
            if args.verbose or not report.ok:
                for line in str(report).splitlines()[1:]:
                    print("    " + line)
            entry = report.to_json()
            entry.update(family=case.family, covers=list(case.covers), note=case.note,
                         seconds=round(elapsed, 3))
            results.append(entry)
    total = len(results)
    n_cases = len(cases)
    print("-" * len(header))
    print(f"{n_cases} cases, {total} comparisons: {total - failed} passed, {failed} failed "
          f"({time.perf_counter() - start:.0f} s)")
    if args.summary_path:
        with open(args.summary_path, "w") as handle:
            handle.write(summary_markdown(results) + "\n")
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump({"cases": n_cases, "comparisons": total, "failed": failed, "results": results},
                      handle, indent=1)
    return 1 if failed else 0


def summary_markdown(results: list[dict]) -> str:
    """One row per family: cases, comparisons, passed, and the largest errors per dtype."""
    families: dict[str, dict] = {}
    for r in results:
        f = families.setdefault(r["family"], {"cases": set(), "n": 0, "passed": 0, "tensors": 0,
                                              "float32": [0.0, 0.0], "float64": [0.0, 0.0]})
        f["cases"].add(r["name"])
        f["n"] += 1
        f["passed"] += bool(r["ok"])
        f["tensors"] += len(r["diffs"])
        worst = f[r["dtype"]]
        for d in r["diffs"]:
            i = 1 if d["kind"] == "grad" else 0
            if d["max_abs"] is not None and d["max_abs"] == d["max_abs"]:
                worst[i] = max(worst[i], d["max_abs"])

    def e(x):
        return f"{x:.0e}" if x else "0"

    lines = ["| family | cases | comparisons (passed) | tensors compared | max fwd / grad error, float32 | "
             "max fwd / grad error, float64 |", "|---|---:|---:|---:|---|---|"]
    for name in sorted(families):
        f = families[name]
        lines.append(f"| {name} | {len(f['cases'])} | {f['n']} ({f['passed']}) | {f['tensors']} | "
                     f"{e(f['float32'][0])} / {e(f['float32'][1])} | {e(f['float64'][0])} / {e(f['float64'][1])} |")
    total_cases = sum(len(f["cases"]) for f in families.values())
    total = sum(f["n"] for f in families.values())
    passed = sum(f["passed"] for f in families.values())
    tensors = sum(f["tensors"] for f in families.values())
    lines.append(f"| **all** | **{total_cases}** | **{total} ({passed})** | **{tensors}** | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
