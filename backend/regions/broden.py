"""The Broden layout read by Network Dissection (NetDissect and NetDissect-Lite `loadseg`).

Written exactly as Broden's own joiner (NetDissect `src/joinseg.py`) writes it, so the loaders
read it unmodified and it merges with broden1_224 / broden1_227:

- ``images/<source>/<stem>.jpg``: the frame resized to ``size x size`` (no crop, like Broden).
- ``images/<source>/<stem>_action.png`` (one layer) or ``<stem>_action_<k>.png`` (k = 1.. when
  regions of different actions overlap, dominant = largest first): ``seg_size x seg_size`` masks,
  label number = R + 256 * G, 0 = unlabelled.
- ``index.csv``: ``image,split,ih,iw,sh,sw,action``: the image path relative to ``images/``,
  ``train``/``val``, image and segmentation height/width, and the ``;``-separated mask files.
- ``category.csv``: ``name,first,last,count,frequency``: the ``action`` category, its first and
  last label numbers, how many labels, and the sum of its labels' image frequencies.
- ``label.csv``: ``number,name,category,frequency,coverage,syns``: one row per action label
  (``category`` is ``action(<images>)``, ``frequency`` the number of images, ``coverage`` the
  summed fraction of their pixels, ``syns`` ``;``-separated synonyms). Number 0 is reserved.
- ``c_action.csv``: ``code,number,name,frequency,coverage``: the dense code (1..n) of each label
  within the category.
- ``regions.csv`` (ours, ignored by the loaders): provenance of every region.

Pure numpy/PIL; no Django.
"""
from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image

Box = tuple[float, float, float, float]
CATEGORY = "action"
META_COLUMNS = ["image", "split", "ih", "iw", "sh", "sw"]
BRODEN_SPLITS = {"train": "train", "val": "val", "test": "val"}  # Broden has train and val only

MERGE_NOT_BRODEN = "{path} is not a Broden directory (no {name})."
MERGE_LABEL_CLASH = "Label numbers clash: the Broden labels go up to {broden}, the actions start at {ours}."
MERGE_CATEGORY_CLASH = "The Broden directory already has a category named {name!r}."
MERGE_IMAGES_CLASH = "Both directories have images/{name}."

README = """Action Regions in the Broden format (Network Dissection).

Columns, as in Broden (NetDissect src/joinseg.py):
  index.csv     image,split,ih,iw,sh,sw,action
                image: path under images/; split: train or val; ih,iw: image height/width;
                sh,sw: segmentation height/width; action: ';'-separated mask PNGs under images/
                (label = R + 256 * G, 0 = none; several files when regions of different actions
                overlap, largest first).
  category.csv  name,first,last,count,frequency (first/last label number of the category,
                number of labels, summed image frequency)
  label.csv     number,name,category,frequency,coverage,syns (category: action(<images>);
                frequency: images with the label; coverage: summed pixel fraction; syns: ';'-separated)
  c_action.csv  code,number,name,frequency,coverage (dense code within the category)
  regions.csv   provenance: dataset, video, timestamp, original split and size, boxes (ignored by loaders)
"""


@dataclass
class BrodenItem:
    stem: str  # unique file stem
    split: str
    width: int  # original frame size: boxes are in these pixels
    height: int
    regions: dict[str, list[Box]]  # action -> verified boxes
    load: Callable[[], Image.Image]  # the original frame
    provenance: dict = field(default_factory=dict)  # extra columns of regions.csv


@dataclass
class BrodenSummary:
    images: int
    labels: dict[str, int]  # action -> label number
    frequency: dict[str, int]
    coverage: dict[str, float]


