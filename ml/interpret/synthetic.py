"""Tiny Broden-format datasets with planted concepts (tests, benchmarks, smoke runs).

``write_planted_broden(kind="broden")`` writes an ``object`` category (pixel
masks) and a ``scene`` category (image-level labels); ``kind="actions"`` writes
an ``action`` category laid out like the Action Regions export of
``backend/regions`` (overlapping regions in separate mask layers). Every
concept has a colour cue a hand-built network can detect:

==========  ========  =================================================
concept     category  cue
==========  ========  =================================================
red_box     object    a red rectangle in the left half
green_box   object    a green rectangle in the right half (every other image)
marked      scene     the top-left pixel is white (every third image)
plain       scene     the other images
waving      action    a blue rectangle
idle        action    a rectangle overlapping ``waving`` (no colour cue; second layer)
==========  ========  =================================================

Action images also carry an unlabelled red rectangle half of the time: their
rows have no ``object`` annotation, which exercises NetDissect's rule that a
unit's IoU with a concept counts only images annotated with its category.

The returned ``PlantedBroden`` holds the true masks, so tests compute the
expected IoUs independently of the reader.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

__all__ = ["PlantedBroden", "write_planted_broden"]

COLOURS = {"red_box": (255, 0, 0), "green_box": (0, 255, 0), "waving": (0, 0, 255)}


@dataclass(frozen=True)
class PlantedBroden:
    """What was written.

    Attributes:
        root: the directory.
        names: concept name -> label number as written.
        categories: concept name -> category.
        masks: concept name -> ``(N, S, S)`` bool true masks (image-level concepts: whole images).
        annotated: category -> ``(N,)`` bool, images whose row annotates the category.
        cues: cue name -> ``(N, S, S)`` bool pixels showing it (``red``, ``green``, ``blue``, ``marker``).
    """

    root: Path
    names: dict[str, int]
    categories: dict[str, str]
    masks: dict[str, np.ndarray]
    annotated: dict[str, np.ndarray]
    cues: dict[str, np.ndarray]


def _rect(rng: np.random.Generator, size: int, x_lo: int, x_hi: int) -> tuple[int, int, int, int]:
    w = int(rng.integers(size // 6, size // 3 + 1))
    h = int(rng.integers(size // 6, size // 3 + 1))
    x0 = int(rng.integers(x_lo, max(x_lo + 1, x_hi - w)))
    y0 = int(rng.integers(1, size - h))  # row 0 holds the scene marker
    return y0, x0, y0 + h, x0 + w


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _encode(numbers: np.ndarray) -> Image.Image:
    rgb = np.zeros((*numbers.shape, 3), dtype=np.uint8)
    rgb[..., 0] = numbers % 256
    rgb[..., 1] = numbers // 256
    return Image.fromarray(rgb)


def write_planted_broden(
    out_dir: Path | str,
    *,
    kind: Literal["broden", "actions"] = "broden",
    images: int = 12,
    size: int = 32,
    label_offset: int = 0,
    seed: int = 0,
) -> PlantedBroden:
    """Write a planted Broden-format directory (see the module docstring).

    Args:
        out_dir: the directory to create.
        kind: ``"broden"`` (object + scene) or ``"actions"`` (action).
        images: number of images.
        size: image and segmentation side (``ih = iw = sh = sw``).
        label_offset: added to every label number (e.g. to number actions
            after Broden's, or past 255 to use the green channel).
        seed: randomness of the rectangles.

    Returns:
        The truth.
    """
    root = Path(out_dir)
    folder = root / "images" / kind
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if kind == "broden":
        concepts = {"red_box": "object", "green_box": "object", "marked": "scene", "plain": "scene"}
    else:
        concepts = {"waving": "action", "idle": "action"}
    names = {name: label_offset + i for i, name in enumerate(concepts, start=1)}
    masks = {name: np.zeros((images, size, size), dtype=bool) for name in concepts}
    cues = {cue: np.zeros((images, size, size), dtype=bool) for cue in ("red", "green", "blue", "marker")}
    category_list = sorted(set(concepts.values()), key=list(concepts.values()).index)
    annotated = {c: np.zeros(images, dtype=bool) for c in category_list}
    index_rows = []
    for n in range(images):
        stem = f"{kind}_{n:04d}"
        pixels = np.zeros((size, size, 3), dtype=np.uint8)
        row = {"image": f"{kind}/{stem}.png", "split": "train" if n % 4 else "val", "ih": size, "iw": size,
               "sh": size, "sw": size}
        if kind == "broden":
            y0, x0, y1, x1 = _rect(rng, size, 0, size // 2)
            masks["red_box"][n, y0:y1, x0:x1] = True
            if n % 2 == 0:
                y0, x0, y1, x1 = _rect(rng, size, size // 2, size)
                masks["green_box"][n, y0:y1, x0:x1] = True
            scene = "marked" if n % 3 == 0 else "plain"
            masks[scene][n] = True
            cues["marker"][n, 0, 0] = scene == "marked"
            layer = np.zeros((size, size), dtype=np.int64)
            for name in ("red_box", "green_box"):
                layer[masks[name][n]] = names[name]
            _encode(layer).save(folder / f"{stem}_object.png")
            row["object"] = f"{kind}/{stem}_object.png"
            row["scene"] = str(names[scene])
            annotated["object"][n] = annotated["scene"][n] = True
        else:
            y0, x0, y1, x1 = _rect(rng, size, 0, size)
            masks["waving"][n, y0:y1, x0:x1] = True
            h, w = y1 - y0, x1 - x0
            masks["idle"][n, y0 + h // 2 : min(size, y1 + h // 2), x0 + w // 2 : min(size, x1 + w // 2)] = True
            if n % 2 == 1:  # an unlabelled red rectangle: no object annotation in this row
                ry0, rx0, ry1, rx1 = _rect(rng, size, 0, size)
                cues["red"][n, ry0:ry1, rx0:rx1] = True
            files = []
            for k, name in enumerate(("waving", "idle"), start=1):
                layer = np.where(masks[name][n], names[name], 0)
                _encode(layer).save(folder / f"{stem}_action_{k}.png")
                files.append(f"{kind}/{stem}_action_{k}.png")
            row["action"] = ";".join(files)
            annotated["action"][n] = True
        cues["red"][n] |= masks["red_box"][n] if "red_box" in masks else False
        cues["green"][n] = masks["green_box"][n] if "green_box" in masks else False
        cues["blue"][n] = masks["waving"][n] if "waving" in masks else False
        cues["red"][n] &= ~cues["blue"][n]  # blue is painted last: the cues are what the image shows
        pixels[cues["red"][n]] = COLOURS["red_box"]
        pixels[cues["green"][n]] = COLOURS["green_box"]
        pixels[cues["blue"][n]] = COLOURS["waving"]
        pixels[cues["marker"][n]] = (255, 255, 255)
        Image.fromarray(pixels).save(folder / f"{stem}.png")  # lossless: the cues stay exact
        index_rows.append(row)
    columns = ["image", "split", "ih", "iw", "sh", "sw", *category_list]
    _write_csv(root / "index.csv", columns, [[r.get(c, "") for c in columns] for r in index_rows])
    frequency = {name: int(masks[name].any(axis=(1, 2)).sum()) for name in concepts}
    coverage = {name: float(masks[name].mean(axis=(1, 2)).sum()) for name in concepts}
    _write_csv(root / "label.csv", ["number", "name", "category", "frequency", "coverage", "syns"],
               [[names[c], c, f"{concepts[c]}({frequency[c]})", frequency[c], f"{coverage[c]:f}", ""]
                for c in concepts])
    category_rows = []
    for category in category_list:
        members = [c for c in concepts if concepts[c] == category]
        category_rows.append([category, names[members[0]], names[members[-1]], len(members),
                              sum(frequency[c] for c in members)])
        _write_csv(root / f"c_{category}.csv", ["code", "number", "name", "frequency", "coverage"],
                   [[i, names[c], c, frequency[c], f"{coverage[c]:f}"] for i, c in enumerate(members, start=1)])
    _write_csv(root / "category.csv", ["name", "first", "last", "count", "frequency"], category_rows)
    return PlantedBroden(root=root, names=names, categories=dict(concepts), masks=masks, annotated=annotated,
                         cues=cues)
