"""An autoencoder: a ``Linear``/``ReLU`` encoder to an 8-d code and a decoder back; ``MSELoss``; ``Adam``.

    python examples/autoencoder.py [--check-torch]

Trained on the 64-pixel digits; prints the reconstruction error on held-out digits and
compares it with the error of predicting the mean image.
"""

from __future__ import annotations

import sys

import _common
import jax
import jax.numpy as jnp
import numpy as np

import fnet.functional as F
from fnet import data, nn, optim, train


class Autoencoder(nn.Module):
    def __init__(self, input_size: int = 64, encoding_dim: int = 8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(input_size, 32), nn.ReLU(), nn.Linear(32, encoding_dim))
        self.decoder = nn.Sequential(nn.Linear(encoding_dim, 32), nn.ReLU(), nn.Linear(32, input_size))

    def forward(self, ctx, x):
        return self.decoder(ctx, self.encoder(ctx, x))


def main(argv=None) -> int:
    args = _common.parser(__doc__, epochs=30, lr=1e-2).parse_args(argv)
    x_train, _ = data.load_digits(train=True, images=False).tensors
    x_test, _ = data.load_digits(train=False, images=False).tensors
    loader = data.DataLoader(data.TensorDataset(x_train, x_train), batch_size=64, shuffle=True, seed=args.seed)

    model = Autoencoder()
    params, state = model.init(jax.random.key(args.seed))
    result = train.fit(model, params, state, optim.Adam(lr=args.lr), loader, F.mse_loss, epochs=args.epochs,
                       progress=not args.quiet)
    recon, _ = model.apply(result.params, state, jnp.asarray(x_test))
    mse = float(F.mse_loss(recon, jnp.asarray(x_test)))
    baseline = float(np.mean((x_test - x_train.mean(0)) ** 2))
    print(f"test reconstruction MSE {mse:.4f} (mean-image baseline {baseline:.4f})")
    if args.check_torch:
        import torch

        class TorchAutoencoder(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
                self.decoder = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 64))

            def forward(self, x):
                return self.decoder(self.encoder(x))

        ok = _common.check_training(args, model, params, state,
                                    (optim.Adam(lr=args.lr), lambda ps: torch.optim.Adam(ps, lr=args.lr)),
                                    loader, TorchAutoencoder(), loss=(F.mse_loss, torch.nn.MSELoss()))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
