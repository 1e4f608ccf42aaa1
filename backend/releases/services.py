"""Releases and split management."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from backend.annotation.models import Question
from backend.common.background import task_enqueue
from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.labels.models import Label
from backend.releases.export import release_write
from backend.releases.models import Release
from backend.videos.models import Dataset, Split, Video

SPLIT_TOO_BIG = "Only {available} train videos with verified labels are available; asked for {size}."
SPLIT_NOT_EVAL = "New evaluation splits are 'val' or 'test', not {split!r}."


def release_dir(dataset: Dataset, version: int) -> Path:
    return Path(settings.VAR_DIR) / "releases" / dataset.name / f"v{version}"


def release_export(*, dataset: Dataset, out_dir: Path | None = None, with_media: bool = False, job=None,
                   progress: Callable[[int, int], None] | None = None) -> Release:
    """Write a release and record it. Without `out_dir`, an export whose content equals the
    latest release returns that release instead of a new version (nothing changed)."""
    latest = Release.objects.filter(dataset=dataset).order_by("-version").first()
    version = (latest.version + 1) if latest else 1
    target = Path(out_dir) if out_dir else release_dir(dataset, version)
    result = release_write(dataset=dataset, out_dir=target, with_media=with_media, progress=progress)
    if out_dir is None and latest is not None and latest.content_hash == result.content_hash:
        import shutil

        shutil.rmtree(target, ignore_errors=True)
        return latest
    with transaction.atomic():
        version = (Release.objects.filter(dataset=dataset).aggregate(v=Max("version"))["v"] or 0) + 1
        return Release.objects.create(dataset=dataset, version=version, path=str(target.resolve()),
                                      content_hash=result.content_hash, stats=result.stats, manifest=result.manifest,
                                      job=job)


def release_export_start(*, dataset: Dataset, user=None) -> Job:
    """Export a release in a worker; the job shows the progress."""
    job = job_create(kind="export_release", user=user, params={"dataset": dataset.name})
    task_enqueue("mmit.releases.export_release", str(job.id), dataset.id)
    return job


@transaction.atomic
def split_create(*, dataset: Dataset, split: str, size: int, seed: int = 0) -> dict:
    """Move `size` train videos with verified positives into a new val or test split.

    Their questions get the evaluation redundancy: open ones need `eval_answers`, decided ones
    with fewer answers are reopened (their labels go back to pending until re-decided), so the
    new split is held to the higher standard. A video belongs to one split only.
    """
    if split not in (Split.VAL, Split.TEST):
        raise DomainError(SPLIT_NOT_EVAL.format(split=split))
    candidates = list(
        Video.objects.filter(dataset=dataset, split=Split.TRAIN, status=Video.Status.OK,
                             labels__state=Label.State.POSITIVE).distinct().order_by("id").values_list("id", flat=True)
    )
    if size > len(candidates):
        raise DomainError(SPLIT_TOO_BIG.format(available=len(candidates), size=size))
    chosen = sorted(random.Random(seed).sample(candidates, size))
    Video.objects.filter(pk__in=chosen).update(split=split)
    needed = dataset.eval_answers
    questions = Question.objects.filter(video_id__in=chosen)
    questions.update(split=split)
    questions.filter(state=Question.State.OPEN, needed__lt=needed).update(needed=needed)
    # a curator's verdict (a corrected label) stays: it is not the crowd's to re-decide
    reopen = questions.filter(state=Question.State.DECIDED, answers__lt=needed).exclude(label__corrected=True)
    reopened_labels = list(reopen.exclude(label=None).values_list("label_id", flat=True))
    n_reopened = reopen.update(state=Question.State.OPEN, needed=needed, decision="", confidence=None, decided_at=None)
    Label.objects.filter(pk__in=reopened_labels).update(state=Label.State.PENDING, decided_at=None)
    return {"split": split, "videos": len(chosen), "questions_reopened": n_reopened}
