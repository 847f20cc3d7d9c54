"""``plot_history``: loss and accuracy curves of a ``fit`` history as a PNG."""

from __future__ import annotations

from typing import Mapping, Sequence


def plot_history(history: Mapping[str, Sequence[float]], path: str) -> str:
    """Saves loss (and accuracy) curves of a :func:`fit` history as a PNG; returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = history.get("epoch") or list(range(1, len(history.get("loss", [])) + 1))
    panels = [("loss", "val_loss")] + ([("accuracy", "val_accuracy")]
                                       if "accuracy" in history or "val_accuracy" in history else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, names in zip(axes[0], panels):
        for name in names:
            if name in history:
                ax.plot(epochs, history[name], marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.set_title(names[0])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
