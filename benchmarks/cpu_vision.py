"""CPU training-step speed of two small CNNs: fnet (jitted) vs PyTorch eager.

    python benchmarks/cpu_vision.py                      # both networks, batch 256
    python benchmarks/cpu_vision.py --repeats 30 --json cpu_vision.json
    python benchmarks/cpu_vision.py --single-thread      # one core each, CPU time too

Networks (CIFAR-10 shapes, 3x32x32 inputs, 10 classes):

* ``lenet``: Conv2d(3,6,5), ReLU, MaxPool2d(2), Conv2d(6,16,5), ReLU, MaxPool2d(2),
  Flatten, Linear(400,120), ReLU, Linear(120,84), ReLU, Linear(84,10).
* ``cnn``: Conv2d(3,32,3,padding=1), ReLU, MaxPool2d(2), Conv2d(32,64,3,padding=1), ReLU,
  MaxPool2d(2), Flatten, Linear(4096,128), ReLU, Linear(128,10).

One train step is the forward pass, the cross-entropy loss, the backward pass and an SGD
update with momentum 0.9: ``optax.sgd`` + ``optax.softmax_cross_entropy_with_integer_labels``
in one ``jax.jit`` with donated parameter and optimizer buffers for fnet,
``torch.optim.SGD`` + ``F.cross_entropy`` for PyTorch (``torch.set_num_threads`` = the
machine's cores; XLA uses all cores by default). Both start from the same weights (the
torch ``state_dict`` is loaded into fnet) and train on the same fixed batch.

Both models are ``Sequential`` stacks of the same layers (``repr`` is identical).

Warm-up steps (and compilation) are excluded. Each repeat times ``--steps`` consecutive
steps of every framework in turn (interleaved, so a change in machine load hits both
alike) and the per-step median over the repeats is reported, with the load average, since
the CPU may be shared. ``ratio`` is fnet time / PyTorch time (below 1: fnet is faster).
The process CPU time per step is reported too: on a loaded machine it is the steadier
measure of the work each framework does (``--single-thread`` runs both on one thread, where
it is exactly the compute time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def _networks():
    """The two networks as ``Sequential`` stacks, identical in fnet and torch."""
    import torch

    from fnet import nn

    def lenet(m):
        return m.Sequential(m.Conv2d(3, 6, 5), m.ReLU(), m.MaxPool2d(2), m.Conv2d(6, 16, 5), m.ReLU(),
                            m.MaxPool2d(2), m.Flatten(), m.Linear(400, 120), m.ReLU(),
                            m.Linear(120, 84), m.ReLU(), m.Linear(84, 10))

    def cnn(m):
        return m.Sequential(m.Conv2d(3, 32, 3, padding=1), m.ReLU(), m.MaxPool2d(2),
                            m.Conv2d(32, 64, 3, padding=1), m.ReLU(), m.MaxPool2d(2), m.Flatten(),
                            m.Linear(64 * 8 * 8, 128), m.ReLU(), m.Linear(128, 10))

    return {"lenet": (lambda: lenet(nn), lambda: lenet(torch.nn)),
            "cnn": (lambda: cnn(nn), lambda: cnn(torch.nn))}


def _fnet_step(model, torch_model, x, y, lr):
    import jax
    import jax.numpy as jnp
    import optax

    import fnet

    params, state = fnet.load_state_dict(model, torch_model.state_dict())
    opt = optax.sgd(lr, momentum=0.9)
    opt_state = opt.init(params)

    def loss_fn(p, xb, yb):
        logits, _ = model.apply(p, state, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    def step(p, s, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    box = {"params": params, "opt": opt_state}

    def run():
        box["params"], box["opt"], loss = step(box["params"], box["opt"], xj, yj)
        return float(loss)  # blocks until the step is done

    return run


def _torch_step(torch_model, x, y, lr):
    import torch

    opt = torch.optim.SGD(torch_model.parameters(), lr=lr, momentum=0.9)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(torch_model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return run


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", default="lenet,cnn", help="comma-separated: lenet, cnn")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=15, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per framework per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per framework")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads")
    parser.add_argument("--single-thread", action="store_true",
                        help="one thread for both (XLA_FLAGS and torch.set_num_threads(1))")
    parser.add_argument("--json", dest="json_path", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.single_thread:
        # Must be set before JAX creates its CPU client.
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()
        args.threads = 1

    import jax
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    nets = _networks()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=args.batch).astype(np.int64)
    load_start = os.getloadavg()
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__} "
          f"({args.threads} threads); batch {args.batch}; load average "
          f"{load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
    results = {}
    for name in args.networks.split(","):
        fnet_cls, torch_cls = nets[name]
        torch.manual_seed(0)
        torch_model = torch_cls()
        runners = {"fnet": _fnet_step(fnet_cls(), torch_model, x, y, 0.01)}
        runners["torch"] = _torch_step(torch_model, x, y, 0.01)  # same initial weights
        first = {k: run() for k, run in runners.items()}
        for _ in range(args.warmup - 1):
            for run in runners.values():
                run()
        times = {k: [] for k in runners}
        cpu = {k: [] for k in runners}
        for _ in range(args.repeats):
            for k, run in runners.items():
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(args.steps):
                    run()
                times[k].append((time.perf_counter() - t0) / args.steps)
                cpu[k].append((time.process_time() - c0) / args.steps)
        med = {k: float(np.median(v)) for k, v in times.items()}
        med_cpu = {k: float(np.median(v)) for k, v in cpu.items()}
        results[name] = {"fnet_ms": med["fnet"] * 1e3, "torch_ms": med["torch"] * 1e3,
                         "ratio": med["fnet"] / med["torch"],
                         "fnet_cpu_ms": med_cpu["fnet"] * 1e3, "torch_cpu_ms": med_cpu["torch"] * 1e3,
                         "cpu_ratio": med_cpu["fnet"] / med_cpu["torch"],
                         "fnet_ms_all": [t * 1e3 for t in times["fnet"]],
                         "torch_ms_all": [t * 1e3 for t in times["torch"]],
                         "first_loss": first}
        print(f"{name:>6}: fnet {med['fnet'] * 1e3:8.1f} ms/step   torch {med['torch'] * 1e3:8.1f} ms/step"
              f"   ratio fnet/torch {med['fnet'] / med['torch']:.2f}   | CPU time fnet "
              f"{med_cpu['fnet'] * 1e3:.1f} ms, torch {med_cpu['torch'] * 1e3:.1f} ms, ratio "
              f"{med_cpu['fnet'] / med_cpu['torch']:.2f}   (first-step loss fnet {first['fnet']:.4f}, "
              f"torch {first['torch']:.4f})", flush=True)
    load_end = os.getloadavg()
    print(f"load average at the end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    report = {"batch": args.batch, "repeats": args.repeats, "steps": args.steps,
              "single_thread": args.single_thread,
              "torch_threads": args.threads, "cpu_count": os.cpu_count(),
              "load_average_start": load_start, "load_average_end": load_end,
              "jax": jax.__version__, "torch": torch.__version__, "networks": results}
    if args.json_path:
        with open(args.json_path, "w") as handle:
            json.dump(report, handle, indent=1)
    return report


if __name__ == "__main__":
    main()
