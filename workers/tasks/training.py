"""Scheduled retraining: export -> train on the `ml` queue -> predictions -> model candidates.

`retrain` is what the beat schedule (django-celery-beat, editable in the admin) calls.
"""
from __future__ import annotations

from django.conf import settings
from django.db import transaction

from backend.training.models import ModelRun
from backend.training.services import run_claim, run_predictions_path, run_train, retrain_prepare, runs_reap
from backend.videos.models import Dataset
from workers.base import platform_task


@platform_task(soft_time_limit=3 * 3600)
def retrain(dataset_name: str, config: dict | None = None) -> int | None:
    dataset = Dataset.objects.filter(name=dataset_name).first()
    if dataset is None:
        return None
    with transaction.atomic():
        run, created = retrain_prepare(dataset=dataset, config=config)
        if created or run.status == ModelRun.Status.FAILED:
            transaction.on_commit(lambda: train_run.delay(run.pk))
    return run.pk


@platform_task(queue="ml", soft_time_limit=settings.MMIT_TRAIN_TIMEOUT + 600, max_retries=3)
def train_run(run_id: int) -> None:
    run = run_claim(run_id=run_id)
    if run is None:
        return
    run = run_train(run=run)
    if run.status == ModelRun.Status.SUCCEEDED:
        ingest_run_predictions.delay(run.pk)


@platform_task(soft_time_limit=3600)
def ingest_run_predictions(run_id: int) -> None:
    from backend.candidates.services.predictions import predictions_ingest

    run = ModelRun.objects.select_related("dataset").filter(pk=run_id).first()
    if run is None or run.predictions_ingested or run.status != ModelRun.Status.SUCCEEDED:
        return
    predictions_ingest(dataset=run.dataset, path=run_predictions_path(run=run))
    ModelRun.objects.filter(pk=run.pk).update(predictions_ingested=True)


@platform_task(soft_time_limit=300)
def reap_runs() -> int:
    return runs_reap()


@platform_task(queue="ml", soft_time_limit=settings.MMIT_TRAIN_TIMEOUT + 600, max_retries=1)
def dissect_run(job_id: str, run_id: int) -> None:
    from backend.common.errors import DomainError
    from backend.common.jobs import job_finish, job_start
    from backend.training.services import run_dissect

    if job_start(job_id=job_id) is None:
        return
    run = ModelRun.objects.filter(pk=run_id).first()
    if run is None:
        job_finish(job_id=job_id, error="The run was deleted.")
        return
    try:
        run = run_dissect(run=run)
    except DomainError as exc:
        job_finish(job_id=job_id, error=exc.message)
        return
    job_finish(job_id=job_id, result={"run": run.pk, "files": sorted(k for k in run.artifacts if k.startswith(
        "netdissect/"))})
