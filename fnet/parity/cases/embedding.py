"""Parity cases: Embedding (padding_idx, scale_grad_by_freq, max_norm, from_pretrained, sparse)
and F.embedding.

torch's ``max_norm`` rewrites rows of the weight in place before the lookup; these cases
load the same (un-renormalised) weights into both frameworks, so they check that fnet's
output equals torch's renormalised rows and that the gradients agree.
"""

from __future__ import annotations

import jax
import numpy as np
import torch
import torch.nn.functional as TF

from fnet import functional as F
from fnet import nn
from fnet.io import load_state_dict
from fnet.parity import ParityCase, case_seed, function_case, module_case, register
from fnet.parity._engine import TOLERANCES, Report, _jax_input, cotangents, diff, precision


def _ids(shape, high, extra=()):
    """Integer ids with repeats (and optionally fixed ids such as the padding index)."""
    def inputs(rng):
        ids = rng.integers(0, high, size=shape)
        flat = ids.reshape(-1)
        for k, value in enumerate(extra):
            flat[3 * k] = value
        return [ids]
    return inputs


_MODULE_GRID = [
    # (name suffix, constructor kwargs, ids shape, extra ids forced into the input)
    ("", {}, (3, 5), ()),
    ("padding_idx=0", {"padding_idx": 0}, (4, 6), (0, 0)),
    ("padding_idx=-1,scale_grad_by_freq", {"padding_idx": -1, "scale_grad_by_freq": True}, (4, 6), (9, 9)),
    ("scale_grad_by_freq", {"scale_grad_by_freq": True}, (5, 7), ()),
    ("max_norm=1.0", {"max_norm": 1.0}, (3, 5), ()),
    ("max_norm=2.5,norm_type=1,padding_idx=2,scale_grad_by_freq",
     {"max_norm": 2.5, "norm_type": 1.0, "padding_idx": 2, "scale_grad_by_freq": True}, (4, 6), (2,)),
    ("max_norm=1.2,norm_type=inf", {"max_norm": 1.2, "norm_type": float("inf")}, (7,), ()),
]
for suffix, kw, shape, extra in _MODULE_GRID:
    module_case(f"nn.Embedding[10,4{',' if suffix else ''}{suffix};ids={shape}]", "embedding",
                lambda kw=kw: (nn.Embedding(10, 4, **kw), torch.nn.Embedding(10, 4, **kw)),
                _ids(shape, 10, extra), covers=["nn.Embedding"])


def _pretrained(freeze):
    w = np.random.default_rng(3).standard_normal((12, 5)).astype(np.float32)
    return (nn.Embedding.from_pretrained(w, freeze=freeze, padding_idx=1),
            torch.nn.Embedding.from_pretrained(torch.from_numpy(w), freeze=freeze, padding_idx=1))


module_case("nn.Embedding.from_pretrained[freeze=False,padding_idx=1]", "embedding",
            lambda: _pretrained(False), _ids((3, 4), 12, (1,)), covers=["nn.Embedding"])


def _manual_case(name: str, build, ids_shape, high: int) -> None:
    """Output and weight gradient, computed directly on both sides.

    For layouts the generic engine cannot read: torch's gradient is sparse
    (``sparse=True``) or absent (a frozen weight, which fnet must give a zero gradient).
    """
    seed = case_seed(name)

    def run(dtype: str) -> Report:
        tol = TOLERANCES[dtype]
        with precision(dtype):
            torch.manual_seed(seed)
            fnet_module, torch_module = build()
            torch_module = torch_module.to(getattr(torch, dtype))
            ids = np.random.default_rng(seed).integers(0, high, size=ids_shape)
            params, state = load_state_dict(fnet_module, torch_module.state_dict())
            t_out = torch_module(torch.from_numpy(ids))
            (cot,) = cotangents([("out", t_out)], seed)
            weight = torch_module.weight
            if t_out.requires_grad:
                (t_grad,) = torch.autograd.grad((t_out * torch.from_numpy(cot).to(t_out.dtype)).sum(), [weight])
                t_grad = t_grad.to_dense() if t_grad.is_sparse else t_grad
            else:
                t_grad = torch.zeros_like(weight)

            def loss(p):
                out = fnet_module.apply(p, state, _jax_input(ids))[0]
                return (out * cot.astype(dtype)).sum(), out

            (_, j_out), j_grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
            return Report(name, dtype, [
                diff("output", "out", j_out, t_out, tol["rtol"], tol["atol"]),
                diff("grad", "weight", j_grads["weight"], t_grad, tol["grad_rtol"], tol["grad_atol"])])

    register(ParityCase(name, "embedding", ("nn.Embedding",), run))


_manual_case("nn.Embedding.from_pretrained[freeze=True,padding_idx=1: zero gradient]",
             lambda: _pretrained(True), (3, 4), 12)
_manual_case("nn.Embedding[10,4,sparse=True,padding_idx=3: dense fnet vs densified torch gradient]",
             lambda: (nn.Embedding(10, 4, padding_idx=3, sparse=True),
                      torch.nn.Embedding(10, 4, padding_idx=3, sparse=True)), (4, 5), 10)


def _table(rows, cols, ids_shape, extra=()):
    def inputs(rng):
        return _ids(ids_shape, rows, extra)(rng) + [rng.standard_normal((rows, cols))]
    return inputs


