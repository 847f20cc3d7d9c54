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
