"""Saving and loading, both ways with PyTorch.

    python examples/save_load.py [--check-torch]

1. train a small fnet classifier and ``fnet.save`` it (torch-named safetensors, atomic);
2. PyTorch: ``load_state_dict(safetensors.torch.load_file(path), strict=True)`` and the
   same predictions;
3. PyTorch fine-tunes it and ``torch.save``s a ``state_dict``; fnet reads that ``.pt``
   (``torch.load(weights_only=True)``, never an arbitrary pickle) and predicts what torch
   predicts.

The torch half needs torch; it always runs (``--check-torch`` is accepted for symmetry
with the other examples).
"""

from __future__ import annotations

import os
import sys
import tempfile

import _common
import jax
import jax.numpy as jnp
import numpy as np

import fnet
import fnet.functional as F
from fnet import data, nn, optim, train


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, ctx, x):
        return self.fc2(ctx, F.relu(self.fc1(ctx, x)))


def main(argv=None) -> int:
    args = _common.parser(__doc__, epochs=5, lr=0.05).parse_args(argv)
    import torch
    from safetensors.torch import load_file

    x, y = data.load_digits(images=False).tensors
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=64, shuffle=True, seed=args.seed)
    model = Net()
    params, state = model.init(jax.random.key(args.seed))
    result = train.fit(model, params, state, optim.SGD(lr=args.lr, momentum=0.9), loader, F.cross_entropy,
                       epochs=args.epochs, progress=not args.quiet)
    folder = tempfile.mkdtemp(prefix="fnet-save-load-")
    path = os.path.join(folder, "net.safetensors")
    fnet.save(path, result.params, result.state)
    print(f"fnet.save -> {path}")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(64, 64)
            self.fc2 = torch.nn.Linear(64, 10)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    twin = TorchNet()
    twin.load_state_dict(load_file(path), strict=True)
    fnet_logits = np.asarray(model.apply(result.params, state, jnp.asarray(x))[0])
    with torch.no_grad():
        torch_logits = twin(torch.from_numpy(x)).numpy()
    err = float(np.max(np.abs(fnet_logits - torch_logits)))
    same_pred = float(np.mean(fnet_logits.argmax(1) == torch_logits.argmax(1)))
    print(f"torch loaded fnet's checkpoint strictly: max |logit difference| {err:.1e}, same predictions {same_pred:.3f}")

    opt = torch.optim.SGD(twin.parameters(), lr=0.01)
    for xb, yb in loader.iter_epoch(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(twin(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
        opt.step()
    pt = os.path.join(folder, "torch.pt")
    torch.save(twin.state_dict(), pt)
    params2, state2 = fnet.load(pt, model)
    back = np.asarray(model.apply(params2, state2, jnp.asarray(x))[0])
    with torch.no_grad():
        torch_back = twin(torch.from_numpy(x)).numpy()
    err2 = float(np.max(np.abs(back - torch_back)))
    print(f"fnet loaded torch's fine-tuned .pt (weights_only): max |logit difference| {err2:.1e}")
    ok = err < 1e-4 and err2 < 1e-4 and same_pred == 1.0
    print(f"check-torch: {'AGREE' if ok else 'DISAGREE'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
