"""A Celery worker killed with SIGKILL in the middle of a task: after a restart the task is
redelivered (late acknowledgement) and completes, with no duplicate rows."""
from __future__ import annotations

import json

import pytest

from backend.common.jobs import job_create
from backend.common.models import Job
from backend.labels.models import Label
from backend.videos.models import Video
from tests.faults.celery_workers import (
    celery_worker_kill,
    celery_worker_start,
    job_finished,
    task_send,
)
from tests.helpers import stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_import_killed_mid_way_completes_without_duplicates(dataset, clip_factory, private_redis, tmp_path):
    folder = clip_factory(60, seed=5, size=32)
    job = job_create(kind="import_videos", params={"source": str(folder)})
    first = celery_worker_start(private_redis, tmp_path, "a", {"MMIT_IMPORT_BATCH_SIZE": "2"})
    try:
        task_send(private_redis, "mmit.videos.import_videos",
                  [str(job.id), dataset.id, str(folder / "manifest.csv"), None])
        wait_for(lambda: 4 <= Video.objects.filter(dataset=dataset).count() < 50, timeout=120, interval=0.02,
                 message="the import to be under way")
    finally:
        celery_worker_kill(first)
    done_before = Video.objects.filter(dataset=dataset).count()
    assert done_before < 60 and Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
    second = celery_worker_start(private_redis, tmp_path, "b", {"MMIT_IMPORT_BATCH_SIZE": "2"})
    try:
        wait_for(lambda: job_finished(job), timeout=180, message="the redelivered import to finish")
    finally:
        stop(second)
    assert job.status == Job.Status.SUCCEEDED, job.error + (tmp_path / "b.log").read_text()[-2000:]
    assert job.attempts == 2
    assert Video.objects.filter(dataset=dataset).count() == 60
    assert Label.objects.filter(dataset=dataset).count() == 60  # one initial label each, none twice
    assert job.result["already_imported"] >= done_before


def test_export_killed_mid_way_completes_once(dataset, private_redis, tmp_path):
    from backend.releases.models import Release
    from backend.vocabulary.models import Action

    actions = list(Action.objects.filter(dataset=dataset))
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/v/{i}", name=f"{i}.mp4", storage_key=f"videos/{i}.mp4", checksum=str(i))
        for i in range(20_000)], batch_size=5000)
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=a, asked_action=a, source="initial",
              state="positive" if (i + k) % 3 == 0 else "negative", yes_count=3)
        for i, v in enumerate(videos) for k, a in enumerate(actions[:4])], batch_size=5000)
    job = job_create(kind="export_release", params={"dataset": dataset.name})
    first = celery_worker_start(private_redis, tmp_path, "a")
    partial = tmp_path / "var" / "releases" / dataset.name / "v1.partial"
    try:
        task_send(private_redis, "mmit.releases.export_release", [str(job.id), dataset.id])
        wait_for(lambda: (partial / "labels.csv").exists() and (partial / "labels.csv").stat().st_size > 10_000,
                 timeout=120, interval=0.02, message="the export to be under way")
    finally:
        celery_worker_kill(first)
    assert not Release.objects.exists()
    second = celery_worker_start(private_redis, tmp_path, "b")
    try:
        wait_for(lambda: job_finished(job), timeout=240, message="the redelivered export to finish")
    finally:
        stop(second)
    assert job.status == Job.Status.SUCCEEDED, job.error
    release = Release.objects.get()
    assert release.version == 1 and not partial.exists()
    manifest = json.loads((tmp_path / "var" / "releases" / dataset.name / "v1" / "manifest.json").read_text())
    assert manifest["content_hash"] == release.content_hash
    assert release.stats["labels"] == sum(1 for i in range(20_000) for k in range(4) if (i + k) % 3 == 0)
