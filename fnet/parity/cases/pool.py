"""Parity cases: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d,
AdaptiveAvgPool1d/2d/3d and their functional twins.

Max pooling is also checked on inputs full of ties (small integers): the output, the
indices and the gradient must all pick torch's element, the first maximum of the window.
"""

from __future__ import annotations

import numpy as np
import torch

from fnet import functional as F
from fnet import nn
from fnet.parity import function_case, module_case

TF = torch.nn.functional


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


def _ties(*shape):
    return lambda rng: [rng.integers(-2, 3, size=shape).astype(np.float64)]


def _mod(cls, *args, **kwargs):
    return lambda: (getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs))


def _kw(kwargs):
    return ",".join(f"{k}={v}" for k, v in kwargs.items())


# -- max pooling -------------------------------------------------------------------------------

_MAX2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=(1, 2), padding=1),
    dict(kernel_size=3, dilation=2, padding=1, ceil_mode=True, stride=2, return_indices=True),
]
for _k in _MAX2D:
    module_case(f"nn.MaxPool2d[{_kw(_k)}]", "pool", _mod("MaxPool2d", **_k), _randn(2, 3, 7, 8),
                covers=["nn.MaxPool2d"])
for _k in [dict(kernel_size=2, return_indices=True), dict(kernel_size=3, stride=1, padding=1, return_indices=True)]:
    module_case(f"nn.MaxPool2d[ties,{_kw(_k)}]", "pool", _mod("MaxPool2d", **_k), _ties(2, 3, 6, 6),
                covers=["nn.MaxPool2d"])
module_case("nn.MaxPool2d[unbatched,return_indices]", "pool",
            _mod("MaxPool2d", 3, stride=2, padding=1, return_indices=True), _randn(3, 7, 6),
            covers=["nn.MaxPool2d"])
for _k in [dict(kernel_size=2, stride=1, ceil_mode=True), dict(kernel_size=(3, 2), stride=2, padding=1,
                                                                return_indices=True)]:
    function_case(f"F.max_pool2d[{_kw(_k)}]", "pool", F.max_pool2d, TF.max_pool2d, _randn(2, 3, 7, 8),
                  kwargs=_k, covers=["functional.max_pool2d"])

for _k in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)]:
    module_case(f"nn.MaxPool1d[{_kw(_k)}]", "pool", _mod("MaxPool1d", **_k), _randn(2, 3, 11),
                covers=["nn.MaxPool1d"])
module_case("nn.MaxPool1d[unbatched,ties,return_indices]", "pool",
            _mod("MaxPool1d", 3, stride=1, padding=1, return_indices=True), _ties(3, 9),
            covers=["nn.MaxPool1d"])
function_case("F.max_pool1d[kernel_size=2,dilation=3,return_indices=True]", "pool", F.max_pool1d,
              TF.max_pool1d, _randn(2, 3, 11), kwargs=dict(kernel_size=2, dilation=3, return_indices=True),
              covers=["functional.max_pool1d"])

_MAX3D = dict(kernel_size=(1, 2, 3), stride=2, padding=(0, 1, 1), ceil_mode=True, return_indices=True)
module_case("nn.MaxPool3d[kernel_size=2]", "pool", _mod("MaxPool3d", 2), _randn(2, 2, 4, 5, 5),
            covers=["nn.MaxPool3d"])
function_case(f"F.max_pool3d[{_kw(_MAX3D)}]", "pool", F.max_pool3d, TF.max_pool3d, _randn(2, 2, 4, 5, 5),
              kwargs=_MAX3D, covers=["functional.max_pool3d"])


# -- average pooling -----------------------------------------------------------------------------

_AVG2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=2),
]
for _k in _AVG2D:
    module_case(f"nn.AvgPool2d[{_kw(_k)}]", "pool", _mod("AvgPool2d", **_k), _randn(2, 3, 7, 8),
                covers=["nn.AvgPool2d"])
module_case("nn.AvgPool2d[unbatched]", "pool", _mod("AvgPool2d", 2, padding=1), _randn(3, 5, 5),
            covers=["nn.AvgPool2d"])
for _k in [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
           dict(kernel_size=(3, 2), padding=1, count_include_pad=False, divisor_override=3)]:
    function_case(f"F.avg_pool2d[{_kw(_k)}]", "pool", F.avg_pool2d, TF.avg_pool2d, _randn(2, 3, 7, 8),
                  kwargs=_k, covers=["functional.avg_pool2d"])

for _k in [dict(kernel_size=3), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)]:
    module_case(f"nn.AvgPool1d[{_kw(_k)}]", "pool", _mod("AvgPool1d", **_k), _randn(2, 3, 10),
                covers=["nn.AvgPool1d"])
function_case("F.avg_pool1d[unbatched,kernel_size=3,stride=2,padding=1,ceil_mode=True]", "pool",
              F.avg_pool1d, TF.avg_pool1d, _randn(3, 10),
              kwargs=dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), covers=["functional.avg_pool1d"])

