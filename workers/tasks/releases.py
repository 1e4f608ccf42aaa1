"""Release export (and, with the ml package, training) as background jobs."""
from __future__ import annotations

from backend.common.errors import DomainError
from backend.common.jobs import job_finish, job_progress_reporter, job_start
from backend.common.models import Job
from backend.releases.services import release_export
from backend.videos.models import Dataset
from workers.base import platform_task


@platform_task(soft_time_limit=6 * 3600)
def export_release(job_id: str, dataset_id: int) -> None:
    job = job_start(job_id=job_id)
    if job is None:
        return
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        job_finish(job_id=job_id, error="The dataset was deleted before the export ran.")
        return
    report = job_progress_reporter(job_id=job_id)
    try:
        release = release_export(dataset=dataset, job=Job.objects.get(pk=job_id),
                                 progress=lambda done, total: report(done, total, f"{done}/{total} labels"))
    except DomainError as exc:
        job_finish(job_id=job_id, error=exc.message)
        return
    job_finish(job_id=job_id, result={"release": release.pk, "version": release.version, "path": release.path})
