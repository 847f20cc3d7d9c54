"""Logistic regression: ``nn.Linear`` + ``sigmoid``, ``BCELoss``, ``SGD``.

    python examples/logistic_regression.py [--check-torch]

Two Gaussian blobs in 2-D; the model outputs probabilities through a sigmoid and is
trained with binary cross-entropy on float targets of shape (N, 1).
"""

from __future__ import annotations

import sys

import _common
import jax
import jax.numpy as jnp
import numpy as np

import fnet.functional as F
from fnet import data, nn, optim, train


class LogisticRegression(nn.Module):
    def __init__(self, input_dim: int, output_dim: int):
        super().__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, ctx, x):
        return F.sigmoid(self.linear(ctx, x))


def main(argv=None) -> int:
    args = _common.parser(__doc__, epochs=20, lr=0.1).parse_args(argv)
    x, y = data.make_classification(512, n_features=2, n_classes=2, separation=2.5, seed=args.seed).tensors
    y = y.astype(np.float32)[:, None]  # BCELoss wants float targets shaped like the output
    train_set, test_set = data.random_split(data.TensorDataset(x, y), [0.8, 0.2], seed=args.seed)
    loader = data.DataLoader(train_set, batch_size=32, shuffle=True, seed=args.seed)

    model = LogisticRegression(2, 1)
    params, state = model.init(jax.random.key(args.seed))
    result = train.fit(model, params, state, optim.SGD(lr=args.lr), loader, F.binary_cross_entropy,
                       epochs=args.epochs, progress=not args.quiet)
    xt, yt = test_set.get_batch(np.arange(len(test_set)))
    prob, _ = model.apply(result.params, state, jnp.asarray(xt))
    accuracy = float(np.mean((np.asarray(prob) > 0.5) == (yt > 0.5)))
    print(f"test accuracy {accuracy:.3f}, final train loss {result.history['loss'][-1]:.4f}")
    if args.check_torch:
        import torch

        class TorchLogistic(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = torch.nn.Linear(2, 1)

            def forward(self, x):
                return torch.sigmoid(self.linear(x))

        ok = _common.check_training(args, model, params, state,
                                    (optim.SGD(lr=args.lr), lambda ps: torch.optim.SGD(ps, lr=args.lr)),
                                    loader, TorchLogistic(), loss=(F.binary_cross_entropy, torch.nn.BCELoss()))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
