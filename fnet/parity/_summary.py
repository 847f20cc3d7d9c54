"""The per-family summary table of a parity run (``python -m fnet.parity --summary``).

It is built from :meth:`Report.to_json` entries (with ``family`` added), the same data
``--json`` writes, so the README's table and the JSON report cannot disagree.
"""

from __future__ import annotations

from typing import Iterable, Mapping

__all__ = ["summary_markdown"]


def summary_markdown(results: Iterable[Mapping]) -> str:
    """One row per family: cases, comparisons, passed, tensors, and the largest errors per dtype."""
    families: dict[str, dict] = {}
    for r in results:
        f = families.setdefault(r["family"], {"cases": set(), "n": 0, "passed": 0, "tensors": 0,
                                              "float32": [0.0, 0.0], "float64": [0.0, 0.0]})
        f["cases"].add(r["name"])
        f["n"] += 1
        f["passed"] += bool(r["ok"])
        f["tensors"] += len(r["diffs"])
        worst = f.setdefault(r["dtype"], [0.0, 0.0])
        for d in r["diffs"]:
            i = 1 if d["kind"] == "grad" else 0
            if d["max_abs"] is not None and d["max_abs"] == d["max_abs"]:
                worst[i] = max(worst[i], d["max_abs"])

    def e(x: float) -> str:
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
