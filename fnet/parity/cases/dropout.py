"""Parity cases for dropout.

Random numbers differ between frameworks by design (DESIGN.md), so dropout is proved
in three ways:

1. **Same mask.** torch's mask is recovered from a seeded torch call on a tensor of ones,
   torch then runs on the real input with the same seed, and fnet applies that mask
   through the function ``F.dropout`` itself uses (``_apply_keep_mask`` /
   ``_apply_alpha_mask``). Outputs and input gradients must match like any other case.
2. **Deterministic settings** (``p=0``, ``p=1``, ``training=False``, modules in eval and
   in train with ``p`` in {0, 1}) compared directly.
3. **Statistics of fnet's own draws**: the kept fraction lies within 6 binomial
   standard deviations of ``1 - p`` (and so does torch's), kept values are exactly
   ``x / (1 - p)``, the mean is preserved, eval is the identity, different keys give
   different masks and channel-wise variants drop whole channels.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as TF

from fnet import functional as F
from fnet import nn
from fnet.functional import _dropout as _fd
from fnet.parity import ParityCase, case_seed, function_case, module_case, register
from fnet.parity._engine import Diff, Report, cast_inputs, precision, run_pair
from fnet.parity._stats import check, stats_case, within

# -- 1. the same mask on both sides ------------------------------------------------------------


def _mask_case(name: str, torch_fn: Callable, covers: str, alpha: bool,
               configs: list[tuple[tuple[int, ...], float, tuple[int, ...] | None]]) -> None:
    """``configs``: (input shape, p, channel-mask shape or None for an elementwise mask)."""
    seed = case_seed(name)

    def run(dtype: str) -> Report:
        rng = np.random.default_rng(seed)
        xs = cast_inputs([rng.standard_normal(shape) for shape, _, _ in configs], dtype)
        masks, extra = [], []
        for k, ((shape, p, mask_shape), x) in enumerate(zip(configs, xs)):
            torch.manual_seed(seed + k)
            ref = torch_fn(torch.ones(shape, dtype=getattr(torch, dtype)), p, True).numpy()
            keep = ref > 0  # kept: 1/(1-p) (alpha: a(1 + alpha p) > 0); dropped: 0 (alpha: < 0)
            if mask_shape is not None:
                index = tuple(slice(None) if s != 1 else slice(0, 1) for s in mask_shape)
                channel = keep[index]
                constant = bool(np.all(keep == channel))
                extra.append(Diff("output", f"torch mask[{k}] is constant per channel", 0.0 if constant
                                  else math.inf, None, constant, tol="holds"))
                keep = channel
            masks.append(keep)

        def torch_run(*ts):
            outs = []
            for k, ((_, p, _), t) in enumerate(zip(configs, ts)):
                torch.manual_seed(seed + k)
                outs.append(torch_fn(t, p, True))
            return tuple(outs)

        apply = _fd._apply_alpha_mask if alpha else _fd._apply_keep_mask

        def fnet_run(_, *js):
            return tuple(apply(j, jnp.asarray(m), p) for j, m, (_, p, _) in zip(js, masks, configs))

        with precision(dtype):
            report = run_pair(name, dtype, fnet_fn=fnet_run, params={}, torch_fn=torch_run,
                              torch_params={}, inputs=xs, seed=seed)
        report.diffs.extend(extra)
        return report

    register(ParityCase(name, "dropout", (covers,), run))


_mask_case("F.dropout[same mask: p=0.2 on (8, 16); p=0.5 on (3, 4, 5); p=0.9 on (40,)]", TF.dropout,
           "functional.dropout", False, [((8, 16), 0.2, None), ((3, 4, 5), 0.5, None), ((40,), 0.9, None)])
_mask_case("F.dropout1d[same mask: p=0.5 on (4, 6, 5); p=0.3 on unbatched (6, 5)]", TF.dropout1d,
           "functional.dropout1d", False, [((4, 6, 5), 0.5, (4, 6, 1)), ((6, 5), 0.3, (6, 1))])
_mask_case("F.dropout2d[same mask: p=0.3 on (3, 4, 5, 6)]", TF.dropout2d, "functional.dropout2d", False,
           [((3, 4, 5, 6), 0.3, (3, 4, 1, 1))])
_mask_case("F.dropout3d[same mask: p=0.4 on (2, 3, 2, 3, 4); p=0.6 on unbatched (3, 2, 3, 4)]",
           TF.dropout3d, "functional.dropout3d", False,
           [((2, 3, 2, 3, 4), 0.4, (2, 3, 1, 1, 1)), ((3, 2, 3, 4), 0.6, (3, 1, 1, 1))])
_mask_case("F.alpha_dropout[same mask: p=0.3 on (6, 10); p=0.7 on (4, 5)]", TF.alpha_dropout,
           "functional.alpha_dropout", True, [((6, 10), 0.3, None), ((4, 5), 0.7, None)])
_mask_case("F.feature_alpha_dropout[same mask: p=0.5 on (3, 4, 5); p=0.2 on (2, 6, 3, 3)]",
           TF.feature_alpha_dropout, "functional.feature_alpha_dropout", True,
           [((3, 4, 5), 0.5, (3, 4, 1)), ((2, 6, 3, 3), 0.2, (2, 6, 1, 1))])

# -- 2. deterministic settings -----------------------------------------------------------------


def _deterministic(lib):
    def call(x3, x4, x5):
        return (lib.dropout(x3, 1.0), lib.dropout(x3, 0.0), lib.dropout(x3, 0.5, training=False),
                lib.dropout1d(x3, 1.0), lib.dropout1d(x3, 0.5, training=False),
                lib.dropout2d(x4, 1.0), lib.dropout2d(x4, 0.0),
                lib.dropout3d(x5, 1.0), lib.dropout3d(x5, 0.3, training=False),
                lib.alpha_dropout(x3, 0.5), lib.alpha_dropout(x3, 1.0, training=True),
                lib.feature_alpha_dropout(x4, 0.5), lib.feature_alpha_dropout(x4, 1.0, training=True))
    return call


function_case("F.dropout*[p=0, p=1, training=False, alpha's default training=False]", "dropout",
              _deterministic(F), _deterministic(TF),
              lambda rng: [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4, 2)),
                           rng.standard_normal((2, 2, 3, 2, 2))],
              covers=["functional.dropout", "functional.dropout1d", "functional.dropout2d",
                      "functional.dropout3d", "functional.alpha_dropout", "functional.feature_alpha_dropout"])


def _chain(lib, spec):
    return lib.Sequential(*(getattr(lib, cls)(p) for cls, p in spec))


_ALL = ["nn.Dropout", "nn.Dropout1d", "nn.Dropout2d", "nn.Dropout3d", "nn.AlphaDropout", "nn.FeatureAlphaDropout"]
_EVAL_3D = [("Dropout", 0.5), ("Dropout1d", 0.3), ("AlphaDropout", 0.2), ("FeatureAlphaDropout", 0.4)]
_EVAL_4D = [("Dropout2d", 0.5), ("Dropout3d", 0.5), ("Dropout", 0.9)]
module_case("nn.Sequential[Dropout, Dropout1d, AlphaDropout, FeatureAlphaDropout; eval]", "dropout",
            lambda: (_chain(nn, _EVAL_3D), _chain(torch.nn, _EVAL_3D)),
            lambda rng: [rng.standard_normal((2, 3, 5))], covers=_ALL[:2] + _ALL[4:])
module_case("nn.Sequential[Dropout2d, Dropout3d, Dropout; eval]", "dropout",
            lambda: (_chain(nn, _EVAL_4D), _chain(torch.nn, _EVAL_4D)),
            lambda rng: [rng.standard_normal((2, 3, 4, 5))], covers=["nn.Dropout2d", "nn.Dropout3d"])
# In training p = 0 is the identity and p = 1 zeroes everything; neither draws, so no key.
_TRAIN_4D = [("Dropout", 0.0), ("AlphaDropout", 0.0), ("FeatureAlphaDropout", 0.0), ("Dropout2d", 0.0),
             ("Dropout3d", 0.0), ("Dropout", 1.0)]
_TRAIN_3D = [("Dropout1d", 0.0), ("Dropout1d", 1.0)]
module_case("nn.Sequential[Dropout, AlphaDropout, FeatureAlphaDropout, Dropout2d, Dropout3d p=0; "
            "Dropout p=1; train]", "dropout",
            lambda: (_chain(nn, _TRAIN_4D), _chain(torch.nn, _TRAIN_4D)),
            lambda rng: [rng.standard_normal((2, 3, 4, 5))], covers=_ALL[:1] + _ALL[2:], train=True)
module_case("nn.Sequential[Dropout1d(p=0), Dropout1d(p=1); train]", "dropout",
            lambda: (_chain(nn, _TRAIN_3D), _chain(torch.nn, _TRAIN_3D)),
            lambda rng: [rng.standard_normal((2, 3, 4))], covers=["nn.Dropout1d"], train=True)

# -- 3. statistics of fnet's draws -------------------------------------------------------------


def _elementwise_stats(dtype: str, seed: int) -> list[Diff]:
    diffs = []
    x = jnp.ones((250, 400), dtype)
    n = x.size
    key = jax.random.key(seed)
    for p in (0.1, 0.5, 0.8):
        out = np.asarray(F.dropout(x, p, training=True, key=key))
        kept = out != 0
        sigma = math.sqrt(p * (1 - p) / n)
        diffs.append(within(f"p={p}: kept fraction", kept.mean(), 1 - p, sigma))
        torch.manual_seed(seed)
        t_out = TF.dropout(torch.ones(250, 400, dtype=getattr(torch, dtype)), p).numpy()
        diffs.append(within(f"p={p}: torch's kept fraction", (t_out != 0).mean(), 1 - p, sigma))
        scale = np.unique(out[kept])
        diffs.append(check(f"p={p}: kept values equal torch's 1/(1-p)",
                            scale.size == 1 and scale[0] == np.unique(t_out[t_out != 0])[0],
                            f"fnet {scale[:3]} torch {np.unique(t_out[t_out != 0])[:3]}"))
        diffs.append(within(f"p={p}: mean preserved", float(out.mean()), 1.0, math.sqrt(p / (1 - p) / n)))
        other = np.asarray(F.dropout(x, p, training=True, key=jax.random.key(seed + 1)))
        diffs.append(within(f"p={p}: another key: masks disagree at rate 2p(1-p)",
                             float(((other != 0) != kept).mean()), 2 * p * (1 - p),
                             math.sqrt(2 * p * (1 - p) / n)))
        jitted = np.asarray(jax.jit(lambda v: F.dropout(v, p, training=True, key=key))(x))
        diffs.append(check(f"p={p}: same key, same mask under jit", bool(np.array_equal(jitted, out))))
        diffs.append(check(f"p={p}: eval is the identity",
                            bool(np.array_equal(np.asarray(F.dropout(x * 3, p, training=False)), 3 * np.ones(x.shape)))))
    # The module draws from ctx.next_key(): statistics, key dependence, eval identity.
    layer = nn.Dropout(0.3)
    a = np.asarray(layer.apply({}, {}, x, train=True, key=jax.random.key(seed))[0])
    b = np.asarray(layer.apply({}, {}, x, train=True, key=jax.random.key(seed + 7))[0])
    diffs.append(within("nn.Dropout(0.3) train: kept fraction", float((a != 0).mean()), 0.7,
                         math.sqrt(0.21 / n)))
    diffs.append(check("nn.Dropout(0.3) train: different keys, different masks", not np.array_equal(a, b)))
    diffs.append(check("nn.Dropout(0.3) eval: identity",
                        bool(np.array_equal(np.asarray(layer.apply({}, {}, x)[0]), np.asarray(x)))))
    return diffs


def _channel_stats(dtype: str, seed: int) -> list[Diff]:
    diffs = []
    for name, fn, layer, shape in [("dropout1d", F.dropout1d, nn.Dropout1d, (64, 200, 6)),
                                   ("dropout2d", F.dropout2d, nn.Dropout2d, (64, 200, 2, 3)),
                                   ("dropout3d", F.dropout3d, nn.Dropout3d, (64, 200, 1, 2, 3))]:
        p = 0.4
        x = jnp.ones(shape, dtype)
        out = np.asarray(fn(x, p, training=True, key=jax.random.key(seed)))
        flat = out.reshape(shape[0], shape[1], -1)
        whole = bool(np.all((flat == 0).all(-1) | (flat != 0).all(-1)))
        diffs.append(check(f"{name}: zeroes whole channels", whole))
        channels = shape[0] * shape[1]
        diffs.append(within(f"{name}: kept channel fraction", float((flat[..., 0] != 0).mean()), 1 - p,
                             math.sqrt(p * (1 - p) / channels)))
        diffs.append(check(f"{name}: kept values are 1/(1-p)",
                            bool(np.all(flat[flat != 0] == np.float64(np.asarray(1.0, dtype) / np.asarray(1 - p, dtype))))))
        module_out = np.asarray(layer(p).apply({}, {}, x, train=True, key=jax.random.key(seed))[0])
        mflat = module_out.reshape(shape[0], shape[1], -1)
        diffs.append(check(f"nn.{layer.__name__}: zeroes whole channels",
                            bool(np.all((mflat == 0).all(-1) | (mflat != 0).all(-1)))))
    return diffs


def _alpha_stats(dtype: str, seed: int) -> list[Diff]:
    """SELU-normalised input N(0, 1): alpha dropout keeps mean 0 and variance 1, like torch."""
    diffs = []
    n = 100_000
    x = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    for name, fn, t_fn, shape in [("alpha_dropout", F.alpha_dropout, TF.alpha_dropout, (n,)),
                                  ("feature_alpha_dropout", F.feature_alpha_dropout, TF.feature_alpha_dropout,
                                   (1000, 100, 1))]:
        for p in (0.2, 0.5):
            xs = x.reshape(shape)
            out = np.asarray(fn(jnp.asarray(xs), p, training=True, key=jax.random.key(seed)))
            torch.manual_seed(seed)
            t_out = t_fn(torch.from_numpy(xs), p, training=True).numpy()
            # mean and std of both samples agree within 6 standard errors of their difference
            diffs.append(within(f"{name} p={p}: mean vs torch", float(out.mean()), float(t_out.mean()),
                                 math.sqrt(2 / (n if name == "alpha_dropout" else shape[0] * shape[1]))))
            diffs.append(within(f"{name} p={p}: std vs torch", float(out.std()), float(t_out.std()),
                                 math.sqrt(2 / (n if name == "alpha_dropout" else shape[0] * shape[1]))))
            diffs.append(within(f"{name} p={p}: mean 0", float(out.mean()), 0.0,
                                 math.sqrt(1 / (n if name == "alpha_dropout" else shape[0] * shape[1]))))
    return diffs


stats_case("F.dropout+nn.Dropout[statistics of fnet's draws]", "dropout", _elementwise_stats,
           ("functional.dropout", "nn.Dropout"))
stats_case("F.dropout1d/2d/3d+nn.Dropout1d/2d/3d[whole channels, statistics]", "dropout",
           _channel_stats,
           ("functional.dropout1d", "functional.dropout2d", "functional.dropout3d",
            "nn.Dropout1d", "nn.Dropout2d", "nn.Dropout3d"))
stats_case("F.alpha_dropout+F.feature_alpha_dropout[mean and std vs torch's draws]", "dropout",
           _alpha_stats,
           ("functional.alpha_dropout", "functional.feature_alpha_dropout"))