for kw, extra in [({}, ()), ({"padding_idx": 1}, (1,)), ({"padding_idx": -2, "scale_grad_by_freq": True}, (6, 6)),
                  ({"max_norm": 1.5}, ()), ({"max_norm": 0.8, "norm_type": 3.0}, ())]:
    suffix = ",".join(f"{k}={v}" for k, v in kw.items())
    function_case(f"F.embedding[{suffix or 'plain'};ids=(4, 5),weight=(8, 3)]", "embedding",
                  lambda ids, w, kw=kw: F.embedding(ids, w, **kw),
                  lambda ids, w, kw=kw: TF.embedding(ids, w, **kw), _table(8, 3, (4, 5), extra),
                  covers=["functional.embedding"])


# -- embedding_bag / EmbeddingBag ------------------------------------------------------------------
# The weight is an input (its gradient is compared); ids repeat and include the padding index.


def _bag_inputs(n_ids, offsets=None, psw=False, pad=None, two_d=None):
    def make(rng):
        w = rng.standard_normal((10, 4))
        if two_d is not None:
            ids = rng.integers(0, 10, size=two_d)
        else:
            ids = rng.integers(0, 10, size=n_ids)
        if pad is not None:
            ids.reshape(-1)[::4] = pad
        xs = [w, ids]
        if offsets is not None:
            xs.append(np.asarray(offsets))
        if psw:
            xs.append(rng.standard_normal(ids.shape))
        return xs
    return make


def _bag(lib, offsets=True, psw=False, **kw):
    def call(w, ids, *rest):
        rest = list(rest)
        off = rest.pop(0) if offsets else None
        weights = rest.pop(0) if psw else None
        return lib.embedding_bag(ids, w, off, per_sample_weights=weights, **kw)
    return call


_BAGS = [("sum, offsets with an empty bag", dict(mode="sum"), _bag_inputs(11, [0, 3, 3, 7])),
         ("mean, offsets", dict(mode="mean"), _bag_inputs(11, [0, 2, 8])),
         ("max, offsets", dict(mode="max"), _bag_inputs(11, [0, 4, 4, 9])),
         ("sum, per_sample_weights", dict(mode="sum", psw=True), _bag_inputs(9, [0, 5], psw=True)),
         ("mean, padding_idx=1", dict(mode="mean", padding_idx=1), _bag_inputs(12, [0, 4, 8], pad=1)),
         ("max, padding_idx=3", dict(mode="max", padding_idx=3), _bag_inputs(12, [0, 4, 8], pad=3)),
         ("sum, per_sample_weights, padding_idx=0", dict(mode="sum", padding_idx=0, psw=True),
          _bag_inputs(10, [0, 6], psw=True, pad=0)),
         ("sum, include_last_offset", dict(mode="sum", include_last_offset=True), _bag_inputs(10, [0, 3, 6, 10])),
         ("mean, 2-D", dict(mode="mean", offsets=False), _bag_inputs(0, two_d=(3, 5))),
         ("max, 2-D", dict(mode="max", offsets=False), _bag_inputs(0, two_d=(4, 3))),
         ("sum, 2-D, per_sample_weights", dict(mode="sum", offsets=False, psw=True),
          _bag_inputs(0, psw=True, two_d=(3, 4))),
         ("mean, max_norm=1.0", dict(mode="mean", max_norm=1.0), _bag_inputs(11, [0, 5])),
         ("sum, max_norm=2, norm_type=1", dict(mode="sum", max_norm=2.0, norm_type=1.0), _bag_inputs(11, [0, 5]))]
for _label, _kw, _make in _BAGS:
    function_case(f"F.embedding_bag[{_label}]", "embedding", _bag(F, **_kw), _bag(TF, **_kw), _make,
                  covers=["functional.embedding_bag"])


def _bag_by_embedding(mode):
    """torch's documented scale_grad_by_freq semantics through torch's embedding kernel: its
    embedding_bag CPU kernel divides by the count of another id (see F.embedding_bag)."""
    def call(w, ids):
        rows = TF.embedding(ids, w, scale_grad_by_freq=True)
        return rows.sum(1) if mode == "sum" else rows.mean(1)
    return call


for _mode in ("sum", "mean"):
    function_case(f"F.embedding_bag[{_mode}, 2-D, scale_grad_by_freq; torch: embedding(...).{_mode}(1)]",
                  "embedding", lambda w, ids, m=_mode: F.embedding_bag(ids, w, mode=m, scale_grad_by_freq=True),
                  _bag_by_embedding(_mode), lambda rng: [rng.standard_normal((10, 4)),
                                                         np.asarray([[1, 2, 4, 5], [4, 3, 2, 9], [0, 0, 4, 1]])],
                  covers=["functional.embedding_bag"])

_BAG_MODULES = [("mode=sum", dict(mode="sum"), "offsets"), ("mode=max,padding_idx=2", dict(mode="max", padding_idx=2), "2d"),
                ("mean,include_last_offset", dict(include_last_offset=True), "last"),
                ("sum,per_sample_weights", dict(mode="sum"), "psw")]
for _label, _kw, _kind in _BAG_MODULES:
    def _inputs(rng, kind=_kind):
        if kind == "2d":
            ids = rng.integers(0, 10, size=(3, 4))
            ids[0, 0] = 2
            return [ids]
        ids = rng.integers(0, 10, size=9)
        if kind == "last":
            return [ids, np.asarray([0, 4, 9])]
        if kind == "psw":
            return [ids, np.asarray([0, 4]), rng.standard_normal(9)]
        return [ids, np.asarray([0, 4, 4])]

    module_case(f"nn.EmbeddingBag[10,4,{_label}]", "embedding",
                lambda kw=_kw: (nn.EmbeddingBag(10, 4, **kw), torch.nn.EmbeddingBag(10, 4, **kw)),
                _inputs, covers=["nn.EmbeddingBag"])
