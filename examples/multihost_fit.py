"""``fit`` across several processes (``jax.distributed``), parameters sharded, with checkpoints.

Every process runs this script with its own ``--process-id``; on one machine, two
processes with one CPU device each, talking over gloo::

    python examples/multihost_fit.py --coordinator localhost:12355 --num-processes 2 --process-id 0 \\
        --plan fully_sharded --checkpoint-dir /tmp/mh-ckpt --out /tmp/mh.npz &
    python examples/multihost_fit.py --coordinator localhost:12355 --num-processes 2 --process-id 1 \\
        --plan fully_sharded --checkpoint-dir /tmp/mh-ckpt --out /tmp/mh.npz

Each process reads its half of every global batch of 16 (``DataLoader(num_shards=2,
shard_index=process_id)``). Under ``fully_sharded`` every parameter of 64 elements or
more is split between the two processes (each holds half of ``fc1.weight``, its Adam
moments too); ``fit`` saves a checkpoint every 4 steps, each process writing its own
shards. ``--die-at-step N`` makes each process SIGKILL itself before step N, as a
crash would; running the same commands again resumes from the last checkpoint and
ends bit-identical to an uninterrupted run (``tests/test_multiprocess.py`` does
exactly that). ``--out`` writes the final parameters and optimizer state (process 0).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import jax

import fnet.functional as F
from fnet import nn


class MLP(nn.Module):
    """32 -> 64 -> 10: fc1.weight (64, 32) and its Adam moments split between the processes."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, ctx, x):
        return self.fc2(ctx, F.relu(self.fc1(ctx, x)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coordinator", required=True, help="host:port of process 0")
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--plan", choices=["data_parallel", "fully_sharded"], default="fully_sharded")
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--die-at-step", type=int, default=None, help="SIGKILL this process before that step")
    parser.add_argument("--out", default=None, help="npz of the final parameters and optimizer state")
    args = parser.parse_args(argv)

    jax.config.update("jax_platforms", "cpu")
    jax.config.update("jax_num_cpu_devices", 1)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id)

    import numpy as np
    import optax

    import fnet
    from fnet import data, sharding, train

    model = MLP()
    params, state = model.init(jax.random.key(0))
    x, y = data.make_classification(128, n_features=32, n_classes=10, separation=3.0, seed=0).tensors
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=16, shuffle=True, seed=1,
                             num_shards=jax.process_count(), shard_index=jax.process_index())
    mesh = sharding.make_mesh((jax.device_count(),), ("data",))
    plan = (sharding.fully_sharded(mesh, min_size=64) if args.plan == "fully_sharded"
            else sharding.data_parallel(mesh))
    optimizer = optax.adam(1e-2)
    step_fn = train.make_train_step(model, F.cross_entropy, optimizer, plan=plan, check_finite=True,
                                    check_values=True)
    taken = [0]

    def step(*step_args):
        if args.die_at_step is not None and taken[0] + start_step == args.die_at_step:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # a crash: no clean-up runs
        taken[0] += 1
        return step_fn(*step_args)

    start_step = 0
    if args.checkpoint_dir:
        latest = train.latest_checkpoint(args.checkpoint_dir)
        start_step = latest["step"] if latest else 0
    result = train.fit(model, params, state, optimizer, loader, F.cross_entropy, epochs=args.epochs, plan=plan,
                       checkpoint_dir=args.checkpoint_dir, checkpoint_every=4, progress=False, train_step=step)
    named = {f"params/{k}": v for k, v in fnet.state_dict(result.params).items()}
    for i, leaf in enumerate(jax.tree.leaves(result.opt_state)):
        named[f"opt_state/{i}"] = fnet.io.to_numpy(leaf)  # gathers split arrays: every process calls it
    if jax.process_index() == 0:
        local = result.params["fc1"]["weight"].addressable_shards[0].data.shape
        print(f"process 0: {result.step} steps, final loss {result.history['loss'][-1]:.4f}, holds "
              f"fc1.weight{list(local)} of {list(result.params['fc1']['weight'].shape)}", flush=True)
        if args.out:
            np.savez(args.out, **named)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
