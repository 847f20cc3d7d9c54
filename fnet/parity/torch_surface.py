"""torch's public surface, walked from torch's side, and what fnet has of it.

fnet's own coverage test (``parity_tests/test_coverage.py``) starts from fnet's names,
so it proves that what fnet has is tested, not that fnet has what torch has. This
module starts from torch: it lists the public names of each namespace below in the
installed torch, leaves out by rule what is not part of the modelling surface, maps
each remaining name to its fnet twin, and says whether the twin has parity cases or
the name stands in :data:`EXCLUDED` with the reason fnet leaves it out.

================  ==============================================  =======================
namespace         torch names walked                              fnet twin (case name)
================  ==============================================  =======================
``nn``            classes in ``torch.nn`` subclassing ``Module``  ``fnet.nn.X`` (``nn.X``)
``functional``    public callables of ``torch.nn.functional``     ``fnet.functional.x``
                  (torch 2.13's module has no ``__all__``)        (``functional.x``)
``init``          public callables of ``torch.nn.init``           ``fnet.init.x`` (``init.x``)
``optim``         ``torch.optim.Optimizer`` subclasses            ``fnet.optim.X``
``lr_scheduler``  ``LRScheduler`` subclasses of                   ``fnet.optim.lr_scheduler.X``
                  ``torch.optim.lr_scheduler``                    (``lr_scheduler.X``)
``utils.data``    ``torch.utils.data.__all__``                    ``fnet.data.X`` (``data.X``)
================  ==============================================  =======================

Rules that leave a name out of the count (:data:`RULES`; each name left out is listed
with its rule by :func:`walk`):

* ``typing``: classes, enums and ``typing`` constructs found among the functions
  (``Tensor``, ``Callable``, ``DType``); they annotate signatures, they compute nothing.
* ``plumbing``: torch's ``__torch_function__`` dispatch (``handle_torch_function``,
  ``has_torch_function*``), TorchScript's ``boolean_dispatch`` and internal argument
  validators (:data:`PLUMBING`).
* ``base class``: abstract bases a user subclasses or never sees (``RNNBase``,
  ``Optimizer``, ``LRScheduler``; :data:`BASE_CLASSES`). fnet's own bases are private.
* ``deprecated``: names torch itself deprecates, with a warning that names the
  replacement (:data:`DEPRECATED`). The replacement must have an fnet twin with cases.
* ``in-place``: ``x_`` where ``x`` is walked too (``relu_``). JAX arrays are immutable,
  so the out-of-place twin is the only form; it must have cases.

Private names (a leading ``_``) are not part of the surface and are not listed.

``python -m fnet.parity.torch_surface --markdown`` prints the README's table of
exclusions and the counts (``parity_tests/test_torch_coverage.py`` checks that the
README holds exactly that text); without arguments it prints every torch name and its
status.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
from typing import Any, Iterable

NAMESPACES = ("nn", "functional", "init", "optim", "lr_scheduler", "utils.data")

# torch module walked for each namespace, and the fnet module holding the twins.
_TORCH_MODULE = {"nn": "torch.nn", "functional": "torch.nn.functional", "init": "torch.nn.init",
                 "optim": "torch.optim", "lr_scheduler": "torch.optim.lr_scheduler",
                 "utils.data": "torch.utils.data"}
_FNET_MODULE = {"nn": "fnet.nn", "functional": "fnet.functional", "init": "fnet.init",
                "optim": "fnet.optim", "lr_scheduler": "fnet.optim.lr_scheduler",
                "utils.data": "fnet.data"}
# the prefix of the names parity cases declare in ``covers=[...]``
_CASE_PREFIX = {"nn": "nn", "functional": "functional", "init": "init", "optim": "optim",
                "lr_scheduler": "lr_scheduler", "utils.data": "data"}

RULES = {
    "typing": "a type, enum or typing construct, not a computation",
    "plumbing": "torch's dispatch or TorchScript machinery, or an internal argument check",
    "base class": "an abstract base class, not a layer, optimizer or scheduler of its own",
    "deprecated": "deprecated by torch with a warning naming the replacement (which fnet has)",
    "in-place": "the in-place form of a walked function; JAX arrays are immutable",
}

PLUMBING = {
    "torch.nn.functional.handle_torch_function": "__torch_function__ dispatch",
    "torch.nn.functional.has_torch_function": "__torch_function__ dispatch",
    "torch.nn.functional.has_torch_function_unary": "__torch_function__ dispatch",
    "torch.nn.functional.has_torch_function_variadic": "__torch_function__ dispatch",
    "torch.nn.functional.boolean_dispatch": "TorchScript's overload selection on a bool argument",
    "torch.nn.functional.assert_int_or_pair": "an argument validator of torch's own functions",
}

BASE_CLASSES = {
    "torch.nn.RNNBase": "base of RNN/LSTM/GRU (fnet's is private: fnet.nn._rnn)",
    "torch.nn.RNNCellBase": "base of RNNCell/LSTMCell/GRUCell",
    "torch.optim.Optimizer": "base of the optimizers (fnet's are optax transformations)",
    "torch.optim.lr_scheduler.LRScheduler": "base of the schedulers (fnet's are functions of the step)",
}

# torch name -> the replacement torch's deprecation warning names (a walked torch name).
DEPRECATED = {
    "torch.nn.Container": "torch.nn.Sequential",
    "torch.nn.NLLLoss2d": "torch.nn.NLLLoss",
    "torch.nn.functional.upsample": "torch.nn.functional.interpolate",
    "torch.nn.functional.upsample_nearest": "torch.nn.functional.interpolate",
    "torch.nn.functional.upsample_bilinear": "torch.nn.functional.interpolate",
    **{f"torch.nn.init.{name}": f"torch.nn.init.{name}_" for name in (
        "constant", "dirac", "eye", "kaiming_normal", "kaiming_uniform", "normal", "orthogonal",
        "sparse", "uniform", "xavier_normal", "xavier_uniform")},
}

# The one table of torch names fnet leaves out on purpose, with the reason. The README's
# "Differences from PyTorch" shows it (generated by ``--markdown``).
EXCLUDED: dict[str, str] = {
    # -- torch.nn, torch.nn.functional, torch.nn.init (surface-nn) ----------------------------
    "torch.nn.DataParallel": (
        "single-process multi-GPU replication; fnet runs data parallelism through "
        "`fnet.sharding.data_parallel` on a `jax.sharding.Mesh` (XLA inserts the all-reduces)"),
    "torch.nn.functional.scaled_mm": (
        "a float8 GEMM driven by torch's kernel-level scaling recipes and swizzled scale layouts "
        "(`ScalingType`, `SwizzleType`: tensor-wise, row-wise, MX and NV block formats); in JAX "
        "float8 is a dtype and the scaling is written out, `(a.astype(f32) * scale_a) @ (b.astype(f32) "
        "* scale_b)`, which XLA fuses into a scaled GEMM where the hardware has one"),
    "torch.nn.functional.scaled_grouped_mm": (
        "the float8, per-group-scaled form of `grouped_mm` (see `scaled_mm`); fnet has "
        "`F.grouped_mm` in any floating dtype"),
    # -- torch.utils.data ---------------------------------------------------------------------
    **{f"torch.utils.data.{name}": (
        "DataPipes, the composable-iterator API that torchdata stopped developing and removed "
        "in torchdata 0.10; fnet's DataLoader consumes datasets (write a generator or an "
        "iterable dataset instead)") for name in (
        "IterDataPipe", "MapDataPipe", "DFIterDataPipe", "DataChunk", "functional_datapipe",
        "guaranteed_datapipes_determinism", "non_deterministic", "runtime_validation",
        "runtime_validation_disabled", "argument_validation")},
    # -- torch.optim, lr_scheduler, utils.data (surface-optim adds its entries here) ------------
}


@dataclasses.dataclass(frozen=True)
class TorchName:
    """One public torch name and its fnet twin.

    Attributes:
        namespace: one of :data:`NAMESPACES`.
        qualname: ``"torch.nn.Linear"``.
        twin: the name parity cases cover, ``"nn.Linear"``.
        has_twin: fnet has an attribute of that name.
        covered: some parity case declares ``twin`` in its ``covers``.
        excluded: the reason from :data:`EXCLUDED`, or ``""``.
    """

    namespace: str
    qualname: str
    twin: str
    has_twin: bool
    covered: bool
    excluded: str = ""

    @property
    def status(self) -> str:
        if self.covered:
            return "covered"
        if self.excluded:
            return "excluded"
        return "no twin" if not self.has_twin else "twin without parity case"


@dataclasses.dataclass
class Surface:
    """What :func:`walk` found in one namespace."""

    namespace: str
    names: list[TorchName]
    left_out: dict[str, str]  # torch qualname -> rule

    @property
    def missing(self) -> list[TorchName]:
        return [n for n in self.names if n.status not in ("covered", "excluded")]

    def count(self, status: str) -> int:
        return sum(n.status == status for n in self.names)


def _is_typing(obj: Any) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return inspect.isclass(obj) or module in ("typing", "typing_extensions", "collections.abc")


def _candidates(namespace: str) -> Iterable[tuple[str, Any]]:
    """``(name, object)`` of the kind walked in ``namespace`` (before the rules)."""
    import torch

    module = importlib.import_module(_TORCH_MODULE[namespace])
    if namespace == "utils.data":
        names = list(module.__all__)
    else:
        names = sorted(n for n in dir(module))
    for name in names:
        obj = getattr(module, name)
        if namespace == "nn":
            if inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
                yield name, obj
        elif namespace == "optim":
            if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer):
                yield name, obj
        elif namespace == "lr_scheduler":
            if inspect.isclass(obj) and issubclass(obj, torch.optim.lr_scheduler.LRScheduler):
                yield name, obj
        elif namespace == "utils.data":
            yield name, obj
        elif callable(obj) and not inspect.ismodule(obj):
            yield name, obj


def _rule(namespace: str, name: str, obj: Any, qualname: str, walked: set[str]) -> str | None:
    if qualname in PLUMBING:
        return "plumbing"
    if qualname in BASE_CLASSES:
        return "base class"
    if qualname in DEPRECATED:
        return "deprecated"
    if namespace in ("functional", "init") and _is_typing(obj):
        return "typing"
    if name.endswith("_") and name[:-1] in walked and f"{_TORCH_MODULE[namespace]}.{name[:-1]}" \
            not in DEPRECATED:
        return "in-place"
    return None


def walk(namespace: str, covered: set[str] | None = None) -> Surface:
    """The torch names of ``namespace`` and the status of each fnet twin.

    Args:
        namespace: one of :data:`NAMESPACES`.
        covered: the names parity cases cover (default: ``fnet.parity.covered_names()``).
    """
    if namespace not in NAMESPACES:
        raise ValueError(f"walk: namespace must be one of {', '.join(NAMESPACES)}, got {namespace!r}")
    if covered is None:
        from ._registry import covered_names

        covered = covered_names()
    fnet_module = importlib.import_module(_FNET_MODULE[namespace])
    candidates = list(_candidates(namespace))
    all_names = {name for name, _ in candidates}
    names: list[TorchName] = []
    left_out: dict[str, str] = {}
    for name, obj in candidates:
        if name.startswith("_"):  # private: not part of the surface at all
            continue
        qualname = f"{_TORCH_MODULE[namespace]}.{name}"
        rule = _rule(namespace, name, obj, qualname, all_names)
        if rule is not None:
            left_out[qualname] = rule
            continue
        twin = f"{_CASE_PREFIX[namespace]}.{name}"
        names.append(TorchName(namespace, qualname, twin, hasattr(fnet_module, name),
                               twin in covered, EXCLUDED.get(qualname, "")))
    return Surface(namespace, names, left_out)


def twin_of(qualname: str) -> str:
    """The case name of a walked torch name: ``torch.nn.Linear`` -> ``nn.Linear``."""
    for namespace in sorted(NAMESPACES, key=lambda n: -len(_TORCH_MODULE[n])):
        prefix = _TORCH_MODULE[namespace] + "."
        if qualname.startswith(prefix):
            return f"{_CASE_PREFIX[namespace]}.{qualname[len(prefix):]}"
    raise ValueError(f"twin_of: {qualname!r} is not in a walked torch namespace")


# -- the README's text -----------------------------------------------------------------------

def _short(qualname: str) -> str:
    return qualname[len("torch."):] if qualname.startswith("torch.") else qualname


def markdown(surfaces: list[Surface] | None = None) -> str:
    """The README block: counts per namespace, then the exclusion table."""
    if surfaces is None:
        from ._registry import covered_names

        covered = covered_names()
        surfaces = [walk(ns, covered) for ns in NAMESPACES]
    lines = [
        "| torch namespace | torch names | fnet twin with parity cases | excluded below | "
        "missing | left out by rule |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in surfaces:
        rules: dict[str, int] = {}
        for rule in s.left_out.values():
            rules[rule] = rules.get(rule, 0) + 1
        by_rule = ", ".join(f"{n} {r}" for r, n in sorted(rules.items())) or "0"
        lines.append(f"| `{_TORCH_MODULE[s.namespace]}` | {len(s.names)} | {s.count('covered')} | "
                     f"{s.count('excluded')} | {len(s.missing)} | {by_rule} |")
    lines += ["", "| torch name | why fnet leaves it out |", "|---|---|"]
    grouped: dict[str, list[str]] = {}  # one row per reason, names in table order
    for qualname, reason in EXCLUDED.items():
        grouped.setdefault(reason, []).append(f"`{_short(qualname)}`")
    for reason, names in grouped.items():
        lines.append(f"| {', '.join(names)} | {reason} |")
    return "\n".join(lines) + "\n"


README_BEGIN = "<!-- torch-surface:begin (generated: python -m fnet.parity.torch_surface --markdown) -->"
README_END = "<!-- torch-surface:end -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fnet.parity.torch_surface",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true",
                        help="print the README's counts and exclusion table")
    parser.add_argument("--namespace", choices=NAMESPACES, help="only this namespace")
    parser.add_argument("--update-readme", metavar="PATH",
                        help="replace the generated block of this README with the current text")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(), end="")
        return 0
    if args.update_readme:
        with open(args.update_readme) as f:
            text = f.read()
        if README_BEGIN not in text or README_END not in text:
            raise SystemExit(f"{args.update_readme}: no {README_BEGIN} ... {README_END} block")
        head, rest = text.split(README_BEGIN, 1)
        tail = rest.split(README_END, 1)[1]
        with open(args.update_readme, "w") as f:
            f.write(f"{head}{README_BEGIN}\n{markdown()}{README_END}{tail}")
        return 0
    from ._registry import covered_names

    covered = covered_names()
    for ns in ([args.namespace] if args.namespace else NAMESPACES):
        surface = walk(ns, covered)
        print(f"{_TORCH_MODULE[ns]}: {len(surface.names)} names, {surface.count('covered')} covered, "
              f"{surface.count('excluded')} excluded, {len(surface.missing)} missing, "
              f"{len(surface.left_out)} left out by rule")
        for name in surface.names:
            print(f"  {name.qualname:<55} {name.status}")
        for qualname, rule in surface.left_out.items():
            print(f"  {qualname:<55} left out: {rule}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
