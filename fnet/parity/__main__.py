"""``python -m fnet.parity``: run the registered parity cases against PyTorch on the CPU.

Prints one row per case and dtype (forward max error, gradient max error, verdict) and a
summary line; a failing case also prints its report, worst tensor first, with the
tolerance each tensor was judged by (``-v`` prints it for every case). ``--json PATH``
writes every report (``Report.to_json``), ``--summary PATH`` the per-family markdown
table. Exits 1 when any case fails.

Your own cases run the same way: ``--cases your_package.parity_cases`` imports that
module (which registers cases with ``fnet.parity.module_case`` / ``function_case`` /
``case``) and runs the cases it registered; add ``--with-fnet`` to run fnet's beside them.
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
    parser.add_argument("--cases", action="append", default=[], metavar="MODULE",
                        help="import MODULE (e.g. mypkg.parity_cases), which registers cases, and run them; "
                             "may be repeated")
    parser.add_argument("--with-fnet", action="store_true",
                        help="with --cases: run fnet's own cases as well")
    from .._port import cli as port_cli

    port_cli.add_arguments(parser)
    args = parser.parse_args(argv)

    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from . import _registry

    user_cases = _load_user_cases(args.cases)
    cases = port_cli.cases(args) if args.port else _registry.all_cases(args.family, args.pattern)
    if args.cases and not args.with_fnet:
        cases = [c for c in cases if c.name in user_cases]
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
        from ._summary import summary_markdown

        with open(args.summary_path, "w") as handle:
            handle.write(summary_markdown(results) + "\n")
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump({"cases": n_cases, "comparisons": total, "failed": failed, "results": results},
                      handle, indent=1)
    return 1 if failed else 0


def _load_user_cases(modules: list[str]) -> set[str]:
    """Imports each module (so it registers its cases) and returns the names it registered."""
    import importlib

    from . import _registry

    _registry.load_all()  # fnet's own first, so a user case cannot shadow one silently
    before = set(_registry.REGISTRY)
    if modules and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # run from a project's root, its packages import
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise SystemExit(f"python -m fnet.parity: cannot import --cases {name!r}: {err}") from None
    added = set(_registry.REGISTRY) - before
    if modules and not added:
        raise SystemExit(f"python -m fnet.parity: --cases {', '.join(modules)} registered no case (use "
                         f"fnet.parity.module_case / function_case / case at import time)")
    return added


if __name__ == "__main__":
    sys.exit(main())
