"""Parity cases: Conv1d/2d/3d, ConvTranspose1d/2d/3d, Unfold, Fold and their functional twins.

On the CPU, convolutions with small kernels (grouped and depthwise ones included) take
fnet's chunked patch-matrix lowering, the one ``benchmarks/run.py --models lenet cnn``
times; the others and every transposed convolution take XLA's convolution. Both are
compared here, forward and gradients w.r.t. the input and every parameter. The two
benchmark networks' convolution stacks are cases of their own.
"""

from __future__ import annotations

import torch

from fnet import functional as F
from fnet import nn
from fnet.parity import function_case, module_case

TF = torch.nn.functional


# Weight gradients of the larger cases sum 10^4 - 10^5 products; in float32 both frameworks
# round differently (torch's oneDNN blocking vs fnet's chunked products) and torch's own
# float32 error against the float64 result is the larger one (e.g. 8e-4 vs fnet's 2e-4 on
# gradients of magnitude ~400, see the note). float64 still agrees to 1e-10.
BIG_SUM_TOL = {"grad_atol": 2e-3}
BIG_SUM_NOTE = ("float32 weight gradients are sums of 1e4-1e5 products: torch's own float32 "
                "rounding error (vs float64) exceeds the default 1e-5 absolute tolerance; "
                "fnet's error vs float64 is smaller than torch's; float64 uses the default 1e-10")


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


def _mod(cls, *args, **kwargs):
    return lambda: (getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs))


def _kw(kwargs):
    return ",".join(f"{k}={v}" for k, v in kwargs.items())


def _sep(kwargs):
    return "," + _kw(kwargs) if kwargs else ""


# -- Conv2d: every switch on a small input ------------------------------------------------

# Several switches per case keep the family fast; together they cover strides, int/tuple/
# 'same'/'valid' paddings (odd and even kernels), dilations, bias on/off, every padding_mode,
# groups (XLA's convolution) and groups == 1 (the CPU patch lowering).
_CONV2D = [
    (3, dict()),
    (3, dict(bias=False, stride=2, padding=(1, 2))),
    (3, dict(padding="same", dilation=(1, 2))),
    (3, dict(padding="valid", stride=(2, 1), dilation=2)),
    (4, dict(padding="same")),
    ((2, 3), dict(stride=(2, 1), padding=1)),
    (1, dict(bias=False)),
    (3, dict(groups=3, padding=1)),
    (3, dict(padding_mode="reflect", padding=1)),
    (3, dict(padding_mode="replicate", padding=(2, 1), bias=False)),
    (3, dict(padding_mode="circular", padding=2, stride=2)),
    (4, dict(padding_mode="reflect", padding="same")),
]
for _ks, _k in _CONV2D:
    module_case(f"nn.Conv2d[3->6,k={_ks}{_sep(_k)}]", "conv", _mod("Conv2d", 3, 6, _ks, **_k),
                _randn(2, 3, 7, 8), covers=["nn.Conv2d"])

# Enough images per batch for several chunks (one image each) of the CPU lowering, with
# stride, dilation and groups on that path too.
for _k in [dict(padding=2), dict(stride=2, dilation=2, padding=3, groups=2, bias=False)]:
    module_case(f"nn.Conv2d[4->8,k=5,chunked{_sep(_k)}]", "conv", _mod("Conv2d", 4, 8, 5, **_k),
                _randn(6, 4, 48, 48), covers=["nn.Conv2d"], tol=BIG_SUM_TOL, note=BIG_SUM_NOTE)

# Wider layers (16-32 input channels per group, as in the benchmark CNN) through the CPU
# lowering, in 1, 2 and 3 dimensions.
_WIDE = [
    ("Conv2d", 3, dict(padding=1), (4, 16, 9, 8)),
    ("Conv2d", 3, dict(stride=2, dilation=2, padding=2, groups=2, bias=False), (3, 32, 11, 10)),
    ("Conv2d", (2, 3), dict(padding="same", padding_mode="reflect"), (2, 16, 6, 7)),
    ("Conv1d", 3, dict(stride=2, padding=1), (3, 16, 13)),
    ("Conv3d", 3, dict(padding=(1, 0, 1)), (2, 16, 4, 5, 5)),
]
for _cls, _ks, _k, _shape in _WIDE:
    module_case(f"nn.{_cls}[{_shape[1]}->8,k={_ks},wide{_sep(_k)}]", "conv",
                _mod(_cls, _shape[1], 8, _ks, **_k), _randn(*_shape), covers=[f"nn.{_cls}"])
module_case("nn.Conv2d[unbatched,16->4,k=3,wide]", "conv", _mod("Conv2d", 16, 4, 3, padding=1),
            _randn(16, 6, 5), covers=["nn.Conv2d"])

