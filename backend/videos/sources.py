"""Where videos are imported from: a folder, a CSV manifest, or an S3 prefix.

Each source is validated completely before anything is written (``scan``), so a bad manifest
changes nothing. A manifest is read as a stream, row by row (``iter_items``), never whole: a
million-row manifest is checked, and imported chunk by chunk, in constant memory (8 bytes a row
for the duplicate check).
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import tempfile
from abc import ABC, abstractmethod
from array import array
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator
from urllib.parse import urlparse

import numpy as np
from django.conf import settings

from backend.common.errors import DomainError
from backend.videos.models import Split

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg"}
MANIFEST_COLUMNS = ("path", "split", "labels")

SOURCE_NOT_FOUND = "Import source {source} does not exist."
SOURCE_OUTSIDE_ROOTS = "{path} is outside the allowed import roots ({roots})."
PATH_HAS_NUL = "{path!r} is not a valid path: it holds a NUL character."
SOURCE_NO_VIDEOS = "Import source {source} holds no video files ({exts})."
INVALID_SPLIT = "Unknown split {split!r}: expected one of train, val, test."
MANIFEST_MISSING_COLUMNS = "Manifest {path} is missing column(s) {missing}; expected the header path,split,labels."
MANIFEST_BAD_ROW = "Manifest {path} line {line}: {problem}."
MANIFEST_UNREADABLE = "Manifest {path} cannot be read as UTF-8 CSV: {error}."
S3_BAD_URI = "Invalid S3 URI {uri!r}: expected s3://bucket/prefix."
S3_PREFIX_EMPTY = "S3 prefix {uri} does not exist or holds no video files."
S3_ERROR = "S3 error listing {uri}: {error}."


@dataclass(frozen=True)
class ImportItem:
    source: str  # identity of the file: an absolute path or an s3:// URI
    name: str  # the file's name, which truth files use
    split: str
    labels: tuple[str, ...] = ()
    line: int = 0  # manifest line, for error messages


LabelCheck = Callable[[list[ImportItem]], None]
SCAN_CHECK_BATCH = 5000  # labelled items handed to the label check at a time


class _ListedSource(ABC):
    """A folder or an S3 prefix: listed whole (sorted, so row ``i`` is the same file on every
    listing); their items carry no labels."""

    _listed: list[ImportItem] | None = None

    @abstractmethod
    def items(self) -> list[ImportItem]:
        """Every file of the source, sorted."""

    def _listing(self) -> list[ImportItem]:
        if self._listed is None:  # listed once per source object: a scan and the import that follows
            self._listed = self.items()
        return self._listed

    def iter_items(self, low: int = 0, high: int | None = None) -> Iterator[ImportItem]:
        return iter(self._listing()[low:high])

    def scan(self, check: LabelCheck) -> tuple[int, bool]:
        """Validate the source; returns (its number of files, whether any carries labels)."""
        return len(self._listing()), False


def validate_split(split: str | None) -> str | None:
    if split is None or split == "":
        return None
    if split not in Split.values:
        raise DomainError(INVALID_SPLIT.format(split=split), field="split")
    return split


def check_inside_roots(path: Path) -> Path:
    """Resolve symlinks and `..` first, then require the path to lie under an import root."""
    if "\x00" in str(path):  # no file system takes it: os functions raise ValueError
        raise DomainError(PATH_HAS_NUL.format(path=str(path)), field="source")
    resolved = path.expanduser().resolve()
    roots = [Path(r).resolve() for r in settings.MMIT_IMPORT_ROOTS]
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise DomainError(
            SOURCE_OUTSIDE_ROOTS.format(path=path, roots=", ".join(str(r) for r in roots)),
            field="source",
        )
    return resolved


class FolderSource(_ListedSource):
    def __init__(self, root: Path, split: str | None) -> None:
        self.root = root
        self.split = split or Split.TRAIN

    def items(self) -> list[ImportItem]:
        files = sorted(
            p for p in self.root.rglob("*")
            if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")
        )
        if not files:
            raise DomainError(SOURCE_NO_VIDEOS.format(source=self.root, exts=", ".join(sorted(VIDEO_EXTENSIONS))))
        return [ImportItem(source=str(p), name=p.name, split=self.split) for p in files]

    @contextlib.contextmanager
    def local_path(self, item: ImportItem) -> Iterator[Path]:
        yield Path(item.source)


class ManifestSource:
    """A CSV with `path,split,labels`; paths are relative to the manifest's folder or absolute."""

    def __init__(self, path: Path, split: str | None) -> None:
        self.path = path
        self.split = split
        self._s3: S3Source | None = None

    @contextlib.contextmanager
    def _rows(self) -> Iterator[Iterator[tuple[int, dict]]]:
        """The manifest's data rows as (line, row), read as a stream; the header is checked first."""
        try:
            with open(self.path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                header = [h.strip() for h in (reader.fieldnames or [])]
                missing = [c for c in MANIFEST_COLUMNS if c not in header]
                if missing:
                    raise DomainError(MANIFEST_MISSING_COLUMNS.format(path=self.path, missing=", ".join(missing)))
                yield enumerate(reader, start=2)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DomainError(MANIFEST_UNREADABLE.format(path=self.path, error=exc)) from exc

    def _item(self, n: int, row: dict) -> ImportItem:
        row = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()}
        raw_path, split = row.get("path", ""), row.get("split", "") or self.split or Split.TRAIN
        if not raw_path:
            raise DomainError(MANIFEST_BAD_ROW.format(path=self.path, line=n, problem="empty path"))
        if split not in Split.values:
            raise DomainError(MANIFEST_BAD_ROW.format(
                path=self.path, line=n, problem=f"unknown split {split!r} (expected train, val or test)"))
        labels = tuple(dict.fromkeys(l.strip() for l in row.get("labels", "").split(";") if l.strip()))
        if raw_path.startswith("s3://"):
            bucket, key = S3Source.parse(raw_path)
            return ImportItem(raw_path, PurePosixPath(key).name, split, labels, n)
        candidate = Path(raw_path)
        if not candidate.is_absolute():
            candidate = self.path.parent / candidate
        try:
            resolved = check_inside_roots(candidate)
        except DomainError as exc:
            problem = exc.message.rstrip(".")
            raise DomainError(MANIFEST_BAD_ROW.format(path=self.path, line=n, problem=problem)) from exc
        return ImportItem(str(resolved), resolved.name, split, labels, n)

    def iter_items(self, low: int = 0, high: int | None = None) -> Iterator[ImportItem]:
        """The items of data rows ``[low, high)`` (0 is the first row after the header), streamed."""
        with self._rows() as rows:
            for n, row in itertools.islice(rows, low, high):
                yield self._item(n, row)

    def items(self) -> list[ImportItem]:
        items = []
        lines: dict[str, int] = {}  # each file's first line: a file listed twice is a mistake to point at
        for item in self.iter_items():
            self._once(lines, item.source, item.line)
            items.append(item)
        if not items:
            raise DomainError(SOURCE_NO_VIDEOS.format(source=self.path, exts="no rows"))
        return items

    def scan(self, check: LabelCheck) -> tuple[int, bool]:
        """Validate every row as a stream (``check`` gets the labelled items, a batch at a time);
        returns (rows, whether any carries labels). A file listed twice is found from 64-bit
        hashes of the sources (8 bytes a row), then named with its lines by a second pass."""
        hashes = array("Q")
        count, labelled, pending = 0, False, []
        for item in self.iter_items():
            hashes.append(_hash64(item.source))
            count += 1
            if item.labels:
                labelled = True
                pending.append(item)
                if len(pending) >= SCAN_CHECK_BATCH:
                    check(pending)
                    pending = []
        if pending:
            check(pending)
        if not count:
            raise DomainError(SOURCE_NO_VIDEOS.format(source=self.path, exts="no rows"))
        ordered = np.sort(np.frombuffer(hashes, dtype=np.uint64))
        repeated = set(ordered[1:][ordered[1:] == ordered[:-1]].tolist())
        if repeated:
            lines: dict[str, int] = {}
            for item in self.iter_items():
                if _hash64(item.source) in repeated:
                    self._once(lines, item.source, item.line)
        return count, labelled

    def _once(self, lines: dict[str, int], source: str, line: int) -> None:
        if source in lines:
            raise DomainError(MANIFEST_BAD_ROW.format(
                path=self.path, line=line, problem=f"{source} is already listed on line {lines[source]}"))
        lines[source] = line

    @contextlib.contextmanager
    def local_path(self, item: ImportItem) -> Iterator[Path]:
        if item.source.startswith("s3://"):
            self._s3 = self._s3 or S3Source(item.source, self.split)
            with self._s3.local_path(item) as p:
                yield p
        else:
            yield Path(item.source)


