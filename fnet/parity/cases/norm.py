"""Parity cases: BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm,
CrossMapLRN2d, SyncBatchNorm and their functional twins.

Training cases compare the output, the gradients and the buffers torch leaves behind
(running statistics, ``num_batches_tracked``) with fnet's new state. Eval cases start
from random running statistics and random affine parameters (set on the torch module
before the comparison and loaded by fnet through the state_dict), so that a layer
ignoring its buffers would fail.
"""

from __future__ import annotations

import math

import torch

from fnet import functional as F
from fnet import nn
from fnet.parity import function_case, module_case

TF = torch.nn.functional

# Inputs around 1e3 with unit spread: float32 keeps only ~4 significant digits of the
# deviations, so how the statistics are computed matters. torch's float32 CPU kernels lose
# part of them (its own error against a float64 reference: BatchNorm ~1e-5, GroupNorm and
# InstanceNorm ~1e-4, LayerNorm ~1e-3, see tests/test_norm.py, which also shows fnet's
# float32 result is closer to the float64 reference than torch's); float64 is held to 1e-10.
OFFSET_NOTE = ("inputs with mean 1e3: float32 agreement is bounded by torch's own float32 "
               "rounding (fnet computes shifted two-pass statistics and is closer to the "
               "float64 reference, tests/test_norm.py); float64 uses the default 1e-10")
OFFSET_TOL = {"rtol": 1e-4, "atol": 1e-3, "grad_rtol": 1e-4, "grad_atol": 1e-3}


def _randn(*shape, scale=1.0, offset=0.0):
    return lambda rng: [rng.standard_normal(shape) * scale + offset]


def _randomize(module, num_batches_tracked=0):
    """Random affine parameters and running statistics on a torch norm layer."""
    with torch.no_grad():
        if getattr(module, "weight", None) is not None:
            module.weight.uniform_(0.5, 1.5)
        if getattr(module, "bias", None) is not None:
            module.bias.normal_()
        if getattr(module, "running_mean", None) is not None:
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.num_batches_tracked.fill_(num_batches_tracked)
    return module


# -- BatchNorm ----------------------------------------------------------------------------

_BN_RANKS = [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (6, 4, 5)), ("BatchNorm3d", (3, 4, 2, 3, 4))]


def _bn_case(cls, shape, *, train, momentum=0.1, affine=True, track=True, bias=True,
             eps=1e-5, offset=0.0, nbt=3):
    mode = "train" if train else "eval"
    name = (f"nn.{cls}[in={shape},{mode},momentum={momentum},affine={affine},track={track}"
            + ("" if bias else ",bias=False") + ("" if eps == 1e-5 else f",eps={eps}")
            + ("" if offset == 0 else f",offset={offset:g}")
            + (f",num_batches_tracked={nbt}" if momentum is None else "") + "]")
    kw = dict(eps=eps, momentum=momentum, affine=affine, track_running_stats=track, bias=bias)
    big = offset != 0
    module_case(
        name, "norm",
        lambda: (getattr(nn, cls)(4, **kw), _randomize(getattr(torch.nn, cls)(4, **kw), nbt)),
        _randn(*shape, scale=1.0 if big else 2.0, offset=offset if big else 0.5),
        covers=[f"nn.{cls}"], train=train,
        tol=OFFSET_TOL if big else None, note=OFFSET_NOTE if big else "")


# The full grid where each switch matters, on BatchNorm2d.
for _train in (True, False):
    for _track in (True, False):
        for _affine in (True, False):
            for _momentum in ((0.1, None) if (_train and _track) else (0.1,)):
                _bn_case("BatchNorm2d", (4, 4, 3, 5), train=_train,
                         momentum=_momentum, affine=_affine, track=_track)

# Every rank in train and eval, and the cumulative average.
for _cls, _shape in _BN_RANKS:
    _bn_case(_cls, _shape, train=True)
    _bn_case(_cls, _shape, train=False)
    _bn_case(_cls, _shape, train=True, momentum=None)

_bn_case("BatchNorm2d", (4, 4, 3, 5), train=True, bias=False)
_bn_case("BatchNorm2d", (4, 4, 3, 5), train=True, eps=1e-3)
_bn_case("BatchNorm2d", (4, 4, 3, 5), train=False, eps=1e-3)
_bn_case("BatchNorm1d", (6, 4, 5), train=True, track=False)
_bn_case("BatchNorm1d", (2, 4), train=True)  # smallest legal batch
_bn_case("BatchNorm2d", (4, 4, 3, 5), train=True, offset=1e3)
_bn_case("BatchNorm1d", (16, 4), train=True, offset=1e3)
_bn_case("BatchNorm2d", (4, 4, 3, 5), train=True, momentum=None, nbt=0)

