"""The examples run from their README commands and agree with PyTorch (short runs)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXAMPLES = [
    ("linear_regression.py", ["--epochs", "3"]),
    ("logistic_regression.py", ["--epochs", "3"]),
    ("autoencoder.py", ["--epochs", "2"]),
    ("custom_layer.py", ["--epochs", "2"]),
    ("save_load.py", ["--epochs", "1"]),
    ("cifar10_lenet.py", ["--epochs", "1"]),
    ("lstm_classifier.py", ["--epochs", "1"]),
    ("bert_sentence_embeddings.py", []),
    ("bert_finetune.py", ["--epochs", "1"]),
]


@pytest.mark.parametrize("script,args", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_runs_and_agrees_with_torch(script, args):
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args, "--check-torch",
                           "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "AGREE" in proc.stdout and "DISAGREE" not in proc.stdout, proc.stdout[-3000:]
