"""The paper's NetDissect analyses as plain data (JSON-ready dicts and lists).

* ``unit_rows``: one row per unit, ``units.csv``.
* ``layer_summary``: interpretable units and concepts, per category.
* ``table5`` (Table 5): concepts and interpretable units of one layer for each
  view (Broden, Action Regions, both).
* ``blockwise`` (Fig. 7): interpretable units per category for each probed layer.
* ``units_per_concept`` (Fig. 9): how many interpretable units each concept labels.
* ``changed_units`` (Fig. 11): units whose label changed between two views (Broden
  alone, then with the actions), among units interpretable in at least one of them.

A *concept* counts once per layer and view when it labels at least one
interpretable unit.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ml.interpret.netdissect import Dissection, LayerResult

__all__ = ["blockwise", "changed_units", "layer_summary", "table5", "unit_rows", "units_per_concept"]


def _label(dissection: Dissection, number: int) -> tuple[str, str]:
    label = dissection.dataset.labels[int(number)]
    return label.name, label.category


def unit_rows(dissection: Dissection, *, view: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``units.csv`` for every layer of ``view`` (default: the main view).

    Columns: ``layer, unit, category, label, iou, runner_up, runner_up_category,
    runner_up_iou, interpretable, threshold`` (units numbered from 0, the
    feature index that ``ml.probe_unit`` takes).
    """
    rows = []
    for layer in dissection.layers:
        result = dissection.result(layer, view)
        for unit in range(result.units):
            name, category = _label(dissection, result.label[unit])
            runner, runner_category = _label(dissection, result.runner_up[unit])
            rows.append({
                "layer": layer, "unit": unit, "category": category, "label": name,
                "iou": round(float(result.score[unit]), 6), "runner_up": runner,
                "runner_up_category": runner_category, "runner_up_iou": round(float(result.runner_up_score[unit]), 6),
                "interpretable": bool(result.interpretable[unit]), "threshold": float(result.threshold[unit]),
            })
    return rows


def _concepts(dissection: Dissection, result: LayerResult) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {c: set() for c in dissection.dataset.categories}
    for number in result.label[result.interpretable]:
        category = dissection.dataset.labels[int(number)].category
        out.setdefault(category, set()).add(int(number))
    return out


def layer_summary(dissection: Dissection, layer: str, view: str | None = None) -> dict[str, Any]:
    """Counts for one layer and view.

    Returns:
        ``{"units", "interpretable_units", "concepts", "categories": {category:
        {"concepts", "units"}}, "images", "category_images", "threshold_error":
        {"max", "median"}}``.
    """
    result = dissection.result(layer, view)
    concepts = _concepts(dissection, result)
    per_unit = Counter(dissection.dataset.labels[int(n)].category for n in result.label[result.interpretable])
    return {
        "units": result.units,
        "interpretable_units": int(result.interpretable.sum()),
        "concepts": sum(len(v) for v in concepts.values()),
        "categories": {c: {"concepts": len(concepts.get(c, ())), "units": int(per_unit.get(c, 0))}
                       for c in dissection.dataset.categories},
        "images": dissection.images[view or dissection.main_view],
        "category_images": result.category_images,
        "threshold_error": {"max": float(np.max(result.threshold_error)),
                            "median": float(np.median(result.threshold_error))},
    }


def table5(dissection: Dissection, layer: str | None = None) -> dict[str, Any]:
    """Table 5: concepts and interpretable units of ``layer`` (default: the last) per view."""
    layer = layer or dissection.layers[-1]
    rows = []
    for view in dissection.views:
        summary = layer_summary(dissection, layer, view)
        rows.append({"dataset": view, "concepts": summary["concepts"],
                     "interpretable_units": summary["interpretable_units"], "units": summary["units"],
                     "images": summary["images"]})
    return {"layer": layer, "iou_threshold": dissection.iou_threshold, "rows": rows}


def blockwise(dissection: Dissection, view: str | None = None) -> dict[str, Any]:
    """Fig. 7: per category, interpretable units (and their share) in each layer."""
    layers = list(dissection.layers)
    summaries = [layer_summary(dissection, layer, view) for layer in layers]
    categories = list(dissection.dataset.categories)
    return {
        "view": view or dissection.main_view,
        "layers": layers,
        "units": [s["units"] for s in summaries],
        "interpretable_units": {c: [s["categories"][c]["units"] for s in summaries] for c in categories},
        "concepts": {c: [s["categories"][c]["concepts"] for s in summaries] for c in categories},
        "fraction": {c: [s["categories"][c]["units"] / max(1, s["units"]) for s in summaries] for c in categories},
    }


def units_per_concept(dissection: Dissection, layer: str | None = None, view: str | None = None
                      ) -> list[dict[str, Any]]:
    """Fig. 9: ``[{"label", "category", "units", "mean_iou"}]``, most units first (ties by name)."""
    layer = layer or dissection.layers[-1]
    result = dissection.result(layer, view)
    counts: Counter[int] = Counter(int(n) for n in result.label[result.interpretable])
    rows = []
    for number, count in counts.items():
        name, category = _label(dissection, number)
        scores = result.score[result.interpretable & (result.label == number)]
        rows.append({"label": name, "category": category, "units": count, "mean_iou": float(scores.mean())})
    return sorted(rows, key=lambda r: (-r["units"], r["label"]))


def changed_units(dissection: Dissection, *, before: str, after: str, layer: str | None = None
                  ) -> dict[str, Any]:
    """Fig. 11: units whose label differs between views ``before`` and ``after``.

    Returns:
        ``{"layer", "before", "after", "count", "transitions": {"texture -> action": n},
        "units": [{"unit", "before": {...}, "after": {...}}]}``, the units sorted by
        the IoU gained.
    """
    layer = layer or dissection.layers[-1]
    old, new = dissection.result(layer, before), dissection.result(layer, after)
    units = []
    transitions: Counter[str] = Counter()
    for unit in range(old.units):
        if old.label[unit] == new.label[unit] or not (old.interpretable[unit] or new.interpretable[unit]):
            continue
        entry = {"unit": unit}
        for key, result in (("before", old), ("after", new)):
            name, category = _label(dissection, result.label[unit])
            entry[key] = {"label": name, "category": category, "iou": float(result.score[unit]),
                          "interpretable": bool(result.interpretable[unit])}
        transitions[f"{entry['before']['category'] or '-'} -> {entry['after']['category'] or '-'}"] += 1
        units.append(entry)
    units.sort(key=lambda e: (-(e["after"]["iou"] - e["before"]["iou"]), e["unit"]))
    return {"layer": layer, "before": before, "after": after, "count": len(units),
            "transitions": dict(sorted(transitions.items(), key=lambda kv: (-kv[1], kv[0]))), "units": units}
