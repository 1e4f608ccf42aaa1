"""The training plot: whole epochs on the x axis, whatever the number of epochs."""
from __future__ import annotations

import pytest

from ml import plot


@pytest.mark.parametrize("epochs", [1, 2, 3, 7])
def test_epoch_ticks_are_whole_numbers(tmp_path, monkeypatch, epochs):
    kept = []
    monkeypatch.setattr(plot.plt, "close", kept.append)  # keep the figure to look at its axes
    history = [{"epoch": e, "train_loss": 1 / e, "val_micro_map": 0.1 * e} for e in range(1, epochs + 1)]
    path = plot.plot_history(history, tmp_path / "metrics.png")
    assert path.stat().st_size > 0
    for axis in kept[0].axes:
        lo, hi = axis.get_xlim()
        ticks = [t for t in axis.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
