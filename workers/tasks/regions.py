"""Background tasks of the regions app: frame selection, pipeline advance, exports, expiry."""
from __future__ import annotations

from pathlib import Path

from backend.common.background import task_send
from backend.common.errors import NotFound
from backend.common.jobs import job_progress, job_run
from backend.regions.models import FrameAction
from backend.regions.services.advance import regions_advance
from backend.regions.services.drawing import drawingsets_expire
from backend.regions.services.export import regions_export
from backend.regions.services.frames import regions_select_frames
from backend.videos.models import Dataset
from workers.base import platform_task

DATASET_GONE = "The dataset was deleted before the job ran."


@platform_task(soft_time_limit=12 * 3600)
def select_frames(job_id: str, dataset_id: int, per_action: int | None = None, actions: list[str] | None = None,
                  seed: int = 0) -> None:
    """Re-runs top up to the same selection, so a redelivered task adds nothing twice."""
    def work(job) -> dict:
        return regions_select_frames(dataset=_dataset(dataset_id), per_action=per_action, actions=actions, seed=seed,
                                     progress=job_progress(job_id=job_id, unit="frames")).as_dict()

    job_run(job_id=job_id, work=work)


@platform_task(soft_time_limit=3600)
def advance(dataset_id: int, job_id: str | None = None) -> dict:
    """One idempotent pass of the pipeline (a job when a curator asked for it)."""
    if job_id is not None:
        return job_run(job_id=job_id, work=lambda job: regions_advance(dataset=_dataset(dataset_id)).as_dict()) or {}
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    return {} if dataset is None else regions_advance(dataset=dataset).as_dict()


@platform_task(soft_time_limit=600)
def advance_all() -> int:
    """For the beat schedule: advance every dataset with frame-actions still in the pipeline."""
    open_stages = [FrameAction.Stage.VISIBILITY, FrameAction.Stage.DRAWING, FrameAction.Stage.VERIFYING]
    ids = list(FrameAction.objects.filter(stage__in=open_stages).order_by().values_list(
        "dataset_id", flat=True).distinct())
    for dataset_id in ids:  # nothing written here: sent at once, no commit to wait for
        task_send("mmit.regions.advance", [dataset_id])
    return len(ids)


@platform_task(soft_time_limit=600)
def expire_drawing_sets() -> int:
    """Abandoned drawing sets expire and their frames return to the pool (idempotent)."""
    return drawingsets_expire()


@platform_task(soft_time_limit=12 * 3600)
def export(job_id: str, dataset_ids: list[int], out_dir: str, size: int | None = None, seg_size: int | None = None,
           label_offset: int = 0) -> None:
    """Rewrites the same directory on a replay."""
    def work(job) -> dict:
        datasets = list(Dataset.objects.filter(pk__in=dataset_ids).order_by("name"))
        if len(datasets) != len(set(dataset_ids)):
            raise NotFound(DATASET_GONE)
        return regions_export(datasets=datasets, out_dir=Path(out_dir), size=size, seg_size=seg_size,
                              label_offset=label_offset, progress=job_progress(job_id=job_id, unit="steps"))

    job_run(job_id=job_id, work=work)


def _dataset(dataset_id: int) -> Dataset:
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        raise NotFound(DATASET_GONE)
    return dataset
