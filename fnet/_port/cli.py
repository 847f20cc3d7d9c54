"""``python -m fnet.parity --port MODULE:FACTORY``: port your own model, print the parity table.

    python -m fnet.parity --port my_model.py:Net --input-shape 8,3,32,32
    python -m fnet.parity --port my_model.py:build --input input_ids=4,16:int64:0:1000 \\
        --input attention_mask=4,16:int64:1:2
    python -m fnet.parity --port my_model.py:model_and_inputs        # FACTORY returns them too

``MODULE`` is a ``.py`` file or an importable module; ``FACTORY`` a class, function or
``torch.nn.Module`` in it. A factory may also return ``(module, args)`` or
``(module, args, kwargs)``, for inputs the flags cannot describe. Floating inputs are
standard normal, integer inputs uniform in ``[LOW, HIGH)``, all from seed 0 (torch's
initialisation from ``torch.manual_seed(0)``). The rows are the registry's: float32 and
float64 by default (``--dtype`` picks one), ``-v`` for every tensor.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Any

import numpy as np

_DTYPES = ("float32", "float64", "int64", "int32", "bool")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--port`` options of ``python -m fnet.parity``."""
    group = parser.add_argument_group("port your own model (fnet.port)")
    group.add_argument("--port", metavar="MODULE:FACTORY",
                       help="port the torch model FACTORY() from MODULE (a .py file or a module) "
                            "and compare it with the original")
    group.add_argument("--input-shape", action="append", default=[], metavar="SHAPE",
                       help="a float32 positional input of this shape, e.g. 8,3,32,32 (repeat for more)")
    group.add_argument("--input", action="append", default=[], metavar="[NAME=]SHAPE[:DTYPE[:LOW:HIGH]]",
                       help="an input with a dtype (int64 ids in [LOW, HIGH)); NAME= passes it by keyword")


def load_factory(spec: str) -> Any:
    """The object ``FACTORY`` of ``MODULE`` in ``"MODULE:FACTORY"``."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--port: expected MODULE:FACTORY (my_model.py:Net), got {spec!r}")
    if module_name.endswith(".py") or os.sep in module_name:
        if not os.path.exists(module_name):
            raise ValueError(f"--port: no file {module_name!r}")
        sys.path.insert(0, os.path.dirname(os.path.abspath(module_name)))
        loader = importlib.util.spec_from_file_location(os.path.basename(module_name)[:-3], module_name)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    if not hasattr(module, attr):
        raise ValueError(f"--port: {module_name} has no {attr!r}")
    return getattr(module, attr)


def parse_input(text: str, rng: np.random.Generator) -> tuple[str | None, np.ndarray]:
    """``[NAME=]SHAPE[:DTYPE[:LOW:HIGH]]`` -> (name or None, array)."""
    name, _, rest = text.rpartition("=")
    parts = rest.split(":")
    try:
        shape = tuple(int(s) for s in parts[0].split(",") if s)
    except ValueError:
        raise ValueError(f"--input: bad shape in {text!r}; expected e.g. 4,16 or ids=4,16:int64:0:1000") from None
    dtype = parts[1] if len(parts) > 1 and parts[1] else "float32"
    if dtype not in _DTYPES:
        raise ValueError(f"--input: dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    if dtype.startswith("float"):
        return name or None, rng.standard_normal(shape).astype(dtype)
    low, high = (int(parts[2]), int(parts[3])) if len(parts) > 3 else (0, 2)
    return name or None, rng.integers(low, high, shape).astype(dtype)


def build(args: argparse.Namespace) -> tuple[Any, tuple, dict]:
    """The torch model and its example inputs from the command line."""
    import torch

    torch.manual_seed(0)
    factory = load_factory(args.port)
    made = factory if isinstance(factory, torch.nn.Module) else factory()
    rng = np.random.default_rng(0)
    if isinstance(made, tuple):
        module, call_args, call_kwargs = (*made, {})[:3] if len(made) == 2 else made
        return module, tuple(call_args), dict(call_kwargs)
    positional = [torch.from_numpy(parse_input(s, rng)[1]) for s in args.input_shape]
    keywords = {}
    for text in args.input:
        name, value = parse_input(text, rng)
        if name is None:
            positional.append(torch.from_numpy(value))
        else:
            keywords[name] = torch.from_numpy(value)
    if not positional and not keywords:
        raise ValueError("--port: give the example inputs (--input-shape 8,3,32,32 or --input ...), or "
                         "let FACTORY return (module, args[, kwargs])")
    return made, tuple(positional), keywords


def cases(args: argparse.Namespace) -> list:
    """One parity case: the port of the command line's model, in float32 and float64."""
    from ..parity import ParityCase
    from . import port

    module, call_args, call_kwargs = build(args)
    name = f"port:{args.port.rpartition(':')[2]}"

    def run(dtype: str):
        ported = port(module, call_args, call_kwargs, check_dtypes=(dtype,))
        for note in ported.notes:
            print(f"note ({dtype}): {note}", file=sys.stderr)
        report = ported.report
        report.name = name
        return report

    return [ParityCase(name, "port", ("port",), run)]
