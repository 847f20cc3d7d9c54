"""Shared plumbing of the examples: command line, the PyTorch twin run, the parity report."""

from __future__ import annotations

import argparse
import os
import sys


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("JAX_PLATFORMS", "cpu")


def parser(description: str, epochs: int, lr: float, check_steps: int | None = None) -> argparse.ArgumentParser:
    """The examples' shared options; ``check_steps=None`` compares the whole run."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check-torch", action="store_true",
                   help="also train the PyTorch original from the same initial weights on the same "
                        "batches and compare every step (fnet.parity.compare_training)")
    p.add_argument("--check-steps", type=int, default=check_steps,
                   help="steps compared by --check-torch (default: %s)"
                        % ("the whole run" if check_steps is None else check_steps))
    p.add_argument("--check-dtype", choices=["float64", "float32"], default="float64",
                   help="float64 (default): both frameworks train in float64 and must agree to 1e-8 at "
                        "every step, on any processor; float32: the run as trained, judged against a "
                        "float64 reference (fnet's rounding drift within 4x of torch's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def check_training(args, model, params, state, optimizers, loader, torch_module, *, loss=None,
                   compute_loss=None, train: bool = True) -> bool:
    """``--check-torch``: :func:`fnet.parity.compare_training` from fnet's initial weights.

    The comparison covers ``args.check_steps`` steps (the whole run when None) of the
    very batches ``fit`` trained on, in ``args.check_dtype``. Prints the per-step table
    (unless ``--quiet``) and a verdict line ending in AGREE or DISAGREE.
    """
    import fnet.parity

    steps = args.check_steps or args.epochs * len(loader)
    report = fnet.parity.compare_training(model, torch_module, optimizers, loader, steps=steps, loss=loss,
                                          compute_loss=compute_loss, params=params, state=state,
                                          dtype=args.check_dtype, train=train)
    if not args.quiet or not report.ok:
        print(report.table())
    print(f"check-torch: {report.verdict()}")
    return report.ok
