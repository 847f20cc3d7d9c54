"""Every fnet twin of a torch.nn module class, nn.functional function and nn.init function
(the names fnet.parity.torch_surface walks) has torch's argument names, order, kinds and
defaults; fnet may only add keyword-only arguments at the end (a PRNG ``key``, ...).
torch callables without a Python signature (C builtins, ``*args`` wrappers) are skipped."""

from __future__ import annotations

import importlib
import inspect

import pytest

import fnet.functional as F
import fnet.init as I
from fnet import nn
from fnet.parity import torch_surface

torch = pytest.importorskip("torch")

# fnet's trailing keyword-only additions, each documented where it is defined
EXTRAS = {"key", "chunk_size", "dropout_key", "where"}


def _pairs():
    for namespace, module in (("nn", nn), ("functional", F), ("init", I)):
        torch_module = importlib.import_module(torch_surface._TORCH_MODULE[namespace])
        for entry in torch_surface.walk(namespace, set()).names:
            if entry.excluded:
                continue
            name = entry.qualname.rsplit(".", 1)[1]
            yield pytest.param(namespace, getattr(torch_module, name), getattr(module, name), id=entry.qualname)


@pytest.mark.parametrize("namespace,theirs,ours", list(_pairs()))
def test_signature_is_torchs(namespace, theirs, ours):
    try:
        want = inspect.signature(theirs.__init__ if namespace == "nn" else theirs)
    except (TypeError, ValueError):
        pytest.skip("torch's callable has no Python signature")
    want_params = [p for p in want.parameters.values() if p.name != "self"]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in want_params):
        pytest.skip("torch's signature is *args/**kwargs")
    got_params = [p for p in inspect.signature(ours.__init__ if namespace == "nn" else ours).parameters.values()
                  if p.name != "self"]
    if namespace == "init":  # fnet's initialisers take (key, shape, ..., dtype) instead of a tensor
        want_params = [p for p in want_params if p.name not in ("tensor", "generator")]
        got_params = [p for p in got_params if p.name not in ("key", "shape", "dtype")]
    head, extra = got_params[:len(want_params)], got_params[len(want_params):]
    assert [(p.name, p.kind) for p in head] == [(p.name, p.kind) for p in want_params]
    for mine, torchs in zip(head, want_params):
        if torchs.default is not inspect.Parameter.empty and not callable(torchs.default):
            assert mine.default == torchs.default, mine.name
    for p in extra:
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.name in EXTRAS, p.name
