"""The parity engine as a user's tool: readable reports, user cases through the CLI, and
comparisons in a user's own test suite."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fnet
from fnet import nn
from fnet.parity import Diff, Report
from fnet.parity._engine import diff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_relative_error_is_floored_at_atol_for_a_zero_reference():
    # A conv bias before BatchNorm: its gradient is 0 in exact arithmetic, 5e-7 from rounding.
    d = diff("grad", "conv.bias", np.array([5.02e-7, 0.0]), np.array([0.0, 0.0]), rtol=1e-5, atol=1e-5)
    assert d.ok and d.max_rel == pytest.approx(5.02e-2) and d.max_rel <= 1e3
    assert "1e-05 + 1e-05*|t|" in d.row()


def test_every_printed_relative_error_stays_meaningful_on_a_real_case():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((4, 3, 6, 6))
    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    fm = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    report = fnet.parity.compare(fm, tm, [x], train=True)
    assert report.ok, str(report)
    bias = [d for d in report.diffs if d.name == "0.bias"][0]
    assert bias.max_rel is not None and bias.max_rel < 1e3  # was 5.65e+300 with a tiny floor
    assert all("tol" in line for line in str(report).splitlines()[1:])


def test_failing_report_lists_the_worst_tensor_first_and_raises_with_it():
    diffs = [Diff("output", "out", 1e-7, 1e-7, True, rtol=1e-6, atol=1e-5, used=0.01),
             Diff("grad", "weight", 2e-4, 2e-4, False, rtol=1e-5, atol=1e-5, used=20.0),
             Diff("grad", "bias", 5e-5, 5e-5, False, rtol=1e-5, atol=1e-5, used=5.0)]
    report = Report("case", "float32", diffs)
    lines = str(report).splitlines()
    assert lines[0].endswith("FAIL") and "weight" in lines[1] and "bias" in lines[2] and "out" in lines[3]
    with pytest.raises(AssertionError, match="weight"):
        report.assert_ok()
    table = report.to_markdown()
    assert table.index("`weight`") < table.index("`bias`") < table.index("`out`")
    data = json.loads(json.dumps(report.to_json()))
    assert [d["name"] for d in data["diffs"]] == ["weight", "bias", "out"] and data["ok"] is False
    assert data["diffs"][0]["tolerance"] == "1e-05 + 1e-05*|t|"


def test_shape_mismatch_is_a_failure_with_no_relative_error():
    d = diff("output", "out", np.zeros((2, 3)), np.zeros((3, 2)), 1e-6, 1e-5)
    assert not d.ok and d.max_rel is None and math.isinf(d.max_abs) and "shape" in d.detail


def test_assert_close_raises_with_the_report_on_a_real_difference():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((3, 5))
    fnet.parity.assert_close(nn.GELU(), torch.nn.GELU(), [x])
    with pytest.raises(AssertionError, match="FAIL"):
        fnet.parity.assert_close(nn.GELU(approximate="tanh"), torch.nn.GELU(), [x], dtype="float64")


USER_CASES = '''
import torch
import fnet.parity
from fnet import nn
import fnet.functional as F


class Block(nn.Module):                    # the user's fnet model ...
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)
        self.norm = nn.LayerNorm(4)

    def forward(self, ctx, x):
        return self.norm(ctx, F.gelu(self.fc(ctx, x)))


class TorchBlock(torch.nn.Module):         # ... and its torch twin
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 4)
        self.norm = torch.nn.LayerNorm(4)

    def forward(self, x):
        return self.norm(torch.nn.functional.gelu(self.fc(x)))


fnet.parity.module_case("userpkg.Block", "userpkg", lambda: (Block(), TorchBlock()),
                        lambda rng: [rng.standard_normal((3, 6))])
fnet.parity.function_case("userpkg.gelu", "userpkg", F.gelu, torch.nn.functional.gelu,
                          lambda rng: [rng.standard_normal((7,))])
'''


def test_cli_runs_a_user_module_of_cases(tmp_path):
    (tmp_path / "userpkg_cases.py").write_text(textwrap.dedent(USER_CASES))
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "fnet.parity", "--cases", "userpkg_cases",
                           "--json", "out.json", "--summary", "out.md"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "4 comparisons: 4 passed, 0 failed" in proc.stdout
    assert "userpkg.Block" in proc.stdout and "nn.Linear" not in proc.stdout  # only the user's cases
    data = json.loads((tmp_path / "out.json").read_text())
    assert {r["name"] for r in data["results"]} == {"userpkg.Block", "userpkg.gelu"}
    assert "| userpkg | 2 | 4 (4) |" in (tmp_path / "out.md").read_text()


def test_cli_names_a_module_that_registers_nothing(tmp_path):
    (tmp_path / "empty_cases.py").write_text("x = 1\n")
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "fnet.parity", "--cases", "empty_cases"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "registered no case" in proc.stderr
