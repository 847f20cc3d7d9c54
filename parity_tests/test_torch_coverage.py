"""Coverage from torch's side: every public name of torch.nn, torch.nn.functional,
torch.nn.init, torch.optim, torch.optim.lr_scheduler and torch.utils.data has an fnet twin
with parity cases, or stands in ``fnet.parity.torch_surface.EXCLUDED`` with its reason.

Each test prints its namespace's counts (``pytest -s`` shows them; the README's table is
``python -m fnet.parity.torch_surface --markdown``)."""

from __future__ import annotations

import functools
import os

import pytest

from fnet.parity import covered_names, torch_surface

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=None)
def _surface(namespace: str) -> torch_surface.Surface:
    return torch_surface.walk(namespace, covered_names())


def _check(namespace: str) -> None:
    surface = _surface(namespace)
    print(f"\n{torch_surface._TORCH_MODULE[namespace]}: {len(surface.names)} names, {surface.count('covered')} with an fnet "
          f"twin and parity cases, {surface.count('excluded')} excluded, {len(surface.missing)} "
          f"missing, {len(surface.left_out)} left out by rule")
    missing = [f"{n.qualname} ({n.status})" for n in surface.missing]
    assert not missing, (f"torch names with neither an fnet twin covered by a parity case nor an "
                         f"EXCLUDED entry: {missing}")
    covered = covered_names()
    # a name left out as deprecated or in-place is fine only because its replacement is covered
    for qualname, rule in surface.left_out.items():
        if rule == "deprecated":
            replacement = torch_surface.twin_of(torch_surface.DEPRECATED[qualname])
            assert replacement in covered, f"{qualname} is deprecated for {replacement}, which has no case"
        elif rule == "in-place":
            twin = torch_surface.twin_of(qualname[:-1])
            assert twin in covered, f"{qualname} is left out as in-place, but {twin} has no case"


def test_torch_nn_modules():
    _check("nn")


def test_torch_nn_functional():
    _check("functional")


def test_torch_nn_init():
    _check("init")


def test_torch_optim():
    _check("optim")


def test_torch_lr_scheduler():
    _check("lr_scheduler")


def test_torch_utils_data():
    _check("utils.data")


@pytest.mark.parametrize("qualname", sorted(torch_surface.EXCLUDED))
def test_every_exclusion_is_a_walked_name_with_a_reason(qualname):
    namespace = next(ns for ns in sorted(torch_surface.NAMESPACES, key=len, reverse=True)
                     if qualname.startswith(torch_surface._TORCH_MODULE[ns] + "."))
    entry = [n for n in _surface(namespace).names if n.qualname == qualname]
    assert entry, f"EXCLUDED lists {qualname}, which torch's public surface does not have (stale entry)"
    assert not entry[0].covered, f"{qualname} is excluded but fnet covers it now: remove the entry"
    reason = torch_surface.EXCLUDED[qualname]
    assert len(reason) > 30 and not any(w in reason.lower() for w in ("todo", "not done", "not yet")), \
        f"{qualname}: the reason must say why fnet leaves it out, got {reason!r}"


def test_readme_holds_the_generated_table():
    text = open(os.path.join(ROOT, "README.md")).read()
    begin, end = torch_surface.README_BEGIN, torch_surface.README_END
    assert begin in text and end in text, f"README.md must contain the block {begin} ... {end}"
    block = text.split(begin, 1)[1].split(end, 1)[0]
    surfaces = [_surface(ns) for ns in torch_surface.NAMESPACES]
    want = torch_surface.markdown(surfaces)
    assert block.strip("\n") == want.strip("\n"), (
        "README.md's torch-surface block is stale: regenerate it with "
        "`python -m fnet.parity.torch_surface --markdown`")
