"""Reading a dataset release directory written by the platform's exporter.

Layout (only ``vocabulary.csv`` is required)::

    RELEASE/
      vocabulary.csv    index,name,display_name   (index 0..C-1 = model output order)
      train.csv         path,labels,negatives     (';'-separated action names)
      val.csv           path,labels,negatives
      test.csv          path,labels,negatives
      manifest.json     {"dataset": ..., "media_root": ..., "files": {...}, ...}

A relative ``path`` is resolved against ``media_root`` from ``manifest.json``
(itself relative to the release directory when relative), else against the
release directory; a ``video_root`` given by the caller (``--video-root``)
overrides both. Files are not opened here: a missing or corrupt video is logged
and skipped by the data loader.

``labels`` are the video's verified positives, ``negatives`` its verified negatives
(actions the crowd answered No); every other action was never asked or stayed
undecided. ``negatives`` is optional: a release written before the column existed
reads as having no verified negatives.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SPLITS",
    "Release",
    "ReleaseError",
    "Video",
    "Vocabulary",
    "load_release",
    "read_video_list",
]

SPLITS = ("train", "val", "test")

ERR_NO_DIRECTORY = "release directory {root} does not exist"
ERR_NO_VOCABULARY = "release directory {root} has no vocabulary.csv"
ERR_EMPTY_VOCABULARY = "{file} lists no actions"
ERR_HEADER = "{file}: expected the columns {expected}; the header has {found}"
ERR_INDEX = "{file}, line {line}: index {index!r} is not an integer"
ERR_INDEX_ORDER = "{file}: indices must be 0..{last}, each once; found {found}"
ERR_DUPLICATE_ACTION = "{file}, line {line}: action {name!r} already on line {first}"
ERR_EMPTY_ACTION = "{file}, line {line}: empty action name"
ERR_UNKNOWN_ACTIONS = "{file}: {count} label(s) not in vocabulary.csv: {examples}"
ERR_POSITIVE_AND_NEGATIVE = "{file}: {count} action(s) both in labels and in negatives: {examples}"
ERR_EMPTY_PATH = "{file}, line {line}: empty path"
ERR_MANIFEST = "{file} is not a JSON object: {error}"
ERR_MISSING_SPLIT = "release {root} has no {split}.csv, or it lists no videos"
ERR_UNKNOWN_SPLIT = "unknown split {split!r}; choose from {choices}"
ERR_NO_VIDEOS = "{file} lists no videos"


class ReleaseError(ValueError):
    """A release directory or video list that cannot be read; the message names the problem."""


@dataclass(frozen=True)
class Vocabulary:
    """The action classes in model output order.

    Attributes:
        names: action identifiers (``vocabulary.csv`` ``name``), index = class index.
        display_names: human-readable names, same order.
    """

    names: tuple[str, ...]
    display_names: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {name: i for i, name in enumerate(self.names)})

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Class index of the action ``name`` (``KeyError`` if absent)."""
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def to_records(self) -> list[dict[str, str | int]]:
        """Rows of ``vocabulary.csv`` as dicts (stored in checkpoints)."""
        return [
            {"index": i, "name": n, "display_name": d}
            for i, (n, d) in enumerate(zip(self.names, self.display_names, strict=True))
        ]

    @classmethod
    def from_records(cls, records: Iterable[dict[str, str | int]]) -> Vocabulary:
        """Inverse of ``to_records``."""
        rows = sorted(records, key=lambda r: int(r["index"]))
        return cls(tuple(str(r["name"]) for r in rows), tuple(str(r["display_name"]) for r in rows))

    @classmethod
    def from_csv(cls, path: Path) -> Vocabulary:
        """Read ``vocabulary.csv`` (header ``index,name,display_name``).

        Raises:
            ReleaseError: on a bad header, bad or missing indices, or duplicate names.
        """
        rows = _read_csv(path, required=("index", "name", "display_name"))
        if not rows:
            raise ReleaseError(ERR_EMPTY_VOCABULARY.format(file=path))
        seen: dict[str, int] = {}
        parsed: list[tuple[int, str, str]] = []
        for line, row in rows:
            try:
                index = int(row["index"])
            except ValueError:
                raise ReleaseError(ERR_INDEX.format(file=path, line=line, index=row["index"])) from None
            name = row["name"].strip()
            if not name:
                raise ReleaseError(ERR_EMPTY_ACTION.format(file=path, line=line))
            if name in seen:
                raise ReleaseError(
                    ERR_DUPLICATE_ACTION.format(file=path, line=line, name=name, first=seen[name])
                )
            seen[name] = line
            parsed.append((index, name, (row["display_name"] or name).strip()))
        parsed.sort()
        indices = [p[0] for p in parsed]
        if indices != list(range(len(parsed))):
            raise ReleaseError(
                ERR_INDEX_ORDER.format(file=path, last=len(parsed) - 1, found=_summary(indices))
            )
        return cls(tuple(p[1] for p in parsed), tuple(p[2] for p in parsed))


@dataclass(frozen=True)
class Video:
    """One row of a split file.

    Attributes:
        path: the path exactly as written in the CSV (the key of predictions).
        file: the resolved location of the video file.
        labels: sorted class indices of the positive actions (may be empty).
        negatives: sorted class indices of the verified negative actions (may be empty).
    """

    path: str
    file: Path
    labels: tuple[int, ...] = ()
    negatives: tuple[int, ...] = ()


