"""Video import as a background job of chunks that several workers share."""
from __future__ import annotations

from backend.videos.services import video_import_chunk_run, video_import_job_run
from workers.base import platform_task


@platform_task(soft_time_limit=6 * 3600)
def import_videos(job_id: str, dataset_id: int, source: str, split: str | None = None,
                  trust_labels: bool = False, in_place: bool = False) -> None:
    """Record the import's chunks, hand them to the workers and import the first one here."""
    video_import_job_run(job_id=job_id, dataset_id=dataset_id, source=source, split=split,
                         trust_labels=trust_labels, in_place=in_place)


@platform_task(soft_time_limit=6 * 3600)
def import_chunk(job_id: str, chunk_id: int) -> None:
    """Import one chunk of an import job (a replay of a chunk done does nothing)."""
    video_import_chunk_run(chunk_id=chunk_id)
