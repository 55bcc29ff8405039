"""The loss-curve PNG of a run (train and validation loss against the step)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend chosen first)

from ttcustom.io import atomic_file  # noqa: E402


def plot_loss_curves(train: list[tuple[int, float]], val: list[tuple[int, float]],
                     path: str | Path, title: str = "Training") -> Path:
    """Write the curves to `path` (atomically: a half-written PNG is never left behind)."""
    path = Path(path)
    figure, axes = plt.subplots(figsize=(10, 5))
    if train:
        axes.plot(*zip(*train), label="Training loss", alpha=0.8)
    if val:
        axes.plot(*zip(*val), label="Validation loss", marker="o")
    axes.set_xlabel("Step")
    axes.set_ylabel("Loss")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    if train or val:
        axes.legend()
    try:
        with atomic_file(path) as tmp:
            figure.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(figure)
    return path
