"""Parity cases: Sequential, ModuleList, ModuleDict and user-defined models."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from fnet import init, nn
from fnet.parity import module_case


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


module_case("nn.Sequential[mlp]", "container",
            lambda: (nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)),
                     torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))),
            _randn(4, 6), covers=["nn.Sequential", "nn.ReLU", "nn.Linear"])

module_case("nn.Sequential[ordereddict]", "container",
            lambda: (nn.Sequential(OrderedDict(fc=nn.Linear(6, 5), act=nn.ReLU(), out=nn.Linear(5, 2))),
                     torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(6, 5), act=torch.nn.ReLU(),
                                                     out=torch.nn.Linear(5, 2)))),
            _randn(3, 6), covers=["nn.Sequential"])


class _FnetBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(5, 5) for _ in range(3)])
        self.heads = nn.ModuleDict({"a": nn.Linear(5, 2), "b": nn.Linear(5, 3)})

    def forward(self, ctx, x):
        for layer in self.layers:
            x = layer(ctx, x)
        return self.heads["a"](ctx, x), self.heads["b"](ctx, x)


class _TorchBlocks(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(5, 5) for _ in range(3)])
        self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(5, 2), "b": torch.nn.Linear(5, 3)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.heads["a"](x), self.heads["b"](x)


module_case("nn.ModuleList+ModuleDict[user model]", "container", lambda: (_FnetBlocks(), _TorchBlocks()),
            _randn(4, 5), covers=["nn.ModuleList", "nn.ModuleDict"])


class _FnetShared(nn.Module):
    """One Linear applied twice (weight sharing) and a child called in a loop."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.out = nn.Linear(4, 1, bias=False)

    def forward(self, ctx, x):
        return self.out(ctx, self.proj(ctx, self.proj(ctx, x)))


class _TorchShared(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)
        self.out = torch.nn.Linear(4, 1, bias=False)

    def forward(self, x):
        return self.out(self.proj(self.proj(x)))


module_case("nn.Module[child called twice]", "container", lambda: (_FnetShared(), _TorchShared()),
            _randn(6, 4), covers=["nn.Module"])


class _FnetCustom(nn.Module):
    """A user-defined layer with its own parameter and buffer (torch's nn.Parameter/register_buffer)."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter((n,), init=init.ones_)
        self.shift = nn.Buffer(np.zeros(n, np.float32))
        self.fc = nn.Linear(n, n)

    def forward(self, ctx, x):
        return self.fc(ctx, x * ctx.params["weight"] + ctx.state["shift"])


class _TorchCustom(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(n))
        self.register_buffer("shift", torch.randn(n))
        self.fc = torch.nn.Linear(n, n)

    def forward(self, x):
        return self.fc(x * self.weight + self.shift)


module_case("nn.Parameter+Buffer[custom layer]", "container", lambda: (_FnetCustom(5), _TorchCustom(5)),
            _randn(3, 5), covers=["nn.Parameter", "nn.Buffer", "nn.Module"])


# -- ParameterList / ParameterDict --------------------------------------------------------------


class _FnetParams(nn.Module):
    """Per-layer scales in a ParameterList and a projection and bias in a ParameterDict."""

    def __init__(self):
        super().__init__()
        self.scales = nn.ParameterList([nn.Parameter((4,), init=init.ones_) for _ in range(3)])
        self.proj = nn.ParameterDict({"weight": nn.Parameter((2, 4), init=init.zeros_),
                                      "bias": np.zeros(2, np.float32)})

    def forward(self, ctx, x):
        for scale in self.scales(ctx):
            x = x * scale
        p = self.proj(ctx)
        return x @ p["weight"].T + p["bias"]


class _TorchParams(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scales = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(4)) for _ in range(3)])
        self.proj = torch.nn.ParameterDict({"weight": torch.nn.Parameter(torch.randn(2, 4)),
                                            "bias": torch.randn(2)})

    def forward(self, x):
        for scale in self.scales:
            x = x * scale
        return x @ self.proj["weight"].T + self.proj["bias"]


module_case("nn.ParameterList+ParameterDict[scales, projection]", "container",
            lambda: (_FnetParams(), _TorchParams()), _randn(5, 4),
            covers=["nn.ParameterList", "nn.ParameterDict"])