# -- InstanceNorm -------------------------------------------------------------------------

_IN_SHAPES = {"InstanceNorm1d": (3, 4, 7), "InstanceNorm2d": (2, 4, 3, 5),
              "InstanceNorm3d": (2, 4, 2, 3, 4)}


def _in_case(cls, shape, *, train=True, affine=False, track=False, momentum=0.1, unbatched=False,
             offset=0.0):
    mode = "train" if train else "eval"
    name = (f"nn.{cls}[{mode},affine={affine},track={track}"
            + ("" if momentum == 0.1 else f",momentum={momentum}")
            + (",unbatched" if unbatched else "") + ("" if offset == 0 else f",offset={offset:g}")
            + "]")
    kw = dict(affine=affine, track_running_stats=track, momentum=momentum)
    shape = shape[1:] if unbatched else shape
    big = offset != 0
    module_case(
        name, "norm",
        lambda: (getattr(nn, cls)(4, **kw), _randomize(getattr(torch.nn, cls)(4, **kw))),
        _randn(*shape, scale=1.0 if big else 2.0, offset=offset if big else 0.5),
        covers=[f"nn.{cls}"], train=train,
        tol=OFFSET_TOL if big else None, note=OFFSET_NOTE if big else "")


for _cls, _shape in _IN_SHAPES.items():
    _in_case(_cls, _shape)
    _in_case(_cls, _shape, unbatched=True)
    _in_case(_cls, _shape, affine=True)
    _in_case(_cls, _shape, train=True, affine=True, track=True)
    _in_case(_cls, _shape, train=False, affine=True, track=True)
_in_case("InstanceNorm2d", _IN_SHAPES["InstanceNorm2d"], train=True, track=True, momentum=None)
_in_case("InstanceNorm2d", _IN_SHAPES["InstanceNorm2d"], train=True, track=True, unbatched=True)
_in_case("InstanceNorm2d", _IN_SHAPES["InstanceNorm2d"], train=False, track=True, unbatched=True)
_in_case("InstanceNorm1d", _IN_SHAPES["InstanceNorm1d"], train=False)  # eval without stats
_in_case("InstanceNorm2d", _IN_SHAPES["InstanceNorm2d"], affine=True, offset=1e3)

# -- LayerNorm, RMSNorm -------------------------------------------------------------------

_AFFINE_SHAPES = [
    ("int", 6, (4, 6)),
    ("tuple", (3, 4), (2, 5, 3, 4)),
    ("3d-tuple", (2, 3, 4), (3, 2, 3, 4)),
    ("on 1-D input", (5,), (5,)),
]

for _label, _ns, _shape in _AFFINE_SHAPES:
    module_case(f"nn.LayerNorm[{_label}]", "norm",
                lambda ns=_ns: (nn.LayerNorm(ns), _randomize(torch.nn.LayerNorm(ns))),
                _randn(*_shape, scale=2.0, offset=0.5), covers=["nn.LayerNorm"])
    module_case(f"nn.RMSNorm[{_label}]", "norm",
                lambda ns=_ns: (nn.RMSNorm(ns), _randomize(torch.nn.RMSNorm(ns))),
                _randn(*_shape, scale=2.0, offset=0.5), covers=["nn.RMSNorm"])

