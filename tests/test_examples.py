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
    ("llm_generate.py", ["--epochs", "1", "--corpus-kb", "48", "--max-new-tokens", "16", "--plot", ""]),
]


@pytest.mark.parametrize("script,args", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_runs_and_agrees_with_torch(script, args):
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args, "--check-torch",
                           "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "AGREE" in proc.stdout and "DISAGREE" not in proc.stdout, proc.stdout[-3000:]


def test_llm_generate_runs_a_transformers_checkpoint_directory(tmp_path):
    """``--model DIR``: a directory transformers wrote (a tiny GPT-2 and a word-level tokenizer),
    generated from with fnet and compared with transformers' greedy tokens."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")

    words = ["[PAD]", "[UNK]"] + "the a of to and is in it that for on with as by this be are or from".split()
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.decoder = tokenizers.decoders.WordPiece()
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]").save_pretrained(
        tmp_path)
    config = transformers.GPT2Config(vocab_size=len(words), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                     bos_token_id=None, eos_token_id=None, pad_token_id=0, initializer_range=0.2)
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path)
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "llm_generate.py"), "--model", str(tmp_path),
                           "--prompt", "the a of", "--prompt", "is", "--max-new-tokens", "8", "--check-torch",
                           "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "AGREE" in proc.stdout and "DISAGREE" not in proc.stdout, proc.stdout[-3000:]
