"""Train step of a two-layer LSTM classifier: fnet (jitted) against PyTorch (eager).

    python benchmarks/cpu_lstm.py                  # CPU, all cores, 30 interleaved repeats
    python benchmarks/cpu_lstm.py --repeats 60
    python benchmarks/cpu_lstm.py --device cuda    # GPU: JAX's default GPU vs torch+cuDNN

The model is the seed article's sequence classifier, ``LSTM(100, 256, num_layers=2,
batch_first=True)`` then ``Linear(256, 10)`` on the last step, batch 64, 50 steps,
cross-entropy, Adam (``optax.adam`` / ``torch.optim.Adam``), both sides from the same
weights on the same batch. fnet's step is one ``jax.jit`` with donated parameter and
optimizer buffers; PyTorch runs eagerly with ``torch.set_num_threads(<cores>)``.
Warm-up steps are excluded; the two are timed in interleaved repeats (alternating
which goes first, with a short sleep before each timed step so that one framework's
idle-spinning worker threads do not slow the other) so that load from other processes
hits both alike, and the medians and their ratio are printed with the load average
before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50, help="sequence length T")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch.set_num_threads (default: all cores)")
    parser.add_argument("--gap", type=float, default=0.1,
                        help="seconds of sleep before each timed step, so that threads still "
                             "spinning after the other framework's step do not steal its cores")
    args = parser.parse_args()
    if args.device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    import torch

    import fnet
    from fnet import nn

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(100, 256, 2, batch_first=True)
            self.fc = nn.Linear(256, 10)

        def forward(self, ctx, x):
            out, _ = self.lstm(ctx, x)
            return self.fc(ctx, out[:, -1])

    class TorchClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(100, 256, 2, batch_first=True)
            self.fc = torch.nn.Linear(256, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1])

    torch.manual_seed(0)
    ref = TorchClassifier().to(dev)
    model = Classifier()
    params, state = fnet.load_state_dict(model, {k: v.cpu() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((args.batch, args.steps, 100)).astype(np.float32)
    y_np = rng.integers(0, 10, args.batch)

    # -- fnet: one jitted step, parameter and optimizer buffers donated
    opt = optax.adam(1e-3)
    opt_state = opt.init(params)

    def loss_fn(p, x, y):
        logits = model.apply(p, state, x, train=True)[0]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def _step(p, o, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, o = opt.update(grads, o, p)
        return optax.apply_updates(p, updates), o, loss

    step = jax.jit(_step, donate_argnums=(0, 1))
    x_j, y_j = jnp.asarray(x_np), jnp.asarray(y_np)
    carry = [params, opt_state]

    def fnet_step():
        carry[0], carry[1], loss = step(carry[0], carry[1], x_j, y_j)
        loss.block_until_ready()

    # -- PyTorch: eager, torch.optim.Adam
    torch_opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    x_t, y_t = torch.from_numpy(x_np).to(dev), torch.from_numpy(y_np).to(dev)

    def torch_step():
        torch_opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(ref(x_t), y_t)
        loss.backward()
        torch_opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    load_before = os.getloadavg()
    for _ in range(args.warmup):
        fnet_step()
        torch_step()
    times: dict[str, list[float]] = {"fnet": [], "torch": []}
    runs = {"fnet": fnet_step, "torch": torch_step}
    for r in range(args.repeats):
        for name in (("fnet", "torch") if r % 2 == 0 else ("torch", "fnet")):
            time.sleep(args.gap)
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
    load_after = os.getloadavg()

    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    low = {k: min(v) * 1e3 for k, v in times.items()}
    ratios = [a / b for a, b in zip(times["fnet"], times["torch"])]
    jax_dev = jax.devices()[0]
    print(f"LSTM(100, 256, num_layers=2) + Linear(256, 10), batch {args.batch}, T={args.steps}, Adam; "
          f"jax {jax.__version__} on {jax_dev.platform} ({jax_dev.device_kind}), torch {torch.__version__} "
          f"on {dev.type} ({torch.get_num_threads()} threads), {os.cpu_count()} cores")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({args.repeats} interleaved repeats after {args.warmup} warm-up steps)")
    print(f"fnet    median {med['fnet']:8.2f} ms   min {low['fnet']:8.2f} ms")
    print(f"PyTorch median {med['torch']:8.2f} ms   min {low['torch']:8.2f} ms")
    print(f"fnet/PyTorch: {med['fnet'] / med['torch']:.2f} (medians), {low['fnet'] / low['torch']:.2f} (minima), "
          f"{statistics.median(ratios):.2f} (median of paired ratios)")


if __name__ == "__main__":
    main()
