"""Shared plumbing of the examples: command line, the PyTorch twin run, the parity report."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("JAX_PLATFORMS", "cpu")


def parser(description: str, epochs: int, lr: float) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check-torch", action="store_true",
                   help="also train the PyTorch original from the same initial weights on the same "
                        "batches and report how far the final parameters and loss are")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def torch_twin(torch_module, fnet_params, fnet_state=None):
    """Copies fnet's initial weights into the torch module (strict: names and shapes match)."""
    import torch

    import fnet

    sd = {k: torch.from_numpy(np.array(v)) for k, v in fnet.state_dict(fnet_params, fnet_state).items()}
    torch_module.load_state_dict(sd, strict=True)
    return torch_module


def train_torch(module, optimizer, criterion, loader, epochs: int, prepare=None) -> float:
    """The classic PyTorch loop over the very batches fnet saw (same loader, same epochs)."""
    import torch

    module.train()
    loss = None
    for epoch in range(epochs):
        for x, y in loader.iter_epoch(epoch):
            x, y = torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(y))
            if prepare is not None:
                x = prepare(x)
            optimizer.zero_grad()
            loss = criterion(module(x), y)
            loss.backward()
            optimizer.step()
    return float(loss.detach())


def check_first_steps(model, params, state, optimizer, loss_fn, loader, torch_module, torch_optimizer,
                      criterion, steps: int, rtol: float) -> bool:
    """Trains fnet and its torch twin ``steps`` steps from the same weights on the same batches.

    For long runs through ReLUs and max pooling, float32 rounding differences between the
    two frameworks grow step after step (as they do between two PyTorch builds), so the
    examples that train for hundreds of steps compare the start of the run tightly instead
    of its end loosely.
    """
    import torch

    from fnet import train

    step = train.make_train_step(model, loss_fn, optimizer, donate=False)
    opt_state, key = optimizer.init(params), None
    batches = []
    for epoch in range((steps + len(loader) - 1) // len(loader)):
        batches.extend(loader.iter_epoch(epoch))
    batches = batches[:steps]
    for x, y in batches:
        params, state, opt_state, metrics = step(params, state, opt_state, (x, y), key)
    torch_module.train()
    for x, y in batches:
        torch_optimizer.zero_grad()
        torch_loss = criterion(torch_module(torch.from_numpy(np.asarray(x))), torch.from_numpy(np.asarray(y)))
        torch_loss.backward()
        torch_optimizer.step()
    print(f"check-torch: {len(batches)} training steps from the same weights on the same batches")
    return report(params, torch_module, float(metrics["loss"]), float(torch_loss.detach()), rtol)


def report(fnet_params, torch_module, fnet_loss: float, torch_loss: float, rtol: float) -> bool:
    """Prints the largest parameter difference and whether fnet and torch agree."""
    import fnet

    worst_name, worst = "", 0.0
    for name, value in fnet.state_dict(fnet_params).items():
        ref = dict(torch_module.named_parameters())[name].detach().numpy()
        err = float(np.max(np.abs(np.asarray(value) - ref) / (np.abs(ref) + 1e-3)))
        if err >= worst:
            worst_name, worst = name, err
    loss_err = abs(fnet_loss - torch_loss) / max(abs(torch_loss), 1e-8)
    ok = worst <= rtol and loss_err <= rtol
    print(f"check-torch: final loss fnet {fnet_loss:.6f} vs torch {torch_loss:.6f} (rel {loss_err:.1e}); "
          f"largest parameter difference {worst:.1e} (relative, {worst_name}); "
          f"{'AGREE' if ok else 'DISAGREE'} within {rtol:g}")
    return ok
