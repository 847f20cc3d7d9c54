"""Parity cases: activation functions and their modules."""

from __future__ import annotations

import torch

from fnet import functional as F
from fnet import nn
from fnet.parity import function_case, module_case


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


function_case("F.relu", "activation", F.relu, torch.nn.functional.relu, _randn(4, 5),
              covers=["functional.relu"])
module_case("nn.ReLU", "activation", lambda: (nn.ReLU(), torch.nn.ReLU()), _randn(3, 4, 5),
            covers=["nn.ReLU"])
