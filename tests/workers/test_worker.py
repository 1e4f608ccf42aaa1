"""A real Celery worker process runs an import started through the API path."""
from __future__ import annotations

import pytest
from kombu import Connection

from backend.common.jobs import job_create
from backend.common.models import Job
from backend.videos.models import Video
from tests.helpers import (
    broker_for_test,
    celery_worker_spawn,
    database_url_of_test_db,
    stop,
    wait_for,
)
from workers.celery import app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_import_runs_in_a_real_worker(dataset, clip_factory, tmp_path, settings):
    folder = clip_factory(12, corrupt=1)
    url, options, broker_env = broker_for_test(tmp_path)
    media = tmp_path / "media"
    celery_worker = celery_worker_spawn(
        {**broker_env, "DATABASE_URL": database_url_of_test_db(), "MMIT_MEDIA_ROOT": str(media)},
        log=tmp_path / "worker.log",
    )
    try:
        job = job_create(kind="import_videos", params={"source": str(folder)})
        with Connection(url, transport_options=options) as conn:
            app.send_task("mmit.videos.import_videos", args=[str(job.id), dataset.id, str(folder), None],
                          queue="default", connection=conn)

        def finished():
            job.refresh_from_db()
            return job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED)

        wait_for(finished, timeout=90, message="the worker to finish the import")
    finally:
        stop(celery_worker)
    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert job.status == Job.Status.SUCCEEDED, job.error + log[-2000:]
    assert job.result["imported"] == 12 and job.result["quarantined"] == 1
    assert Video.objects.filter(dataset=dataset, status="ok").count() == 12
    assert any(media.rglob("*.mp4")), "the worker stored the clips in its media root"
    assert "mmit.videos.import_videos" in log
