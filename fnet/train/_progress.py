"""What ``fit`` shows while it trains: a tqdm bar per epoch and one line per finished epoch."""

from __future__ import annotations

from typing import Any


class Progress:
    """A bar with the running loss and throughput (nothing at all when ``enabled`` is False)."""

    def __init__(self, enabled: bool, epochs: int, steps_per_epoch: int):
        self.enabled = enabled
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.bar: Any = None

    def start(self, epoch: int, first_batch: int) -> None:
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.steps_per_epoch, initial=first_batch, desc=f"epoch {epoch + 1}/{self.epochs}",
                            leave=True, dynamic_ncols=True)

    def step(self, mean_loss: float, samples_per_second: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{mean_loss:.4f}", samples_s=f"{samples_per_second:.0f}")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def epoch_done(self, record: dict[str, Any]) -> None:
        if self.enabled:
            print(", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()
                            if k != "seconds"), flush=True)