for _kw in ({"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}):
    _label = ",".join(f"{k}={v}" for k, v in _kw.items())
    module_case(f"nn.LayerNorm[{_label}]", "norm",
                lambda kw=_kw: (nn.LayerNorm((3, 4), **kw), _randomize(torch.nn.LayerNorm((3, 4), **kw))),
                _randn(2, 3, 4, scale=2.0), covers=["nn.LayerNorm"])
module_case("nn.LayerNorm[offset=1e3]", "norm",
            lambda: (nn.LayerNorm(8), _randomize(torch.nn.LayerNorm(8))),
            _randn(4, 8, offset=1e3), covers=["nn.LayerNorm"], tol=OFFSET_TOL, note=OFFSET_NOTE)

for _kw in ({"elementwise_affine": False}, {"eps": 1e-6}):
    _label = ",".join(f"{k}={v}" for k, v in _kw.items())
    module_case(f"nn.RMSNorm[{_label}]", "norm",
                lambda kw=_kw: (nn.RMSNorm((3, 4), **kw), _randomize(torch.nn.RMSNorm((3, 4), **kw))),
                _randn(2, 3, 4, scale=2.0), covers=["nn.RMSNorm"])
module_case("nn.RMSNorm[offset=1e3]", "norm",
            lambda: (nn.RMSNorm(8), _randomize(torch.nn.RMSNorm(8))),
            _randn(4, 8, offset=1e3), covers=["nn.RMSNorm"])

# -- GroupNorm, LocalResponseNorm ---------------------------------------------------------

_GN = [
    ((2, 6), {}, (4, 6, 5)),
    ((3, 6), {}, (2, 6, 3, 4)),
    ((1, 4), {}, (3, 4, 5)),          # one group: LayerNorm over (C, *)
    ((4, 4), {}, (2, 4, 6)),          # a group per channel: InstanceNorm
    ((2, 4), {}, (5, 4)),             # no spatial axes
    ((2, 4), {}, (2, 4, 2, 3, 2)),    # 5-D
    ((2, 6), {"affine": False}, (3, 6, 4)),
    ((2, 6), {"bias": False}, (3, 6, 4)),
]
for (_groups, _channels), _kw, _shape in _GN:
    _label = ",".join([f"{_groups},{_channels}", f"in={_shape}"] + [f"{k}={v}" for k, v in _kw.items()])
    module_case(f"nn.GroupNorm[{_label}]", "norm",
                lambda g=_groups, c=_channels, kw=_kw: (nn.GroupNorm(g, c, **kw),
                                                        _randomize(torch.nn.GroupNorm(g, c, **kw))),
                _randn(*_shape, scale=2.0, offset=0.5), covers=["nn.GroupNorm"])
module_case("nn.GroupNorm[2,4,offset=1e3]", "norm",
            lambda: (nn.GroupNorm(2, 4), _randomize(torch.nn.GroupNorm(2, 4))),
            _randn(3, 4, 5, offset=1e3), covers=["nn.GroupNorm"], tol=OFFSET_TOL, note=OFFSET_NOTE)

_LRN = [
    ((3,), (2, 7, 4, 4)),
    ((5,), (2, 6, 3, 3, 3)),
    ((4, 0.01, 0.5, 2.0), (2, 6, 4, 3)),
    ((1,), (2, 3, 4)),
]
for _args, _shape in _LRN:
    module_case(f"nn.LocalResponseNorm[{_args},in={_shape}]", "norm",
                lambda a=_args: (nn.LocalResponseNorm(*a), torch.nn.LocalResponseNorm(*a)),
                _randn(*_shape, scale=3.0), covers=["nn.LocalResponseNorm"])

# -- functional ---------------------------------------------------------------------------


def _stats_kwargs(c, **extra):
    return lambda rng: {"running_mean": rng.standard_normal(c),
                        "running_var": rng.uniform(0.5, 2.0, c), **extra}


for _training in (True, False):
    function_case(f"F.batch_norm[training={_training}]", "norm",
                  lambda x, w, b, **kw: F.batch_norm(x, weight=w, bias=b, **kw),
                  lambda x, w, b, **kw: TF.batch_norm(x, weight=w, bias=b, **kw),
                  lambda rng: [rng.standard_normal((5, 3, 4)) * 2 + 0.5, rng.uniform(0.5, 1.5, 3),
                               rng.standard_normal(3)],
                  kwargs=_stats_kwargs(3, training=_training, momentum=0.2, eps=1e-4),
                  covers=["functional.batch_norm"])
function_case("F.batch_norm[training,no stats,no affine]", "norm",
              lambda x: F.batch_norm(x, None, None, training=True),
              lambda x: TF.batch_norm(x, None, None, training=True),
              _randn(6, 3, scale=2.0), covers=["functional.batch_norm"])


def _torch_with_stats(fn, x, w, b, running_mean, running_var, **kw):
    """torch's in-place update, returned as values to compare with fnet's ``*_with_stats``."""
    running_mean, running_var = running_mean.clone(), running_var.clone()
    return fn(x, running_mean, running_var, w, b, **kw), running_mean, running_var


for _training in (True, False):
    function_case(f"F.batch_norm_with_stats[training={_training}]", "norm",
                  lambda x, w, b, running_mean, running_var, **kw: F.batch_norm_with_stats(
                      x, running_mean, running_var, w, b, **kw),
                  lambda *a, **kw: _torch_with_stats(TF.batch_norm, *a, **kw),
                  lambda rng: [rng.standard_normal((5, 3, 2, 2)) * 2 + 0.5, rng.uniform(0.5, 1.5, 3),
                               rng.standard_normal(3)],
                  kwargs=_stats_kwargs(3, training=_training, momentum=0.3),
                  covers=["functional.batch_norm_with_stats"])

for _use in (True, False):
    function_case(f"F.instance_norm[use_input_stats={_use}]", "norm",
                  lambda x, w, b, **kw: F.instance_norm(x, weight=w, bias=b, **kw),
                  lambda x, w, b, **kw: TF.instance_norm(x, weight=w, bias=b, **kw),
                  lambda rng: [rng.standard_normal((3, 4, 6)) * 2 + 0.5, rng.uniform(0.5, 1.5, 4),
                               rng.standard_normal(4)],
                  kwargs=_stats_kwargs(4, use_input_stats=_use, eps=1e-4),
                  covers=["functional.instance_norm"])
function_case("F.instance_norm_with_stats", "norm",
              lambda x, w, b, running_mean, running_var, **kw: F.instance_norm_with_stats(
                  x, running_mean, running_var, w, b, **kw),
              lambda *a, **kw: _torch_with_stats(TF.instance_norm, *a, **kw),
              lambda rng: [rng.standard_normal((3, 4, 2, 3)) * 2 + 0.5, rng.uniform(0.5, 1.5, 4),
                           rng.standard_normal(4)],
              kwargs=_stats_kwargs(4, use_input_stats=True, momentum=0.3),
              covers=["functional.instance_norm_with_stats"])

function_case("F.layer_norm[affine]", "norm",
              lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3),
              lambda x, w, b: TF.layer_norm(x, (3, 4), w, b, eps=1e-3),
              lambda rng: [rng.standard_normal((2, 3, 4)) * 2, rng.standard_normal((3, 4)),
                           rng.standard_normal((3, 4))],
              covers=["functional.layer_norm"])
function_case("F.layer_norm[plain]", "norm", lambda x: F.layer_norm(x, [5]),
              lambda x: TF.layer_norm(x, [5]), _randn(3, 5, scale=3.0), covers=["functional.layer_norm"])

function_case("F.rms_norm[weight,eps=None]", "norm",
              lambda x, w: F.rms_norm(x, (4,), w), lambda x, w: TF.rms_norm(x, (4,), w),
              lambda rng: [rng.standard_normal((3, 2, 4)), rng.standard_normal(4)],
              covers=["functional.rms_norm"])
function_case("F.rms_norm[eps=1e-2,tuple]", "norm",
              lambda x: F.rms_norm(x, (2, 4), eps=1e-2), lambda x: TF.rms_norm(x, (2, 4), eps=1e-2),
              _randn(3, 2, 4, scale=0.1), covers=["functional.rms_norm"])

function_case("F.group_norm[affine]", "norm",
              lambda x, w, b: F.group_norm(x, 3, w, b, eps=1e-4),
              lambda x, w, b: TF.group_norm(x, 3, w, b, eps=1e-4),
              lambda rng: [rng.standard_normal((2, 6, 3, 2)) * 2 + 1, rng.standard_normal(6),
                           rng.standard_normal(6)],
              covers=["functional.group_norm"])
function_case("F.group_norm[plain]", "norm", lambda x: F.group_norm(x, 2),
              lambda x: TF.group_norm(x, 2), _randn(3, 4, 5), covers=["functional.group_norm"])

function_case("F.local_response_norm[3D]", "norm",
              lambda x: F.local_response_norm(x, 3, alpha=0.1, beta=0.6, k=1.5),
              lambda x: TF.local_response_norm(x, 3, alpha=0.1, beta=0.6, k=1.5),
              _randn(2, 5, 4, scale=2.0), covers=["functional.local_response_norm"])
function_case("F.local_response_norm[4D,defaults]", "norm",
              lambda x: F.local_response_norm(x, 4), lambda x: TF.local_response_norm(x, 4),
              _randn(2, 6, 3, 3, scale=2.0), covers=["functional.local_response_norm"])

_NORMALIZE = [
    ({}, (4, 5)),
    ({"p": 1.0, "dim": -1}, (3, 4, 5)),
    ({"p": float("inf"), "dim": 0}, (4, 5)),
    ({"p": 3.0, "dim": 2}, (2, 3, 4)),
    ({"p": 2.0, "dim": 1, "eps": 0.5}, (4, 3)),
]
for _kw, _shape in _NORMALIZE:
    _label = ",".join(f"{k}={v}" for k, v in _kw.items()) or "defaults"
    function_case(f"F.normalize[{_label},in={_shape}]", "norm",
                  lambda x, kw=_kw: F.normalize(x, **kw), lambda x, kw=_kw: TF.normalize(x, **kw),
                  _randn(*_shape, scale=2.0), covers=["functional.normalize"])


def _with_zero_row(rng):
    x = rng.standard_normal((4, 3))
    x[1] = 0.0
    return [x]


function_case("F.normalize[zero row]", "norm", lambda x: F.normalize(x, dim=1, eps=1e-6),
              lambda x: TF.normalize(x, dim=1, eps=1e-6), _with_zero_row,
              covers=["functional.normalize"])

# -- CrossMapLRN2d: torch's legacy window and its hand-written backward ---------------------------

for _args, _shape in [((5,), (2, 8, 3, 4)), ((3, 0.3, 0.8, 1.5), (2, 4, 3, 3)), ((2, 0.5, 0.5, 2.0), (1, 6, 2, 5)),
                      ((4, 1e-2), (2, 3, 4, 4)), ((7, 0.2), (1, 5, 2, 2))]:
    module_case(f"nn.CrossMapLRN2d{_args}[in={_shape}]", "norm",
                lambda a=_args: (nn.CrossMapLRN2d(*a), torch.nn.CrossMapLRN2d(*a)),
                _randn(*_shape, scale=2.0), covers=["nn.CrossMapLRN2d"])

# -- SyncBatchNorm: on one process torch's SyncBatchNorm is BatchNorm over (N, C, *) -------------
# (tests/test_sharding.py checks the statistics over a data axis of 8 devices)


def _sync_bn(*args, **kwargs):
    def build():
        t = torch.nn.SyncBatchNorm(*args, **kwargs)
        _randomize(t)
        return nn.SyncBatchNorm(*args, **kwargs), t
    return build


for _shape, _kw, _train in [((6, 3), {}, True), ((4, 3, 5), {"momentum": None}, True), ((2, 3, 4, 5), {}, False),
                            ((2, 3, 2, 3, 4), {"affine": False}, True), ((3, 3, 4, 5), {"track_running_stats": False}, False),
                            ((2, 3, 2, 2, 2, 2), {}, True)]:
    module_case(f"nn.SyncBatchNorm(3, {_kw})[in={_shape},{'train' if _train else 'eval'}]", "norm",
                _sync_bn(3, **_kw), _randn(*_shape), train=_train, covers=["nn.SyncBatchNorm"])

# -- layer_norm on torch's edge-case shapes: one-element and large normalized shapes ----------------
# With a single element per normalized slice, x - mean is exactly 0 and the exact input
# gradient is 0: fnet returns 0, torch's float32 backward returns rounding noise of up to
# rsqrt(eps) * 1 ulp ~ 3e-5 (measured 1.5e-5 to 6.8e-5 on these inputs; its float64 backward
# gives ~1e-14), so float32 compares those cases at grad_atol 1e-4.
_LN_NOISE = {"grad_atol": 1e-4}
_LN_NOTE = ("one element per normalized slice: the exact input gradient is 0 (fnet's); torch's float32 "
            "backward leaves rounding noise up to 6.8e-5 (measured), so float32 uses grad_atol 1e-4")
for _shape, _ns, _affine in [((4, 1), (1,), True), ((3, 1, 1), (1, 1), True), ((2, 3, 1), (1,), True),
                             ((4, 1), (1,), False), ((4, 2), (2,), True), ((8, 3), (3,), False),
                             ((2, 16384), (16384,), True), ((2, 48, 48), (48, 48), True)]:
    _one = math.prod(_ns) == 1 and _affine

    def _ln_inputs(rng, shape=_shape, ns=_ns, affine=_affine):
        xs = [rng.standard_normal(shape)]
        return xs + [rng.standard_normal(ns), rng.standard_normal(ns)] if affine else xs

    function_case(f"F.layer_norm[edge shape {_shape}, normalized {_ns}, affine={_affine}]", "norm",
                  lambda x, *wb, ns=_ns: F.layer_norm(x, ns, *wb), lambda x, *wb, ns=_ns: TF.layer_norm(x, ns, *wb),
                  _ln_inputs, covers=["functional.layer_norm"], tol=_LN_NOISE if _one else None,
                  note=_LN_NOTE if _one else "")
