"""``python -m fnet.parity --port MODULE:FACTORY`` and the generated Core ATen coverage table."""

from __future__ import annotations

import os

import pytest

from fnet._port import cli, coverage
from fnet.parity.__main__ import main

MODEL = '''
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, 5)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))

def tagger():
    model = torch.nn.Sequential(torch.nn.Embedding(20, 8), torch.nn.Linear(8, 3))
    return model, (torch.randint(0, 20, (4, 6)),)
'''


@pytest.fixture()
def user_file(tmp_path):
    path = tmp_path / "user_model.py"
    path.write_text(MODEL)
    return str(path)


def test_port_a_model_from_a_file(user_file, capsys):
    assert main(["--port", f"{user_file}:Net", "--input-shape", "4,3,8,8", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "port:Net  float32" in out and "PASS" in out
    assert "1 cases, 1 comparisons: 1 passed, 0 failed" in out


def test_factory_can_return_its_inputs(user_file, capsys):
    assert main(["--port", f"{user_file}:tagger", "--dtype", "float32", "-v"]) == 0
    out = capsys.readouterr().out
    assert "grad   0.weight" in out  # -v prints every tensor


def test_typed_and_named_inputs():
    import numpy as np

    name, value = cli.parse_input("input_ids=4,16:int64:0:1000", np.random.default_rng(0))
    assert name == "input_ids" and value.shape == (4, 16) and value.dtype == np.int64
    assert 0 <= value.min() and value.max() < 1000
    name, value = cli.parse_input("2,3", np.random.default_rng(0))
    assert name is None and value.dtype == np.float32


def test_cli_errors(user_file):
    with pytest.raises(ValueError, match="MODULE:FACTORY"):
        main(["--port", "no_colon_here"])
    with pytest.raises(ValueError, match="no 'Missing'"):
        main(["--port", f"{user_file}:Missing", "--input-shape", "2,3"])
    with pytest.raises(ValueError, match="give the example inputs"):
        main(["--port", f"{user_file}:Net"])
    with pytest.raises(ValueError, match="dtype must be one of"):
        main(["--port", f"{user_file}:Net", "--input", "2,3:float16"])


def test_readme_coverage_table_is_the_generated_one():
    readme = os.path.join(os.path.dirname(__file__), "..", "README.md")
    with open(readme) as handle:
        text = handle.read()
    assert coverage.readme_block(text) == coverage.markdown(), (
        "README's Core ATen coverage table is stale: python -m fnet._port.coverage --write README.md")


def test_coverage_counts_add_up():
    table = coverage.classify()
    assert sum(len(v) for v in table.values()) == len(coverage.core_ops())
    assert "aten.add.Tensor" in table["handled"] and "aten.convolution_backward.default" in table["backward"]
