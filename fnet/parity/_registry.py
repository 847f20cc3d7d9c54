"""The registry of parity cases that drives both pytest and ``python -m fnet.parity``.

A case has a unique name, a family (one ``parity_tests/test_<family>.py`` each), the
public names it covers (``"nn.Linear"``, ``"functional.linear"``) and a ``run(dtype)``
that returns a :class:`~fnet.parity._engine.Report`. Case definitions live in
``fnet/parity/cases/<family>.py`` and register themselves on import; :func:`all_cases`
imports every module of that package.

Three helpers build the usual kinds of case:

* :func:`module_case`: an fnet module and the torch module it mirrors.
* :func:`function_case`: an fnet function and its ``torch.nn.functional`` twin.
* :func:`register` with a custom ``run`` for anything else (optimizer trajectories,
  initialiser distributions, dropout statistics).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import zlib
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from . import _engine

DTYPES = ("float32", "float64")


@dataclasses.dataclass
class ParityCase:
    """One registered comparison: the case shape fnet's cases and users' cases share.

    A case is a name, a family and a ``run(dtype) -> Report`` function; the registry
    runs it once per dtype in ``dtypes``. :func:`module_case` and :func:`function_case`
    build the ``run`` for the two common shapes (a module and its torch twin, a function
    and its torch twin); :func:`case` registers any other ``run``.

    Attributes:
        name: unique id, ``"nn.Linear[bias=False]"``.
        family: the parity_tests file it belongs to (``"linear"``, ``"loss"``...).
        covers: public names exercised (``"nn.Linear"``, ``"functional.linear"``).
        run: ``dtype -> Report``.
        dtypes: the dtypes the case runs in (float32 and float64 by default).
        note: why a tolerance is looser than DESIGN.md's defaults, when it is.
        slow: excluded from quick runs (``--quick``).
    """

    name: str
    family: str
    covers: tuple[str, ...]
    run: Callable[[str], "_engine.Report"]
    dtypes: tuple[str, ...] = DTYPES
    note: str = ""
    slow: bool = False


REGISTRY: dict[str, ParityCase] = {}


def register(case: ParityCase) -> ParityCase:
    """Adds a case to the registry that pytest and ``python -m fnet.parity`` run.

    Raises:
        ValueError: a case of that name exists already.
    """
    if not isinstance(case, ParityCase):
        raise TypeError(f"register: expected a ParityCase (or use @fnet.parity.case), got {type(case).__name__}")
    if case.name in REGISTRY:
        raise ValueError(f"parity case {case.name!r} is registered twice")
    REGISTRY[case.name] = case
    return case


def case(name: str, family: str, *, covers: Iterable[str] = (), dtypes: Sequence[str] = DTYPES,
         note: str = "", slow: bool = False) -> Callable[[Callable[[str], "_engine.Report"]], Callable]:
    """Registers ``run(dtype) -> Report`` as a case: the form for comparisons of any shape.

    Example::

        import numpy as np, torch
        import fnet
        from fnet import nn

        @fnet.parity.case("mylib.BatchNorm1d[train]", family="mylib")
        def batchnorm_in_training(dtype):
            x = np.random.default_rng(0).standard_normal((8, 4))
            return fnet.parity.compare(nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4), [x], dtype=dtype,
                                       train=True)   # running statistics compared too

        assert batchnorm_in_training("float64").ok
    """
    def decorate(run: Callable[[str], "_engine.Report"]) -> Callable[[str], "_engine.Report"]:
        register(ParityCase(name, family, tuple(covers), run, tuple(dtypes), note, slow))
        return run

    return decorate


def case_seed(name: str) -> int:
    """A stable per-case seed, so every run draws the same inputs."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


InputsFn = Callable[[np.random.Generator], Sequence[Any]]