_AVG3D = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
module_case("nn.AvgPool3d[kernel_size=(1,2,2),divisor_override=3]", "pool",
            _mod("AvgPool3d", (1, 2, 2), divisor_override=3), _randn(2, 2, 4, 5, 5), covers=["nn.AvgPool3d"])
function_case(f"F.avg_pool3d[{_kw(_AVG3D)}]", "pool", F.avg_pool3d, TF.avg_pool3d, _randn(2, 2, 4, 5, 5),
              kwargs=_AVG3D, covers=["functional.avg_pool3d"])


# -- adaptive pooling ------------------------------------------------------------------------------

# Sizes that do not divide the input (overlapping windows of different sizes), that divide
# it, larger than the input, and None (keep the input size).
for _o in [(3, 4), (4, None), (5, 9)]:
    module_case(f"nn.AdaptiveAvgPool2d[7x8->{_o}]", "pool", _mod("AdaptiveAvgPool2d", _o),
                _randn(2, 3, 7, 8), covers=["nn.AdaptiveAvgPool2d"])
    module_case(f"nn.AdaptiveMaxPool2d[7x8->{_o},return_indices]", "pool",
                _mod("AdaptiveMaxPool2d", _o, return_indices=True), _randn(2, 3, 7, 8),
                covers=["nn.AdaptiveMaxPool2d"])
module_case("nn.AdaptiveMaxPool2d[7x8->1]", "pool", _mod("AdaptiveMaxPool2d", 1), _randn(2, 3, 7, 8),
            covers=["nn.AdaptiveMaxPool2d"])
module_case("nn.AdaptiveMaxPool2d[ties,7x8->(3,5)]", "pool",
            _mod("AdaptiveMaxPool2d", (3, 5), return_indices=True), _ties(2, 3, 7, 8),
            covers=["nn.AdaptiveMaxPool2d"])
module_case("nn.AdaptiveAvgPool2d[unbatched,5x7->(2,3)]", "pool", _mod("AdaptiveAvgPool2d", (2, 3)),
            _randn(3, 5, 7), covers=["nn.AdaptiveAvgPool2d"])
function_case("F.adaptive_avg_pool2d[7x8->3]", "pool", F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d,
              _randn(2, 3, 7, 8), kwargs=dict(output_size=3), covers=["functional.adaptive_avg_pool2d"])
function_case("F.adaptive_max_pool2d[unbatched,5x7->(2,3)]", "pool", F.adaptive_max_pool2d,
              TF.adaptive_max_pool2d, _randn(3, 5, 7), kwargs=dict(output_size=(2, 3), return_indices=True),
              covers=["functional.adaptive_max_pool2d"])

for _o in (3, 5):
    module_case(f"nn.AdaptiveAvgPool1d[10->{_o}]", "pool", _mod("AdaptiveAvgPool1d", _o),
                _randn(2, 3, 10), covers=["nn.AdaptiveAvgPool1d"])
    module_case(f"nn.AdaptiveMaxPool1d[10->{_o}]", "pool", _mod("AdaptiveMaxPool1d", _o, return_indices=True),
                _randn(2, 3, 10), covers=["nn.AdaptiveMaxPool1d"])
function_case("F.adaptive_avg_pool1d[unbatched,10->4]", "pool", F.adaptive_avg_pool1d,
              TF.adaptive_avg_pool1d, _randn(3, 10), kwargs=dict(output_size=4),
              covers=["functional.adaptive_avg_pool1d"])
function_case("F.adaptive_max_pool1d[unbatched,10->12]", "pool", F.adaptive_max_pool1d,
              TF.adaptive_max_pool1d, _randn(3, 10), kwargs=dict(output_size=12, return_indices=True),
              covers=["functional.adaptive_max_pool1d"])

_O3D = (3, None, 2)
module_case(f"nn.AdaptiveAvgPool3d[4x5x5->{_O3D}]", "pool", _mod("AdaptiveAvgPool3d", _O3D),
            _randn(2, 2, 4, 5, 5), covers=["nn.AdaptiveAvgPool3d"])
module_case(f"nn.AdaptiveMaxPool3d[4x5x5->{_O3D}]", "pool", _mod("AdaptiveMaxPool3d", _O3D, return_indices=True),
            _randn(2, 2, 4, 5, 5), covers=["nn.AdaptiveMaxPool3d"])
function_case("F.adaptive_avg_pool3d[4x5x5->(2,3,4)]", "pool", F.adaptive_avg_pool3d,
              TF.adaptive_avg_pool3d, _randn(2, 2, 4, 5, 5), kwargs=dict(output_size=(2, 3, 4)),
              covers=["functional.adaptive_avg_pool3d"])
function_case("F.adaptive_max_pool3d[4x5x5->(2,3,4)]", "pool", F.adaptive_max_pool3d,
              TF.adaptive_max_pool3d, _randn(2, 2, 4, 5, 5),
              kwargs=dict(output_size=(2, 3, 4), return_indices=True),
              covers=["functional.adaptive_max_pool3d"])
