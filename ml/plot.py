"""The per-epoch training plot (``RUN_DIR/metrics.png``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = ["plot_history"]

_METRICS = (("val_top1", "top-1"), ("val_top5", "top-5"), ("val_micro_map", "micro mAP"),
            ("val_macro_map", "macro mAP"))


def plot_history(history: Sequence[dict], path: Path | str) -> Path:
    """Plot training loss and validation metrics against the epoch.

    Args:
        history: the entries of ``metrics.json`` (``epoch``, ``train_loss``,
            ``val_*`` keys; missing or ``None`` values are skipped).
        path: the ``.png`` to write.

    Returns:
        ``path``.
    """
    path = Path(path)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [entry["epoch"] for entry in history]
    left.plot(epochs, [entry.get("train_loss") for entry in history], marker="o")
    left.set(title="training loss", xlabel="epoch", ylabel="loss")
    for key, label in _METRICS:
        points = [(e["epoch"], e[key]) for e in history if e.get(key) is not None]
        if points:
            right.plot(*zip(*points, strict=True), marker="o", label=label)
    right.set(title="validation", xlabel="epoch", ylim=(0, 1))
    if right.get_legend_handles_labels()[0]:
        right.legend()
    for axis in (left, right):  # epochs are whole numbers: no tick at 1.2 or 1.4
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
