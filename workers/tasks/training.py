"""Scheduled retraining: export -> train on the `ml` queue -> predictions -> model candidates.

`retrain` is what the beat schedule (django-celery-beat, editable in the admin) calls.
"""
from __future__ import annotations

from django.conf import settings
from django.db import transaction

from backend.candidates.services.predictions import predictions_ingest
from backend.common.background import task_enqueue
from backend.common.errors import NotFound
from backend.common.jobs import job_run
from backend.training.models import ModelRun
from backend.training.services import (
    retrain_prepare,
    run_claim,
    run_dissect,
    run_predictions_path,
    run_train,
    runs_reap,
)
from backend.videos.models import Dataset
from workers.base import platform_task

RUN_GONE = "The run was deleted."


@platform_task(soft_time_limit=3 * 3600)
def retrain(dataset_name: str, config: dict | None = None) -> int | None:
    dataset = Dataset.objects.filter(name=dataset_name).first()
    if dataset is None:
        return None
    with transaction.atomic():
        run, created = retrain_prepare(dataset=dataset, config=config)
        if created or run.status == ModelRun.Status.FAILED:
            task_enqueue("mmit.training.train_run", run.pk)
    return run.pk


# A run is stopped when it falls silent (MMIT_TRAIN_TIMEOUT without progress, backend/training/follow.py),
# not for its total time: the task's own limit is only an outer bound of 30 days.
TRAIN_TASK_LIMIT = 30 * 24 * 3600


@platform_task(soft_time_limit=TRAIN_TASK_LIMIT, max_retries=3)
def train_run(run_id: int) -> None:
    run = run_claim(run_id=run_id)
    if run is None:
        return
    run = run_train(run=run)
    if run.status == ModelRun.Status.SUCCEEDED:
        task_enqueue("mmit.training.ingest_run_predictions", run.pk)


@platform_task(soft_time_limit=3600)
def ingest_run_predictions(run_id: int) -> None:
    run = ModelRun.objects.select_related("dataset").filter(pk=run_id).first()
    if run is None or run.predictions_ingested or run.status != ModelRun.Status.SUCCEEDED:
        return
    predictions_ingest(dataset=run.dataset, path=run_predictions_path(run=run), model_run_id=run.pk)
    ModelRun.objects.filter(pk=run.pk).update(predictions_ingested=True)


@platform_task(soft_time_limit=300)
def reap_runs() -> int:
    return runs_reap()


@platform_task(soft_time_limit=settings.MMIT_TRAIN_TIMEOUT + 600, max_retries=1)
def dissect_run(job_id: str, run_id: int) -> None:
    def work(job) -> dict:
        run = ModelRun.objects.filter(pk=run_id).first()
        if run is None:
            raise NotFound(RUN_GONE)
        run = run_dissect(run=run)
        return {"run": run.pk, "files": sorted(k for k in run.artifacts if k.startswith("netdissect/"))}

    job_run(job_id=job_id, work=work)
