"""Writing a dissection: ``units.csv``, ``summary.json``, charts and an HTML report.

Files in the output folder (the dashboard shows the PNG and JSON files):

==========================  =====================================================
``units.csv``               main view, every layer: ``layer, unit, category, label,
                            iou, runner_up, runner_up_category, runner_up_iou,
                            interpretable, threshold``
``units_<view>.csv``        the same for every other view
``summary.json``            parameters, dataset, per view and layer the counts of
                            ``analysis.layer_summary``, the threshold error bound,
                            and the analyses below
``table5.json/.png``        Table 5 (several views)
``fig7_blocks.json/.png``   Fig. 7 (several layers)
``fig9_concepts.json/.png`` Fig. 9 (``action`` concepts when there are any)
``fig11_changed.json/.png`` Fig. 11 (first view -> main view, several views)
``report.html``             per layer, units by IoU with their top images
                            (``images/<layer>/unitNNNN_R.jpg``: the unit's mask
                            outlined in yellow, the rest dimmed)
==========================  =====================================================
"""

from __future__ import annotations

import csv
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ml.config import write_json
from ml.interpret.analysis import (
    blockwise,
    changed_units,
    layer_summary,
    table5,
    unit_rows,
    units_per_concept,
)
from ml.interpret.figures import plot_blockwise, plot_changed, plot_table5, plot_units_per_concept
from ml.interpret.netdissect import Dissection, thumbnail_name

__all__ = ["UNIT_COLUMNS", "write_report"]

UNIT_COLUMNS = ("layer", "unit", "category", "label", "iou", "runner_up", "runner_up_category", "runner_up_iou",
                "interpretable", "threshold")


def _write_units(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=UNIT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "iou": f"{row['iou']:.4f}", "runner_up_iou": f"{row['runner_up_iou']:.4f}",
                             "interpretable": int(row["interpretable"]), "threshold": f"{row['threshold']:.6g}"})


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def write_report(
    dissection: Dissection,
    out_dir: Path | str,
    *,
    model_name: str = "",
    unit_actions: Mapping[str, Sequence[Sequence[str]]] | None = None,
    fig9_category: str | None = "action",
) -> dict[str, Path]:
    """Write every output of a dissection (see the module docstring).

    Args:
        dissection: the result of ``dissect`` (thumbnails already written into ``out_dir``).
        out_dir: the output folder.
        model_name: shown in the report title.
        unit_actions: layer -> per unit the top actions of ``ml.probe_unit``
            (layers feeding the classifier), shown in the report.
        fig9_category: category Fig. 9 shows when the dataset has it (else all).

    Returns:
        Output name -> file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    main = dissection.main_view
    _write_units(out / "units.csv", unit_rows(dissection))
    files["units"] = out / "units.csv"
    for view in dissection.views:
        if view != main:
            name = f"units_{_safe(view)}.csv"
            _write_units(out / name, unit_rows(dissection, view=view))
            files[name] = out / name
    categories = list(dissection.dataset.categories)
    summary: dict[str, Any] = {
        "model": model_name,
        "quantile": dissection.quantile,
        "iou_threshold": dissection.iou_threshold,
        "layers": list(dissection.layers),
        "main_view": main,
        "dataset": {"sources": list(dissection.dataset.sources),
                    "roots": [str(r) for r in dissection.dataset.roots],
                    "categories": categories,
                    "labels": sum(1 for label in dissection.dataset.labels[1:] if label.category),
                    "images": dissection.images},
        "views": {view: {"sources": [dissection.dataset.sources[s] for s in sources],
                         "layers": {layer: layer_summary(dissection, layer, view) for layer in dissection.layers}}
                  for view, sources in dissection.views.items()},
    }
    if len(dissection.views) > 1:
        data = table5(dissection)
        summary["table5"] = data
        write_json(out / "table5.json", data)
        files["table5.json"], files["table5.png"] = out / "table5.json", plot_table5(data, out / "table5.png")
        first = list(dissection.views)[0]
        data = changed_units(dissection, before=first, after=main)
        summary["fig11"] = {k: v for k, v in data.items() if k != "units"}
        write_json(out / "fig11_changed.json", data)
        files["fig11_changed.json"] = out / "fig11_changed.json"
        files["fig11_changed.png"] = plot_changed(data, out / "fig11_changed.png")
    if len(dissection.layers) > 1:
        data = blockwise(dissection)
        summary["fig7"] = data
        write_json(out / "fig7_blocks.json", data)
        files["fig7_blocks.json"] = out / "fig7_blocks.json"
        files["fig7_blocks.png"] = plot_blockwise(data, out / "fig7_blocks.png")
    concepts = units_per_concept(dissection)
    only = fig9_category if fig9_category in categories else None
    write_json(out / "fig9_concepts.json", {"layer": dissection.layers[-1], "view": main, "concepts": concepts})
    files["fig9_concepts.json"] = out / "fig9_concepts.json"
    files["fig9_concepts.png"] = plot_units_per_concept(concepts, out / "fig9_concepts.png", categories=categories,
                                                        only=only)
    summary["files"] = {k: p.name for k, p in files.items()}
    write_json(out / "summary.json", summary)
    files["summary"] = out / "summary.json"
    (out / "report.html").write_text(_html(dissection, summary, unit_actions or {}, files, out), encoding="utf-8")
    files["report"] = out / "report.html"
    return files


_STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#f3f3f3}
.unit{margin:0.6em 0;padding:0.4em;border-top:1px solid #ddd}.unit img{margin-right:4px;vertical-align:top}
.weak{color:#999}.charts img{max-width:48%;margin:4px;border:1px solid #eee}"""


