"""A Celery worker killed with SIGKILL in the middle of a task: after a restart the task is
redelivered (late acknowledgement) and completes, with no duplicate rows."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from kombu import Connection

from backend.common.jobs import job_create
from backend.common.models import Job
from backend.labels.models import Label
from backend.videos.models import Video
from tests.helpers import BIN, REPO, database_url_of_test_db, stop, wait_for
from workers.celery import app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _worker(redis, tmp_path, name, extra=None):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"REDIS_URL": redis.url, "DATABASE_URL": database_url_of_test_db(), "MMIT_BROKER_VISIBILITY_TIMEOUT": "2",
                "MMIT_MEDIA_ROOT": str(tmp_path / "media"), "MMIT_VAR_DIR": str(tmp_path / "var"),
                "DJANGO_SETTINGS_MODULE": "backend.config.settings", "PYTHONUNBUFFERED": "1", **(extra or {})})
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "workers", "worker", "-Q", "default", "--concurrency", "1", "--loglevel", "INFO",
         "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=REPO, env=env, stdout=open(tmp_path / f"{name}.log", "wb"), stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so SIGKILL reaches the pool child too
    )


def _kill(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _send(redis, name, args):
    with Connection(redis.url, transport_options={"visibility_timeout": 2}) as conn:
        app.send_task(name, args=args, queue="default", connection=conn)


def _finished(job):
    job.refresh_from_db()
    return job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED)


def test_import_killed_mid_way_completes_without_duplicates(dataset, clip_factory, private_redis, tmp_path):
    folder = clip_factory(60, seed=5, size=32)
    job = job_create(kind="import_videos", params={"source": str(folder)})
    first = _worker(private_redis, tmp_path, "a", {"MMIT_IMPORT_BATCH_SIZE": "2"})
    try:
        _send(private_redis, "mmit.videos.import_videos", [str(job.id), dataset.id, str(folder / "manifest.csv"), None])
        wait_for(lambda: 4 <= Video.objects.filter(dataset=dataset).count() < 50, timeout=120, interval=0.02,
                 message="the import to be under way")
    finally:
        _kill(first)
    done_before = Video.objects.filter(dataset=dataset).count()
    assert done_before < 60 and Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
    second = _worker(private_redis, tmp_path, "b", {"MMIT_IMPORT_BATCH_SIZE": "2"})
    try:
        wait_for(lambda: _finished(job), timeout=180, message="the redelivered import to finish")
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
    first = _worker(private_redis, tmp_path, "a")
    partial = tmp_path / "var" / "releases" / dataset.name / "v1.partial"
    try:
        _send(private_redis, "mmit.releases.export_release", [str(job.id), dataset.id])
        wait_for(lambda: (partial / "labels.csv").exists() and (partial / "labels.csv").stat().st_size > 10_000,
                 timeout=120, interval=0.02, message="the export to be under way")
    finally:
        _kill(first)
    assert not Release.objects.exists()
    second = _worker(private_redis, tmp_path, "b")
    try:
        wait_for(lambda: _finished(job), timeout=240, message="the redelivered export to finish")
    finally:
        stop(second)
    assert job.status == Job.Status.SUCCEEDED, job.error
    release = Release.objects.get()
    assert release.version == 1 and not partial.exists()
    manifest = json.loads((tmp_path / "var" / "releases" / dataset.name / "v1" / "manifest.json").read_text())
    assert manifest["content_hash"] == release.content_hash
    assert release.stats["labels"] == sum(1 for i in range(20_000) for k in range(4) if (i + k) % 3 == 0)
