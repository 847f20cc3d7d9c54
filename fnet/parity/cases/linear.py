"""Parity cases: Linear, Identity, F.linear."""

from __future__ import annotations

import torch

from fnet import functional as F
from fnet import nn
from fnet.parity import function_case, module_case


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


for bias in (True, False):
    for shape in ((5, 7), (2, 3, 7), (7,)):
        module_case(
            f"nn.Linear[bias={bias},in={shape}]", "linear",
            lambda bias=bias: (nn.Linear(7, 4, bias=bias), torch.nn.Linear(7, 4, bias=bias)),
            _randn(*shape), covers=["nn.Linear"])

module_case("nn.Identity", "linear", lambda: (nn.Identity(3, x=1), torch.nn.Identity(3, x=1)),
            _randn(2, 5), covers=["nn.Identity"])

for bias in (True, False):
    function_case(
        f"F.linear[bias={bias}]", "linear", F.linear, torch.nn.functional.linear,
        lambda rng, bias=bias: [rng.standard_normal((4, 6)), rng.standard_normal((3, 6))]
        + ([rng.standard_normal(3)] if bias else []),
        covers=["functional.linear"])
