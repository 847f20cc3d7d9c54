"""Parity cases: Linear, Identity, Bilinear, F.linear, F.bilinear."""

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

# -- Bilinear ----------------------------------------------------------------------------------


def _randn_pair(s1, s2):
    return lambda rng: [rng.standard_normal(s1), rng.standard_normal(s2)]


for bias, (s1, s2) in [(True, ((5, 3), (5, 4))), (False, ((2, 3, 3), (2, 3, 4))), (True, ((3,), (4,)))]:
    module_case(
        f"nn.Bilinear[3,4,2,bias={bias};in={s1},{s2}]", "linear",
        lambda bias=bias: (nn.Bilinear(3, 4, 2, bias=bias), torch.nn.Bilinear(3, 4, 2, bias=bias)),
        _randn_pair(s1, s2), covers=["nn.Bilinear"])

for bias in (True, False):
    function_case(
        f"F.bilinear[bias={bias}]", "linear", F.bilinear, torch.nn.functional.bilinear,
        lambda rng, bias=bias: [rng.standard_normal((4, 3)), rng.standard_normal((4, 5)),
                                rng.standard_normal((2, 3, 5))] + ([rng.standard_normal(2)] if bias else []),
        covers=["functional.bilinear"])
