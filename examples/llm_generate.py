"""Train a small Llama (or GPT-2) from scratch on the Python standard library's docstrings,
then sample from it; or generate from any local transformers checkpoint.

The text is what every Python install has: the docstrings of ~60 standard-library
modules and their public functions and classes, read with ``inspect``. Tokens are
bytes (a 256-symbol vocabulary, so no tokenizer is needed). Training runs through
``fnet.train.fit`` (progress bar, held-out loss, a loss plot), then the model generates
with ``generate`` (static KV cache, jitted prefill and decode loop)::

    python examples/llm_generate.py                          # Llama, 4 epochs, then samples
    python examples/llm_generate.py --arch gpt2 --save /tmp/tiny-gpt2
    python examples/llm_generate.py --check-torch            # + greedy tokens vs transformers
    python examples/llm_generate.py --model DIR --prompt "The capital of France is"

``--save DIR`` writes a directory ``transformers.AutoModelForCausalLM`` loads.
``--model DIR`` skips training and generates from a local transformers checkpoint
(``config.json`` + safetensors + its tokenizer files) with fnet's model and
transformers' ``AutoTokenizer``. ``--check-torch`` runs transformers' ``generate`` on the
same weights and prompts (greedy) and prints ``AGREE`` when the tokens are identical at
every step where transformers' top-2 logit margin exceeds 1e-4 (below it either token
is a correct greedy choice for logits equal within float32 rounding).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np
import optax

from fnet import data as D
from fnet import models, train

MODULES = ("abc argparse base64 bisect calendar collections contextlib copy csv dataclasses datetime decimal "
           "difflib enum fnmatch fractions functools getopt glob gzip hashlib heapq hmac html inspect io "
           "ipaddress itertools json logging math operator os pathlib pickle pprint queue random re sched "
           "secrets shlex shutil socket statistics string struct subprocess tarfile tempfile textwrap "
           "threading time timeit tokenize traceback typing unittest urllib uuid warnings weakref zipfile").split()
PROMPTS = ["Return the ", "The default ", "If the file ", "This module "]
MARGIN = 1e-4


def stdlib_docstrings(limit_bytes: int) -> bytes:
    """Docstrings of standard-library modules and their public members, as UTF-8 bytes."""
    parts: list[str] = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:  # e.g. a Python built without a module
            continue
        members = [module] + [obj for key, obj in sorted(vars(module).items())
                              if not key.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                              and getattr(obj, "__module__", None) == name]
        for obj in members:
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 40:
                parts.append(doc.strip())
    text = "\n\n".join(dict.fromkeys(parts)).encode("utf-8")
    return text[:limit_bytes]


def byte_windows(text: bytes, length: int) -> np.ndarray:
    """Non-overlapping windows of ``length`` bytes, ``(N, length)`` int32."""
    tokens = np.frombuffer(text, np.uint8).astype(np.int32)
    n = len(tokens) // length
    return tokens[: n * length].reshape(n, length)


def make_model(arch: str, context: int):
    if arch == "llama":
        config = models.LlamaConfig(vocab_size=256, hidden_size=128, intermediate_size=352, num_hidden_layers=4,
                                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=context,
                                    bos_token_id=None, eos_token_id=None, pad_token_id=None)
        return models.LlamaForCausalLM(config)
    config = models.GPT2Config(vocab_size=256, n_positions=context, n_embd=128, n_layer=4, n_head=4,
                               bos_token_id=None, eos_token_id=None, resid_pdrop=0.0, embd_pdrop=0.0,
                               attn_pdrop=0.0)
    return models.GPT2LMHeadModel(config)


def lm_loss(model, params, state, batch, train_mode, key):
    """``fit``'s ``compute_loss``: the model shifts the labels itself (transformers' convention)."""
    (ids,) = batch
    out, new_state = model.apply(params, state, ids, labels=ids, train=train_mode, key=key)
    return out.loss, new_state, None, None


def train_from_scratch(args):
    text = stdlib_docstrings(args.corpus_kb * 1024)
    windows = byte_windows(text, args.context)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(windows))
    n_val = max(1, len(windows) // 20)
    val, trn = windows[order[:n_val]], windows[order[n_val:]]
    print(f"{len(text) / 1024:.0f} KiB of standard-library docstrings: {len(trn)} training and {len(val)} held-out "
          f"windows of {args.context} bytes")
    model = make_model(args.arch, args.context)
    params, state = model.init(jax.random.key(args.seed))
    n_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
    print(f"{type(model).__name__}: {n_params / 1e6:.2f}M parameters")
    loader = D.DataLoader(D.TensorDataset(trn), batch_size=args.batch_size, shuffle=True, seed=args.seed,
                          drop_last=True)
    val_loader = D.DataLoader(D.TensorDataset(val), batch_size=args.batch_size)
    steps = len(loader) * args.epochs
    schedule = optax.warmup_cosine_decay_schedule(0.0, args.lr, max(1, steps // 20), steps, args.lr / 10)
    optimizer = optax.adamw(schedule, weight_decay=0.01)
    start = time.perf_counter()
    result = train.fit(model, params, state, optimizer, loader, epochs=args.epochs, eval_loader=val_loader,
                       compute_loss=lm_loss, progress=not args.quiet, key=jax.random.key(args.seed))
    h = result.history
    print(f"trained {result.step} steps in {time.perf_counter() - start:.0f}s: train loss {h['loss'][0]:.3f} -> "
          f"{h['loss'][-1]:.3f}, held-out loss {h['val_loss'][-1]:.3f} nats/byte (uniform: {np.log(256):.3f})")
    if args.plot:
        print(f"loss plot: {train.plot_history(h, args.plot)}")
    bound = model.bind(result.params)
    if args.save:
        bound.save_pretrained(args.save)
        print(f"saved to {args.save} (transformers.AutoModelForCausalLM loads it)")
    return bound


def encode_bytes(prompts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Left-padded byte prompts and their attention mask."""
    encoded = [list(p.encode("utf-8")) for p in prompts]
    width = max(len(e) for e in encoded)
    ids = np.zeros((len(encoded), width), np.int32)
    mask = np.zeros((len(encoded), width), np.int32)
    for row, e in enumerate(encoded):
        ids[row, width - len(e):] = e
        mask[row, width - len(e):] = 1
    return ids, mask


