"""The CIFAR-10 LeNet: ``Conv2d(3, 6, 5)``, max pooling, ``Conv2d(6, 16, 5)``, three Linear
layers; ``CrossEntropyLoss``; ``SGD(lr, momentum=0.9)``.

    python examples/cifar10_lenet.py                         # offline: bundled 8x8 digits
    python examples/cifar10_lenet.py --data ~/data/cifar10   # CIFAR-10 binary version
    python examples/cifar10_lenet.py --check-torch           # + 20 steps in PyTorch, compared

``--check-torch`` trains torch's LeNet from fnet's initial weights on the first
``--check-steps`` batches of the run and compares the loss and every parameter after
each step (``fnet.parity.compare_training``). By default both frameworks train in
float64, where they agree to about 1e-12 whatever the processor; ``--check-dtype
float32`` checks the float32 run instead, against a float64 reference (over 20 steps
the two float32 runs drift apart by about 1e-3 relative in ``conv2.weight``: 1.5e-3 on an
Intel Xeon, under 1e-3 on an AMD EPYC, which is why a fixed float32 tolerance is not
portable).

Without ``--data`` the network trains on scikit-learn's 8x8 digits, upscaled to 32x32
and repeated over three channels so that the CIFAR-10 architecture applies unchanged
(``16 * 5 * 5`` features before the first Linear layer, the size torch's tutorial uses).
"""

from __future__ import annotations

import sys

import _common
import jax
import numpy as np

import fnet.functional as F
from fnet import data, nn, optim, train


class LeNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, ctx, x):                              # (N, 3, 32, 32)
        x = self.pool(ctx, F.relu(self.conv1(ctx, x)))      # (N, 6, 14, 14)
        x = self.pool(ctx, F.relu(self.conv2(ctx, x)))      # (N, 16, 5, 5)
        x = x.reshape(x.shape[0], 16 * 5 * 5)
        x = F.relu(self.fc1(ctx, x))
        x = F.relu(self.fc2(ctx, x))
        return self.fc3(ctx, x)


def digits_as_cifar(train_split: bool) -> data.TensorDataset:
    x, y = data.load_digits(train=train_split).tensors     # (N, 1, 8, 8) in [0, 1]
    x = np.kron(x, np.ones((1, 1, 4, 4), np.float32))      # nearest upscale to 32x32
    x = np.repeat(x, 3, axis=1)
    return data.TensorDataset((x - 0.5) / 0.5, y)


def cifar(root: str, train_split: bool) -> data.Dataset:
    tf = data.transforms.Compose([data.transforms.ToTensor(),
                                  data.transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    return data.CIFAR10(root, train=train_split, transform=tf)


def main(argv=None) -> int:
    p = _common.parser(__doc__, epochs=12, lr=0.01, check_steps=20)
    p.add_argument("--data", help="directory with cifar-10-batches-bin/ (default: bundled digits)")
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args(argv)
    train_set = cifar(args.data, True) if args.data else digits_as_cifar(True)
    test_set = cifar(args.data, False) if args.data else digits_as_cifar(False)
    loader = data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test_loader = data.DataLoader(test_set, batch_size=256)

    model = LeNet()
    params, state = model.init(jax.random.key(args.seed))
    opt = optim.SGD(lr=args.lr, momentum=0.9)
    result = train.fit(model, params, state, opt, loader, F.cross_entropy, epochs=args.epochs,
                       eval_loader=test_loader, progress=not args.quiet)
    print(f"test accuracy {result.history['val_accuracy'][-1]:.3f}")
    if args.check_torch:
        import torch

        class TorchLeNet(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = torch.nn.Conv2d(3, 6, 5)
                self.pool = torch.nn.MaxPool2d(2, 2)
                self.conv2 = torch.nn.Conv2d(6, 16, 5)
                self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
                self.fc2 = torch.nn.Linear(120, 84)
                self.fc3 = torch.nn.Linear(84, 10)

            def forward(self, x):
                x = self.pool(torch.relu(self.conv1(x)))
                x = self.pool(torch.relu(self.conv2(x)))
                x = x.view(-1, 16 * 5 * 5)
                return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))

        ok = _common.check_training(args, model, params, state,
                                    (opt, lambda ps: torch.optim.SGD(ps, lr=args.lr, momentum=0.9)),
                                    loader, TorchLeNet(), loss=(F.cross_entropy, torch.nn.CrossEntropyLoss()))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
