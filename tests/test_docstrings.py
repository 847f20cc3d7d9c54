"""The examples in the package docstrings are complete programs that run as written, and
every public subpackage is reachable from a plain ``import fnet`` without importing torch."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest

import fnet


def code_blocks(doc: str) -> list[str]:
    """The literal blocks of a reStructuredText docstring (the indented text after ``::``)."""
    lines = inspect.cleandoc(doc).splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].rstrip().endswith("::"):
            i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                body.append(lines[i])
                i += 1
            blocks.append(textwrap.dedent("\n".join(body)))
        else:
            i += 1
    return blocks


def _documented():
    import fnet.parity

    objects = [("fnet", fnet), ("fnet.parity", fnet.parity)]
    objects += [(f"fnet.parity.{name}", getattr(fnet.parity, name)) for name in fnet.parity.__all__
                if callable(getattr(fnet.parity, name)) and getattr(fnet.parity, name).__doc__]
    return [(name, block) for name, obj in objects for block in code_blocks(obj.__doc__)]


@pytest.mark.parametrize("name,block", _documented(), ids=lambda v: v if isinstance(v, str) and "\n" not in v else "")
def test_docstring_example_runs(name, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(block, f"<docstring of {name}>", "exec"), {"__name__": "__docstring__"})


def test_package_and_parity_docstrings_have_examples():
    names = {name for name, _ in _documented()}
    assert {"fnet", "fnet.parity", "fnet.parity.compare", "fnet.parity.assert_close",
            "fnet.parity.compare_training", "fnet.parity.case"} <= names


def test_every_subpackage_is_reachable_and_torch_stays_unimported():
    code = ("import sys, fnet\n"
            "for name in fnet._LAZY_SUBPACKAGES: getattr(fnet, name)\n"
            "assert callable(fnet.parity.compare) and callable(fnet.train.fit)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_unknown_attribute_still_raises():
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        fnet.nonexistent  # noqa: B018