# Depthwise (groups == C_in, multiplier 2) and unbatched inputs.
module_case("nn.Conv2d[depthwise 4->8,k=3,groups=4]", "conv", _mod("Conv2d", 4, 8, 3, groups=4, padding=1),
            _randn(2, 4, 6, 6), covers=["nn.Conv2d"])
module_case("nn.Conv2d[unbatched,k=3,padding=1]", "conv", _mod("Conv2d", 3, 4, 3, padding=1),
            _randn(3, 6, 5), covers=["nn.Conv2d"])
module_case("nn.Conv2d[unbatched,depthwise,reflect]", "conv",
            _mod("Conv2d", 3, 3, 3, groups=3, padding=1, padding_mode="reflect"),
            _randn(3, 6, 5), covers=["nn.Conv2d"])


# -- the benchmark networks' convolution stacks (benchmarks/_lenet.py, _cnn.py) -----

class _FnetStack(nn.Module):
    def __init__(self, convs):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(*a, **k) for a, k in convs])
        self.pool = nn.MaxPool2d(2)

    def forward(self, ctx, x):
        for conv in self.convs:
            x = self.pool(ctx, F.relu(conv(ctx, x)))
        return x.reshape(x.shape[0], -1)


class _TorchStack(torch.nn.Module):
    def __init__(self, convs):
        super().__init__()
        self.convs = torch.nn.ModuleList([torch.nn.Conv2d(*a, **k) for a, k in convs])
        self.pool = torch.nn.MaxPool2d(2)

    def forward(self, x):
        for conv in self.convs:
            x = self.pool(TF.relu(conv(x)))
        return x.flatten(1)


# Batches large enough that the CPU lowering loops over several chunks of images in every
# layer (lenet: 5 and 2 chunks, cnn: 2 and 4), as in the benchmark.
for _name, _convs, _shape in [
        ("lenet", [((3, 6, 5), {}), ((6, 16, 5), {})], (20, 3, 32, 32)),
        ("cnn", [((3, 32, 3), dict(padding=1)), ((32, 64, 3), dict(padding=1))], (12, 3, 32, 32))]:
    module_case(f"nn.Conv2d+MaxPool2d[benchmark {_name} stack]", "conv",
                lambda c=_convs: (_FnetStack(c), _TorchStack(c)), _randn(*_shape),
                covers=["nn.Conv2d", "nn.MaxPool2d", "functional.relu"], tol=BIG_SUM_TOL,
                note=BIG_SUM_NOTE)


# -- Conv1d / Conv3d ---------------------------------------------------------------------

for _ks, _k in [(3, dict()), (3, dict(bias=False, stride=2, padding=2)),
                (4, dict(padding="same", dilation=2, padding_mode="circular")),
                (3, dict(groups=2, padding=1, padding_mode="replicate"))]:
    module_case(f"nn.Conv1d[4->6,k={_ks}{_sep(_k)}]", "conv", _mod("Conv1d", 4, 6, _ks, **_k),
                _randn(3, 4, 11), covers=["nn.Conv1d"])
module_case("nn.Conv1d[unbatched,depthwise,reflect same]", "conv",
            _mod("Conv1d", 4, 4, 3, groups=4, padding="same", padding_mode="reflect"), _randn(4, 9),
            covers=["nn.Conv1d"])

for _ks, _k in [(3, dict()), (3, dict(stride=(1, 2, 2), padding=1, bias=False, dilation=(1, 1, 2))),
                ((1, 2, 3), dict(groups=2, padding="same", padding_mode="replicate"))]:
    module_case(f"nn.Conv3d[2->4,k={_ks}{_sep(_k)}]", "conv", _mod("Conv3d", 2, 4, _ks, **_k),
                _randn(2, 2, 4, 5, 5), covers=["nn.Conv3d"])
module_case("nn.Conv3d[unbatched]", "conv", _mod("Conv3d", 2, 3, 2), _randn(2, 3, 4, 5),
            covers=["nn.Conv3d"])


# -- transposed convolutions ---------------------------------------------------------------

_TRANSPOSE = [
    dict(),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2), bias=False),
    dict(stride=2, dilation=3, output_padding=2, padding=1),  # output_padding < dilation, >= stride
    dict(groups=2, stride=2),
]
for _k in _TRANSPOSE:
    module_case(f"nn.ConvTranspose2d[4->6,k=3{_sep(_k)}]", "conv",
                _mod("ConvTranspose2d", 4, 6, 3, **_k), _randn(2, 4, 5, 4),
                covers=["nn.ConvTranspose2d"])
