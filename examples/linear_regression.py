"""Linear regression: ``nn.Linear``, ``MSELoss``, ``SGD`` — the first PyTorch program, in fnet.

    python examples/linear_regression.py [--check-torch]

The data are ``y = x @ [1, 2]^T + 0.5 + noise`` with ``x (N, 2)`` and ``y (N, 1)`` (the
seed article built its target with ``x.mm(torch.tensor([1.0, 2.0]))`` on ``x (100, 1)``,
which torch refuses; fnet's ``make_regression`` builds matching shapes).
"""

from __future__ import annotations

import sys

import _common
import jax
import numpy as np

import fnet.functional as F
from fnet import data, nn, optim, train


def main(argv=None) -> int:
    args = _common.parser(__doc__, epochs=20, lr=0.05).parse_args(argv)
    dataset = data.make_regression(256, n_features=2, noise=0.1, weight=[1.0, 2.0], bias=0.5, seed=args.seed)
    loader = data.DataLoader(dataset, batch_size=32, shuffle=True, seed=args.seed)

    model = nn.Linear(2, 1)
    params, state = model.init(jax.random.key(args.seed))  # fit copies them: still the initial weights
    result = train.fit(model, params, state, optim.SGD(lr=args.lr), loader, F.mse_loss, epochs=args.epochs,
                       progress=not args.quiet)
    w = np.asarray(result.params["weight"]).ravel()
    b = float(result.params["bias"][0])
    print(f"learned y = {w[0]:.3f} x1 + {w[1]:.3f} x2 + {b:.3f}  (true: 1.000 x1 + 2.000 x2 + 0.500); "
          f"final loss {result.history['loss'][-1]:.4f}")
    if args.check_torch:
        import torch

        ok = _common.check_training(args, model, params, state,
                                    (optim.SGD(lr=args.lr), lambda ps: torch.optim.SGD(ps, lr=args.lr)),
                                    loader, torch.nn.Linear(2, 1), loss=(F.mse_loss, torch.nn.MSELoss()))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
