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


# -- *_with_indices ---------------------------------------------------------------------------------

for _nd, _shape, _k in [(1, (2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
                        (2, (2, 3, 7, 8), dict(kernel_size=(2, 3), ceil_mode=True)),
                        (3, (2, 2, 4, 5, 5), dict(kernel_size=2, stride=(1, 2, 2)))]:
    function_case(f"F.max_pool{_nd}d_with_indices[{_kw(_k)}]", "pool",
                  getattr(F, f"max_pool{_nd}d_with_indices"), getattr(TF, f"max_pool{_nd}d_with_indices"),
                  _randn(*_shape), kwargs=_k, covers=[f"functional.max_pool{_nd}d_with_indices"])
    function_case(f"F.adaptive_max_pool{_nd}d_with_indices[->3]", "pool",
                  getattr(F, f"adaptive_max_pool{_nd}d_with_indices"),
                  getattr(TF, f"adaptive_max_pool{_nd}d_with_indices"), _randn(*_shape),
                  kwargs=dict(output_size=3), covers=[f"functional.adaptive_max_pool{_nd}d_with_indices"])

# -- power-average pooling -----------------------------------------------------------------------------


def _positive(*shape):
    return lambda rng: [np.abs(rng.standard_normal(shape)) + 0.1]


_LP = [(2, dict(kernel_size=3), _randn), (1, dict(kernel_size=2, stride=1), _randn),
       (3, dict(kernel_size=2, ceil_mode=True, stride=2), _positive),
       (1.5, dict(kernel_size=3, stride=2), _positive), (float("inf"), dict(kernel_size=2), _randn)]
for _p, _k, _make in _LP:
    _kk = {**_k, "kernel_size": (_k["kernel_size"], 2)}
    function_case(f"F.lp_pool2d[p={_p},{_kw(_kk)}]", "pool", F.lp_pool2d, TF.lp_pool2d, _make(2, 3, 7, 8),
                  kwargs=dict(norm_type=_p, **_kk), covers=["functional.lp_pool2d"])
    function_case(f"F.lp_pool1d[p={_p},{_kw(_k)}]", "pool", F.lp_pool1d, TF.lp_pool1d, _make(2, 3, 11),
                  kwargs=dict(norm_type=_p, **_k), covers=["functional.lp_pool1d"])
function_case("F.lp_pool3d[p=2,kernel_size=(1,2,2),stride=2,ceil_mode=True]", "pool", F.lp_pool3d,
              TF.lp_pool3d, _randn(2, 2, 4, 5, 5),
              kwargs=dict(norm_type=2, kernel_size=(1, 2, 2), stride=2, ceil_mode=True),
              covers=["functional.lp_pool3d"])
function_case("F.lp_pool3d[unbatched,p=1.5,kernel_size=2]", "pool", F.lp_pool3d, TF.lp_pool3d,
              _positive(2, 4, 5, 5), kwargs=dict(norm_type=1.5, kernel_size=2), covers=["functional.lp_pool3d"])
module_case("nn.LPPool1d(2, 3, stride=2)", "pool", _mod("LPPool1d", 2, 3, stride=2), _randn(2, 3, 11),
            covers=["nn.LPPool1d"])
module_case("nn.LPPool1d[unbatched](1.5, 2)", "pool", _mod("LPPool1d", 1.5, 2), _positive(3, 9),
            covers=["nn.LPPool1d"])
module_case("nn.LPPool2d(2, (3, 2))", "pool", _mod("LPPool2d", 2, (3, 2)), _randn(2, 3, 7, 8),
            covers=["nn.LPPool2d"])
module_case("nn.LPPool2d(3, 2, stride=1, ceil_mode=True)", "pool", _mod("LPPool2d", 3, 2, stride=1, ceil_mode=True),
            _positive(2, 3, 5, 6), covers=["nn.LPPool2d"])
module_case("nn.LPPool3d(2, 2)", "pool", _mod("LPPool3d", 2, 2), _randn(2, 2, 4, 5, 5), covers=["nn.LPPool3d"])


# -- max unpooling ----------------------------------------------------------------------------------
# Values and indices come from torch's own max pooling, as in real use: overlapping windows
# repeat an index with the same value (torch calls differing values there nondeterministic).


def _unpool_inputs(nd, shape, **pool):
    def make(rng):
        source = torch.from_numpy(rng.standard_normal(shape))
        values, idx = getattr(TF, f"max_pool{nd}d")(source, return_indices=True, **pool)
        return [values.numpy(), idx.numpy()]

    return make


def _pool_unpool(lib, nd, pool, unpool):
    def run(x):
        out, idx = getattr(lib, f"max_pool{nd}d")(x, return_indices=True, **pool)
        return getattr(lib, f"max_unpool{nd}d")(out, idx, **unpool)

    return run


for _nd, _shape, _pool, _unpool in [
        (1, (2, 3, 11), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, padding=1)),
        (2, (2, 3, 7, 8), dict(kernel_size=2), dict(kernel_size=2, output_size=(7, 8))),
        (2, (3, 6, 6), dict(kernel_size=3, stride=1), dict(kernel_size=3, stride=1)),
        (3, (2, 2, 4, 5, 5), dict(kernel_size=2), dict(kernel_size=2, output_size=(2, 2, 4, 5, 5)))]:
    function_case(f"F.max_unpool{_nd}d[pool {_kw(_pool)}; unpool {_kw(_unpool)}, shape={_shape}]", "pool",
                  getattr(F, f"max_unpool{_nd}d"), getattr(TF, f"max_unpool{_nd}d"),
                  _unpool_inputs(_nd, _shape, **_pool), kwargs=_unpool,
                  covers=[f"functional.max_unpool{_nd}d"])
    function_case(f"F.max_pool{_nd}d->F.max_unpool{_nd}d[{_kw(_pool)}, shape={_shape}]", "pool",
                  _pool_unpool(F, _nd, _pool, _unpool), _pool_unpool(TF, _nd, _pool, _unpool),
                  _randn(*_shape), covers=[f"functional.max_unpool{_nd}d"])
module_case("nn.MaxUnpool1d(2)", "pool", _mod("MaxUnpool1d", 2), _unpool_inputs(1, (2, 3, 10), kernel_size=2),
            covers=["nn.MaxUnpool1d"])
module_case("nn.MaxUnpool2d(2, stride=2)[output_size]", "pool", _mod("MaxUnpool2d", 2, stride=2),
            _unpool_inputs(2, (2, 3, 7, 9), kernel_size=2), kwargs=dict(output_size=(7, 9)),
            covers=["nn.MaxUnpool2d"])
module_case("nn.MaxUnpool2d(3, 2, 1)[unbatched]", "pool", _mod("MaxUnpool2d", 3, 2, 1),
            _unpool_inputs(2, (3, 7, 7), kernel_size=3, stride=2, padding=1), covers=["nn.MaxUnpool2d"])
module_case("nn.MaxUnpool3d((1, 2, 2))", "pool", _mod("MaxUnpool3d", (1, 2, 2)),
            _unpool_inputs(3, (2, 2, 3, 4, 4), kernel_size=(1, 2, 2)), covers=["nn.MaxUnpool3d"])


# -- fractional max pooling -------------------------------------------------------------------------
# torch draws the window offsets from its global generator; the cases hand torch's samples
# (``_random_samples``) to both sides, so the windows are the same.


def _samples(n, c, nd, seed):
    return np.random.default_rng(seed).random((n, c, nd))


for _nd, _shape, _k in [
        (2, (2, 3, 9, 10), dict(kernel_size=2, output_size=(5, 6))),
        (2, (2, 3, 9, 10), dict(kernel_size=(3, 2), output_ratio=(0.5, 0.5), return_indices=True)),
        (2, (3, 7, 7), dict(kernel_size=3, output_size=4, return_indices=True)),
        (2, (1, 2, 12, 12), dict(kernel_size=2, output_size=(11, 1))),
        (3, (2, 2, 6, 7, 8), dict(kernel_size=2, output_size=(3, 4, 5), return_indices=True)),
        (3, (2, 5, 6, 7), dict(kernel_size=(1, 2, 3), output_ratio=(0.5, 0.6, 0.5)))]:
    _n, _c = (1, _shape[0]) if len(_shape) == _nd + 1 else _shape[:2]
    _kwargs = dict(_k, _random_samples=_samples(_n, _c, _nd, len(_shape) + _nd))
    for _with in ("", "_with_indices"):
        _name = f"fractional_max_pool{_nd}d{_with}"
        function_case(f"F.{_name}[{_kw(_k)}, shape={_shape}, torch's samples]", "pool",
                      getattr(F, _name), getattr(TF, _name), _randn(*_shape), kwargs=_kwargs,
                      covers=[f"functional.{_name}"])
function_case("F.fractional_max_pool2d[ties, kernel_size=3, output_size=4]", "pool", F.fractional_max_pool2d,
              TF.fractional_max_pool2d, _ties(2, 3, 8, 8),
              kwargs=dict(kernel_size=3, output_size=4, return_indices=True, _random_samples=_samples(2, 3, 2, 7)),
              covers=["functional.fractional_max_pool2d"])


def _fractional_mod(cls, n, c, **kwargs):
    def build():
        samples = torch.from_numpy(_samples(n, c, 3 if cls.endswith("3d") else 2, n + c))
        return (getattr(nn, cls)(_random_samples=samples, **kwargs),
                getattr(torch.nn, cls)(_random_samples=samples, **kwargs))

    return build


module_case("nn.FractionalMaxPool2d(2, output_size=(4, 5))", "pool",
            _fractional_mod("FractionalMaxPool2d", 2, 3, kernel_size=2, output_size=(4, 5)), _randn(2, 3, 9, 10),
            covers=["nn.FractionalMaxPool2d"])
module_case("nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True)", "pool",
            _fractional_mod("FractionalMaxPool2d", 2, 3, kernel_size=3, output_ratio=0.5, return_indices=True),
            _randn(2, 3, 9, 10), covers=["nn.FractionalMaxPool2d"])
module_case("nn.FractionalMaxPool3d(2, output_size=3)", "pool",
            _fractional_mod("FractionalMaxPool3d", 2, 2, kernel_size=2, output_size=3), _randn(2, 2, 5, 6, 7),
            covers=["nn.FractionalMaxPool3d"])


def _fractional_draws(dtype: str, seed: int) -> list:
    """fnet's own draws: the samples fnet drew from the key, given to torch, give torch's result."""
    import jax
    import jax.numpy as jnp

    from fnet.parity._stats import check

    diffs = []
    rng = np.random.default_rng(seed)
    for nd, shape, kw in [(2, (4, 3, 11, 9), dict(kernel_size=2, output_size=(6, 5))),
                          (3, (2, 3, 6, 7, 8), dict(kernel_size=2, output_ratio=0.5))]:
        x = rng.standard_normal(shape).astype(dtype)
        key = jax.random.key(seed)
        out, idx = getattr(F, f"fractional_max_pool{nd}d")(jnp.asarray(x), return_indices=True, key=key, **kw)
        samples = jax.random.uniform(key, shape[:2] + (nd,), x.dtype)  # what fnet drew
        t_out, t_idx = getattr(TF, f"fractional_max_pool{nd}d")(
            torch.from_numpy(x), return_indices=True, _random_samples=torch.from_numpy(np.array(samples)), **kw)
        diffs.append(check(f"{nd}d: fnet's draw gives torch's output and indices for those samples",
                           bool(np.array_equal(np.asarray(out), t_out.numpy())
                                and np.array_equal(np.asarray(idx), t_idx.numpy()))))
        other = getattr(F, f"fractional_max_pool{nd}d")(jnp.asarray(x), return_indices=True,
                                                         key=jax.random.key(seed + 1), **kw)[1]
        diffs.append(check(f"{nd}d: another key, other windows", not np.array_equal(np.asarray(other),
                                                                                    np.asarray(idx))))
        layer = getattr(nn, f"FractionalMaxPool{nd}d")(**kw)
        a = layer.apply({}, {}, jnp.asarray(x), key=key)[0]
        diffs.append(check(f"nn.FractionalMaxPool{nd}d draws from apply's key (in eval, as torch)",
                           a.shape == out.shape))
    return diffs


from fnet.parity._stats import stats_case  # noqa: E402

stats_case("F.fractional_max_pool2d/3d+nn.FractionalMaxPool2d/3d[fnet's draws]", "pool", _fractional_draws,
           ("functional.fractional_max_pool2d", "functional.fractional_max_pool3d",
            "nn.FractionalMaxPool2d", "nn.FractionalMaxPool3d"))
