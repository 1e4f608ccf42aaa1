"""Datasets and video import.

A manifest may carry labels (``path,split,labels``). What they mean -- which actions exist, how a
label is recorded -- belongs to the apps above this one (vocabulary, labels), so the labels app
registers the handler an import calls (``manifest_labels_register``, from its ``ready()``): the
import still checks every label before writing anything, and writes a batch's videos and labels
in one transaction, without this app importing either.

A manifest's labels are pending questions by default. A *trusted* import (``trust_labels``: the
labels were verified already, as Moments in Time's one label per video) records them as verified
positives instead, with their provenance (``ImportOrigin``: who imports, and how), and no question.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from backend.common.background import task_enqueue
from backend.common.errors import Conflict, DomainError
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.videos.models import Dataset, Video
from backend.videos.probe import ProbeError, VideoInfo, probe_video
from backend.videos.sources import ImportItem, open_source

log = logging.getLogger(__name__)

DATASET_EXISTS = "A dataset named {name!r} already exists."
DUPLICATE_CONTENT = "duplicate content of {name} (same checksum)"
NO_LABEL_HANDLER = "This manifest carries labels, but no app handles them (the labels app is not installed)."

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportOrigin:
    """Who imports, and how: recorded with the labels of a trusted import (their provenance)."""

    via: str = "command"  # command | api | admin
    user_id: int | None = None
    user_name: str = ""  # the user's name, or the system login on the command line
    job_id: str | None = None


class ManifestLabels(Protocol):
    """How the labels a manifest carries are checked and recorded (registered by the labels app)."""

    def check(self, *, dataset: Dataset, items: Sequence[ImportItem]) -> None:
        """Raise a DomainError naming the first label that cannot be recorded; write nothing."""

    def trusted_begin(self, *, dataset: Dataset, source: str, origin: ImportOrigin) -> object:
        """Record the provenance of a trusted import (called once, before its first batch); returns
        what ``write`` takes as ``trusted``."""

    def write(self, *, dataset: Dataset, items: Sequence[ImportItem], video_ids: dict[str, int],
              trusted: object | None = None) -> int:
        """Record the labels of ``items`` (``video_ids``: their videos by source); how many are new.
        ``trusted``: what ``trusted_begin`` returned (verified labels), or None (pending questions)."""


_manifest_labels: list[ManifestLabels] = []


def manifest_labels_register(handler: ManifestLabels) -> None:
    _manifest_labels[:] = [handler]


def _labels_handler() -> ManifestLabels:
    if not _manifest_labels:
        raise DomainError(NO_LABEL_HANDLER)
    return _manifest_labels[0]


@transaction.atomic
def dataset_create(*, name: str, description: str = "", **policy) -> Dataset:
    if Dataset.objects.filter(name=name).exists():
        raise Conflict(DATASET_EXISTS.format(name=name), field="name")
    dataset = Dataset(name=name, description=description, **policy)
    try:
        dataset.full_clean()
    except ValidationError as exc:
        first_field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(f"{first_field}: {' '.join(messages)}", field=first_field) from exc
    dataset.save()
    return dataset


@dataclass
class ImportReport:
    seen: int = 0
    imported: int = 0
    quarantined: int = 0
    already_imported: int = 0
    labels_added: int = 0
    labels_trusted: bool = False  # the labels were recorded as verified (source `import`), not as questions
    quarantine: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def storage_key_for(dataset: Dataset, info: VideoInfo, suffix: str) -> str:
    # Content-addressed, so a re-run or a retried batch writes the same key.
    return f"videos/{dataset.name}/{info.checksum[:2]}/{info.checksum}{suffix.lower() or '.mp4'}"


def _store(path: Path, key: str) -> None:
    if not default_storage.exists(key):
        with open(path, "rb") as f:
            saved = default_storage.save(key, File(f, name=Path(key).name))
        if saved != key:  # a concurrent writer got there first; keep one copy
            default_storage.delete(saved)


def _validated_items(*, dataset: Dataset, source: str, split: str | None):
    src = open_source(source, split=split)
    items = src.items()
    if any(item.labels for item in items):
        _labels_handler().check(dataset=dataset, items=items)
    return src, items


def video_import_validate(*, dataset: Dataset, source: str, split: str | None = None) -> int:
    """Check a source completely without writing anything; returns its number of files."""
    return len(_validated_items(dataset=dataset, source=source, split=split)[1])


def video_import_start(*, dataset: Dataset, source: str, split: str | None = None, user=None,
                       trust_labels: bool = False, via: str = "api") -> Job:
    """Check the source now (a DomainError on bad input, nothing stored), then import it in a
    Celery worker; the job shows the progress.

    ``trust_labels``: the manifest's labels are recorded as verified (``video_import``); ``via``
    (api or admin) and ``user`` go into their provenance.
    """
    count = video_import_validate(dataset=dataset, source=source, split=split)
    params = {"dataset": dataset.name, "source": source, "split": split, "files": count}
    if trust_labels:
        params.update(trust_labels=True, via=via)
    job = job_create(kind="import_videos", user=user, params=params)
    # The flag travels only when set: an untrusted import sends the same message as before it existed.
    extra = {"trust_labels": True} if trust_labels else {}
    task_enqueue("mmit.videos.import_videos", str(job.id), dataset.id, source, split, **extra)
    return job


def video_import(
    *,
    dataset: Dataset,
    source: str,
    split: str | None = None,
    progress: ProgressFn | None = None,
    trust_labels: bool = False,
    origin: ImportOrigin | None = None,
) -> ImportReport:
    """Import every video of `source` into `dataset`.

    Bad input (unknown source, bad manifest, unknown labels) raises before anything is
    written. Unreadable files become quarantined rows with the reason and never stop the
    import. Work is committed batch by batch, so a crash leaves whole batches and a re-run
    picks up where it stopped: sources already imported are skipped (one query per batch).

    A manifest's labels become pending labels (questions to ask); with ``trust_labels`` they are
    recorded as verified positives, with their provenance (the source, the time, ``origin``), and
    never asked. A pair that has a label already keeps it, trusted or not.
    """
    src, items = _validated_items(dataset=dataset, source=source, split=split)
    report = ImportReport(seen=len(items))
    trusted = None
    if trust_labels and any(item.labels for item in items):
        trusted = _labels_handler().trusted_begin(dataset=dataset, source=source, origin=origin or ImportOrigin())
        report.labels_trusted = True
    batch_size = max(1, settings.MMIT_IMPORT_BATCH_SIZE)
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        _import_batch(dataset=dataset, src=src, batch=batch, report=report, trusted=trusted)
        if progress:
            progress(min(start + batch_size, len(items)), len(items))
    return report


def _import_batch(*, dataset: Dataset, src, batch: list[ImportItem], report: ImportReport,
                  trusted: object | None = None) -> None:
    known = dict(
        Video.objects.filter(dataset=dataset, source__in=[i.source for i in batch]).values_list("source", "id")
    )
    rows: list[Video] = []
    probed: list[tuple[ImportItem, VideoInfo | None, str]] = []
    for item in batch:
        if item.source in known:
            report.already_imported += 1
            continue
        try:
            with src.local_path(item) as local:
                info = probe_video(local)
                key = storage_key_for(dataset, info, Path(item.name).suffix)
                _store(local, key)
            probed.append((item, info, key))
        except ProbeError as exc:
            probed.append((item, None, str(exc)))
        except OSError as exc:
            probed.append((item, None, f"cannot read file: {exc.strerror or exc}"))

    checksums = [info.checksum for _, info, _ in probed if info]
    seen_checksums = dict(
        Video.objects.filter(dataset=dataset, checksum__in=checksums, status=Video.Status.OK)
        .values_list("checksum", "name")
    )
    for item, info, key_or_reason in probed:
        if info is not None and info.checksum in seen_checksums:
            info, key_or_reason = None, DUPLICATE_CONTENT.format(name=seen_checksums[info.checksum])
        if info is None:
            rows.append(Video(dataset=dataset, source=item.source, name=item.name, split=item.split,
                              status=Video.Status.QUARANTINED, quarantine_reason=key_or_reason))
            report.quarantine.append({"source": item.source, "reason": key_or_reason})
            log.warning("quarantined %s: %s", item.source, key_or_reason)
            continue
        seen_checksums[info.checksum] = item.name
        rows.append(Video(
            dataset=dataset, source=item.source, name=item.name, split=item.split,
            storage_key=key_or_reason, checksum=info.checksum, size_bytes=info.size_bytes,
            duration=info.duration, fps=info.fps, width=info.width, height=info.height,
            has_audio=info.has_audio,
        ))

    with transaction.atomic():
        Video.objects.bulk_create(rows, ignore_conflicts=True)
        report.imported += sum(1 for r in rows if r.status == Video.Status.OK)
        report.quarantined += sum(1 for r in rows if r.status == Video.Status.QUARANTINED)
        labelled = [i for i in batch if i.labels]
        if labelled:
            ids = dict(
                Video.objects.filter(dataset=dataset, status=Video.Status.OK,
                                     source__in=[i.source for i in labelled]).values_list("source", "id")
            )
            report.labels_added += _labels_handler().write(dataset=dataset, items=labelled, video_ids=ids,
                                                           trusted=trusted)
