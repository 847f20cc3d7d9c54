"""Parity cases: loss functions and loss modules.

Each functional case evaluates the loss under every reduction it supports on the same
inputs and returns them as one dict (``out.none``, ``out.mean``, ``out.sum``): every
reduction's forward value is compared separately, and the gradient compared is that of
a random combination of all of them, which one compile per case keeps cheap. Integer
targets are never differentiated; float targets are, wherever torch differentiates
them. Class weights, ``pos_weight`` and targets torch cannot differentiate are passed
as keyword arrays (converted for both sides, not differentiated). Module cases carry
their weights as torch buffers, loaded into fnet's ``state``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from fnet import functional as F
from fnet import nn
from fnet.parity import function_case, module_case

TF = torch.nn.functional
FAMILY = "loss"
REDUCTIONS = ("none", "mean", "sum")


def _all_reductions(fn, reductions=REDUCTIONS, quiet=False):
    """``fn`` under every reduction, as a dict of outputs."""

    def run(*args, **kwargs):
        with warnings.catch_warnings():
            if quiet:  # kl_div's 'mean' and the legacy size_average/reduce warn by design
                warnings.simplefilter("ignore")
            # sorted: jax returns dicts with sorted keys, and both sides must list them alike
            return {r: fn(*args, reduction=r, **kwargs) for r in sorted(reductions)}

    return run


def fcase(name, fnet_fn, torch_fn, inputs, covers, kwargs=None, reductions=REDUCTIONS, quiet=False):
    function_case(name, FAMILY, _all_reductions(fnet_fn, reductions, quiet),
                  _all_reductions(torch_fn, reductions, quiet), inputs, covers=covers, kwargs=kwargs)


def mcase(name, build, inputs, covers, kwargs=None):
    module_case(name, FAMILY, build, inputs, covers=covers, kwargs=kwargs)


def _class_weight(c):
    return np.linspace(0.5, 2.0, c)  # distinct, positive: a weighting bug changes the result


# -- cross_entropy / nll_loss with class indices ---------------------------------------------

SHAPES = {"2d": (6, 4), "4d": (2, 3, 3, 2), "unbatched": (4,)}


def _index_target(rng, shape, ignore):
    """Class indices for an input of ``shape``; ``ignore`` says which targets hit ignore_index.

    ``"none"``: no target is ignored (ignore_index left at its default);
    ``"hit"``: ignore_index=1, an in-range class, and some targets equal 1;
    ``"hit-100"``: the default ignore_index=-100 and some targets are -100;
    ``"all"``: every target is ignored ('mean' is nan there, as in torch).
    """
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    t = rng.integers(0, c, size=tshape)
    if ignore == "hit":
        t = np.where(rng.random(tshape) < 0.4, 1, t)
        t.flat[0], t.flat[-1] = 1, 0  # at least one ignored and one kept
    elif ignore == "hit-100":
        t = np.where(rng.random(tshape) < 0.4, -100, t)
        t.flat[0], t.flat[-1] = -100, 0
    elif ignore == "all":
        t = np.full(tshape, -100)
    return np.asarray(t, np.int64)


def _ignore_kwargs(ignore):
    return {"ignore_index": 1} if ignore == "hit" else {}


CE_GRID = [  # (shape, ignore, label_smoothing, weighted)
    *[("2d", ig, ls, w) for ig in ("none", "hit", "hit-100", "all") for ls, w in ((0.0, False), (0.1, True))],
    ("2d", "hit", 0.1, False), ("2d", "hit", 0.0, True),
    ("4d", "none", 0.0, False), ("4d", "hit", 0.1, True),
    ("4d", "hit-100", 0.1, False), ("4d", "all", 0.1, True),
    ("unbatched", "none", 0.1, True), ("unbatched", "all", 0.0, False),
]

for shape_name, ignore, ls, weighted in CE_GRID:
    shape = SHAPES[shape_name]
    c = shape[0] if len(shape) == 1 else shape[1]

    def ce_inputs(rng, shape=shape, ignore=ignore):
        return [2 * rng.standard_normal(shape), _index_target(rng, shape, ignore)]

    kw = {**_ignore_kwargs(ignore), "label_smoothing": ls}
    if weighted:
        kw["weight"] = _class_weight(c)
    fcase(f"F.cross_entropy[{shape_name},ignore={ignore},ls={ls},weight={weighted}]",
          F.cross_entropy, TF.cross_entropy, ce_inputs, ["functional.cross_entropy"], kw)

NLL_GRID = [("2d", "none", False), ("2d", "hit", True), ("4d", "hit", True),
            ("unbatched", "none", True), ("2d", "all", True)]

for shape_name, ignore, weighted in NLL_GRID:
    shape = SHAPES[shape_name]
    c = shape[0] if len(shape) == 1 else shape[1]

    def nll_inputs(rng, shape=shape, ignore=ignore):
        return [rng.standard_normal(shape) - 1.5, _index_target(rng, shape, ignore)]

    kw = dict(_ignore_kwargs(ignore))
    if weighted:
        kw["weight"] = _class_weight(c)
    fcase(f"F.nll_loss[{shape_name},ignore={ignore},weight={weighted}]", F.nll_loss, TF.nll_loss,
          nll_inputs, ["functional.nll_loss"], kw)

# -- cross_entropy with class probabilities (target differentiated) ----------------------------

PROB_GRID = [("2d", 0.0, False), ("2d", 0.1, True), ("4d", 0.0, True), ("4d", 0.1, False),
             ("unbatched", 0.1, True)]
for shape_name, ls, weighted in PROB_GRID:
    shape = SHAPES[shape_name]
    c = shape[0] if len(shape) == 1 else shape[1]
    axis = 0 if len(shape) == 1 else 1

    def prob_inputs(rng, shape=shape, axis=axis):
        logits = rng.standard_normal(shape)
        p = np.exp(logits) / np.exp(logits).sum(axis=axis, keepdims=True)
        return [2 * rng.standard_normal(shape), p]

    kw = {"label_smoothing": ls, **({"weight": _class_weight(c)} if weighted else {})}
    fcase(f"F.cross_entropy[probabilities,{shape_name},ls={ls},weight={weighted}]",
          F.cross_entropy, TF.cross_entropy, prob_inputs, ["functional.cross_entropy"], kw)

# legacy size_average / reduce map to a reduction (torch's table), with torch's warning


def _legacy(fn, size_average, reduce):
    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, size_average=size_average, reduce=reduce, **kwargs)

    return run


# (the whole mapping table is unit-tested in tests/test_loss.py)
function_case("F.cross_entropy[legacy size_average=False]", FAMILY,
              _legacy(F.cross_entropy, False, None), _legacy(TF.cross_entropy, False, None),
              lambda rng: [rng.standard_normal((5, 3)), rng.integers(0, 3, 5)],
              covers=["functional.cross_entropy"])

# -- binary cross entropy ----------------------------------------------------------------------


def _probs(rng, shape, lo=0.05, hi=0.95):
    return rng.uniform(lo, hi, size=shape)


for name, weight in (("plain", None), ("weight=(4,)", (4,)), ("weight=(3,4)", (3, 4))):
    fcase(f"F.binary_cross_entropy[{name}]", F.binary_cross_entropy, TF.binary_cross_entropy,
          lambda rng: [_probs(rng, (3, 4)), rng.uniform(0, 1, (3, 4))],
          ["functional.binary_cross_entropy"],
          {"weight": np.linspace(0.5, 1.5, int(np.prod(weight))).reshape(weight)} if weight else None)


def _bce_boundary(rng):
    # probabilities of exactly 0 and 1: logs clamped at -100, input gradient +-1e12 from
    # torch's 1e-12 clamp, target gradient -logit(x) = +-inf
    x = np.array([[0.0, 1.0, 0.3, 0.0], [1.0, 0.7, 0.0, 1.0]])
    t = np.array([[1.0, 0.0, 0.2, 0.0], [1.0, 0.7, 0.5, 0.4]])
    return [x, t]


fcase("F.binary_cross_entropy[inputs 0 and 1]", F.binary_cross_entropy, TF.binary_cross_entropy,
      _bce_boundary, ["functional.binary_cross_entropy"])

BCEL_GRID = [  # (name, input shape, weight shape, pos_weight shape, logit scale)
    ("plain", (3, 4), None, None, 2.0),
    ("weight=(4,)", (3, 4), (4,), None, 2.0),
    ("pos_weight=(4,)", (3, 4), None, (4,), 2.0),
    ("weight=(3,1),pos_weight=(4,),large logits", (3, 4), (3, 1), (4,), 40.0),
    ("3d,pos_weight=(3,1)", (2, 3, 5), None, (3, 1), 2.0),
]
for name, shape, wshape, pshape, scale in BCEL_GRID:
    kw = {}
    if wshape:
        kw["weight"] = np.linspace(0.5, 1.5, int(np.prod(wshape))).reshape(wshape)
    if pshape:
        kw["pos_weight"] = np.linspace(0.3, 3.0, int(np.prod(pshape))).reshape(pshape)
    fcase(f"F.binary_cross_entropy_with_logits[{name}]", F.binary_cross_entropy_with_logits,
          TF.binary_cross_entropy_with_logits,
          lambda rng, shape=shape, scale=scale: [scale * rng.standard_normal(shape),
                                                 rng.uniform(0, 1, shape)],
          ["functional.binary_cross_entropy_with_logits"], kw or None)

# -- regression losses (target differentiated) ---------------------------------------------------


def _pair(shape, ties=False):
    def inputs(rng):
        x, t = rng.standard_normal(shape) * 1.5, rng.standard_normal(shape) * 1.5
        if ties:  # input == target: torch's gradient is sign(0) = 0 there
            t.flat[::3] = x.flat[::3]
        return [x, t]

    return inputs


def _elementwise_weight(shape):
    return np.linspace(0.2, 2.0, int(np.prod(shape))).reshape(shape)


fcase("F.mse_loss", F.mse_loss, TF.mse_loss, _pair((4, 5)), ["functional.mse_loss"])
fcase("F.mse_loss[weight]", F.mse_loss, TF.mse_loss, _pair((4, 5)), ["functional.mse_loss"],
      {"weight": _elementwise_weight((4, 5))})
fcase("F.mse_loss[target broadcast (4,1)]", F.mse_loss, TF.mse_loss,
      lambda rng: [rng.standard_normal((4, 5)), rng.standard_normal((4, 1))], ["functional.mse_loss"],
      quiet=True)
fcase("F.l1_loss[ties]", F.l1_loss, TF.l1_loss, _pair((4, 5), ties=True), ["functional.l1_loss"])
fcase("F.l1_loss[weight]", F.l1_loss, TF.l1_loss, _pair((2, 3, 4)), ["functional.l1_loss"],
      {"weight": _elementwise_weight((2, 3, 4))})
for beta in (1.0, 0.5, 0.0):
    fcase(f"F.smooth_l1_loss[beta={beta}]", F.smooth_l1_loss, TF.smooth_l1_loss,
          _pair((4, 6), ties=True), ["functional.smooth_l1_loss"], {"beta": beta})
for delta in (1.0, 2.5):
    fcase(f"F.huber_loss[delta={delta}]", F.huber_loss, TF.huber_loss, _pair((4, 6), ties=True),
          ["functional.huber_loss"], {"delta": delta})
fcase("F.huber_loss[delta=0.5,weight]", F.huber_loss, TF.huber_loss, _pair((4, 6)),
      ["functional.huber_loss"], {"delta": 0.5, "weight": _elementwise_weight((4, 6))})

# -- kl_div (target differentiated) ------------------------------------------------------------

KL_REDUCTIONS = ("none", "batchmean", "sum", "mean")


def _log_probs(rng, shape):
    z = rng.standard_normal(shape)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


for log_target in (False, True):
    fcase(f"F.kl_div[log_target={log_target}]", F.kl_div, TF.kl_div,
          lambda rng, lt=log_target: [_log_probs(rng, (4, 5)),
                                      _log_probs(rng, (4, 5)) if lt else np.exp(_log_probs(rng, (4, 5)))],
          ["functional.kl_div"], {"log_target": log_target}, reductions=KL_REDUCTIONS, quiet=True)


def _kl_zero_target(rng):
    # target probabilities of exactly 0 (one-hot-like): 0 log 0 = 0; d/dtarget is nan at
    # 0 in torch (xlogy's derivative) and in fnet alike
    p = np.exp(_log_probs(rng, (3, 4)))
    p[0] = [0.0, 1.0, 0.0, 0.0]
    p[1, 2] = 0.0
    return [_log_probs(rng, (3, 4)), p]


fcase("F.kl_div[zero target probabilities]", F.kl_div, TF.kl_div, _kl_zero_target,
      ["functional.kl_div"], reductions=KL_REDUCTIONS, quiet=True)

# -- embedding and ranking losses ------------------------------------------------------------


def _signs(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


for margin in (0.0, 0.5):
    fcase(f"F.cosine_embedding_loss[margin={margin}]", F.cosine_embedding_loss, TF.cosine_embedding_loss,
          lambda rng: [rng.standard_normal((6, 5)), rng.standard_normal((6, 5)), _signs(rng, (6,))],
          ["functional.cosine_embedding_loss"], {"margin": margin})
fcase("F.cosine_embedding_loss[unbatched,margin=-0.2]", F.cosine_embedding_loss, TF.cosine_embedding_loss,
      lambda rng: [rng.standard_normal(5), rng.standard_normal(5), np.array(-1.0)],
      ["functional.cosine_embedding_loss"], {"margin": -0.2})


def _ranking(rng):
    x1, x2 = rng.standard_normal(8), rng.standard_normal(8)
    x2[:2] = x1[:2]  # ties: with margin 0 the hinge sits exactly at 0 (torch passes the gradient)
    return [x1, x2, _signs(rng, (8,))]


for margin in (0.0, 0.3):
    fcase(f"F.margin_ranking_loss[margin={margin}]", F.margin_ranking_loss, TF.margin_ranking_loss,
          _ranking, ["functional.margin_ranking_loss"], {"margin": margin})

for margin in (1.0, 0.5):
    fcase(f"F.hinge_embedding_loss[margin={margin}]", F.hinge_embedding_loss, TF.hinge_embedding_loss,
          lambda rng: [np.abs(rng.standard_normal((4, 5))), _signs(rng, (4, 5))],
          ["functional.hinge_embedding_loss"], {"margin": margin})

# torch cannot differentiate soft_margin_loss's target: it goes in as a keyword array
fcase("F.soft_margin_loss", lambda x, target, **kw: F.soft_margin_loss(x, target, **kw),
      lambda x, target, **kw: TF.soft_margin_loss(x, target, **kw),
      lambda rng: [2 * rng.standard_normal((4, 5))], ["functional.soft_margin_loss"],
      lambda rng: {"target": _signs(rng, (4, 5))})

for weighted in (False, True):
    fcase(f"F.multilabel_soft_margin_loss[weight={weighted}]", F.multilabel_soft_margin_loss,
          TF.multilabel_soft_margin_loss,
          lambda rng: [2 * rng.standard_normal((4, 5)), (rng.random((4, 5)) < 0.4).astype(np.float64)],
          ["functional.multilabel_soft_margin_loss"],
          {"weight": np.linspace(0.5, 2.0, 5)} if weighted else None)

for p, swap, shape in ((2.0, False, (5, 6)), (1.0, False, (5, 6)), (3.0, True, (5, 6)),
                       (2.0, False, (6,))):
    fcase(f"F.triplet_margin_loss[p={p},swap={swap},shape={shape}]", F.triplet_margin_loss,
          TF.triplet_margin_loss,
          lambda rng, shape=shape: [rng.standard_normal(shape), rng.standard_normal(shape),
                                    rng.standard_normal(shape)],
          ["functional.triplet_margin_loss"], {"p": p, "swap": swap, "margin": 1.5})

for p, margin, weighted, shape in ((1, 1.0, False, (6, 4)), (2, 0.7, False, (6, 4)),
                                   (1, 1.0, True, (6, 4)), (2, 1.0, True, (4,))):
    kw = {"p": p, "margin": margin, **({"weight": _class_weight(4)} if weighted else {})}
    fcase(f"F.multi_margin_loss[p={p},margin={margin},weight={weighted},shape={shape}]",
          F.multi_margin_loss, TF.multi_margin_loss,
          lambda rng, shape=shape: [rng.standard_normal(shape),
                                    rng.integers(0, 4, shape[:-1] if len(shape) == 2 else ())],
          ["functional.multi_margin_loss"], kw)

# -- likelihood losses --------------------------------------------------------------------------


def _counts(rng, shape):
    t = rng.poisson(2.0, size=shape).astype(np.float64)
    t.flat[:3] = [0.5, 1.0, 3.0]  # below, at and above Stirling's mask threshold (target > 1)
    return np.maximum(t, 0.25)  # d/dtarget of Stirling's term is nan at 0, in torch too


for log_input, full in ((True, False), (False, False), (True, True)):
    fcase(f"F.poisson_nll_loss[log_input={log_input},full={full}]", F.poisson_nll_loss,
          TF.poisson_nll_loss,
          lambda rng, li=log_input: [rng.standard_normal((4, 5)) if li else rng.uniform(0.2, 3, (4, 5)),
                                     _counts(rng, (4, 5))],
          ["functional.poisson_nll_loss"], {"log_input": log_input, "full": full})

GAUSS_GRID = [("var same shape", (4, 3), False), ("var (N,) per sample", (4,), True),
              ("var (N,1)", (4, 1), False), ("var below eps", (4, 3), True)]
for name, vshape, full in GAUSS_GRID:
    def gauss_inputs(rng, vshape=vshape, name=name):
        var = rng.uniform(0.5, 2.0, vshape)
        if name == "var below eps":  # clamped at eps for the value; the gradient ignores the clamp
            var.flat[:2] = 1e-8
        return [rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), var]

    fcase(f"F.gaussian_nll_loss[{name},full={full}]", F.gaussian_nll_loss, TF.gaussian_nll_loss,
          gauss_inputs, ["functional.gaussian_nll_loss"], {"full": full})
fcase("F.gaussian_nll_loss[var float]",
      lambda x, t, **kw: F.gaussian_nll_loss(x, t, 0.7, **kw),
      lambda x, t, **kw: TF.gaussian_nll_loss(x, t, 0.7, **kw),
      lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))],
      ["functional.gaussian_nll_loss"])

# -- modules ---------------------------------------------------------------------------------


def _t(a):
    return torch.tensor(a, dtype=torch.float32)


W4 = _class_weight(4).astype(np.float32)
CE_MODULE_GRID = [  # (name, reduction, ignore, label_smoothing, weighted, shape)
    ("mean,weight,ls=0.1,ignore hit", "mean", "hit", 0.1, True, "2d"),
    ("none,weight,ignore hit", "none", "hit", 0.0, True, "2d"),
    ("mean,all ignored,weight", "mean", "all", 0.1, True, "2d"),
]
for name, reduction, ignore, ls, weighted, shape_name in CE_MODULE_GRID:
    shape = SHAPES[shape_name]
    c = shape[1]
    w = _class_weight(c).astype(np.float32) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=ls, **_ignore_kwargs(ignore))

    def build(kw=kw, w=w):
        return (nn.CrossEntropyLoss(weight=w, **kw),
                torch.nn.CrossEntropyLoss(weight=None if w is None else _t(w), **kw))

    mcase(f"nn.CrossEntropyLoss[{name}]", build,
          lambda rng, shape=shape, ignore=ignore: [2 * rng.standard_normal(shape),
                                                   _index_target(rng, shape, ignore)],
          ["nn.CrossEntropyLoss"])
mcase("nn.CrossEntropyLoss[probabilities,weight,ls=0.1]",
      lambda: (nn.CrossEntropyLoss(weight=W4, label_smoothing=0.1),
               torch.nn.CrossEntropyLoss(weight=_t(W4), label_smoothing=0.1)),
      lambda rng: [rng.standard_normal((5, 4)), rng.dirichlet(np.ones(4), size=5)],
      ["nn.CrossEntropyLoss"])
mcase("nn.NLLLoss[weight,ignore hit]",
      lambda: (nn.NLLLoss(weight=W4, ignore_index=1), torch.nn.NLLLoss(weight=_t(W4), ignore_index=1)),
      lambda rng: [rng.standard_normal((6, 4)), _index_target(rng, (6, 4), "hit")], ["nn.NLLLoss"])

for cls_name, kwargs in (("L1Loss", {}), ("MSELoss", {"reduction": "sum"}),
                         ("SmoothL1Loss", {"beta": 0.5}), ("HuberLoss", {"delta": 0.7, "reduction": "none"})):
    mcase(f"nn.{cls_name}[{','.join(f'{k}={v}' for k, v in kwargs.items())}]",
          lambda cls_name=cls_name, kwargs=kwargs: (getattr(nn, cls_name)(**kwargs),
                                                    getattr(torch.nn, cls_name)(**kwargs)),
          _pair((3, 5), ties=True), [f"nn.{cls_name}"])

mcase("nn.BCELoss[weight]",
      lambda: (nn.BCELoss(weight=np.float32([0.5, 1.0, 2.0, 1.5])),
               torch.nn.BCELoss(weight=_t([0.5, 1.0, 2.0, 1.5]))),
      lambda rng: [_probs(rng, (3, 4)), rng.uniform(0, 1, (3, 4))], ["nn.BCELoss"])
BCE_W, BCE_PW = np.float32([1.0, 0.5, 2.0, 1.0]), np.float32([3.0, 1.0, 0.5, 2.0])
mcase("nn.BCEWithLogitsLoss[weight,pos_weight]",
      lambda: (nn.BCEWithLogitsLoss(weight=BCE_W, pos_weight=BCE_PW),
               torch.nn.BCEWithLogitsLoss(weight=_t(BCE_W), pos_weight=_t(BCE_PW))),
      lambda rng: [2 * rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))], ["nn.BCEWithLogitsLoss"])

for reduction, log_target in (("batchmean", False), ("none", True)):
    mcase(f"nn.KLDivLoss[{reduction},log_target={log_target}]",
          lambda reduction=reduction, lt=log_target: (nn.KLDivLoss(reduction=reduction, log_target=lt),
                                                      torch.nn.KLDivLoss(reduction=reduction, log_target=lt)),
          lambda rng, lt=log_target: [_log_probs(rng, (3, 5)),
                                      _log_probs(rng, (3, 5)) if lt else np.exp(_log_probs(rng, (3, 5)))],
          ["nn.KLDivLoss"])

mcase("nn.CosineEmbeddingLoss[margin=0.3]",
      lambda: (nn.CosineEmbeddingLoss(margin=0.3), torch.nn.CosineEmbeddingLoss(margin=0.3)),
      lambda rng: [rng.standard_normal((5, 4)), rng.standard_normal((5, 4)), _signs(rng, (5,))],
      ["nn.CosineEmbeddingLoss"])
mcase("nn.MarginRankingLoss[margin=0.2]",
      lambda: (nn.MarginRankingLoss(margin=0.2), torch.nn.MarginRankingLoss(margin=0.2)),
      _ranking, ["nn.MarginRankingLoss"])
mcase("nn.HingeEmbeddingLoss[margin=0.8]",
      lambda: (nn.HingeEmbeddingLoss(margin=0.8), torch.nn.HingeEmbeddingLoss(margin=0.8)),
      lambda rng: [np.abs(rng.standard_normal((3, 4))), _signs(rng, (3, 4))], ["nn.HingeEmbeddingLoss"])
# an integer +-1 target: not differentiated (torch cannot differentiate this target)
mcase("nn.SoftMarginLoss[integer target]", lambda: (nn.SoftMarginLoss(), torch.nn.SoftMarginLoss()),
      lambda rng: [rng.standard_normal((3, 4)), _signs(rng, (3, 4)).astype(np.int64)],
      ["nn.SoftMarginLoss"])
mcase("nn.MultiLabelSoftMarginLoss[weight]",
      lambda: (nn.MultiLabelSoftMarginLoss(weight=W4), torch.nn.MultiLabelSoftMarginLoss(weight=_t(W4))),
      lambda rng: [rng.standard_normal((3, 4)), (rng.random((3, 4)) < 0.5).astype(np.float64)],
      ["nn.MultiLabelSoftMarginLoss"])
mcase("nn.MultiMarginLoss[p=2,weight]",
      lambda: (nn.MultiMarginLoss(p=2, weight=W4), torch.nn.MultiMarginLoss(p=2, weight=_t(W4))),
      lambda rng: [rng.standard_normal((5, 4)), rng.integers(0, 4, 5)], ["nn.MultiMarginLoss"])
mcase("nn.TripletMarginLoss[swap]",
      lambda: (nn.TripletMarginLoss(margin=0.5, swap=True),
               torch.nn.TripletMarginLoss(margin=0.5, swap=True)),
      lambda rng: [rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))],
      ["nn.TripletMarginLoss"])
mcase("nn.PoissonNLLLoss[full]",
      lambda: (nn.PoissonNLLLoss(full=True), torch.nn.PoissonNLLLoss(full=True)),
      lambda rng: [rng.standard_normal((3, 4)), _counts(rng, (3, 4))], ["nn.PoissonNLLLoss"])
mcase("nn.GaussianNLLLoss[full,sum]",
      lambda: (nn.GaussianNLLLoss(full=True, reduction="sum"),
               torch.nn.GaussianNLLLoss(full=True, reduction="sum")),
      lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.5, 2, (3, 1))],
      ["nn.GaussianNLLLoss"])


# -- multilabel_margin_loss, triplet_margin_with_distance_loss ----------------------------------


def _multilabel_target(rng, shape):
    """Each row lists some target classes (a repeat included) then -1 padding, then junk
    that torch ignores because it comes after the first -1."""
    c = shape[-1]
    rows = []
    for _ in range(int(np.prod(shape[:-1], dtype=int))):
        k = int(rng.integers(0, c))
        row = list(rng.permutation(c)[:k]) + [-1] * (c - k)
        if k >= 2:
            row[1] = row[0]  # a repeated target counts twice in torch's sum
        if k + 1 < c:
            row[k + 1] = int(rng.integers(0, c))  # after the -1: ignored
        rows.append(row)
    return np.asarray(rows, np.int64).reshape(shape)


for _shape in ((5, 4), (4,), (3, 7)):
    fcase(f"F.multilabel_margin_loss[shape={_shape}]", F.multilabel_margin_loss, TF.multilabel_margin_loss,
          lambda rng, s=_shape: [rng.standard_normal(s), _multilabel_target(rng, s)],
          ["functional.multilabel_margin_loss"])
mcase("nn.MultiLabelMarginLoss[sum]", lambda: (nn.MultiLabelMarginLoss(reduction="sum"),
                                               torch.nn.MultiLabelMarginLoss(reduction="sum")),
      lambda rng: [rng.standard_normal((4, 5)), _multilabel_target(rng, (4, 5))], ["nn.MultiLabelMarginLoss"])


def _cosine_distance(lib):
    return lambda a, b: 1.0 - lib.cosine_similarity(a, b)


_TRIPLETS = [("default distance", None, False, 1.0, (5, 6)), ("default distance,swap", None, True, 2.0, (5, 6)),
             ("cosine distance", "cosine", False, 0.5, (4, 3)), ("cosine distance,swap", "cosine", True, 0.3, (6, 4)),
             ("default distance,1-D", None, False, 1.0, (6,))]
for _label, _dist, _swap, _margin, _shape in _TRIPLETS:
    _fkw = dict(swap=_swap, margin=_margin, distance_function=_cosine_distance(F) if _dist else None)
    _tkw = dict(swap=_swap, margin=_margin, distance_function=_cosine_distance(TF) if _dist else None)
    fcase(f"F.triplet_margin_with_distance_loss[{_label},margin={_margin}]",
          lambda a, p, n, kw=_fkw, **r: F.triplet_margin_with_distance_loss(a, p, n, **kw, **r),
          lambda a, p, n, kw=_tkw, **r: TF.triplet_margin_with_distance_loss(a, p, n, **kw, **r),
          lambda rng, s=_shape: [rng.standard_normal(s) for _ in range(3)],
          ["functional.triplet_margin_with_distance_loss"])
mcase("nn.TripletMarginWithDistanceLoss[default]",
      lambda: (nn.TripletMarginWithDistanceLoss(), torch.nn.TripletMarginWithDistanceLoss()),
      lambda rng: [rng.standard_normal((4, 3)) for _ in range(3)], ["nn.TripletMarginWithDistanceLoss"])
mcase("nn.TripletMarginWithDistanceLoss[nn.PairwiseDistance(p=1) child,swap,none]",
      lambda: (nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=1), swap=True,
                                                reduction="none"),
               torch.nn.TripletMarginWithDistanceLoss(distance_function=torch.nn.PairwiseDistance(p=1), swap=True,
                                                      reduction="none")),
      lambda rng: [rng.standard_normal((4, 3)) for _ in range(3)], ["nn.TripletMarginWithDistanceLoss"])

# -- ctc_loss ------------------------------------------------------------------------------------
# log_probs are log_softmax outputs (as in use); the gradient compared is the one torch reports
# for log_probs (Graves' eq. 16, see fnet/functional/_ctc.py), and a second set of cases goes
# through log_softmax from logits, where it is also the mathematical gradient.


def _ctc_inputs(T, N, C, S, input_lengths, target_lengths, concatenated=False, repeat=True):
    def make(rng):
        logits = rng.standard_normal((T, N, C))
        lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        tgt = rng.integers(1, C, size=(N, S))
        if repeat and S > 1:
            tgt[0, 1] = tgt[0, 0]  # a repeated label needs a blank between its copies
        if concatenated:
            tgt = np.concatenate([tgt[i, :target_lengths[i]] for i in range(N)])
        return [lp, tgt, np.asarray(input_lengths), np.asarray(target_lengths)]
    return make


_CTC = [("padded", (10, 4, 5, 4), (10, 9, 6, 8), (4, 3, 2, 1), False),
        ("concatenated", (9, 3, 6, 3), (9, 7, 5), (3, 2, 3), True),
        ("zero target length", (6, 3, 4, 2), (6, 5, 4), (2, 0, 1), False),
        ("long targets", (12, 2, 3, 6), (12, 11), (6, 5), False)]
for _label, (_T, _N, _C, _S), _il, _tl, _cat in _CTC:
    fcase(f"F.ctc_loss[{_label},T={_T},N={_N},C={_C}]", F.ctc_loss, TF.ctc_loss,
          _ctc_inputs(_T, _N, _C, _S, _il, _tl, _cat), ["functional.ctc_loss"])
fcase("F.ctc_loss[blank=2,zero_infinity=True, an impossible alignment]",
      lambda lp, t, il, tl, **kw: F.ctc_loss(lp, t, il, tl, blank=2, zero_infinity=True, **kw),
      lambda lp, t, il, tl, **kw: TF.ctc_loss(lp, t, il, tl, blank=2, zero_infinity=True, **kw),
      lambda rng: [_ctc_inputs(8, 3, 4, 3, (8, 2, 6), (3, 3, 2), repeat=False)(rng)[0],
                   np.asarray([[0, 1, 3], [1, 0, 1], [3, 3, 0]]), np.asarray([8, 2, 6]), np.asarray([3, 3, 2])],
      ["functional.ctc_loss"])


def _through_log_softmax(ctc, lsm):
    def call(logits, t, il, tl, **kw):
        return ctc(lsm(logits, -1), t, il, tl, **kw)
    return call


fcase("F.ctc_loss[from logits through log_softmax]", _through_log_softmax(F.ctc_loss, F.log_softmax),
      _through_log_softmax(TF.ctc_loss, TF.log_softmax), _ctc_inputs(10, 3, 5, 3, (10, 8, 7), (3, 2, 3)),
      ["functional.ctc_loss"])
fcase("F.ctc_loss[unbatched]",
      lambda lp, t, il, tl, **kw: F.ctc_loss(lp[:, 0], t[0], il[0], tl[0], **kw),
      lambda lp, t, il, tl, **kw: TF.ctc_loss(lp[:, 0], t[0], il[0], tl[0], **kw),
      _ctc_inputs(7, 1, 4, 3, (7,), (3,)), ["functional.ctc_loss"])
mcase("nn.CTCLoss[blank=0,mean]", lambda: (nn.CTCLoss(), torch.nn.CTCLoss()),
      _ctc_inputs(10, 3, 5, 3, (10, 9, 8), (3, 2, 3)), ["nn.CTCLoss"])
mcase("nn.CTCLoss[blank=4,sum,zero_infinity]",
      lambda: (nn.CTCLoss(blank=4, reduction="sum", zero_infinity=True),
               torch.nn.CTCLoss(blank=4, reduction="sum", zero_infinity=True)),
      lambda rng: [_ctc_inputs(6, 2, 5, 3, (6, 2), (3, 3), repeat=False)(rng)[0],
                   np.asarray([[0, 1, 2], [3, 3, 3]]), np.asarray([6, 2]), np.asarray([3, 3])], ["nn.CTCLoss"])

# -- linear_cross_entropy: chunked over the vocabulary, compared with torch's reference path --------


def _lce_inputs(n, d, v, bias, ignore=False):
    def make(rng):
        xs = [rng.standard_normal((n, d)), 0.5 * rng.standard_normal((v, d))]
        if bias:
            xs.append(rng.standard_normal(v))
        t = rng.integers(0, v, n)
        if ignore:
            t[::3] = -100
        return xs + [t]
    return make


def _lce(lib, chunk=None, **fixed):
    def call(x, w, *rest, **kw):
        *bias, t = rest
        extra = {"chunk_size": chunk} if chunk is not None else {}
        return lib.linear_cross_entropy(x, w, t, linear_bias=bias[0] if bias else None, **fixed, **kw, **extra)
    return call


_LCE = [("bias,chunk=7", 7, True, {}, False), ("no bias,one chunk", None, False, {}, False),
        ("weight,ls=0.1,ignore -100,chunk=5", 5, True, {"label_smoothing": 0.1}, True),
        ("ignore_index=2,chunk=4", 4, False, {"ignore_index": 2}, False)]
for _label, _chunk, _bias, _fixed, _ignore in _LCE:
    _weighted = "weight" in _label
    fcase(f"F.linear_cross_entropy[{_label},N=6,D=5,V=17]", _lce(F, _chunk, **_fixed), _lce(TF, None, **_fixed),
          _lce_inputs(6, 5, 17, _bias, _ignore), ["functional.linear_cross_entropy"],
          {"weight": _class_weight(17)} if _weighted else None)
fcase("F.linear_cross_entropy[probability targets, reference path]",
      lambda x, w, t, **kw: F.linear_cross_entropy(x, w, t, **kw),
      lambda x, w, t, **kw: TF.linear_cross_entropy(x, w, t, **kw),
      lambda rng: [rng.standard_normal((5, 4)), rng.standard_normal((6, 4)), rng.dirichlet(np.ones(6), 5)],
      ["functional.linear_cross_entropy"])
fcase("F.linear_cross_entropy[K-dimensional out_features=(3,), reference path]",
      lambda x, w, b, t, **kw: F.linear_cross_entropy(x, w, t, linear_bias=b, **kw),
      lambda x, w, b, t, **kw: TF.linear_cross_entropy(x, w, t, linear_bias=b, **kw),
      lambda rng: [rng.standard_normal((5, 4)), rng.standard_normal((6, 3, 4)), rng.standard_normal((6, 3)),
                   rng.integers(0, 6, (5, 3))], ["functional.linear_cross_entropy"])
fcase("F.linear_cross_entropy[unbatched]",
      lambda x, w, t, **kw: F.linear_cross_entropy(x[0], w, t[0], chunk_size=3, **kw),
      lambda x, w, t, **kw: TF.linear_cross_entropy(x[0], w, t[0], **kw),
      _lce_inputs(1, 4, 9, False), ["functional.linear_cross_entropy"])
module_case("nn.LinearCrossEntropyLoss(8, 23, bias=True, chunk_size=6)", FAMILY,
            lambda: (nn.LinearCrossEntropyLoss(8, 23, bias=True, chunk_size=6),
                     torch.nn.LinearCrossEntropyLoss(8, 23, bias=True)),
            lambda rng: [rng.standard_normal((7, 8)), rng.integers(0, 23, 7)], covers=["nn.LinearCrossEntropyLoss"])
module_case("nn.LinearCrossEntropyLoss(5, 6, weight, ls=0.2, ignore_index=1, none)", FAMILY,
            lambda: (nn.LinearCrossEntropyLoss(5, 6, weight=_class_weight(6).astype(np.float32), label_smoothing=0.2,
                                               ignore_index=1, reduction="none"),
                     torch.nn.LinearCrossEntropyLoss(5, 6, weight=_t(_class_weight(6)), label_smoothing=0.2,
                                                     ignore_index=1, reduction="none")),
            lambda rng: [rng.standard_normal((7, 5)), rng.integers(0, 6, 7)], covers=["nn.LinearCrossEntropyLoss"])
module_case("nn.LinearCrossEntropyLoss(4, 5, out_features=(2,))", FAMILY,
            lambda: (nn.LinearCrossEntropyLoss(4, 5, out_features=(2,), bias=True),
                     torch.nn.LinearCrossEntropyLoss(4, 5, out_features=(2,), bias=True)),
            lambda rng: [rng.standard_normal((3, 4)), rng.integers(0, 5, (3, 2))], covers=["nn.LinearCrossEntropyLoss"])

# -- AdaptiveLogSoftmaxWithLoss: forward, log_prob and predict --------------------------------------


class _TorchASM(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self.asm = torch.nn.AdaptiveLogSoftmaxWithLoss(*args, **kwargs)

    def forward(self, x, t):
        out = self.asm(x, t)
        return tuple(out), self.asm.log_prob(x), self.asm.predict(x)


class _FnetASM(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self.asm = nn.AdaptiveLogSoftmaxWithLoss(*args, **kwargs)

    def forward(self, ctx, x, t):
        out = self.asm(ctx, x, t)
        return tuple(out), self.asm.log_prob(ctx.params["asm"], x), self.asm.predict(ctx.params["asm"], x)


def _asm_inputs(n, d, n_classes):
    def make(rng):
        t = rng.integers(0, n_classes, n)
        t[:3] = [0, n_classes - 1, n_classes // 2]  # the head, the last cluster and the middle
        return [rng.standard_normal((n, d)), t]
    return make


for _args, _kwargs in [((8, 20, [4, 10]), dict(div_value=2.0)), ((6, 12, [5]), dict(head_bias=True)),
                       ((16, 30, [3, 8, 20]), {})]:
    module_case(f"nn.AdaptiveLogSoftmaxWithLoss{_args}{_kwargs}[forward, log_prob, predict]", FAMILY,
                lambda a=_args, k=_kwargs: (_FnetASM(*a, **k), _TorchASM(*a, **k)),
                _asm_inputs(9, _args[0], _args[1]), covers=["nn.AdaptiveLogSoftmaxWithLoss"])
module_case("nn.AdaptiveLogSoftmaxWithLoss(6, 10, [4])[unbatched]", FAMILY,
            lambda: (nn.AdaptiveLogSoftmaxWithLoss(6, 10, [4]), torch.nn.AdaptiveLogSoftmaxWithLoss(6, 10, [4])),
            lambda rng: [rng.standard_normal(6), np.asarray(7)], covers=["nn.AdaptiveLogSoftmaxWithLoss"])