def _hash64(source: str) -> int:
    return int.from_bytes(hashlib.blake2b(source.encode(), digest_size=8).digest(), "little")


class S3Source(_ListedSource):
    def __init__(self, uri: str, split: str | None) -> None:
        self.uri = uri
        self.bucket, self.prefix = self.parse(uri)
        self.split = split or Split.TRAIN
        self._client = None

    @staticmethod
    def parse(uri: str) -> tuple[str, str]:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise DomainError(S3_BAD_URI.format(uri=uri), field="source")
        return parsed.netloc, parsed.path.lstrip("/")

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "s3", endpoint_url=settings.AWS_S3_ENDPOINT_URL, region_name=settings.AWS_S3_REGION_NAME
            )
        return self._client

    def items(self) -> list[ImportItem]:
        from botocore.exceptions import BotoCoreError, ClientError

        items = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if PurePosixPath(key).suffix.lower() in VIDEO_EXTENSIONS:
                        items.append(ImportItem(f"s3://{self.bucket}/{key}", PurePosixPath(key).name, self.split))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket", "404", "NotFound"):
                raise DomainError(S3_PREFIX_EMPTY.format(uri=self.uri), field="source") from exc
            raise DomainError(S3_ERROR.format(uri=self.uri, error=exc), field="source") from exc
        except BotoCoreError as exc:
            raise DomainError(S3_ERROR.format(uri=self.uri, error=exc), field="source") from exc
        if not items:
            raise DomainError(S3_PREFIX_EMPTY.format(uri=self.uri), field="source")
        return sorted(items, key=lambda i: i.source)

    @contextlib.contextmanager
    def local_path(self, item: ImportItem) -> Iterator[Path]:
        bucket, key = self.parse(item.source)
        with tempfile.TemporaryDirectory(prefix="mmit-s3-") as tmp:
            target = Path(tmp) / (PurePosixPath(key).name or "video")
            self.client.download_file(bucket, key, str(target))
            yield target


def open_source(spec: str, *, split: str | None = None) -> FolderSource | ManifestSource | S3Source:
    """Pick the source kind from the spec: `s3://...`, a `.csv` manifest, or a folder."""
    split = validate_split(split)
    spec = (spec or "").strip()
    if spec.startswith("s3://"):
        return S3Source(spec, split)
    path = check_inside_roots(Path(spec))
    if not path.exists():
        raise DomainError(SOURCE_NOT_FOUND.format(source=spec), field="source")
    if path.is_dir():
        return FolderSource(path, split)
    if path.suffix.lower() == ".csv":
        return ManifestSource(path, split)
    raise DomainError(SOURCE_NO_VIDEOS.format(source=spec, exts="expected a folder, a .csv manifest or s3://"),
                      field="source")
