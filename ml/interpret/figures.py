"""PNG charts of the NetDissect analyses (Table 5, Figs. 7, 9, 11) for the dashboard.

Each function takes the data of ``ml.interpret.analysis`` (the JSON files beside
the charts) and writes one PNG with matplotlib's Agg backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_blockwise", "plot_changed", "plot_table5", "plot_units_per_concept"]

_PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _colour(categories: list[str], category: str) -> str:
    return _PALETTE[categories.index(category) % len(_PALETTE)] if category in categories else "#bbbbbb"


def _save(figure: plt.Figure, path: Path | str) -> Path:
    path = Path(path)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_table5(data: dict[str, Any], path: Path | str) -> Path:
    """Table 5 as bars: concepts and interpretable units per dataset."""
    rows = data["rows"]
    names = [r["dataset"] for r in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.bar(names, [r["concepts"] for r in rows], color="#1f77b4")
    left.set(title="concepts", ylabel="count")
    right.bar(names, [r["interpretable_units"] for r in rows], color="#d62728")
    right.set(title=f"interpretable units of {rows[0]['units'] if rows else 0} ({data['layer']})")
    for axis in (left, right):
        axis.tick_params(axis="x", labelrotation=15)
    return _save(figure, path)


def plot_blockwise(data: dict[str, Any], path: Path | str) -> Path:
    """Fig. 7: interpretable units per category across layers (grouped bars)."""
    layers, categories = data["layers"], list(data["interpretable_units"])
    figure, axis = plt.subplots(figsize=(max(5, 1.6 * len(layers) + 2), 3.8))
    width = 0.8 / max(1, len(categories))
    for i, category in enumerate(categories):
        xs = [x + (i - (len(categories) - 1) / 2) * width for x in range(len(layers))]
        axis.bar(xs, data["interpretable_units"][category], width=width, label=category,
                 color=_colour(categories, category))
    axis.set_xticks(range(len(layers)), layers)
    axis.set(title=f"interpretable units per block ({data['view']})", ylabel="units")
    if categories:
        axis.legend(fontsize="small")
    return _save(figure, path)


def plot_units_per_concept(rows: list[dict[str, Any]], path: Path | str, *, categories: list[str],
                           only: str | None = None, limit: int = 40) -> Path:
    """Fig. 9: concepts ordered by the number of units they label (``only`` one category if given)."""
    shown = [r for r in rows if only is None or r["category"] == only][:limit]
    figure, axis = plt.subplots(figsize=(max(5, 0.28 * len(shown) + 2), 4))
    axis.bar(range(len(shown)), [r["units"] for r in shown],
             color=[_colour(categories, r["category"]) for r in shown])
    axis.set_xticks(range(len(shown)), [r["label"] for r in shown], rotation=90, fontsize="small")
    title = f"{only} concepts" if only else "concepts"
    axis.set(title=f"{title} by number of units", ylabel="units")
    return _save(figure, path)


def plot_changed(data: dict[str, Any], path: Path | str) -> Path:
    """Fig. 11: how many units moved from one category of label to another."""
    items = list(data["transitions"].items())
    figure, axis = plt.subplots(figsize=(6, max(2.5, 0.35 * len(items) + 1.2)))
    axis.barh(range(len(items)), [n for _, n in items], color="#9467bd")
    axis.set_yticks(range(len(items)), [k for k, _ in items])
    axis.invert_yaxis()
    axis.set(title=f"{data['count']} units changed label: {data['before']} -> {data['after']}",
             xlabel="units")
    return _save(figure, path)
