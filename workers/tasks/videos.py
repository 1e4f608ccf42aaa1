"""Video import as a background job."""
from __future__ import annotations

from backend.common.errors import NotFound
from backend.common.jobs import job_progress, job_run
from backend.videos.models import Dataset
from backend.videos.services import ImportOrigin, video_import
from workers.base import platform_task

DATASET_GONE = "The dataset was deleted before the import ran."


@platform_task(soft_time_limit=6 * 3600)
def import_videos(job_id: str, dataset_id: int, source: str, split: str | None = None,
                  trust_labels: bool = False) -> None:
    def work(job) -> dict:
        dataset = Dataset.objects.filter(pk=dataset_id).first()
        if dataset is None:
            raise NotFound(DATASET_GONE)
        user = job.created_by
        origin = ImportOrigin(via=job.params.get("via", "api"), user_id=user.pk if user else None,
                              user_name=user.get_username() if user else "", job_id=str(job.pk))
        return video_import(dataset=dataset, source=source, split=split,
                            progress=job_progress(job_id=job_id, unit="files"),
                            trust_labels=trust_labels, origin=origin).as_dict()

    job_run(job_id=job_id, work=work)