@dataclass(frozen=True)
class Release:
    """A parsed release directory.

    Attributes:
        root: the release directory.
        vocabulary: its classes.
        splits: split name -> videos, for the split files present and non-empty.
        media_root: the directory relative paths were resolved against.
        manifest: the parsed ``manifest.json`` (empty when absent).
    """

    root: Path
    vocabulary: Vocabulary
    splits: dict[str, tuple[Video, ...]]
    media_root: Path
    manifest: dict

    def split(self, name: str) -> tuple[Video, ...]:
        """Videos of split ``name``.

        Raises:
            ReleaseError: when the split is unknown, absent or empty.
        """
        if name not in SPLITS:
            raise ReleaseError(ERR_UNKNOWN_SPLIT.format(split=name, choices=list(SPLITS)))
        if name not in self.splits:
            raise ReleaseError(ERR_MISSING_SPLIT.format(root=self.root, split=name))
        return self.splits[name]


def _summary(values: Sequence[object], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _read_csv(path: Path, *, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file as ``(line number, row)``, after checking the header."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:  # an empty file: no header, no rows
            return []
        found = [name.strip() for name in reader.fieldnames or []]
        if any(name not in found for name in required):
            raise ReleaseError(ERR_HEADER.format(file=path, expected=list(required), found=found))
        reader.fieldnames = found
        return [
            (reader.line_num, {k: (v or "") for k, v in row.items() if k is not None})
            for row in reader
            if any((v or "").strip() for v in row.values() if isinstance(v, str))
        ]


def _resolve(path: str, base: Path) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else base / candidate


def read_video_list(
    csv_path: Path | str, *, base: Path | str, vocabulary: Vocabulary | None = None
) -> tuple[Video, ...]:
    """Read a ``path[,labels[,negatives]]`` CSV: a release split or a plain list of videos.

    Args:
        csv_path: the CSV file; it needs a ``path`` column, and a ``labels``
            column when ``vocabulary`` is given (``negatives`` is optional).
        base: directory that relative paths are resolved against.
        vocabulary: when given, ``labels`` and ``negatives`` are parsed against it.

    Returns:
        The videos, in file order.

    Raises:
        ReleaseError: on a bad header, an empty path, action names missing from
            the vocabulary or actions both positive and negative for a video (all
            of them listed with their lines).
    """
    csv_path, base = Path(csv_path), Path(base)
    required = ("path", "labels") if vocabulary is not None else ("path",)
    videos: list[Video] = []
    unknown: list[str] = []
    contradictions: list[str] = []

    def parse(cell: str, line: int) -> set[int]:
        indices: set[int] = set()
        for name in (part.strip() for part in cell.split(";")):
            if not name:
                continue
            if name in vocabulary:
                indices.add(vocabulary.index(name))
            else:
                unknown.append(f"{name!r} (line {line})")
        return indices

    for line, row in _read_csv(csv_path, required=required):
        path = row["path"].strip()
        if not path:
            raise ReleaseError(ERR_EMPTY_PATH.format(file=csv_path, line=line))
        labels: set[int] = set()
        negatives: set[int] = set()
        if vocabulary is not None:
            labels = parse(row["labels"], line)
            negatives = parse(row.get("negatives", ""), line)
            contradictions += [f"{vocabulary.names[i]!r} (line {line})" for i in sorted(labels & negatives)]
        videos.append(Video(path=path, file=_resolve(path, base), labels=tuple(sorted(labels)),
                            negatives=tuple(sorted(negatives))))
    if unknown:
        raise ReleaseError(
            ERR_UNKNOWN_ACTIONS.format(file=csv_path, count=len(unknown), examples=_summary(unknown))
        )
    if contradictions:
        raise ReleaseError(ERR_POSITIVE_AND_NEGATIVE.format(
            file=csv_path, count=len(contradictions), examples=_summary(contradictions)))
    return tuple(videos)


def load_release(root: Path | str, *, video_root: Path | str | None = None) -> Release:
    """Parse a release directory.

    Args:
        root: the release directory.
        video_root: directory for relative video paths, overriding the
            manifest's ``media_root`` and the release directory.

    Returns:
        The release with every split file that exists and lists videos.

    Raises:
        ReleaseError: naming the missing file, bad header, bad index or unknown action.
    """
    root = Path(root)
    if not root.is_dir():
        raise ReleaseError(ERR_NO_DIRECTORY.format(root=root))
    vocabulary_file = root / "vocabulary.csv"
    if not vocabulary_file.is_file():
        raise ReleaseError(ERR_NO_VOCABULARY.format(root=root))
    vocabulary = Vocabulary.from_csv(vocabulary_file)
    manifest: dict = {}
    manifest_file = root / "manifest.json"
    if manifest_file.is_file():
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ReleaseError(ERR_MANIFEST.format(file=manifest_file, error=error)) from None
        if not isinstance(manifest, dict):
            raise ReleaseError(ERR_MANIFEST.format(file=manifest_file, error="not an object"))
    if video_root is not None:
        media_root = Path(video_root)
    elif manifest.get("media_root"):
        media_root = _resolve(str(manifest["media_root"]), root)
    else:
        media_root = root
    splits: dict[str, tuple[Video, ...]] = {}
    for name in SPLITS:
        split_file = root / f"{name}.csv"
        if split_file.is_file():
            videos = read_video_list(split_file, base=media_root, vocabulary=vocabulary)
            if videos:
                splits[name] = videos
    return Release(root=root, vocabulary=vocabulary, splits=splits, media_root=media_root, manifest=manifest)