def module_case(name: str, family: str, build: Callable[[], tuple[Any, Any]], inputs: InputsFn, *,
                covers: Iterable[str] = (), train: bool = False,
                kwargs: Mapping[str, Any] | Callable[[np.random.Generator], Mapping[str, Any]] | None = None,
                tol: Mapping[str, float] | None = None, tol64: Mapping[str, float] | None = None,
                note: str = "", dtypes: Sequence[str] = DTYPES, grad_inputs: bool = True,
                slow: bool = False) -> ParityCase:
    """Registers an fnet-module-vs-torch-module case.

    Args:
        build: ``() -> (fnet_module, torch_module)``; it runs after
            ``torch.manual_seed(seed)``, so torch's default initialisation is reproducible.
        inputs: ``rng -> [arrays]`` (float64 for floating inputs; cast per dtype).
        kwargs: keyword inputs for both forwards, or ``rng -> kwargs``.
        tol, tol64: tolerance overrides for float32 / float64 (say why in ``note``).
    """
    covers = tuple(covers)
    seed = case_seed(name)

    def run(dtype: str) -> _engine.Report:
        import torch

        torch.manual_seed(seed)
        fnet_module, torch_module = build()
        rng = np.random.default_rng(seed)
        xs = list(inputs(rng))
        kw = kwargs(rng) if callable(kwargs) else dict(kwargs or {})
        return _engine.compare(fnet_module, torch_module, xs, dtype=dtype, train=train,
                               kwargs=kw, tol=tol if dtype == "float32" else tol64, seed=seed,
                               name=name, grad_inputs=grad_inputs)

    return register(ParityCase(name, family, covers, run, tuple(dtypes), note, slow))


def function_case(name: str, family: str, fnet_fn: Callable, torch_fn: Callable, inputs: InputsFn, *,
                  covers: Iterable[str] = (),
                  kwargs: Mapping[str, Any] | Callable[[np.random.Generator], Mapping[str, Any]] | None = None,
                  torch_kwargs: Mapping[str, Any] | None = None,
                  tol: Mapping[str, float] | None = None, tol64: Mapping[str, float] | None = None,
                  note: str = "", dtypes: Sequence[str] = DTYPES, grad_inputs: bool = True,
                  slow: bool = False) -> ParityCase:
    """Registers an fnet-function-vs-torch-function case (no parameters).

    ``kwargs`` go to both functions (numpy arrays among them are converted for each
    side); ``torch_kwargs``, when given, replace them on the torch side.
    """
    covers = tuple(covers)
    seed = case_seed(name)

    def run(dtype: str) -> _engine.Report:
        rng = np.random.default_rng(seed)
        xs = list(inputs(rng))
        kw = kwargs(rng) if callable(kwargs) else dict(kwargs or {})
        return _engine.compare_functions(fnet_fn, torch_fn, xs, dtype=dtype, kwargs=kw,
                                         torch_kwargs=torch_kwargs,
                                         tol=tol if dtype == "float32" else tol64, seed=seed,
                                         name=name, grad_inputs=grad_inputs)

    return register(ParityCase(name, family, covers, run, tuple(dtypes), note, slow))


_LOADED = False


def load_all() -> dict[str, ParityCase]:
    """Imports every case module under ``fnet.parity.cases`` (once) and returns the registry."""
    global _LOADED
    if not _LOADED:
        from . import cases

        for info in sorted(pkgutil.iter_modules(cases.__path__), key=lambda m: m.name):
            importlib.import_module(f"{cases.__name__}.{info.name}")
        _LOADED = True
    return REGISTRY


def all_cases(family: str | None = None, pattern: str | None = None) -> list[ParityCase]:
    """Registered cases, optionally of one family and/or whose name contains ``pattern``."""
    cases = load_all().values()
    return [c for c in cases if (family is None or c.family == family)
            and (pattern is None or pattern.lower() in c.name.lower())]


def families() -> list[str]:
    """The names of every registered case family (``"conv"``, ``"llama"``...), sorted."""
    return sorted({c.family for c in load_all().values()})


def covered_names() -> set[str]:
    """Every public name some case declares in ``covers`` (``"nn.Linear"``, ``"functional.relu"``...).

    ``parity_tests/test_coverage.py`` compares it with fnet's public names.
    """
    return {name for c in load_all().values() for name in c.covers}