module_case("nn.ConvTranspose2d[unbatched,depthwise,k=(2,3),stride=2]", "conv",
            _mod("ConvTranspose2d", 4, 8, (2, 3), groups=4, stride=2), _randn(4, 3, 3),
            covers=["nn.ConvTranspose2d"])
module_case("nn.ConvTranspose2d[output_size]", "conv",
            _mod("ConvTranspose2d", 3, 2, 3, stride=2, padding=1), _randn(2, 3, 4, 4),
            kwargs={"output_size": [8, 8]}, covers=["nn.ConvTranspose2d"])
module_case("nn.ConvTranspose2d[output_size with batch and channels]", "conv",
            _mod("ConvTranspose2d", 3, 2, 3, stride=3), _randn(2, 3, 3, 3),
            kwargs={"output_size": [2, 2, 10, 11]}, covers=["nn.ConvTranspose2d"])
module_case("nn.ConvTranspose1d[4->2,k=3,stride=3,padding=1,output_padding=2]", "conv",
            _mod("ConvTranspose1d", 4, 2, 3, stride=3, padding=1, output_padding=2), _randn(2, 4, 6),
            covers=["nn.ConvTranspose1d"])
module_case("nn.ConvTranspose1d[unbatched,groups=2,dilation=2,output_size]", "conv",
            _mod("ConvTranspose1d", 4, 2, 3, stride=2, groups=2, dilation=2, bias=False), _randn(4, 5),
            kwargs={"output_size": [14]}, covers=["nn.ConvTranspose1d"])
module_case("nn.ConvTranspose3d[2->4,k=2,stride=2,padding=1,output_padding=1,groups=2]", "conv",
            _mod("ConvTranspose3d", 2, 4, 2, stride=2, padding=1, output_padding=1, groups=2),
            _randn(2, 2, 3, 3, 2), covers=["nn.ConvTranspose3d"])


# -- functional convolutions ---------------------------------------------------------------

def _conv_inputs(x_shape, w_shape, bias):
    def make(rng):
        xs = [rng.standard_normal(x_shape), 0.3 * rng.standard_normal(w_shape)]
        if bias:
            xs.append(rng.standard_normal(w_shape[0]))
        return xs
    return make


def _tconv_inputs(x_shape, w_shape, c_out, bias):
    def make(rng):
        xs = [rng.standard_normal(x_shape), 0.3 * rng.standard_normal(w_shape)]
        if bias:
            xs.append(rng.standard_normal(c_out))
        return xs
    return make


for _name, _fn, _tfn, _x, _w, _k in [
        ("conv1d", F.conv1d, TF.conv1d, (2, 4, 9), (6, 2, 3), dict(groups=2, dilation=2)),
        ("conv2d", F.conv2d, TF.conv2d, (2, 3, 6, 7), (4, 3, 3, 2), dict(padding="same")),
        ("conv2d", F.conv2d, TF.conv2d, (2, 3, 6, 7), (4, 3, 3, 3), dict(stride=(2, 1), dilation=(1, 2))),
        ("conv2d", F.conv2d, TF.conv2d, (2, 4, 6, 7), (8, 1, 3, 3), dict(groups=4, padding=1)),
        ("conv2d", F.conv2d, TF.conv2d, (3, 6, 7), (4, 3, 3, 3), dict(padding="valid")),
        ("conv3d", F.conv3d, TF.conv3d, (1, 2, 4, 5, 4), (3, 2, 2, 3, 2), dict(padding=(1, 0, 1))),
]:
    _bias = "groups" not in _k
    function_case(f"F.{_name}[x={_x},w={_w},{_kw(_k)},bias={_bias}]", "conv", _fn, _tfn,
                  _conv_inputs(_x, _w, _bias), kwargs=_k, covers=[f"functional.{_name}"])

for _name, _fn, _tfn, _x, _w, _cout, _k in [
        ("conv_transpose1d", F.conv_transpose1d, TF.conv_transpose1d, (2, 4, 5), (4, 3, 3), 3,
         dict(stride=2, padding=1, output_padding=1)),
        ("conv_transpose2d", F.conv_transpose2d, TF.conv_transpose2d, (2, 4, 3, 4), (4, 2, 3, 2), 4,
         dict(stride=(2, 1), groups=2, dilation=(1, 2))),
        ("conv_transpose3d", F.conv_transpose3d, TF.conv_transpose3d, (1, 2, 3, 2, 3), (2, 2, 2, 2, 2), 2,
         dict(stride=2, padding=(0, 1, 0))),
]:
    _bias = "groups" not in _k
    function_case(f"F.{_name}[x={_x},w={_w},{_kw(_k)},bias={_bias}]", "conv", _fn, _tfn,
                  _tconv_inputs(_x, _w, _cout, _bias), kwargs=_k, covers=[f"functional.{_name}"])


