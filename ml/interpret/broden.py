"""Reading Broden-format datasets (Network Dissection's layout), and merging them.

The layout (Bau et al. 2017; NetDissect ``src/joinseg.py``, read by
NetDissect-Lite ``loader/data_loader.py``), which the Action Regions export of
``backend/regions`` also writes::

    DIR/index.csv       image,split,ih,iw,sh,sw,<category>,<category>,...
    DIR/category.csv    name,first,last,count,frequency
    DIR/label.csv       number,name,category,frequency,coverage,syns
    DIR/c_<category>.csv  code,number,name,frequency,coverage
    DIR/images/...      the images and the PNG masks

* ``index.csv``: ``image`` is a path under ``images/``; ``split`` is ``train``
  or ``val``; ``ih, iw`` the image size and ``sh, sw`` the segmentation size
  (224 and 112 in ``broden1_224``). Each category column holds ``;``-separated
  entries: a mask file under ``images/`` (pixel-level labels: object, part,
  material, color, action) or an integer label number that applies to the whole
  image (image-level labels: scene, texture). Several mask files in one column
  are several layers (overlapping parts, overlapping action regions).
* Masks are RGB PNGs whose pixel holds the label number ``R + 256 * G``
  (0 = unlabelled). Single-channel (``L``/``I``) masks are read as the number itself.
  A mask whose size is not ``sh x sw`` is resized to it (nearest neighbour).
* ``label.csv``: one row per global label ``number`` (0 is reserved); its
  ``category`` field lists the categories the label occurs in, as
  ``object(1234);part(56)``. ``c_<category>.csv`` gives each label's dense code
  within the category and its ``coverage`` there.
* Every label has one **primary category** (NetDissect's
  ``primary_categories_per_index``): of the loaded categories listing it, the
  one where its ``coverage`` (from ``c_<category>.csv``, else the counts of
  ``label.csv``) is largest, the later category of ``category.csv`` on a tie.
  A unit's IoU with a label counts the unit's pixels only in images annotated
  with the label's primary category (see ``ml.interpret.netdissect``).

**Merging** (Table 5: Broden + Action Regions). ``merge_broden`` joins
datasets in memory: the first keeps its label numbers; the labels of each
further dataset get new numbers after the largest so far, in the order of their
old numbers, and its masks and image-level labels are translated when read
(``Broden.remaps``). Both exports of ``backend/regions`` merge: labels numbered
from 1, or already after Broden's (``label_offset``). A category present in
two datasets is an error (their labels would be counted twice).

Pure numpy and Pillow.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "META_COLUMNS",
    "Broden",
    "BrodenError",
    "BrodenImage",
    "BrodenLabel",
    "Segmentation",
    "load_broden",
    "merge_broden",
    "read_broden",
]

META_COLUMNS = ("image", "split", "ih", "iw", "sh", "sw")

ERR_NO_DIRECTORY = "{root} is not a directory"
ERR_MISSING_FILE = "{root} is not a Broden directory: {name} is missing"
ERR_HEADER = "{file}: the header must include {expected}; found {found}"
ERR_VALUE = "{file}, line {line}: bad {column} {value!r}"
ERR_UNKNOWN_CATEGORIES = "{root}: unknown categories {names}; the dataset has {choices}"
ERR_CATEGORY_CLASH = "cannot merge: category {name!r} is in both {first} and {second}"
ERR_NOTHING = "no datasets to merge"

_CATEGORY_FIELD = re.compile(r"^\s*([^(]*?)\s*\(\s*([0-9]*)\s*\)\s*$")


class BrodenError(ValueError):
    """A malformed Broden directory."""


@dataclass(frozen=True)
class BrodenLabel:
    """One concept.

    Attributes:
        number: the (merged) label number, the index into ``Broden.labels``.
        name: the concept's name (``""`` for unused numbers).
        category: its primary category among the loaded ones (``""``: none, never a unit's label).
        categories: every loaded category it occurs in.
        frequency: images with the label (``label.csv``).
        coverage: summed pixel fraction (``label.csv``).
        source: index of the dataset it comes from.
    """

    number: int
    name: str
    category: str
    categories: tuple[str, ...] = ()
    frequency: int = 0
    coverage: float = 0.0
    source: int = 0


@dataclass(frozen=True)
class BrodenImage:
    """One row of ``index.csv``.

    Attributes:
        index: position in ``Broden.images``.
        path: the image file.
        split: ``train`` or ``val``.
        ih, iw: image size; sh, sw: segmentation size.
        source: index of the dataset it comes from.
        masks: ``(category, mask files)`` of its pixel-level categories.
        scalars: ``(category, label numbers)`` of its image-level categories, as
            written in the file (``Broden.remaps[source]`` translates them).
    """

    index: int
    path: Path
    split: str
    ih: int
    iw: int
    sh: int
    sw: int
    source: int
    masks: tuple[tuple[str, tuple[Path, ...]], ...] = ()
    scalars: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def annotated(self) -> tuple[str, ...]:
        """The categories this image has annotations for."""
        return tuple(sorted({c for c, _ in self.masks} | {c for c, _ in self.scalars}))


@dataclass(frozen=True)
class Segmentation:
    """The labels of one image, at its segmentation size ``(sh, sw)``.

    Attributes:
        labels: ``(n,)`` int64 pixel-level label numbers present, ascending.
        masks: ``(n, sh, sw)`` bool, the pixels of each of ``labels`` (any layer).
        scalars: ``(s,)`` int64 image-level label numbers (they cover the whole image).
        categories: ``(c,)`` int64 indices into ``Broden.categories`` annotated in the image.
    """

    labels: np.ndarray
    masks: np.ndarray
    scalars: np.ndarray
    categories: np.ndarray


@dataclass(frozen=True)
class Broden:
    """One Broden directory, or several merged.

    Attributes:
        sources: a name per dataset (its directory name unless given).
        roots: the directories.
        categories: the loaded categories, in ``category.csv`` order (datasets in turn).
        labels: ``labels[n]`` is label number ``n``; ``labels[0]`` is the unlabelled placeholder.
        images: the images with at least one annotation in a loaded category.
        remaps: per source, ``(max file number + 1,)`` int64: label number in the
            source's files -> label number here (0 for numbers ``label.csv`` lacks).
    """

    sources: tuple[str, ...]
    roots: tuple[Path, ...]
    categories: tuple[str, ...]
    labels: tuple[BrodenLabel, ...]
    images: tuple[BrodenImage, ...]
    remaps: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_labels(self) -> int:
        """``L``: label numbers ``0 .. L-1``."""
        return len(self.labels)

    def label_categories(self) -> np.ndarray:
        """``(L,)`` int64 index of every label's primary category in ``categories``, -1 for none."""
        index = {name: i for i, name in enumerate(self.categories)}
        return np.array([index.get(label.category, -1) for label in self.labels], dtype=np.int64)

    def select(self, images: Iterable[BrodenImage]) -> Broden:
        """The same dataset restricted to ``images`` (re-indexed in the given order)."""
        chosen = tuple(replace(image, index=i) for i, image in enumerate(images))
        return replace(self, images=chosen)

    def read_image(self, image: BrodenImage, *, size: tuple[int, int] | None = None) -> np.ndarray:
        """The image as ``(H, W, 3)`` uint8 RGB, resized (bilinear) to ``size = (H, W)`` when given."""
        with Image.open(image.path) as handle:
            rgb = handle.convert("RGB")
            if size is not None and (rgb.height, rgb.width) != tuple(size):
                rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(rgb).copy()

    def segmentation(self, image: BrodenImage) -> Segmentation:
        """Decode the masks and image-level labels of ``image``.

        Raises:
            OSError: when a mask file cannot be read.
        """
        remap = self.remaps[image.source]
        layers = [self._layer(path, remap, image.sh, image.sw) for _, files in image.masks for path in files]
        if layers:
            stack = np.stack(layers)
            labels = np.unique(stack)
            labels = labels[labels > 0]
            masks = (stack[None] == labels[:, None, None, None]).any(axis=1)
        else:
            labels = np.zeros(0, dtype=np.int64)
            masks = np.zeros((0, image.sh, image.sw), dtype=bool)
        numbers = {int(remap[n]) for _, entries in image.scalars for n in entries if n < len(remap)}
        scalars = np.array(sorted(n for n in numbers if n > 0), dtype=np.int64)
        index = {name: i for i, name in enumerate(self.categories)}
        categories = np.array([index[c] for c in image.annotated], dtype=np.int64)
        return Segmentation(labels=labels.astype(np.int64), masks=masks, scalars=scalars, categories=categories)

    @staticmethod
    def _layer(path: Path, remap: np.ndarray, sh: int, sw: int) -> np.ndarray:
        with Image.open(path) as handle:
            if handle.mode in ("L", "I", "I;16"):
                numbers = np.asarray(handle).astype(np.int64)
                size_ok = numbers.shape == (sh, sw)
                if not size_ok:
                    numbers = np.asarray(handle.resize((sw, sh), Image.Resampling.NEAREST)).astype(np.int64)
            else:
                rgb = handle.convert("RGB")
                if (rgb.height, rgb.width) != (sh, sw):
                    rgb = rgb.resize((sw, sh), Image.Resampling.NEAREST)
                array = np.asarray(rgb)
                numbers = array[..., 0].astype(np.int64) + 256 * array[..., 1].astype(np.int64)
        inside = numbers < len(remap)
        return np.where(inside, remap[np.where(inside, numbers, 0)], 0)


def _read_csv(path: Path, *, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        found = [name.strip() for name in reader.fieldnames or []]
        if any(name not in found for name in required):
            raise BrodenError(ERR_HEADER.format(file=path, expected=list(required), found=found))
        reader.fieldnames = found
        return [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None})
                for row in reader]


