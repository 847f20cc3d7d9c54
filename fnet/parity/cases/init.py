"""Parity cases for ``fnet.init``: the same distributions as ``torch.nn.init``.

Random values differ between frameworks by design, so these cases compare what the
draws are made of: deterministic initialisers exactly, random ones by their sample
mean and standard deviation (within 6 standard errors of torch's sample) and their
support (bounds for uniform and truncated draws). Orthogonal matrices are checked by
``W W^T = gain^2 I``.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from fnet import init
from fnet.parity import register
from fnet.parity._engine import Diff, Report, precision
from fnet.parity._registry import ParityCase, case_seed

SHAPE = (384, 96, 3)  # fan_in = 288, fan_out = 1152, 110592 draws


def _stat_diffs(got: np.ndarray, want: np.ndarray, bounded: tuple[float, float] | None) -> list[Diff]:
    n = got.size
    sigma = max(float(want.std()), 1e-12)
    diffs = []
    mean_err = abs(float(got.mean()) - float(want.mean()))
    diffs.append(Diff("output", "mean", mean_err, mean_err / sigma, mean_err <= 6 * sigma * math.sqrt(2 / n),
                      tol="6 sigma sqrt(2/n)"))
    # std of a sample std is about sigma / sqrt(2n) for normal-like draws; allow 6 of those (x2 samples).
    std_err = abs(float(got.std()) - float(want.std()))
    diffs.append(Diff("output", "std", std_err, std_err / sigma, std_err <= 6 * sigma * math.sqrt(1 / n) + 1e-12,
                      tol="6 sigma sqrt(1/n)"))
    if bounded is not None:
        lo, hi = bounded
        ok = float(got.min()) >= lo - 1e-6 and float(got.max()) <= hi + 1e-6
        span = hi - lo
        tight = float(got.min()) <= lo + 0.01 * span and float(got.max()) >= hi - 0.01 * span
        diffs.append(Diff("output", "support", 0.0 if ok and tight else math.inf, None, ok and tight,
                          f"[{got.min():.4f}, {got.max():.4f}] within [{lo:.4f}, {hi:.4f}]",
                          tol="bounds, 1% of span reached"))
    return diffs


def _dist_case(name: str, fnet_fn, torch_fn, bounded=None, shape=SHAPE, covers=()):
    seed = case_seed(name)

    def run(dtype: str) -> Report:
        import torch

        with precision(dtype):
            got = np.asarray(fnet_fn(jax.random.key(seed), shape, dtype=dtype))
            torch.manual_seed(seed)
            t = torch.empty(shape, dtype=getattr(torch, dtype))
            torch_fn(t)
            want = t.numpy()
            diffs = [Diff("output", "dtype", 0.0, None, got.dtype == want.dtype, str(got.dtype), tol="equal")]
            diffs.append(Diff("output", "shape", 0.0, None, got.shape == want.shape, str(got.shape), tol="equal"))
            bounds = bounded(shape) if callable(bounded) else bounded
            diffs += _stat_diffs(got, want, bounds)
            return Report(name, dtype, diffs)

    register(ParityCase(name, "init", tuple(covers), run))


def _exact_case(name: str, fnet_fn, torch_fn, shape, covers):
    def run(dtype: str) -> Report:
        import torch

        with precision(dtype):
            got = np.asarray(fnet_fn(None, shape, dtype=dtype))
            t = torch.empty(shape, dtype=getattr(torch, dtype))
            torch_fn(t)
            want = t.numpy()
            err = float(np.abs(got - want).max())
            return Report(name, dtype, [Diff("output", "values", err, err, err == 0.0 and got.dtype == want.dtype,
                                              tol="equal")])

    register(ParityCase(name, "init", tuple(covers), run))


def _bound(gain, fan):
    return math.sqrt(3.0) * gain / math.sqrt(fan)


FAN_IN, FAN_OUT = 96 * 3, 384 * 3


def _t(name):
    def call(t, *args, **kwargs):
        import torch

        return getattr(torch.nn.init, name)(t, *args, **kwargs)
    return call


_dist_case("init.uniform_[a=-2,b=3]", lambda k, s, dtype: init.uniform_(k, s, -2.0, 3.0, dtype=dtype),
           lambda t: _t("uniform_")(t, -2.0, 3.0), bounded=(-2.0, 3.0), covers=["init.uniform_"])
_dist_case("init.normal_[mean=1,std=0.5]", lambda k, s, dtype: init.normal_(k, s, 1.0, 0.5, dtype=dtype),
           lambda t: _t("normal_")(t, 1.0, 0.5), covers=["init.normal_"])
_dist_case("init.xavier_uniform_[gain=relu]",
           lambda k, s, dtype: init.xavier_uniform_(k, s, gain=init.calculate_gain("relu"), dtype=dtype),
           lambda t: _t("xavier_uniform_")(t, gain=math.sqrt(2.0)),
           bounded=lambda s: (-math.sqrt(2.0) * math.sqrt(6.0 / (FAN_IN + FAN_OUT)),
                              math.sqrt(2.0) * math.sqrt(6.0 / (FAN_IN + FAN_OUT))),
           covers=["init.xavier_uniform_", "init.calculate_gain"])
_dist_case("init.xavier_normal_", lambda k, s, dtype: init.xavier_normal_(k, s, dtype=dtype),
           lambda t: _t("xavier_normal_")(t), covers=["init.xavier_normal_"])
for a, mode, nl in ((math.sqrt(5), "fan_in", "leaky_relu"), (0.0, "fan_out", "relu"), (0.2, "fan_in", "leaky_relu"),
                    (0.0, "fan_in", "tanh"), (0.0, "fan_in", "selu")):
    fan = FAN_IN if mode == "fan_in" else FAN_OUT
    gain = init.calculate_gain(nl, a)
    _dist_case(f"init.kaiming_uniform_[a={a:.3g},{mode},{nl}]",
               lambda k, s, dtype, a=a, mode=mode, nl=nl: init.kaiming_uniform_(k, s, a=a, mode=mode, nonlinearity=nl, dtype=dtype),
               lambda t, a=a, mode=mode, nl=nl: _t("kaiming_uniform_")(t, a=a, mode=mode, nonlinearity=nl),
               bounded=(-_bound(gain, fan), _bound(gain, fan)),
               covers=["init.kaiming_uniform_", "init.calculate_gain"])
    _dist_case(f"init.kaiming_normal_[a={a:.3g},{mode},{nl}]",
               lambda k, s, dtype, a=a, mode=mode, nl=nl: init.kaiming_normal_(k, s, a=a, mode=mode, nonlinearity=nl, dtype=dtype),
               lambda t, a=a, mode=mode, nl=nl: _t("kaiming_normal_")(t, a=a, mode=mode, nonlinearity=nl),
               covers=["init.kaiming_normal_"])
_dist_case("init.trunc_normal_[mean=0.5,std=1,a=-1,b=1.5]",
           lambda k, s, dtype: init.trunc_normal_(k, s, 0.5, 1.0, -1.0, 1.5, dtype=dtype),
           lambda t: _t("trunc_normal_")(t, 0.5, 1.0, -1.0, 1.5), bounded=(-1.0, 1.5),
           covers=["init.trunc_normal_"])
_dist_case("init.trunc_normal_[std=0.02]",  # BERT's initializer_range
           lambda k, s, dtype: init.trunc_normal_(k, s, 0.0, 0.02, -0.04, 0.04, dtype=dtype),
           lambda t: _t("trunc_normal_")(t, 0.0, 0.02, -0.04, 0.04), bounded=(-0.04, 0.04),
           covers=["init.trunc_normal_"])
_exact_case("init.constant_", lambda k, s, dtype: init.constant_(k, s, 0.3, dtype=dtype),
            lambda t: _t("constant_")(t, 0.3), (4, 5), ["init.constant_"])
_exact_case("init.zeros_", lambda k, s, dtype: init.zeros_(k, s, dtype=dtype), lambda t: _t("zeros_")(t), (4, 5),
            ["init.zeros_"])
_exact_case("init.ones_", lambda k, s, dtype: init.ones_(k, s, dtype=dtype), lambda t: _t("ones_")(t), (4, 5),
            ["init.ones_"])
_exact_case("init.eye_", lambda k, s, dtype: init.eye_(k, s, dtype=dtype), lambda t: _t("eye_")(t), (4, 6),
            ["init.eye_"])


def _orthogonal_case(shape, gain):
    name = f"init.orthogonal_[shape={shape},gain={gain}]"

    def run(dtype: str) -> Report:
        import torch

        with precision(dtype):
            got = np.asarray(init.orthogonal_(jax.random.key(case_seed(name)), shape, gain=gain, dtype=dtype))
            t = torch.empty(shape, dtype=getattr(torch, dtype))
            torch.nn.init.orthogonal_(t, gain=gain)
            diffs = []
            for label, w in (("fnet", got), ("torch", t.numpy())):
                flat = w.reshape(shape[0], -1)
                gram = flat @ flat.T if shape[0] <= flat.shape[1] else flat.T @ flat
                err = float(np.abs(gram - gain ** 2 * np.eye(gram.shape[0])).max())
                tol = 1e-5 if dtype == "float32" else 1e-6  # float32 QR on the fnet side
                diffs.append(Diff("output", f"{label} W W^T - gain^2 I", err, None, err <= tol, tol=f"{tol:.0e}"))
            diffs.append(Diff("output", "shape", 0.0, None, got.shape == tuple(shape), tol="equal"))
            return Report(name, dtype, diffs)

    register(ParityCase(name, "init", ("init.orthogonal_",), run,
                        note="fnet draws the QR input in float32, so W W^T = I holds to float32 accuracy"))


_orthogonal_case((6, 10), 1.0)
_orthogonal_case((12, 3, 2), 2.0)


for _shape, _groups in [((6, 4, 3), 1), ((8, 4, 3, 3), 2), ((4, 6, 3, 2, 5), 1), ((6, 2, 3, 3), 3)]:
    _exact_case(f"init.dirac_[shape={_shape},groups={_groups}]",
                lambda k, s, dtype, g=_groups: init.dirac_(k, s, groups=g, dtype=dtype),
                lambda t, g=_groups: _t("dirac_")(t, groups=g), _shape, ["init.dirac_"])


def _sparse_case(shape, sparsity, std):
    name = f"init.sparse_[shape={shape},sparsity={sparsity},std={std}]"
    seed = case_seed(name)

    def run(dtype: str) -> Report:
        import torch

        with precision(dtype):
            got = np.asarray(init.sparse_(jax.random.key(seed), shape, sparsity, std, dtype=dtype))
            torch.manual_seed(seed)
            t = torch.empty(shape, dtype=getattr(torch, dtype))
            torch.nn.init.sparse_(t, sparsity, std)
            want = t.numpy()
            zeros = math.ceil(sparsity * shape[0])
            diffs = [Diff("output", "dtype and shape", 0.0, 0.0,
                          got.dtype == want.dtype and got.shape == want.shape, f"{got.dtype} {got.shape}")]
            for label, w in (("fnet", got), ("torch", want)):
                per_column = (w == 0).sum(0)
                ok = bool(np.all(per_column == zeros))
                diffs.append(Diff("output", f"{label}: {zeros} zeros in every column", 0.0 if ok else math.inf,
                                  0.0, ok))
            diffs += _stat_diffs(got[got != 0], want[want != 0], None)
            rows_hit = (got == 0).sum(1)  # every row is zeroed about equally often
            expected = zeros * shape[1] / shape[0]
            spread = float(np.abs(rows_hit - expected).max())
            bound = 6 * math.sqrt(expected) + 1
            # reported as a fraction of the expected count, like the other sampling statistics
            diffs.append(Diff("output", "zeros spread evenly over rows", spread / expected, spread / expected,
                              spread <= bound, f"max deviation {spread:.1f} of {expected:.0f} vs 6 sigma {bound:.1f}"))
            return Report(name, dtype, diffs)

    register(ParityCase(name, "init", ("init.sparse_",), run))


_sparse_case((40, 3000), 0.3, 0.01)
_sparse_case((25, 2000), 0.9, 0.5)


def _zero_element(dtype: str) -> Report:
    import warnings

    import torch

    diffs = []
    for fn in ("kaiming_uniform_", "kaiming_normal_"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = np.asarray(getattr(init, fn)(jax.random.key(0), (10, 0), dtype=dtype))
            getattr(torch.nn.init, fn)(torch.empty(10, 0, dtype=getattr(torch, dtype)))
        warned = sum("zero-element" in str(w.message) for w in caught)
        diffs.append(Diff("output", f"{fn} of (10, 0): empty, warns like torch", 0.0, 0.0,
                          got.shape == (10, 0) and warned == 2))
    return Report("init.kaiming_*[zero-element]", dtype, diffs)


register(ParityCase("init.kaiming_*[zero-element arrays are a no-op with torch's warning]", "init",
                    ("init.kaiming_uniform_", "init.kaiming_normal_"), _zero_element))