def show(prompts, sequences, prompt_len, decode, label):
    print(f"--- {label}")
    for prompt, row in zip(prompts, np.asarray(sequences)):
        print(f"{prompt!r} -> {decode(row[prompt_len:])!r}")


def check_torch(bound, ids: np.ndarray, mask: np.ndarray, max_new_tokens: int, directory: str | None) -> bool:
    """Greedy tokens and per-step logits of transformers' generate on the same weights and prompts."""
    import torch
    import transformers

    with tempfile.TemporaryDirectory() as tmp:
        if directory is None:
            bound.save_pretrained(tmp)
            directory = tmp
        reference = transformers.AutoModelForCausalLM.from_pretrained(directory, attn_implementation="eager",
                                                                      dtype=torch.float32).eval()
    pad = bound.config.pad_token_id if bound.config.pad_token_id is not None else 0
    kw = dict(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
    with torch.no_grad():
        ref = reference.generate(input_ids=torch.from_numpy(ids.astype(np.int64)),
                                 attention_mask=torch.from_numpy(mask.astype(np.int64)), output_logits=True,
                                 return_dict_in_generate=True, **kw)
    ours = bound.generate(ids, mask, output_logits=True, return_dict_in_generate=True, **kw)
    theirs = ref.sequences.numpy()
    mine = np.asarray(ours.sequences)
    ref_logits = np.stack([x.float().numpy() for x in ref.logits])
    top2 = np.sort(ref_logits, axis=-1)[..., -2:]
    margin = top2[..., 1] - top2[..., 0]  # (steps, batch)
    prompt = ids.shape[1]
    compared = agree = 0
    for row in range(ids.shape[0]):
        close = np.flatnonzero(margin[:, row] <= MARGIN)
        last = int(close[0]) + 1 if close.size else margin.shape[0]  # steps decided by a clear margin
        compared += last
        agree += int(np.sum(mine[row, prompt:prompt + last] == theirs[row, prompt:prompt + last]))
    logit_diff = max(float(np.abs(np.asarray(a) - b.numpy()).max()) for a, b in zip(ours.logits, ref.logits))
    ok = agree == compared and mine.shape == theirs.shape
    print(f"check-torch: greedy generate on the same weights: {agree}/{compared} tokens identical "
          f"({ids.shape[0]} prompts x {max_new_tokens} steps, {ids.shape[0] * margin.shape[0] - compared} after "
          f"a near-tie not compared), largest per-step logit difference {logit_diff:.1e}; "
          f"{'AGREE' if ok else 'DISAGREE'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=["llama", "gpt2"], default="llama")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--context", type=int, default=128, help="training window (bytes)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--corpus-kb", type=int, default=512, help="use at most this much text")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="llm_generate_loss.png", help="loss plot path ('' for none)")
    parser.add_argument("--save", default=None, help="save_pretrained directory for the trained model")
    parser.add_argument("--model", default=None, help="generate from this local transformers checkpoint instead")
    parser.add_argument("--prompt", action="append", help="prompt (repeatable; default: a few built-in ones)")
    parser.add_argument("--check-torch", action="store_true",
                        help="compare greedy tokens with transformers' generate on the same weights")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if args.quiet:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    prompts = args.prompt or PROMPTS

    if args.model is None:
        bound = train_from_scratch(args)
        ids, mask = encode_bytes(prompts)

        def decode(row):
            return bytes(int(t) for t in row).decode("utf-8", errors="replace")
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.model)
        bound = models.AutoModelForCausalLM.from_pretrained(args.model)
        enc = tokenizer(prompts, padding=True, padding_side="left", return_tensors="np")
        ids, mask = enc["input_ids"], enc["attention_mask"]

        def decode(row):
            return tokenizer.decode(row, skip_special_tokens=True)

    start = time.perf_counter()
    greedy = bound.generate(ids, mask, max_new_tokens=args.max_new_tokens)
    seconds = time.perf_counter() - start
    show(prompts, greedy, ids.shape[1], decode, f"greedy ({seconds:.1f}s, compilation included)")
    start = time.perf_counter()
    sampled = bound.generate(ids, mask, max_new_tokens=args.max_new_tokens, do_sample=True, temperature=0.8,
                             top_p=0.95, key=jax.random.key(args.seed))
    show(prompts, sampled, ids.shape[1], decode,
         f"sampled, temperature 0.8, top_p 0.95 ({time.perf_counter() - start:.1f}s)")
    if args.check_torch:
        return 0 if check_torch(bound, ids, mask, args.max_new_tokens, args.model) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