# -- unfold / fold -----------------------------------------------------------------------------

_UNFOLD = dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(1, 2))
function_case(f"F.unfold[{_kw(_UNFOLD)}]", "conv", F.unfold, TF.unfold, _randn(2, 3, 6, 7),
              kwargs=_UNFOLD, covers=["functional.unfold"])
module_case("nn.Unfold[kernel_size=2]", "conv", _mod("Unfold", 2), _randn(2, 3, 6, 7), covers=["nn.Unfold"])
function_case("F.unfold[unbatched]", "conv", F.unfold, TF.unfold, _randn(3, 5, 5),
              kwargs=dict(kernel_size=3, padding=1), covers=["functional.unfold"])

for _shape, _k in [((2, 12, 30), dict(output_size=(6, 7), kernel_size=2)),
                   ((12, 24), dict(output_size=(6, 7), kernel_size=(2, 3), dilation=(2, 1),
                                   padding=1, stride=(1, 2)))]:
    function_case(f"F.fold[in={_shape}{_sep(_k)}]", "conv", F.fold, TF.fold, _randn(*_shape),
                  kwargs=_k, covers=["functional.fold"])
module_case("nn.Fold[output_size=(4,5),kernel_size=2]", "conv", _mod("Fold", (4, 5), 2),
            _randn(2, 12, 12), covers=["nn.Fold"])


# -- conv_tbc (time-major 1-D convolution) -------------------------------------------------------

for _t, _b, _cin, _k, _cout, _pad in [(7, 3, 4, 3, 5, 0), (6, 2, 3, 2, 4, 1), (5, 1, 2, 5, 3, 2)]:
    function_case(f"F.conv_tbc[T={_t},B={_b},C_in={_cin},K={_k},C_out={_cout},pad={_pad}]", "conv",
                  lambda x, w, b, p=_pad: F.conv_tbc(x, w, b, p),
                  lambda x, w, b, p=_pad: torch.nn.functional.conv_tbc(x, w, b, p),
                  lambda rng, s=(_t, _b, _cin, _k, _cout): [rng.standard_normal(s[:3]),
                                                            rng.standard_normal((s[3], s[2], s[4])),
                                                            rng.standard_normal(s[4])],
                  covers=["functional.conv_tbc"])


# -- conv_transpose3d on large reductions ---------------------------------------------------------
# The weight gradient sums over N * D * H * W positions and the input gradient over C_out * k^3
# taps. Measured against torch's float64 result, torch's and fnet's float32 errors are of the same
# order except where XLA:CPU's own convolution runs the weight gradient (kernels of more than 64
# taps take it instead of the patch GEMM): there fnet's float32 error is about 10x torch's (1.2e-4
# vs 1.2e-5 on 1728-term sums of values up to 1e2); float64 agrees to 1e-10 everywhere.
_CT3 = [((2, 16, 6, 6, 6), (16, 8, 3, 3, 3), dict(stride=2, padding=1), {"grad_atol": 1e-4, "grad_rtol": 1e-5}),
        ((2, 4, 8, 8, 8), (4, 2, 2, 2, 2), dict(stride=2), {"grad_atol": 2e-4, "grad_rtol": 1e-5}),
        ((1, 32, 5, 5, 5), (32, 32, 4, 4, 4), dict(stride=2, padding=1, output_padding=1),
         {"atol": 3e-5, "grad_atol": 1e-4, "grad_rtol": 1e-5}),
        ((1, 1, 12, 12, 12), (1, 1, 5, 5, 5), dict(stride=1, dilation=2), {"grad_atol": 3e-4, "grad_rtol": 1e-5}),
        ((3, 8, 3, 4, 5), (8, 12, 3, 3, 3), dict(stride=(1, 2, 3), groups=4), None)]
for _x, _w, _k, _tol in _CT3:
    function_case(f"F.conv_transpose3d[large reduction: in={_x}, weight={_w}, {_kw(_k)}]", "conv",
                  lambda x, w, b, k=_k: F.conv_transpose3d(x, w, b, **k),
                  lambda x, w, b, k=_k: torch.nn.functional.conv_transpose3d(x, w, b, **k),
                  lambda rng, x=_x, w=_w, k=_k: [rng.standard_normal(x), 0.3 * rng.standard_normal(w),
                                                 rng.standard_normal(w[1] * k.get("groups", 1))],
                  covers=["functional.conv_transpose3d"], tol=_tol,
                  note="" if _tol is None else
                  "float32 sums of 10^3-10^4 terms: both frameworks' float32 errors against float64 reach "
                  "1e-5..1e-4 here (XLA:CPU's convolution, used for kernels over 64 taps, about 10x torch's "
                  "on the weight gradient); measured maxima set the tolerance")
