"""Datasets and video import.

A manifest may carry labels (``path,split,labels``). What they mean -- which actions exist, how a
label is recorded -- belongs to the apps above this one (vocabulary, labels), so the labels app
registers the handler an import calls (``manifest_labels_register``, from its ``ready()``): the
import still checks every label before writing anything, and writes a batch's videos and labels
in one transaction, without this app importing either.

A manifest's labels are pending questions by default. A *trusted* import (``trust_labels``: the
labels were verified already, as Moments in Time's one label per video) records them as verified
positives instead, with their provenance (``ImportOrigin``: who imports, and how), and no question.

From the API, the admin and ``import_videos --enqueue`` an import is a job of chunks
(``ImportChunk``, ``MMIT_IMPORT_CHUNK_ROWS`` rows each), one Celery task per chunk, shared by
every worker: ``video_import_job_run`` records the chunks and hands them out,
``video_import_chunk_run`` imports one and finishes the job when it was the last. The manifest is
streamed, never loaded whole, on every path. ``in_place`` references each file where it is (its
allowed local root, or its S3 object) instead of copying it into the media storage.
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
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from backend.common.background import task_enqueue
from backend.common.errors import Conflict, DomainError, NotFound
from backend.common.jobs import job_create, job_finish, job_start
from backend.common.models import Job
from backend.videos.access import CURATOR, dataset_require
from backend.videos.models import Dataset, DatasetRole, ImportChunk, Video
from backend.videos.probe import ProbeError, VideoInfo, probe_video
from backend.videos.sources import ImportItem, S3Source, open_source

log = logging.getLogger(__name__)

DATASET_EXISTS = "A dataset named {name!r} already exists."
DUPLICATE_CONTENT = "duplicate content of {name} (same checksum)"
NO_LABEL_HANDLER = "This manifest carries labels, but no app handles them (the labels app is not installed)."
DATASET_GONE = "The dataset was deleted before the import ran."
IMPORT_JOB = "import_videos"  # the kind of an import's job
IMPORT_CHUNK_TASK = "mmit.videos.import_chunk"
CHUNKS_PROGRESS = "{done}/{total} chunks ({rows_done}/{rows} files)"
QUARANTINE_LISTED = 1000  # quarantined files a chunked job's result lists (all are in the admin's Videos)

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


def _scanned(*, dataset: Dataset, source: str, split: str | None):
    """Open and validate ``source`` as a stream; returns (source, files, whether any has labels)."""
    src = open_source(source, split=split)
    count, labelled = src.scan(lambda items: _labels_handler().check(dataset=dataset, items=items))
    return src, count, labelled


def video_import_validate(*, dataset: Dataset, source: str, split: str | None = None) -> int:
    """Check a source completely without writing anything; returns its number of files."""
    return _scanned(dataset=dataset, source=source, split=split)[1]


def video_import_start(*, dataset: Dataset, source: str, split: str | None = None, user=None,
                       trust_labels: bool = False, via: str = "api", user_name: str = "",
                       in_place: bool = False) -> Job:
    """Check the source now (a DomainError on bad input, nothing stored), then import it as a
    Celery job of chunks that every worker shares; the job shows the progress (chunks done).

    ``trust_labels``: the manifest's labels are recorded as verified (``video_import``); ``via``
    (api, admin or command) and ``user`` (or ``user_name``, the login on the command line) go into
    their provenance. ``in_place``: reference the files where they are, do not copy them.
    """
    count = video_import_validate(dataset=dataset, source=source, split=split)
    chunk_rows = max(1, settings.MMIT_IMPORT_CHUNK_ROWS)
    params = {"dataset": dataset.name, "source": source, "split": split, "files": count,
              "chunk_rows": chunk_rows, "chunks": -(-count // chunk_rows)}
    if trust_labels:
        params.update(trust_labels=True, via=via)
        if user_name and user is None:
            params["user_name"] = user_name
    if in_place:
        params["in_place"] = True
    job = job_create(kind=IMPORT_JOB, user=user, params=params)
    # Flags travel only when set: a plain import sends the same message as before they existed.
    extra = {"trust_labels": True} if trust_labels else {}
    if in_place:
        extra["in_place"] = True
    task_enqueue("mmit.videos.import_videos", str(job.id), dataset.id, source, split, **extra)
    return job


def _batched(items, size: int):
    batch: list[ImportItem] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def video_import(
    *,
    dataset: Dataset,
    source: str,
    split: str | None = None,
    progress: ProgressFn | None = None,
    trust_labels: bool = False,
    origin: ImportOrigin | None = None,
    in_place: bool = False,
) -> ImportReport:
    """Import every video of `source` into `dataset`.

    Bad input (unknown source, bad manifest, unknown labels) raises before anything is
    written. Unreadable files become quarantined rows with the reason and never stop the
    import. Work is committed batch by batch, so a crash leaves whole batches and a re-run
    picks up where it stopped: sources already imported are skipped (one query per batch).

    A manifest's labels become pending labels (questions to ask); with ``trust_labels`` they are
    recorded as verified positives, with their provenance (the source, the time, ``origin``), and
    never asked. A pair that has a label already keeps it, trusted or not.

    The source is read as a stream (twice: once to validate it, once to import it), so memory
    does not grow with a manifest's rows. ``in_place``: see ``in_place_key``.
    """
    src, count, labelled = _scanned(dataset=dataset, source=source, split=split)
    report = ImportReport(seen=count)
    trusted = None
    if trust_labels and labelled:
        trusted = _labels_handler().trusted_begin(dataset=dataset, source=source, origin=origin or ImportOrigin())
        report.labels_trusted = True
    done = 0
    for batch in _batched(src.iter_items(), max(1, settings.MMIT_IMPORT_BATCH_SIZE)):
        _import_batch(dataset=dataset, src=src, batch=batch, report=report, trusted=trusted, in_place=in_place)
        done += len(batch)
        if progress:
            progress(done, count)
    return report


def in_place_key(source: str) -> str:
    """The media key of a file imported in place (not copied): its key in the media storage when
    it lies there already (an object of the media bucket, or a file under ``MEDIA_ROOT``), else the
    reference itself (the absolute path under an allowed import root, or the ``s3://`` URI)."""
    if source.startswith("s3://"):
        bucket, key = S3Source.parse(source)
        return key if bucket == settings.AWS_STORAGE_BUCKET_NAME else source
    path, media = Path(source), Path(settings.MEDIA_ROOT).resolve()
    if not settings.AWS_STORAGE_BUCKET_NAME and path.is_relative_to(media):
        return path.relative_to(media).as_posix()
    return source


def _import_batch(*, dataset: Dataset, src, batch: list[ImportItem], report: ImportReport,
                  trusted: object | None = None, in_place: bool = False) -> None:
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
                if in_place:
                    key = in_place_key(item.source)
                else:
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


# --- the chunked import job -----------------------------------------------------------------


def video_import_job_run(*, job_id: str, dataset_id: int, source: str, split: str | None = None,
                         trust_labels: bool = False, in_place: bool = False) -> None:
    """The first task of an import job: record its chunks (once; a replay finds them), hand every
    chunk not done but one to the workers (``mmit.videos.import_chunk``), and import that one here.

    A job finished already (a replay) does nothing; bad input (the source changed since it was
    checked, the dataset deleted) fails the job with the reason.
    """
    job = job_start(job_id=job_id)
    if job is None:
        return
    try:
        dataset = Dataset.objects.filter(pk=dataset_id).first()
        if dataset is None:
            raise NotFound(DATASET_GONE)
        pending = video_import_plan(job=job, dataset=dataset, source=source, split=split,
                                      trust_labels=trust_labels, in_place=in_place)
    except DomainError as exc:
        job_finish(job_id=job_id, error=exc.message)
        return
    for chunk_id in pending[1:]:
        task_enqueue(IMPORT_CHUNK_TASK, str(job.pk), chunk_id)
    if pending:
        video_import_chunk_run(chunk_id=pending[0])
    else:  # every chunk was done, but the job not finished (a crash in between)
        _import_job_finish_if_done(job_id=job.pk)


def video_import_plan(*, job: Job, dataset: Dataset, source: str, split: str | None = None,
                      trust_labels: bool = False, in_place: bool = False) -> list[int]:
    """Record the job's chunks (with what every chunk needs in ``job.params``), once; returns the
    ids of those not done, in row order, for ``video_import_chunk_run``."""
    if not job.import_chunks.exists():
        rows = job.params.get("files")
        if rows is None:  # a job made without the check (an old message, a script): count now
            rows = video_import_validate(dataset=dataset, source=source, split=split)
        chunk_rows = max(1, job.params.get("chunk_rows") or settings.MMIT_IMPORT_CHUNK_ROWS)
        params = {**job.params, "dataset": dataset.name, "source": source, "split": split, "files": rows,
                  "chunk_rows": chunk_rows, "chunks": -(-rows // chunk_rows)}
        if trust_labels:
            params["trust_labels"] = True
        if in_place:
            params["in_place"] = True
        with transaction.atomic():
            Job.objects.filter(pk=job.pk).update(params=params, done=0, total=rows,
                                                 message=CHUNKS_PROGRESS.format(done=0, total=params["chunks"],
                                                                                rows_done=0, rows=rows))
            ImportChunk.objects.bulk_create(
                (ImportChunk(job=job, dataset=dataset, low=low, high=min(low + chunk_rows, rows))
                 for low in range(0, rows, chunk_rows)),
                batch_size=1000, ignore_conflicts=True)
    return list(job.import_chunks.filter(done=False).order_by("low").values_list("id", flat=True))


def video_import_chunk_run(*, chunk_id: int) -> bool:
    """Import one chunk and mark it done; the last chunk done finishes the job.

    Returns False, doing nothing, for a chunk gone or done, or one of a job already finished (a
    replay, or a job failed by another chunk). A chunk killed mid-way runs again from its start:
    files already imported are skipped (dedup by source, then by checksum), labels are not added
    twice. Bad input found now (the manifest changed since it was checked) fails the job.
    """
    chunk = ImportChunk.objects.select_related("job__created_by", "dataset").filter(pk=chunk_id).first()
    if chunk is None or chunk.done or chunk.job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
        return False
    job = chunk.job
    if job.status == Job.Status.QUEUED:
        Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(status=Job.Status.RUNNING,
                                                                         started_at=timezone.now())
    params = job.params
    user = job.created_by
    origin = ImportOrigin(via=params.get("via", "api"), user_id=user.pk if user else None,
                          user_name=user.get_username() if user else params.get("user_name", ""), job_id=str(job.pk))
    try:
        report = video_import_rows(dataset=chunk.dataset, source=params["source"], split=params.get("split"),
                                   low=chunk.low, high=chunk.high, trust_labels=bool(params.get("trust_labels")),
                                   origin=origin, in_place=bool(params.get("in_place")))
    except DomainError as exc:
        Job.objects.filter(pk=job.pk).exclude(status__in=[Job.Status.SUCCEEDED, Job.Status.FAILED]).update(
            status=Job.Status.FAILED, error=exc.message, finished_at=timezone.now())
        return False
    with transaction.atomic():
        # The job's row is locked first, so the chunks' ends pass one at a time and exactly one
        # of them sees that none is left.
        Job.objects.select_for_update().filter(pk=job.pk).first()
        marked = ImportChunk.objects.filter(pk=chunk.pk, done=False).update(
            done=True, report=report.as_dict(), finished_at=timezone.now())
        if marked:
            _import_job_finish_if_done(job_id=job.pk)
    return bool(marked)


def video_import_rows(*, dataset: Dataset, source: str, split: str | None, low: int, high: int,
                      trust_labels: bool = False, origin: ImportOrigin | None = None,
                      in_place: bool = False) -> ImportReport:
    """Import rows ``[low, high)`` of ``source`` (a chunk), in batches, as ``video_import`` does;
    only these rows are read (a manifest is streamed up to ``high``) and their labels checked."""
    src = open_source(source, split=split)
    items = list(src.iter_items(low, high))
    report = ImportReport(seen=len(items))
    labelled = [item for item in items if item.labels]
    trusted = None
    if labelled:
        _labels_handler().check(dataset=dataset, items=labelled)
        if trust_labels:
            trusted = _labels_handler().trusted_begin(dataset=dataset, source=source,
                                                      origin=origin or ImportOrigin())
            report.labels_trusted = True
    for batch in _batched(items, max(1, settings.MMIT_IMPORT_BATCH_SIZE)):
        _import_batch(dataset=dataset, src=src, batch=batch, report=report, trusted=trusted, in_place=in_place)
    return report


def _import_job_finish_if_done(*, job_id) -> None:
    """Show the job's progress: the files of the chunks done (``done``/``total``: it moves a chunk at
    a time; the message counts the chunks too). With none left, finish the job with the sums of the
    chunks' reports. Called with the job's row locked, or when no chunk can still run."""
    chunks = ImportChunk.objects.filter(job_id=job_id)
    span = F("high") - F("low")
    counts = chunks.aggregate(n_chunks=Count("id"), n_done=Count("id", filter=Q(done=True)),
                              n_rows=Sum(span), n_rows_done=Sum(span, filter=Q(done=True)))
    total, done, rows, rows_done = (counts[k] or 0 for k in ("n_chunks", "n_done", "n_rows", "n_rows_done"))
    message = CHUNKS_PROGRESS.format(done=done, total=total, rows_done=rows_done, rows=rows)
    active = Job.objects.filter(pk=job_id).exclude(status__in=[Job.Status.SUCCEEDED, Job.Status.FAILED])
    if done < total:
        active.update(done=rows_done, total=rows, message=message)
        return
    result = ImportReport()
    for r in chunks.values_list("report", flat=True).iterator(chunk_size=1000):
        for name in ("seen", "imported", "quarantined", "already_imported", "labels_added"):
            setattr(result, name, getattr(result, name) + r.get(name, 0))
        result.labels_trusted = result.labels_trusted or r.get("labels_trusted", False)
        result.quarantine.extend(r.get("quarantine", [])[: QUARANTINE_LISTED - len(result.quarantine)])
    active.update(done=rows_done, total=rows, message=message, status=Job.Status.SUCCEEDED,
                  result={**result.as_dict(), "chunks": total}, error="", finished_at=timezone.now())


# -- roles ------------------------------------------------------------------------------------------
UNKNOWN_USER = "No user is named {username!r}."
NOT_STAFF = "{username!r} is not a staff user: only staff get dataset roles (make them staff in the admin first)."
SUPERUSER_ROLE = "{username!r} is a superuser, a curator of every dataset already."
BAD_ROLE = "The role must be one of viewer, reviewer, curator (not {role!r})."
LAST_CURATOR = "{username!r} is the last curator of dataset {dataset!r}; make someone else curator first."
NO_SUCH_ROLE = "{username!r} has no role in dataset {dataset!r}."


def _role_user(username: str):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=(username or "").strip()).first()
    if user is None:
        raise NotFound(UNKNOWN_USER.format(username=username), field="username")
    return user


def _last_curator_check(found, dataset: Dataset) -> None:
    if found.role == DatasetRole.Role.CURATOR and \
            DatasetRole.objects.filter(dataset=dataset, role=DatasetRole.Role.CURATOR).count() == 1:
        raise Conflict(LAST_CURATOR.format(username=found.user.username, dataset=dataset.name), field="role")


@transaction.atomic
def dataset_role_set(*, dataset: Dataset, username: str, role: str, actor) -> DatasetRole:
    """Give a staff user a role in the dataset, or change the one they hold (the actor must be a
    curator of it). Demoting the dataset's last curator is refused."""
    dataset_require(actor, dataset, CURATOR, doing="managing its team")
    if role not in DatasetRole.Role.values:
        raise DomainError(BAD_ROLE.format(role=role), field="role")
    user = _role_user(username)
    if not user.is_staff:
        raise DomainError(NOT_STAFF.format(username=user.username), field="username")
    if user.is_superuser:
        raise DomainError(SUPERUSER_ROLE.format(username=user.username), field="username")
    found = DatasetRole.objects.select_for_update().filter(dataset=dataset, user=user).first()
    if found is None:
        return DatasetRole.objects.create(dataset=dataset, user=user, role=role, granted_by=actor)
    if found.role != role:
        _last_curator_check(found, dataset)
        found.role, found.granted_by = role, actor
        found.save(update_fields=["role", "granted_by", "updated_at"])
    return found


@transaction.atomic
def dataset_role_revoke(*, dataset: Dataset, username: str, actor) -> None:
    """Take a user's role in the dataset away (the actor must be a curator of it); the last curator
    stays."""
    dataset_require(actor, dataset, CURATOR, doing="managing its team")
    found = (DatasetRole.objects.select_for_update().select_related("user")
             .filter(dataset=dataset, user__username=(username or "").strip()).first())
    if found is None:
        raise NotFound(NO_SUCH_ROLE.format(username=username, dataset=dataset.name), field="username")
    _last_curator_check(found, dataset)
    found.delete()


@transaction.atomic
def dataset_create_by(*, user, name: str, description: str = "", **policy) -> Dataset:
    """A dataset made by a staff user, who becomes its first curator."""
    dataset = dataset_create(name=name, description=description, **policy)
    if not user.is_superuser:
        DatasetRole.objects.create(dataset=dataset, user=user, role=DatasetRole.Role.CURATOR, granted_by=user)
    return dataset