def _int(value: str, *, file: Path, line: int, column: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BrodenError(ERR_VALUE.format(file=file, line=line, column=column, value=value)) from None


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def _category_field(value: str) -> dict[str, float]:
    """``"object(12);part(3)"`` -> ``{"object": 12, "part": 3}`` (a bare name counts 0)."""
    out: dict[str, float] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        match = _CATEGORY_FIELD.match(part)
        if match:
            out[match.group(1)] = float(match.group(2) or 0)
        else:
            out[part.strip()] = 0.0
    return out


def read_broden(
    root: Path | str,
    *,
    name: str | None = None,
    categories: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
) -> Broden:
    """Read one Broden directory.

    Args:
        root: the directory.
        name: the dataset's name (default: the directory name).
        categories: load only these categories (default: all of ``category.csv``).
        splits: keep only images of these splits (default: all).

    Returns:
        The dataset; images without annotations in the loaded categories are left out.

    Raises:
        BrodenError: a missing file, a bad header or number, an unknown category.
    """
    root = Path(root)
    if not root.is_dir():
        raise BrodenError(ERR_NO_DIRECTORY.format(root=root))
    for required in ("index.csv", "category.csv", "label.csv"):
        if not (root / required).is_file():
            raise BrodenError(ERR_MISSING_FILE.format(root=root, name=required))
    all_categories = [row["name"] for _, row in _read_csv(root / "category.csv", required=("name",))
                      if row["name"]]
    if categories is not None:
        unknown = [c for c in categories if c not in all_categories]
        if unknown:
            raise BrodenError(ERR_UNKNOWN_CATEGORIES.format(root=root, names=unknown, choices=all_categories))
    kept = [c for c in all_categories if categories is None or c in categories]

    label_file = root / "label.csv"
    rows = _read_csv(label_file, required=("number", "name"))
    numbers: dict[int, dict[str, str]] = {}
    for line, row in rows:
        numbers[_int(row["number"], file=label_file, line=line, column="number")] = row
    # Coverage of each label per category: c_<category>.csv, else label.csv's counts.
    coverage: dict[int, dict[str, float]] = {n: {} for n in numbers}
    for category in kept:
        c_file = root / f"c_{category}.csv"
        if c_file.is_file():
            for line, row in _read_csv(c_file, required=("number",)):
                number = _int(row["number"], file=c_file, line=line, column="number")
                coverage.setdefault(number, {})[category] = _float(row.get("coverage", ""))
    for number, row in numbers.items():
        for category, count in _category_field(row.get("category", "")).items():
            if category in kept and category not in coverage[number]:
                coverage[number][category] = count
    top = max(numbers, default=0)
    labels = [BrodenLabel(number=0, name="-", category="")]
    for number in range(1, top + 1):
        row = numbers.get(number)
        if row is None:
            labels.append(BrodenLabel(number=number, name="", category=""))
            continue
        present = coverage.get(number, {})
        ordered = [c for c in kept if c in present]
        primary = max(ordered, key=lambda c: (present[c], kept.index(c))) if ordered else ""
        labels.append(BrodenLabel(number=number, name=row["name"], category=primary, categories=tuple(ordered),
                                  frequency=int(_float(row.get("frequency", ""))),
                                  coverage=_float(row.get("coverage", ""))))

    index_file = root / "index.csv"
    images: list[BrodenImage] = []
    for line, row in _read_csv(index_file, required=META_COLUMNS):
        if splits is not None and row["split"] not in splits:
            continue
        masks: list[tuple[str, tuple[Path, ...]]] = []
        scalars: list[tuple[str, tuple[int, ...]]] = []
        for category in kept:
            entries = [e.strip() for e in row.get(category, "").split(";") if e.strip()]
            files = tuple(root / "images" / e for e in entries if not e.isdigit())
            ints = tuple(int(e) for e in entries if e.isdigit())
            if files:
                masks.append((category, files))
            if ints:
                scalars.append((category, ints))
        if not masks and not scalars:
            continue
        sizes = {c: _int(row[c], file=index_file, line=line, column=c) for c in ("ih", "iw", "sh", "sw")}
        images.append(BrodenImage(index=len(images), path=root / "images" / row["image"], split=row["split"],
                                  source=0, masks=tuple(masks), scalars=tuple(scalars), **sizes))
    return Broden(sources=(name or root.name,), roots=(root,), categories=tuple(kept), labels=tuple(labels),
                  images=tuple(images), remaps=(np.arange(top + 1, dtype=np.int64),))


def merge_broden(datasets: Sequence[Broden]) -> Broden:
    """Join datasets, renumbering the labels of all but the first (see the module docstring).

    Raises:
        BrodenError: when two datasets share a category, or none is given.
    """
    if not datasets:
        raise BrodenError(ERR_NOTHING)
    merged = datasets[0]
    for other in datasets[1:]:
        for category in other.categories:
            if category in merged.categories:
                raise BrodenError(ERR_CATEGORY_CLASH.format(name=category, first=merged.sources,
                                                            second=other.sources))
        offset = merged.num_labels - 1
        used = [label for label in other.labels[1:] if label.name]
        new_number = np.zeros(other.num_labels, dtype=np.int64)
        for i, label in enumerate(used, start=1):
            new_number[label.number] = offset + i
        shift = len(merged.sources)
        labels = list(merged.labels) + [
            replace(label, number=offset + i, source=label.source + shift) for i, label in enumerate(used, start=1)
        ]
        images = list(merged.images) + [
            replace(image, index=len(merged.images) + i, source=image.source + shift)
            for i, image in enumerate(other.images)
        ]
        merged = Broden(sources=merged.sources + other.sources, roots=merged.roots + other.roots,
                        categories=merged.categories + other.categories, labels=tuple(labels),
                        images=tuple(images), remaps=merged.remaps + tuple(new_number[r] for r in other.remaps))
    return merged


def load_broden(
    roots: Sequence[Path | str],
    *,
    names: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
) -> Broden:
    """Read one or more Broden directories and merge them.

    Args:
        roots: the directories (Broden first, then e.g. the Action Regions export).
        names: a name per directory (default: the directory names).
        categories: categories to load; each directory loads those it has (all when ``None``).
        splits: splits to keep.

    Raises:
        BrodenError: see ``read_broden`` and ``merge_broden``; also when a listed
            category is in none of the directories.
    """
    names = list(names) if names is not None else [Path(r).name for r in roots]
    datasets = []
    for root, name in zip(roots, names, strict=True):
        available = _available_categories(Path(root))
        wanted = None if categories is None else [c for c in categories if c in available]
        datasets.append(read_broden(root, name=name, categories=wanted, splits=splits))
    if categories is not None:
        loaded = {c for d in datasets for c in d.categories}
        missing = [c for c in categories if c not in loaded]
        if missing:
            raise BrodenError(ERR_UNKNOWN_CATEGORIES.format(root=", ".join(map(str, roots)), names=missing,
                                                            choices=sorted(loaded)))
    return merge_broden(datasets)


def _available_categories(root: Path) -> list[str]:
    path = root / "category.csv"
    if not path.is_file():
        raise BrodenError(ERR_MISSING_FILE.format(root=root, name="category.csv"))
    return [row["name"] for _, row in _read_csv(path, required=("name",)) if row["name"]]
