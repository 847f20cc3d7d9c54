"""fnet.port: the training step of a ported model against the hand-written fnet model and
PyTorch eager, in one run, and the time to port a BERT-base-sized graph.

    python benchmarks/port.py                       # LeNet, LSTM, BERT small; BERT-base port time
    python benchmarks/port.py --models lenet --repeats 20

For each model the same torch module is ported (``fnet.port(..., check=False)``) and
trained with ``fnet.train.make_train_step`` exactly as the hand-written fnet model of
``benchmarks/run.py`` is (same shapes, optimizer, loss), and PyTorch runs its own eager
loop. Steps are interleaved (``_harness.measure``), so machine load hits all three alike.
XLA's cost analysis of the two compiled fnet steps (flops, bytes accessed) says whether
the port computes more than the hand-written model, independently of load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from _common import fnet_loop  # noqa: E402
from _harness import measure, median, start  # noqa: E402


def _cost(run) -> dict[str, float]:
    analysis = run.lower().compile().cost_analysis()
    if isinstance(analysis, list):
        analysis = analysis[0]
    return {k: float(analysis.get(k, 0.0)) for k in ("flops", "bytes accessed")}


def _torch_tensor(array):
    import numpy as np
    import torch

    array = np.asarray(array)
    return torch.from_numpy(array.astype(np.int64) if array.dtype.kind in "iu" else array)


def lenet():
    import _convnet
    import _lenet

    import fnet
    import fnet.functional as F
    from fnet import optim

    batch = _convnet.data(_lenet.SPEC, _lenet.BATCH, _lenet.IMAGE)
    module = _convnet.torch_model(_lenet.SPEC)
    t0 = time.perf_counter()
    model = fnet.port(module, (_torch_tensor(batch[0]),), check=False).model
    seconds = time.perf_counter() - t0
    ported = fnet_loop(model, batch, optim.Adam(lr=_convnet.LR), F.cross_entropy)
    return _lenet.NAME, ported, _lenet.fnet_runner(), _lenet.torch_runner(), seconds


def lstm():
    import _lstm

    import fnet
    import fnet.functional as F
    from fnet import optim

    batch = _lstm.data()
    t0 = time.perf_counter()
    model = fnet.port(_lstm.torch_model(), (_torch_tensor(batch[0]),), check=False).model
    seconds = time.perf_counter() - t0
    ported = fnet_loop(model, batch, optim.Adam(lr=_lstm.LR), F.cross_entropy)
    return _lstm.NAME, ported, _lstm.fnet_runner(), _lstm.torch_runner(), seconds


def bert_small():
    import _bert
    import _bert_small

    import fnet
    from fnet import optim

    c = _bert_small.CONFIG
    ids, labels = _bert.data(c)
    t0 = time.perf_counter()
    model = fnet.port(_bert.torch_model(c), (), {"input_ids": _torch_tensor(ids), "labels": _torch_tensor(labels)},
                      check=False).model
    seconds = time.perf_counter() - t0

    def compute_loss(model, params, state, batch, train, key):  # the Hugging Face head computes the loss
        x, y = batch
        out, new_state = model.apply(params, state, input_ids=x, labels=y, train=train, key=key)
        return out.loss, new_state, out.logits, y

    ported = fnet_loop(model, (ids, labels), optim.AdamW(lr=_bert.LR, weight_decay=_bert.WEIGHT_DECAY),
                       compute_loss=compute_loss, needs_key=True)
    return _bert_small.NAME, ported, _bert_small.fnet_runner(), _bert_small.torch_runner(), seconds


MODELS = {"lenet": lenet, "lstm": lstm, "bert-small": bert_small}


def port_time_bert_base(repeats: int = 3) -> dict[str, float]:
    """Seconds to port transformers' BERT-base (12 layers, hidden 768): median of ``repeats``."""
    import numpy as np
    import torch
    import transformers

    import fnet
    from fnet._port import _capture
    from fnet._port._build import Tree

    transformers.logging.set_verbosity_error()
    module = transformers.BertForSequenceClassification(transformers.BertConfig())
    rng = np.random.default_rng(0)
    kwargs = {"input_ids": torch.from_numpy(rng.integers(1, 30522, (2, 128))),
              "attention_mask": torch.ones(2, 128, dtype=torch.long)}
    totals, exports = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fnet.port(module, (), kwargs, check=False)
        totals.append(time.perf_counter() - t0)
        tree = Tree(module)
        shapes = _capture.dynamic_batch_shapes(module, (), kwargs)
        t0 = time.perf_counter()
        for mode in (True, False):
            _capture.export(module, (), kwargs, train=mode, dynamic_shapes=shapes,
                            preserve=sorted(set(tree.mapped) - tree.single_input))
        exports.append(time.perf_counter() - t0)
    return {"port": median(totals), "export": median(exports)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=None, help="steps timed per framework")
    parser.add_argument("--no-port-time", action="store_true", help="skip the BERT-base port time")
    args = parser.parse_args(argv)
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    print(f"jax {jax.__version__}, torch {torch.__version__}, {os.cpu_count()} CPU threads, "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []
    for key in args.models:
        name, ported, hand, eager, seconds = MODELS[key]()
        costs = {"port": _cost(ported), "hand": _cost(hand)}
        runners = {"port": ported, "hand": hand, "torch": eager}
        for run in runners.values():
            start(run)
        repeats = args.repeats or (6 if key == "bert-small" else 20)
        ms = {k: median(v) for k, v in measure(runners, repeats=repeats, rounds=min(repeats, 5)).items()}
        rows.append((name, ms, costs, seconds))
        print(f"{name}: port {ms['port']:.1f} ms, hand-written fnet {ms['hand']:.1f} ms, PyTorch {ms['torch']:.1f} ms; "
              f"flops port/hand {costs['port']['flops'] / costs['hand']['flops']:.3f}; ported in {seconds:.1f} s",
              flush=True)
    print("\n| model | port ms | hand-written fnet ms | PyTorch eager ms | port/hand-written | port/PyTorch | "
          "XLA flops port/hand | XLA bytes port/hand | port time s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, ms, costs, seconds in rows:
        print(f"| {name} | {ms['port']:.1f} | {ms['hand']:.1f} | {ms['torch']:.1f} | {ms['port'] / ms['hand']:.2f} | "
              f"{ms['port'] / ms['torch']:.2f} | {costs['port']['flops'] / costs['hand']['flops']:.3f} | "
              f"{costs['port']['bytes accessed'] / costs['hand']['bytes accessed']:.3f} | {seconds:.1f} |")
    if not args.no_port_time:
        times = port_time_bert_base()
        print(f"\nBERT-base (transformers BertForSequenceClassification, 12 layers, hidden 768): fnet.port "
              f"{times['port']:.2f} s, of which torch.export (train and eval mode) {times['export']:.2f} s "
              f"(median of 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
