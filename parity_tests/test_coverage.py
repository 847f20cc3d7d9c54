"""Every public layer, function, loss, initialiser, optimizer, scheduler and model has a
parity case. A name without one fails this test."""

from __future__ import annotations

import importlib
import inspect

import fnet
from fnet.parity import covered_names

# Public names that are infrastructure rather than computations, with the reason.
EXEMPT = {
    "nn.Context": "the object forward receives; every module case runs through it",
}


def _public(prefix: str, module_name: str) -> list[str]:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return []
    names = getattr(module, "__all__", [])
    out = []
    for name in names:
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            continue
        out.append(f"{prefix}.{name}")
    return out


def _data_twins() -> list[str]:
    """fnet.data's twins of torch.utils.data names (its other names, such as MNIST or
    transforms, are fnet's own dataset readers and have no torch.utils.data twin)."""
    import torch.utils.data

    return [n for n in _public("data", "fnet.data") if n.split(".", 1)[1] in torch.utils.data.__all__]


def public_names() -> list[str]:
    names = (_public("nn", "fnet.nn") + _public("functional", "fnet.functional")
             + _public("nn.utils", "fnet.nn.utils")
             + _public("nn.utils.parametrizations", "fnet.nn.utils.parametrizations")
             + _public("nn.utils.rnn", "fnet.nn.utils.rnn")
             + _public("init", "fnet.init") + _public("optim", "fnet.optim")
             + _public("lr_scheduler", "fnet.optim.lr_scheduler") + _public("swa_utils", "fnet.optim.swa_utils")
             + _public("models", "fnet.models") + _data_twins()
             + ["port"])  # fnet.port: the port family checks it on every acceptance model
    return sorted(set(names) - set(EXEMPT))


def test_every_public_name_has_a_parity_case():
    covered = covered_names()
    missing = [name for name in public_names() if name not in covered]
    assert not missing, f"public names without a parity case: {missing}"


def test_covers_only_real_names():
    known = set(public_names()) | set(EXEMPT)
    unknown = sorted(n for n in covered_names() if n not in known)
    assert not unknown, f"parity cases cover names that are not public: {unknown}"


def test_registry_is_large_enough():
    from fnet.parity import all_cases

    assert len(all_cases()) >= 10
    assert fnet.parity  # imported lazily through fnet.parity
