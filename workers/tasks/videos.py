"""Video import as a background job."""
from __future__ import annotations

from backend.common.errors import DomainError
from backend.common.jobs import job_finish, job_progress_reporter, job_start
from backend.videos.models import Dataset
from backend.videos.services import video_import
from workers.base import platform_task


@platform_task(soft_time_limit=6 * 3600)
def import_videos(job_id: str, dataset_id: int, source: str, split: str | None = None) -> None:
    job = job_start(job_id=job_id)
    if job is None:
        return
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        job_finish(job_id=job_id, error="The dataset was deleted before the import ran.")
        return
    report_progress = job_progress_reporter(job_id=job_id)
    try:
        report = video_import(
            dataset=dataset, source=source, split=split,
            progress=lambda done, total: report_progress(done, total, f"{done}/{total} files"),
        )
    except DomainError as exc:
        job_finish(job_id=job_id, error=exc.message)
        return
    job_finish(job_id=job_id, result=report.as_dict())