def box_mask(boxes: list[Box], *, width: int, height: int, sw: int, sh: int) -> np.ndarray:
    """(sh, sw) bool: the segmentation pixels whose centre lies in one of the boxes (a box too
    small to hold a pixel centre still marks the pixel under its own centre)."""
    xs = (np.arange(sw) + 0.5) * width / sw
    ys = (np.arange(sh) + 0.5) * height / sh
    mask = np.zeros((sh, sw), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        cols = (xs >= x0) & (xs < x1)
        rows = (ys >= y0) & (ys < y1)
        if not cols.any() or not rows.any():
            cx = min(sw - 1, int((x0 + x1) / 2 * sw / width))
            cy = min(sh - 1, int((y0 + y1) / 2 * sh / height))
            mask[cy, cx] = True
            continue
        mask[np.ix_(rows, cols)] = True
    return mask


def layer_masks(masks: dict[int, np.ndarray]) -> list[np.ndarray]:
    """Pack per-label masks into as few label layers as possible: a label joins the first layer
    it does not overlap, largest label first (Broden lists the dominant layer first)."""
    layers: list[np.ndarray] = []
    for label, mask in sorted(masks.items(), key=lambda kv: (-int(kv[1].sum()), kv[0])):
        for layer in layers:
            if not (layer[mask] != 0).any():
                layer[mask] = label
                break
        else:
            layer = np.zeros(mask.shape, dtype=np.int32)
            layer[mask] = label
            layers.append(layer)
    return layers


def encode_rg(layer: np.ndarray) -> Image.Image:
    rgb = np.zeros(layer.shape + (3,), dtype=np.uint8)
    rgb[..., 0] = layer % 256
    rgb[..., 1] = layer // 256
    return Image.fromarray(rgb)


def _write_csv(path: Path, fields: list[str], rows: Iterable[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_broden(
    out_dir: Path, items: list[BrodenItem], *, source: str, size: int = 224, seg_size: int | None = None,
    label_offset: int = 0, synonyms: dict[str, list[str]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BrodenSummary:
    """Write `items` as a Broden directory (replacing `images/<source>` and the CSV files)."""
    out = Path(out_dir)
    sh = sw = seg_size or size // 2  # broden1_224: 224 px images, 112 px segmentations
    synonyms = synonyms or {}
    # Phase 1: statistics first, because label numbers are ordered by frequency (as joinseg does)
    masks = []
    frequency: dict[str, int] = {}
    coverage: dict[str, float] = {}
    for item in items:
        per_action = {a: box_mask(b, width=item.width, height=item.height, sw=sw, sh=sh)
                      for a, b in item.regions.items() if b}
        masks.append(per_action)
        for action, mask in per_action.items():
            frequency[action] = frequency.get(action, 0) + 1
            coverage[action] = coverage.get(action, 0.0) + float(mask.mean())
    names = sorted(frequency, key=lambda a: (-frequency[a], -coverage[a], a))
    number = {a: label_offset + i + 1 for i, a in enumerate(names)}

    # Phase 2: label, category and dense-code files
    _write_csv(out / "label.csv", ["number", "name", "category", "frequency", "coverage", "syns"], (
        {"number": number[a], "name": a, "category": f"{CATEGORY}({frequency[a]})", "frequency": frequency[a],
         "coverage": f"{coverage[a]:f}", "syns": ";".join(s for s in synonyms.get(a, []) if s and s != a)}
        for a in names))
    _write_csv(out / "category.csv", ["name", "first", "last", "count", "frequency"], [
        {"name": CATEGORY, "first": number[names[0]], "last": number[names[-1]], "count": len(names),
         "frequency": sum(frequency.values())}] if names else [])
    _write_csv(out / f"c_{CATEGORY}.csv", ["code", "number", "name", "frequency", "coverage"], (
        {"code": i + 1, "number": number[a], "name": a, "frequency": frequency[a], "coverage": f"{coverage[a]:f}"}
        for i, a in enumerate(names)))

    # Phase 3: resized images, masks and the index
    folder = out / "images" / source
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    index, provenance = [], []
    for n, (item, per_action) in enumerate(zip(items, masks), start=1):
        if not per_action:
            continue
        resized = item.load().convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        resized.save(folder / f"{item.stem}.jpg", quality=95)
        layers = layer_masks({number[a]: m for a, m in per_action.items()})
        files = []
        for k, layer in enumerate(layers, start=1):
            name = f"{item.stem}_{CATEGORY}.png" if len(layers) == 1 else f"{item.stem}_{CATEGORY}_{k}.png"
            encode_rg(layer).save(folder / name)
            files.append(f"{source}/{name}")
        image = f"{source}/{item.stem}.jpg"
        index.append({"image": image, "split": BRODEN_SPLITS.get(item.split, "train"), "ih": size, "iw": size,
                      "sh": sh, "sw": sw, CATEGORY: ";".join(files)})
        for action, boxes in sorted(item.regions.items()):
            for box in boxes:
                provenance.append({"image": image, "action": action, "label": number.get(action, ""),
                                   "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3],
                                   "width": item.width, "height": item.height, "split": item.split,
                                   **item.provenance})
        if progress:
            progress(n, len(items))
    index.sort(key=lambda r: r["image"])
    _write_csv(out / "index.csv", META_COLUMNS + [CATEGORY], index)
    extra = sorted({k for row in provenance for k in row} - {"image", "action", "label", "x0", "y0", "x1", "y1",
                                                             "width", "height", "split"})
    _write_csv(out / "regions.csv", ["image", "action", "label", "x0", "y0", "x1", "y1", "width", "height", "split",
                                     *extra], provenance)
    (out / "README.txt").write_text(README)
    return BrodenSummary(images=len(index), labels=number, frequency=frequency, coverage=coverage)


def _read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def max_label_number(broden_dir: Path) -> int:
    path = Path(broden_dir) / "label.csv"
    if not path.exists():
        raise FileNotFoundError(MERGE_NOT_BRODEN.format(path=broden_dir, name="label.csv"))
    _, rows = _read_csv(path)
    return max((int(r["number"]) for r in rows), default=0)


def merge_broden(broden_dir: Path, actions_dir: Path, out_dir: Path) -> dict:
    """A new directory that is Broden plus the action category: merged CSV files, and `images/`
    made of links to both directories' image folders (nothing is copied or modified).

    The action labels must already be numbered after Broden's (export with `label_offset` set to
    `max_label_number(broden_dir)`). Raises ValueError on any clash.
    """
    broden, ours, out = Path(broden_dir), Path(actions_dir), Path(out_dir)
    for name in ("index.csv", "category.csv", "label.csv"):
        if not (broden / name).exists():
            raise ValueError(MERGE_NOT_BRODEN.format(path=broden, name=name))
    b_fields, b_index = _read_csv(broden / "index.csv")
    o_fields, o_index = _read_csv(ours / "index.csv")
    c_fields, b_cats = _read_csv(broden / "category.csv")
    _, o_cats = _read_csv(ours / "category.csv")
    l_fields, b_labels = _read_csv(broden / "label.csv")
    _, o_labels = _read_csv(ours / "label.csv")
    top = max((int(r["number"]) for r in b_labels), default=0)
    first = min((int(r["number"]) for r in o_labels), default=top + 1)
    if first <= top:
        raise ValueError(MERGE_LABEL_CLASH.format(broden=top, ours=first))
    for cat in o_cats:
        if any(c["name"] == cat["name"] for c in b_cats):
            raise ValueError(MERGE_CATEGORY_CLASH.format(name=cat["name"]))
    out.mkdir(parents=True, exist_ok=True)
    fields = b_fields + [f for f in o_fields if f not in b_fields]
    _write_csv(out / "index.csv", fields, ({f: row.get(f, "") or "" for f in fields} for row in b_index + o_index))
    _write_csv(out / "category.csv", c_fields, b_cats + [{f: c.get(f, "") for f in c_fields} for c in o_cats])
    _write_csv(out / "label.csv", l_fields, b_labels + [{f: r.get(f, "") for f in l_fields} for r in o_labels])
    for folder in (broden, ours):
        for c_file in folder.glob("c_*.csv"):
            shutil.copyfile(c_file, out / c_file.name)
    images = out / "images"
    images.mkdir(exist_ok=True)
    for folder in (broden / "images", ours / "images"):
        for entry in sorted(folder.iterdir()) if folder.exists() else []:
            link = images / entry.name
            if link.exists() or link.is_symlink():
                if link.is_symlink() and os.path.realpath(link) == os.path.realpath(entry):
                    continue
                raise ValueError(MERGE_IMAGES_CLASH.format(name=entry.name))
            link.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return {"images": len(b_index) + len(o_index), "labels": len(b_labels) + len(o_labels),
            "categories": [c["name"] for c in b_cats + o_cats]}
