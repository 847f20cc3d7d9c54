"""A user-defined layer: parameters declared with ``nn.Parameter``, a buffer with ``nn.Buffer``,
used inside a model like any built-in layer.

    python examples/custom_layer.py [--check-torch]

``GatedLinear`` computes ``(x W^T + b) * sigmoid(g)`` with a learnable per-feature gate
``g``; in torch it is a ``nn.Module`` with three ``nn.Parameter``s. The fnet version has
the same parameter names, so torch's state_dict loads into it unchanged.
"""

from __future__ import annotations

import math
import sys

import _common
import jax
import numpy as np

import fnet
import fnet.functional as F
from fnet import data, nn, optim, train


class GatedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        uniform = lambda key, shape, dtype: fnet.init.uniform_(key, shape, -bound, bound, dtype=dtype)  # noqa: E731
        self.weight = nn.Parameter((out_features, in_features), init=uniform)
        self.bias = nn.Parameter((out_features,), init=uniform)
        self.gate = nn.Parameter((out_features,), init=fnet.init.zeros_)
        self.in_features = in_features

    def forward(self, ctx, x):
        if x.shape[-1] != self.in_features:
            raise ValueError(f"{ctx.where(self)}: expected input (*, {self.in_features}), got shape {x.shape}")
        p = ctx.params
        return F.linear(x, p["weight"], p["bias"]) * F.sigmoid(p["gate"])

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gated = GatedLinear(4, 32)
        self.out = nn.Linear(32, 3)

    def forward(self, ctx, x):
        return self.out(ctx, F.relu(self.gated(ctx, x)))


def main(argv=None) -> int:
    args = _common.parser(__doc__, epochs=15, lr=0.05).parse_args(argv)
    train_set, test_set = data.random_split(
        data.make_classification(600, n_features=4, n_classes=3, separation=3.0, seed=args.seed), [0.8, 0.2])
    loader = data.DataLoader(train_set, batch_size=32, shuffle=True, seed=args.seed)
    model = Net()
    print(model)
    params, state = model.init(jax.random.key(args.seed))
    result = train.fit(model, params, state, optim.SGD(lr=args.lr, momentum=0.9), loader, F.cross_entropy,
                       epochs=args.epochs, eval_loader=data.DataLoader(test_set, batch_size=256),
                       progress=not args.quiet)
    print(f"test accuracy {result.history['val_accuracy'][-1]:.3f}; gate after training: "
          f"{np.round(np.asarray(jax.nn.sigmoid(result.params['gated']['gate'][:4])), 3)} ...")
    if args.check_torch:
        import torch

        class TorchGatedLinear(torch.nn.Module):
            def __init__(self, in_features, out_features):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.empty(out_features, in_features))
                self.bias = torch.nn.Parameter(torch.empty(out_features))
                self.gate = torch.nn.Parameter(torch.zeros(out_features))

            def forward(self, x):
                return torch.nn.functional.linear(x, self.weight, self.bias) * torch.sigmoid(self.gate)

        class TorchNet(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.gated = TorchGatedLinear(4, 32)
                self.out = torch.nn.Linear(32, 3)

            def forward(self, x):
                return self.out(torch.relu(self.gated(x)))

        ok = _common.check_training(args, model, params, state,
                                    (optim.SGD(lr=args.lr, momentum=0.9),
                                     lambda ps: torch.optim.SGD(ps, lr=args.lr, momentum=0.9)),
                                    loader, TorchNet(), loss=(F.cross_entropy, torch.nn.CrossEntropyLoss()))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
