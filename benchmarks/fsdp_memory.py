"""Per-device memory of parameters + optimizer state: replicated vs FSDP on 8 devices.

    python benchmarks/fsdp_memory.py            # 8 simulated CPU devices
    python benchmarks/fsdp_memory.py --model bert

Prints the bytes each device holds for the parameters and the AdamW state under data
parallelism (everything replicated) and under ``fnet.sharding.fully_sharded`` (FSDP),
and their ratio (ideal: 1/8 = 0.125; small replicated leaves such as biases and step
counts keep it a little above).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--model", choices=["mlp", "bert"], default="mlp")
    args = parser.parse_args()

    import jax

    jax.config.update("jax_num_cpu_devices", args.devices)  # only affects the CPU backend
    import optax

    from fnet import nn, sharding

    if args.model == "bert":
        from fnet.models.bert import BertConfig, BertForSequenceClassification

        model = BertForSequenceClassification(BertConfig(hidden_size=256, num_hidden_layers=4,
                                                         num_attention_heads=4, intermediate_size=1024))
    else:
        model = nn.Sequential(nn.Linear(1024, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                              nn.Linear(4096, 1024))
    devices = jax.devices()[:args.devices]
    mesh = sharding.make_mesh((len(devices),), ("data",), devices)
    params, _ = model.init(jax.random.key(0))
    opt = optax.adamw(1e-3)
    rows = []
    for label, plan in (("replicated (data parallel)", sharding.data_parallel(mesh)),
                        ("FSDP (fully_sharded)", sharding.fully_sharded(mesh))):
        placed = plan.shard_params(params)
        opt_state = plan.shard_opt_state(jax.jit(opt.init)(placed), placed)
        per_device = sharding.per_device_bytes(placed, opt_state)
        rows.append((label, max(per_device.values()), min(per_device.values())))
    total = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(params))
    print(f"model: {args.model}, {total / 2**20:.1f} MiB of parameters, AdamW state, {len(devices)} devices")
    print(f"| layout | max bytes/device | min bytes/device |")
    print(f"|---|---|---|")
    for label, hi, lo in rows:
        print(f"| {label} | {hi / 2**20:.2f} MiB | {lo / 2**20:.2f} MiB |")
    print(f"FSDP / replicated per device: {rows[1][1] / rows[0][1]:.3f} (ideal {1 / len(devices):.3f})")


if __name__ == "__main__":
    main()
