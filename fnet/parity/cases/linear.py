"""Parity cases: Linear, Identity, Bilinear, F.linear, F.bilinear, F.grouped_mm."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
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


# -- grouped_mm: torch's CPU kernel in float32; float64, which it refuses, against the
#    per-group matmuls that define it (offs end at the sliced size: torch leaves rows past
#    offs[-1] uninitialised)

_OFFS = np.asarray([4, 8, 8, 16], np.int32)  # an empty group included


def _grouped_reference(a, b, offs):
    import torch

    if a.dim() == 3 and b.dim() == 3:
        return a @ b
    ends = [int(o) for o in offs]
    starts = [0] + ends[:-1]
    if a.dim() == 2 and b.dim() == 3:
        return torch.cat([a[s:e] @ b[g] for g, (s, e) in enumerate(zip(starts, ends))])
    if a.dim() == 3:
        return torch.cat([a[g] @ b[:, s:e] for g, (s, e) in enumerate(zip(starts, ends))], dim=1)
    return torch.stack([a[:, s:e] @ b[s:e] for s, e in zip(starts, ends)])


def _torch_grouped(layout):
    def call(a, b):
        import torch

        offs = None if layout == "3x3" else torch.from_numpy(_OFFS)
        if a.dtype == torch.float64:
            return _grouped_reference(a, b, _OFFS)
        return torch.nn.functional.grouped_mm(a, b, offs=offs)
    return call


def _fnet_grouped(layout):
    def call(a, b):
        return F.grouped_mm(a, b, offs=None if layout == "3x3" else jnp.asarray(_OFFS))
    return call


for _layout, _a, _b in [("2x3", (16, 8), (4, 8, 12)), ("3x3", (3, 4, 8), (3, 8, 4)), ("2x2", (4, 16), (16, 8)),
                        ("3x2", (4, 4, 8), (8, 16))]:
    function_case(f"F.grouped_mm[{_layout}: {_a} x {_b}]", "linear", _fnet_grouped(_layout), _torch_grouped(_layout),
                  lambda rng, a=_a, b=_b: [rng.standard_normal(a), rng.standard_normal(b)],
                  covers=["functional.grouped_mm"],
                  note="float64: torch's kernel refuses double; compared with the per-group matmuls it computes")
