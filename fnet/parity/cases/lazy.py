"""Parity cases: the Lazy* layers.

torch materialises a lazy layer at its first call; the cases do that with a dry run on
the input's shape, then load torch's state_dict into the fnet lazy layer, which reads its
size from the checkpoint. Outputs, gradients and (in training) the running statistics
must then be the eager layer's. ``tests/test_lazy.py`` checks the other route,
``model.init(key, x)``.
"""

from __future__ import annotations

import torch

from fnet import nn
from fnet.parity import module_case


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


def _lazy(cls, shape, *args, randomize=False, **kwargs):
    def build():
        t = getattr(torch.nn, cls)(*args, **kwargs)
        with torch.no_grad():
            t(torch.zeros(shape))  # torch materialises at the first call
            if randomize:
                for p in t.parameters():
                    p.uniform_(0.5, 1.5)
                for name, b in t.named_buffers():
                    if name in ("running_mean", "running_var"):
                        b.uniform_(0.5, 1.5)
        return getattr(nn, cls)(*args, **kwargs), t
    return build


_CASES = [
    ("LazyLinear", (4, 7), (5,), {}),
    ("LazyLinear", (2, 3, 6), (4,), {"bias": False}),
    ("LazyConv1d", (2, 3, 9), (4, 3), {"stride": 2, "padding": 1}),
    ("LazyConv2d", (2, 4, 7, 6), (6, 3), {"groups": 2, "padding": "same"}),
    ("LazyConv2d", (3, 6, 5), (2, (2, 3)), {}),
    ("LazyConv3d", (1, 2, 4, 5, 5), (3, 2), {"padding_mode": "circular", "padding": 1}),
    ("LazyConvTranspose1d", (2, 3, 6), (4, 3), {"stride": 2, "output_padding": 1}),
    ("LazyConvTranspose2d", (2, 4, 5, 5), (6, 3), {"groups": 2}),
    ("LazyConvTranspose3d", (1, 2, 3, 4, 4), (3, 2), {"stride": 2}),
]
for _cls, _shape, _args, _kw in _CASES:
    module_case(f"nn.{_cls}{_args}{_kw}[in={_shape}]", "lazy", _lazy(_cls, _shape, *_args, **_kw),
                _randn(*_shape), covers=[f"nn.{_cls}"])

_NORMS = [("LazyBatchNorm1d", (6, 3), {}), ("LazyBatchNorm1d", (4, 3, 5), {"momentum": None}),
          ("LazyBatchNorm2d", (3, 4, 5, 5), {}), ("LazyBatchNorm3d", (2, 3, 3, 4, 4), {"affine": False}),
          ("LazyInstanceNorm1d", (2, 3, 7), {}), ("LazyInstanceNorm2d", (2, 3, 5, 5), {"track_running_stats": False}),
          ("LazyInstanceNorm3d", (2, 2, 3, 4, 4), {"affine": True})]
for _cls, _shape, _kw in _NORMS:
    for _train in (False, True):
        module_case(f"nn.{_cls}({_kw})[in={_shape},{'train' if _train else 'eval'}]", "lazy",
                    _lazy(_cls, _shape, randomize=True, **_kw), _randn(*_shape), train=_train,
                    covers=[f"nn.{_cls}"])


def _stack(lib):
    return lib.Sequential(lib.LazyConv2d(4, 3, padding=1), lib.LazyBatchNorm2d(), lib.ReLU(), lib.Flatten(),
                          lib.LazyLinear(10), lib.Tanh(), lib.LazyLinear(3))


def _stack_pair():
    t = _stack(torch.nn)
    with torch.no_grad():
        t(torch.zeros(2, 3, 5, 5))
    return _stack(nn), t


module_case("nn.Sequential[LazyConv2d, LazyBatchNorm2d, LazyLinear x2; train]", "lazy", _stack_pair,
            _randn(4, 3, 5, 5), train=True,
            covers=["nn.LazyConv2d", "nn.LazyBatchNorm2d", "nn.LazyLinear"])
