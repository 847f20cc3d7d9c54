"""The Core ATen coverage table of the port interpreter, generated from the handler table.

    python -m fnet._port.coverage                  # print the markdown table
    python -m fnet._port.coverage --write README.md   # refresh the README's table in place

The Core ATen opset is every ATen overload torch tags ``core`` (what
``torch.export``'s decompositions target). Each is either run by a handler
(``fnet/_port/_ops_*.py``), a backward operator (never in a forward graph: fnet
differentiates the forward with JAX instead), or not supported yet. The README's table
sits between two markers and ``tests/test_port_coverage.py`` fails when it is stale.
"""

from __future__ import annotations

import argparse
import sys

BEGIN = "<!-- port-coverage:begin (python -m fnet._port.coverage --write README.md) -->"
END = "<!-- port-coverage:end -->"


def core_ops() -> list[str]:
    """Every overload of torch's Core ATen opset, by name (``"aten.add.Tensor"``)."""
    import torch

    names = set()
    # every registered schema (dir(torch.ops.aten) lists only the packets touched so far)
    for qualified in torch._C._dispatch_get_all_op_names():
        namespace, _, full = qualified.partition("::")
        if namespace != "aten":
            continue
        packet_name, _, overload = full.partition(".")
        try:
            op = getattr(getattr(torch.ops.aten, packet_name), overload or "default")
        except (AttributeError, RuntimeError):
            continue
        if torch.Tag.core in op.tags:
            names.add(str(op))
    return sorted(names)


def classify() -> dict[str, list[str]]:
    """``{"handled" | "backward" | "missing": [operator names]}`` over the Core ATen opset."""
    from ._handlers import load

    handlers = load()
    table: dict[str, list[str]] = {"handled": [], "backward": [], "missing": []}
    for name in core_ops():
        if name in handlers:
            table["handled"].append(name)
        elif "_backward" in name:
            table["backward"].append(name)
        else:
            table["missing"].append(name)
    return table


def markdown() -> str:
    """The README block: counts and every operator by status."""
    import torch

    from ._handlers import load

    table = classify()
    total = sum(len(v) for v in table.values())
    extra = sorted(n for n in load() if n.startswith("aten.") and n not in set(core_ops()))

    def names(ops: list[str]) -> str:
        return ", ".join(f"`{op.removeprefix('aten.')}`" for op in ops) or "none"

    lines = [
        f"Core ATen opset of torch {torch.__version__.split('+')[0]}: **{total} operators**; the "
        f"interpreter runs **{len(table['handled'])}**, **{len(table['backward'])}** are backward "
        f"operators (fnet differentiates the forward with JAX instead), "
        f"**{len(table['missing'])}** are not supported yet. It also runs {len(extra)} ATen "
        f"overloads outside the core set that `torch.export` keeps in its graphs (`linear`, "
        f"`conv2d`, `scaled_dot_product_attention`, `dropout`, `lstm`, in-place twins are run "
        f"through their out-of-place handler...).",
        "",
        "| status | count | operators |",
        "|---|---:|---|",
        f"| run by the interpreter | {len(table['handled'])} | {names(table['handled'])} |",
        f"| backward (JAX autodiff instead) | {len(table['backward'])} | {names(table['backward'])} |",
        f"| not supported yet | {len(table['missing'])} | {names(table['missing'])} |",
    ]
    return "\n".join(lines)


def _replace_block(text: str, block: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"no coverage markers in the file: add {BEGIN} and {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def readme_block(text: str) -> str:
    """The table currently between the markers of ``text``."""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fnet._port.coverage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", metavar="FILE", help="replace the table between the markers of FILE")
    args = parser.parse_args(argv)
    block = markdown()
    if args.write:
        with open(args.write) as handle:
            text = handle.read()
        with open(args.write, "w") as handle:
            handle.write(_replace_block(text, block))
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