def _html(dissection: Dissection, summary: dict[str, Any], unit_actions: Mapping[str, Sequence[Sequence[str]]],
          files: dict[str, Path], out: Path) -> str:
    esc = html.escape
    main = dissection.main_view
    parts = [f"<!doctype html><meta charset='utf-8'><title>Network dissection {esc(summary['model'])}</title>",
             f"<style>{_STYLE}</style>",
             f"<h1>Network dissection {esc(summary['model'])}</h1>",
             f"<p>Threshold: top {dissection.quantile:g} quantile per unit; interpretable when IoU &ge; "
             f"{dissection.iou_threshold:g}. Data: {esc(', '.join(dissection.dataset.sources))} "
             f"({dissection.images[main]} images, categories {esc(', '.join(dissection.dataset.categories))}).</p>"]
    parts.append("<table><tr><th>view</th><th>layer</th><th>units</th><th>interpretable</th><th>concepts</th>"
                 + "".join(f"<th>{esc(c)}</th>" for c in dissection.dataset.categories) + "</tr>")
    for view, data in summary["views"].items():
        for layer, s in data["layers"].items():
            cells = "".join(f"<td>{s['categories'][c]['units']} / {s['categories'][c]['concepts']}</td>"
                            for c in dissection.dataset.categories)
            parts.append(f"<tr><td>{esc(view)}</td><td>{esc(layer)}</td><td>{s['units']}</td>"
                         f"<td>{s['interpretable_units']}</td><td>{s['concepts']}</td>{cells}</tr>")
    parts.append("</table><p class='weak'>category cells: interpretable units / concepts</p>")
    charts = [p.name for k, p in files.items() if k.endswith(".png")]
    if charts:
        parts.append("<div class='charts'>" + "".join(f"<img src='{esc(c)}' alt='{esc(c)}'>" for c in charts)
                     + "</div>")
    if "fig11" in summary:
        changed = changed_units(dissection, before=list(dissection.views)[0], after=main)
        parts.append(f"<h2>Units whose label changed ({changed['count']}): {esc(changed['before'])} &rarr; "
                     f"{esc(changed['after'])}</h2><ul>")
        for entry in changed["units"][:50]:
            b, a = entry["before"], entry["after"]
            parts.append(f"<li><a href='#{esc(changed['layer'])}-{entry['unit']}'>unit {entry['unit']}</a>: "
                         f"{esc(b['label'])} ({esc(b['category'] or '-')}, {b['iou']:.3f}) &rarr; "
                         f"{esc(a['label'])} ({esc(a['category'] or '-')}, {a['iou']:.3f})</li>")
        parts.append("</ul>")
    for layer in dissection.layers:
        result = dissection.result(layer)
        parts.append(f"<h2>{esc(layer)} ({esc(main)})</h2>")
        order = sorted(range(result.units), key=lambda u: (-float(result.score[u]), u))
        actions = unit_actions.get(layer)
        for unit in order:
            label = dissection.dataset.labels[int(result.label[unit])]
            runner = dissection.dataset.labels[int(result.runner_up[unit])]
            weak = "" if result.interpretable[unit] else " weak"
            line = (f"<b>unit {unit}</b>: {esc(label.name)} ({esc(label.category or '-')}) IoU "
                    f"{result.score[unit]:.3f}; runner-up {esc(runner.name)} ({esc(runner.category or '-')}) "
                    f"{result.runner_up_score[unit]:.3f}")
            if actions is not None and unit < len(actions):
                line += "; top actions: " + esc(", ".join(actions[unit]))
            images = "".join(
                f"<img src='{esc(thumbnail_name(layer, unit, rank))}' alt='top {rank + 1}'>"
                for rank in range(result.top_images.shape[1])
                if (layer, unit, rank) in dissection.thumbnails
                and (out / thumbnail_name(layer, unit, rank)).is_file())
            parts.append(f"<div class='unit{weak}' id='{esc(layer)}-{unit}'>{line}<br>{images}</div>")
    return "\n".join(parts) + "\n"
