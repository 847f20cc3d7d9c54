"""Parity cases: Flatten/Unflatten, padding, interpolation and pixel shuffles, distances, one_hot."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as TF

from fnet import functional as F
from fnet import nn
from fnet.parity import ParityCase, case_seed, compare_functions, function_case, module_case, register


def _randn(*shape):
    return lambda rng: [rng.standard_normal(shape)]


def _fn(f, **kw):
    """A function of the inputs with keyword options fixed (both sides)."""
    def call(*xs):
        return f(*xs, **kw)
    return call


def _fmt(kw: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in kw.items())


def _t(shape) -> str:
    """A compact shape or pad tuple for case names: ``(2,3,6)``."""
    return "(" + ",".join(str(s) for s in shape) + ")"


def _size(kw: dict) -> str:
    """``size=11``, ``x1.7`` (scale factor), ``x1.7r`` (recomputed scale)."""
    if "size" in kw:
        return f"size={kw['size']}"
    return f"x{kw['scale_factor']}" + ("r" if kw.get("recompute_scale_factor") else "")


def _grid(f, configs):
    """One function returning a tuple: ``f(xs[i], *args, **kw)`` for each ``(i, args, kw)``.

    Grouping a grid of configurations in one case compiles once instead of once per
    configuration; the report lists each output as ``out[k]`` in ``configs`` order.
    """
    def call(*xs):
        return tuple(f(xs[i], *args, **kw) for i, args, kw in configs)
    return call


def _inputs(*shapes):
    return lambda rng: [rng.standard_normal(shape) for shape in shapes]


def _grid_case(name, fnet_f, torch_f, shapes, configs, covers):
    function_case(name, "shape", _grid(fnet_f, configs), _grid(torch_f, configs), _inputs(*shapes),
                  covers=covers)


# -- Flatten / Unflatten -----------------------------------------------------------------------

for (start, end), shape in [((1, -1), (2, 3, 4, 5)), ((-3, -2), (2, 3, 4, 5)), ((0, 0), (5,))]:
    module_case(f"nn.Flatten[{start},{end};in={shape}]", "shape",
                lambda start=start, end=end: (nn.Flatten(start, end), torch.nn.Flatten(start, end)),
                _randn(*shape), covers=["nn.Flatten"])

for dim, sizes, shape in [(1, (2, -1, 3), (3, 12, 2)), (-1, [4, 2], (2, 3, 8))]:
    module_case(f"nn.Unflatten[dim={dim},{sizes};in={shape}]", "shape",
                lambda dim=dim, sizes=sizes: (nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes)),
                _randn(*shape), covers=["nn.Unflatten"])

# -- F.pad and the padding layers --------------------------------------------------------------

# Inputs: 0 (2, 3, 6) batched 1-D, 1 (3, 6) unbatched 1-D, 2 (2, 3, 5, 6) batched 2-D,
# 3 (3, 5, 6) unbatched 2-D, 4 (1, 2, 3, 4, 5) batched 3-D, 5 (7,) (constant mode only).
_PAD_SHAPES = [(2, 3, 6), (3, 6), (2, 3, 5, 6), (3, 5, 6), (1, 2, 3, 4, 5), (7,)]
_PAD_GRID = {
    "constant": [(0, (1, 2)), (2, (-2, 1, 1, -1)), (5, (2, 3)), (4, (1, 1, 0, 2, 2, 1))],
    "reflect": [(1, (5, 1)), (0, (-1, 2)), (2, (1, 2, 4, 3)), (4, (1, 2, 2, 1, 1, 2))],
    "replicate": [(0, (2, 7)), (0, (2, -3)), (3, (1, 1, 1, 1)), (4, (2, 1, 0, 1, 3, 1)),
                  (0, (-6, 2)), (3, (3, -7, 0, 0))],  # crops past the whole dimension: torch clamps
    "circular": [(1, (6, 1)), (0, (-2, 3)), (2, (2, -1, -1, 2)), (4, (1, 1, 2, 2, 1, 0))],
}
for mode, grid in _PAD_GRID.items():
    configs = [(i, (pad,), {"mode": mode, **({"value": 1.5} if mode == "constant" and k % 2 else {})})
               for k, (i, pad) in enumerate(grid)]
    _grid_case(f"F.pad[{mode}: " + " ".join(f"{_t(pad)}@{_t(_PAD_SHAPES[i])}" for i, pad in grid) + "]",
               F.pad, TF.pad, _PAD_SHAPES, configs, ["functional.pad"])


def _chain(lib, layers):
    return lib.Sequential(*(getattr(lib, cls)(*args) for cls, args in layers))


# Every padding layer, chained per dimensionality (each layer's output feeds the next).
_PAD_CHAINS = [
    ((2, 3, 5), [("ReflectionPad1d", (3,)), ("ReplicationPad1d", ((2, 1),)), ("CircularPad1d", ((4, -1),)),
                 ("ZeroPad1d", (1,)), ("ConstantPad1d", ((2, -1), 3.5))]),
    ((3, 5), [("ReflectionPad1d", ((4, 1),)), ("CircularPad1d", (2,)), ("ZeroPad1d", ((1, -2),))]),
    ((2, 3, 4, 5), [("ReflectionPad2d", ((1, 2, 3, 0),)), ("ReplicationPad2d", (2,)),
                    ("CircularPad2d", ((1, 2, 3, 0),)), ("ZeroPad2d", ((1, 2, 0, 3),)),
                    ("ConstantPad2d", ((1, -1, 0, 2), -1.0))]),
    ((3, 4, 5), [("ReflectionPad2d", (2,)), ("ReplicationPad2d", ((4, 0, 1, 1),)), ("ZeroPad2d", (1,))]),
    ((1, 2, 3, 4, 5), [("ReflectionPad3d", (1,)), ("ReplicationPad3d", ((1, 2, 0, 1, 2, 1),)),
                       ("CircularPad3d", (1,)), ("ZeroPad3d", ((1, 0, 2, 1, 0, 1),)),
                       ("ConstantPad3d", (1, 0.5))]),
]
for shape, layers in _PAD_CHAINS:
    def _short(cls, args):
        pad = args[0] if isinstance(args[0], int) else _t(args[0])
        return f"{cls[:-len('Pad1d')]} {pad}" + (f" value={args[1]}" if len(args) > 1 else "")

    module_case(f"nn.*Pad{layers[0][0][-2:]} chain["
                + ", ".join(_short(c, a) for c, a in layers) + f";in={_t(shape)}]", "shape",
                lambda layers=layers: (_chain(nn, layers), _chain(torch.nn, layers)), _randn(*shape),
                covers=sorted({f"nn.{cls}" for cls, _ in layers}))

# -- interpolate, Upsample, pixel shuffles -----------------------------------------------------

# Output sizes: an explicit size (in/out scale), an integer factor (nearest's x2 shortcut), a
# fractional up and down factor (the kernels then use 1/scale_factor) and a recomputed scale.
_SIZES = [{"size": 11}, {"scale_factor": 2}, {"scale_factor": 1.7}, {"scale_factor": 0.6},
          {"scale_factor": 1.7, "recompute_scale_factor": True}]
_MODE_SHAPES = {"nearest": [(2, 3, 7), (1, 2, 5, 6), (1, 2, 3, 4, 3)],
                "nearest-exact": [(2, 3, 7), (1, 2, 5, 6)],
                "linear": [(2, 3, 7)], "bilinear": [(2, 2, 5, 6)], "trilinear": [(1, 2, 3, 4, 3)],
                "bicubic": [(2, 2, 5, 6)], "area": [(2, 3, 7), (1, 2, 5, 6)]}
for mode, shapes in _MODE_SHAPES.items():
    corners = (None,) if mode in ("nearest", "nearest-exact", "area") else (False, True)
    for shape in shapes:
        if mode == "area":
            sizes = [{"size": 4}, {"size": 11}, {"scale_factor": 0.5}][:len(shape) - 1]  # pooling windows
        elif len(shape) == 5:
            sizes = [{"size": 5}, {"scale_factor": 0.6}]
        elif mode == "nearest":
            sizes = _SIZES[:4]
        elif mode == "nearest-exact" or mode == "linear":
            sizes = [_SIZES[0]] + _SIZES[2:4]
        else:
            sizes = [_SIZES[0]] + _SIZES[2:]
        for ac in corners:
            extra = {"mode": mode, **({} if ac is None else {"align_corners": ac})}
            configs = [(0, (), {**size_kw, **extra}) for size_kw in sizes]
            _grid_case(f"F.interpolate[{_fmt(extra)};in={_t(shape)}: " + " ".join(_size(k) for k in sizes) + "]",
                       F.interpolate, TF.interpolate, [shape], configs, ["functional.interpolate"])

_TUPLE_SIZES = [{"size": (3, 9), "mode": "bilinear", "align_corners": True},
                {"scale_factor": (0.5, 2.5), "mode": "bicubic"},
                {"scale_factor": (2, 1.5), "mode": "nearest"}]
_grid_case("F.interpolate[per-dim: bilinear size=(3,9), bicubic x(0.5,2.5), nearest x(2,1.5);in=(2,3,6,4)]", F.interpolate, TF.interpolate, [(2, 3, 6, 4)],
           [(0, (), kw) for kw in _TUPLE_SIZES], ["functional.interpolate"])

_UPSAMPLE = [({"scale_factor": 2}, (2, 3, 5)),
             ({"scale_factor": 1.5, "mode": "bicubic", "align_corners": True}, (1, 2, 4, 5)),
             ({"scale_factor": (2.0, 0.5, 1.5), "mode": "trilinear"}, (1, 2, 3, 4, 4))]
for kw, shape in _UPSAMPLE:
    module_case(f"nn.Upsample[{_fmt(kw)};in={shape}]", "shape",
                lambda kw=kw: (nn.Upsample(**kw), torch.nn.Upsample(**kw)), _randn(*shape),
                covers=["nn.Upsample"])
module_case("nn.UpsamplingNearest2d[scale=3]", "shape",
            lambda: (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
            _randn(2, 2, 3, 4), covers=["nn.UpsamplingNearest2d"])
module_case("nn.UpsamplingBilinear2d[size=(5,7)]", "shape",
            lambda: (nn.UpsamplingBilinear2d((5, 7)), torch.nn.UpsamplingBilinear2d((5, 7))),
            _randn(2, 2, 3, 4), covers=["nn.UpsamplingBilinear2d"])

_SHUFFLE = [(2, (2, 8, 3, 4)), (3, (9, 2, 2)), (2, (2, 3, 4, 2, 3))]
_UNSHUFFLE = [(2, (2, 3, 4, 6)), (3, (2, 6, 9)), (2, (2, 3, 1, 4, 2))]
_grid_case("F.pixel_shuffle[" + "; ".join(f"r={r} on {s}" for r, s in _SHUFFLE) + "]", F.pixel_shuffle,
           TF.pixel_shuffle, [s for _, s in _SHUFFLE], [(i, (r,), {}) for i, (r, _) in enumerate(_SHUFFLE)],
           ["functional.pixel_shuffle"])
_grid_case("F.pixel_unshuffle[" + "; ".join(f"r={r} on {s}" for r, s in _UNSHUFFLE) + "]",
           F.pixel_unshuffle, TF.pixel_unshuffle, [s for _, s in _UNSHUFFLE],
           [(i, (r,), {}) for i, (r, _) in enumerate(_UNSHUFFLE)], ["functional.pixel_unshuffle"])
module_case("nn.PixelShuffle[r=2;in=(2, 3, 8, 3, 4)]", "shape",
            lambda: (nn.PixelShuffle(2), torch.nn.PixelShuffle(2)), _randn(2, 3, 8, 3, 4),
            covers=["nn.PixelShuffle"])
module_case("nn.PixelUnshuffle[r=3;in=(2, 6, 9)]", "shape",
            lambda: (nn.PixelUnshuffle(3), torch.nn.PixelUnshuffle(3)), _randn(2, 6, 9),
            covers=["nn.PixelUnshuffle"])

# -- distances ---------------------------------------------------------------------------------


def _pair_grid(f, configs):
    """Like ``_grid`` for two-input functions: ``(i, j, kw)`` applies ``f(xs[i], xs[j], **kw)``."""
    def call(*xs):
        return tuple(f(xs[i], xs[j], **kw) for i, j, kw in configs)
    return call


def _scaled(shapes_scales, zero_first_row=False):
    def inputs(rng):
        xs = [rng.standard_normal(shape) * scale for shape, scale in shapes_scales]
        if zero_first_row:
            xs[0][0] = 0.0
        return xs
    return inputs


# Inputs: 0/1 (4, 6), 2 (1, 6), 3 (3, 5), 4 (5,), 5 (2, 3, 7), 6 (2, 1, 7), 7 (6,)
_DIST_SHAPES = [(4, 6), (4, 6), (1, 6), (3, 5), (5,), (2, 3, 7), (2, 1, 7), (6,)]
_COS = [(0, 1, {"dim": 0}), (0, 2, {}), (3, 4, {"dim": -1}), (5, 6, {"dim": 0}), (7, 7, {"dim": 0})]
function_case("F.cosine_similarity[" + " ".join(f"{_t(_DIST_SHAPES[i])}{_t(_DIST_SHAPES[j])}:{kw.get('dim', 1)}"
                                                for i, j, kw in _COS) + "]", "shape",
              _pair_grid(F.cosine_similarity, _COS), _pair_grid(TF.cosine_similarity, _COS),
              _scaled([(s, 1.0) for s in _DIST_SHAPES]), covers=["functional.cosine_similarity"])
# Norms below eps (tiny rows, a zero row): the clamp is active and, as in torch, does not
# enter the gradient.
function_case("F.cosine_similarity[eps=1e-3, tiny and zero rows]", "shape",
              _fn(F.cosine_similarity, dim=1, eps=1e-3), _fn(TF.cosine_similarity, dim=1, eps=1e-3),
              _scaled([((4, 5), 1e-4), ((4, 5), 1.0)], zero_first_row=True),
              covers=["functional.cosine_similarity"])
module_case("nn.CosineSimilarity[dim=-1,eps=1e-2;in=(3, 5),(1, 5)]", "shape",
            lambda: (nn.CosineSimilarity(dim=-1, eps=1e-2), torch.nn.CosineSimilarity(dim=-1, eps=1e-2)),
            _scaled([((3, 5), 1.0), ((1, 5), 1.0)]), covers=["nn.CosineSimilarity"])

_PDIST = [(0, 1, {}), (0, 1, {"p": 3.0, "keepdim": True}), (0, 1, {"p": float("inf")}), (0, 1, {"p": 0.5}),
          (0, 1, {"p": 0.0}), (5, 6, {}), (4, 4, {"eps": 0.1})]
function_case("F.pairwise_distance[p=2,3(keepdim),inf,0.5,0 on (4,6); broadcast (2,3,7),(2,1,7); 1-D, eps=0.1]",
              "shape",
              _pair_grid(F.pairwise_distance, _PDIST), _pair_grid(TF.pairwise_distance, _PDIST),
              _scaled([(s, 1.0) for s in _DIST_SHAPES]), covers=["functional.pairwise_distance"])
module_case("nn.PairwiseDistance[p=1.0,keepdim=True]", "shape",
            lambda: (nn.PairwiseDistance(p=1.0, keepdim=True), torch.nn.PairwiseDistance(p=1.0, keepdim=True)),
            _scaled([((5, 4), 1.0), ((5, 4), 1.0)]), covers=["nn.PairwiseDistance"])

# -- one_hot -----------------------------------------------------------------------------------


def _one_hot_case(name: str, num_classes: int, shape: tuple, high: int) -> None:
    """Integer outputs compared exactly; eager (not jitted) so num_classes=-1 can infer."""
    seed = case_seed(name)

    def run(dtype: str):
        import numpy as np

        ids = np.random.default_rng(seed).integers(0, high, size=shape)
        return compare_functions(_fn(F.one_hot, num_classes=num_classes),
                                 _fn(TF.one_hot, num_classes=num_classes), [ids], dtype=dtype,
                                 name=name, jit=num_classes != -1)

    register(ParityCase(name, "shape", ("functional.one_hot",), run))


for num_classes, shape, high in [(-1, (2, 3, 2), 5), (10, (2, 4), 6), (3, (), 3)]:
    _one_hot_case(f"F.one_hot[num_classes={num_classes};in={shape}]", num_classes, shape, high)

# -- channel shuffle, pdist, torch's deprecated upsample aliases ---------------------------------

_CHANNEL = [(2, (2, 6, 3, 4)), (3, (2, 9, 5)), (4, (1, 8, 2, 2, 3)), (1, (2, 3, 4))]
_CHANNEL_CONFIGS = [(i, (g,), {}) for i, (g, _) in enumerate(_CHANNEL)]
_grid_case("F.channel_shuffle[" + "; ".join(f"g={g} on {s}" for g, s in _CHANNEL) + "]", F.channel_shuffle,
           TF.channel_shuffle, [s for _, s in _CHANNEL], _CHANNEL_CONFIGS, ["functional.channel_shuffle"])
# torch's native kernel has no derivative ("not implemented"): its forward is compared, and
# fnet's gradient is channel_shuffle's (the same function)
function_case("F.native_channel_shuffle[" + "; ".join(f"g={g} on {s}" for g, s in _CHANNEL) + "; forward]",
              "shape", _grid(F.native_channel_shuffle, _CHANNEL_CONFIGS),
              _grid(TF.native_channel_shuffle, _CHANNEL_CONFIGS), _inputs(*[s for _, s in _CHANNEL]),
              covers=["functional.native_channel_shuffle"], grad_inputs=False)
module_case("nn.ChannelShuffle[g=3;in=(2, 6, 4, 5)]", "shape",
            lambda: (nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3)), _randn(2, 6, 4, 5),
            covers=["nn.ChannelShuffle"])
module_case("nn.ChannelShuffle[g=2;in=(4, 6, 2)]", "shape",
            lambda: (nn.ChannelShuffle(2), torch.nn.ChannelShuffle(2)), _randn(4, 6, 2),
            covers=["nn.ChannelShuffle"])


def _repeat_first_row(shape):
    def make(rng):
        x = rng.standard_normal(shape)
        x[-1] = x[0]  # a zero distance: its gradient is 0 in torch (and in fnet)
        return [x]
    return make


for _p in (2, 1, 3, 0.5, 0, float("inf")):
    function_case(f"F.pdist[p={_p};in=(6,4), a repeated row]", "shape", _fn(F.pdist, p=_p), _fn(TF.pdist, p=_p),
                  _repeat_first_row((6, 4)), covers=["functional.pdist"])
function_case("F.pdist[defaults;in=(1,3)]", "shape", F.pdist, TF.pdist, _randn(1, 3), covers=["functional.pdist"])


def _quiet(f):
    """torch's upsample aliases warn that they are deprecated, and so do fnet's (tested in tests/)."""
    import warnings

    def call(*xs, **kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return f(*xs, **kw)
    return call


for _fname, _kw, _shape in [("upsample", dict(scale_factor=2), (2, 3, 5)),
                            ("upsample", dict(size=(5, 7), mode="bilinear"), (2, 2, 3, 4)),
                            ("upsample", dict(scale_factor=1.5, mode="bicubic", align_corners=True), (1, 2, 4, 5)),
                            ("upsample_nearest", dict(size=(5, 8)), (2, 2, 3, 4)),
                            ("upsample_nearest", dict(scale_factor=2), (1, 2, 2, 3, 3)),
                            ("upsample_bilinear", dict(size=(5, 7)), (2, 2, 3, 4)),
                            ("upsample_bilinear", dict(scale_factor=2), (1, 3, 3, 3))]:
    function_case(f"F.{_fname}[{_fmt(_kw)};in={_t(_shape)}]", "shape", _quiet(getattr(F, _fname)),
                  _quiet(getattr(TF, _fname)), _randn(*_shape), kwargs=_kw, covers=[f"functional.{_fname}"])

# -- grid_sample, affine_grid -------------------------------------------------------------------
# Grids reach outside [-1, 1] (padding modes) and include the corners exactly; one case per
# mode and rank runs every padding mode and both align_corners at once (one compile).


def _grid_inputs(x_shape, g_shape):
    def make(rng):
        g = rng.uniform(-1.3, 1.3, g_shape)
        g.reshape(-1)[:4] = [-1.0, 1.0, 0.5, 1.0]
        return [rng.standard_normal(x_shape), g]
    return make


def _all_paddings(lib, mode):
    def call(x, g):
        return tuple(lib.grid_sample(x, g, mode=mode, padding_mode=p, align_corners=a)
                     for p in ("zeros", "border", "reflection") for a in (False, True))
    return call


for _mode, _x, _g in [("bilinear", (2, 3, 5, 6), (2, 4, 7, 2)), ("nearest", (2, 3, 5, 6), (2, 4, 7, 2)),
                      ("bicubic", (2, 3, 5, 6), (2, 4, 7, 2)), ("bilinear", (2, 2, 4, 5, 6), (2, 3, 4, 2, 3)),
                      ("nearest", (1, 2, 4, 5, 3), (1, 2, 3, 4, 3)), ("bilinear", (1, 1, 1, 4), (1, 2, 3, 2))]:
    function_case(f"F.grid_sample[{_mode};in={_t(_x)},grid={_t(_g)}; zeros/border/reflection x align_corners]",
                  "shape", _all_paddings(F, _mode), _all_paddings(TF, _mode), _grid_inputs(_x, _g),
                  covers=["functional.grid_sample"])


def _affine(lib, size, align_corners):
    def call(theta):
        import warnings

        with warnings.catch_warnings():  # unit-size grids with align_corners warn, on both sides
            warnings.simplefilter("ignore")
            return lib.affine_grid(theta, size, align_corners=align_corners)
    return call


for _size, _ac in [((2, 3, 4, 5), False), ((2, 3, 4, 5), True), ((3, 1, 1, 6), False), ((2, 1, 3, 4, 5), False),
                   ((1, 2, 2, 1, 3), True)]:
    _nd = len(_size) - 2
    function_case(f"F.affine_grid[size={_t(_size)},align_corners={_ac}]", "shape", _affine(F, _size, _ac),
                  _affine(TF, _size, _ac), lambda rng, s=_size, n=_nd: [rng.standard_normal((s[0], n, n + 1))],
                  covers=["functional.affine_grid"])


def _spatial_transformer(lib):
    def call(x, theta):
        grid = lib.affine_grid(theta, x.shape, align_corners=False)
        return lib.grid_sample(x, grid, align_corners=False)
    return call


function_case("F.affine_grid->F.grid_sample[spatial transformer, gradient to theta]", "shape",
              _spatial_transformer(F), _spatial_transformer(TF),
              lambda rng: [rng.standard_normal((2, 3, 6, 7)), np.eye(2, 3) + 0.2 * rng.standard_normal((2, 2, 3))],
              covers=["functional.affine_grid", "functional.grid_sample"])
