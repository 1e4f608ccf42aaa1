"""Release export as a background job."""
from __future__ import annotations

from backend.common.errors import NotFound
from backend.common.jobs import job_progress, job_run
from backend.releases.services import release_export
from backend.videos.models import Dataset
from workers.base import platform_task

DATASET_GONE = "The dataset was deleted before the export ran."


@platform_task(soft_time_limit=6 * 3600)
def export_release(job_id: str, dataset_id: int) -> None:
    def work(job) -> dict:
        dataset = Dataset.objects.filter(pk=dataset_id).first()
        if dataset is None:
            raise NotFound(DATASET_GONE)
        release = release_export(dataset=dataset, job=job, progress=job_progress(job_id=job_id, unit="labels"))
        return {"release": release.pk, "version": release.version, "path": release.path}

    job_run(job_id=job_id, work=work)
