"""An LSTM sequence classifier: ``LSTM(input, hidden, num_layers=2, batch_first=True)`` and a
``Linear`` on the last time step; ``CrossEntropyLoss``; ``Adam``.

    python examples/lstm_classifier.py [--check-torch]

Each 8x8 digit is read as a sequence of 8 rows of 8 pixels. The seed article created
its initial state as ``torch.zeros(hidden_dim, batch)``, a 2-D tensor where torch wants
``(num_layers, batch, hidden)``; fnet (like torch) creates zeros when ``hx`` is omitted,
and a wrongly shaped ``hx`` raises an error that names the LSTM and both shapes.
"""

from __future__ import annotations

import sys

import _common
import jax

import fnet.functional as F
from fnet import data, nn, optim, train


class SequenceClassifier(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int, num_classes: int):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, ctx, x):                     # (N, T, input_size)
        output, (h_n, c_n) = self.lstm(ctx, x)     # (N, T, hidden)
        return self.fc(ctx, output[:, -1, :])


def rows(train_split: bool) -> data.TensorDataset:
    x, y = data.load_digits(train=train_split, images=False).tensors
    return data.TensorDataset(x.reshape(-1, 8, 8), y)


def main(argv=None) -> int:
    p = _common.parser(__doc__, epochs=15, lr=1e-2, check_steps=20)
    p.add_argument("--hidden", type=int, default=64)
    args = p.parse_args(argv)
    loader = data.DataLoader(rows(True), batch_size=64, shuffle=True, seed=args.seed)
    test_loader = data.DataLoader(rows(False), batch_size=512)

    model = SequenceClassifier(8, args.hidden, 2, 10)
    params, state = model.init(jax.random.key(args.seed))
    result = train.fit(model, params, state, optim.Adam(lr=args.lr), loader, F.cross_entropy,
                       epochs=args.epochs, eval_loader=test_loader, progress=not args.quiet)
    print(f"test accuracy {result.history['val_accuracy'][-1]:.3f}")
    if args.check_torch:
        import torch

        class TorchClassifier(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = torch.nn.LSTM(8, args.hidden, 2, batch_first=True)
                self.fc = torch.nn.Linear(args.hidden, 10)

            def forward(self, x):
                output, _ = self.lstm(x)
                return self.fc(output[:, -1, :])

        ok = _common.check_training(args, model, params, state,
                                    (optim.Adam(lr=args.lr), lambda ps: torch.optim.Adam(ps, lr=args.lr)),
                                    loader, TorchClassifier(), loss=(F.cross_entropy, torch.nn.CrossEntropyLoss()))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
