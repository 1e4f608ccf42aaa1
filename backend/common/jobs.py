"""Services for background jobs: create, start, report progress, finish, and run one."""
from __future__ import annotations

import time
from typing import Any, Callable

from django.db import transaction
from django.utils import timezone

from backend.common.errors import DomainError
from backend.common.models import Job

ProgressFn = Callable[[int, int, str], None]
# A finished crowd simulation is kept as a job of this kind (its result: what the simulated crowd
# would have cost, its answers): written by the simulation app, shown by the dashboard as simulated.
SIMULATION = "simulate_crowd"


def job_create(*, kind: str, params: dict[str, Any] | None = None, user=None) -> Job:
    return Job.objects.create(kind=kind, params=params or {}, created_by=user)


def job_start(*, job_id) -> Job | None:
    """Mark a job running; returns None when the job is gone or already finished (replay)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
            return None
        job.status = Job.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "attempts"])
        return job


def job_progress_reporter(*, job_id, min_interval: float = 0.5) -> ProgressFn:
    """A progress callback that writes at most every ``min_interval`` seconds."""
    last = [0.0]

    def report(done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if now - last[0] < min_interval and done < total:
            return
        last[0] = now
        Job.objects.filter(pk=job_id).update(done=done, total=total, message=message[:255])

    return report


def job_finish(*, job_id, result: dict[str, Any] | None = None, error: str = "") -> None:
    status = Job.Status.FAILED if error else Job.Status.SUCCEEDED
    Job.objects.filter(pk=job_id).update(
        status=status, result=result or {}, error=error, finished_at=timezone.now()
    )


def job_progress(*, job_id, unit: str) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback for services, shown on the job as "done/total unit"."""
    report = job_progress_reporter(job_id=job_id)
    return lambda done, total: report(done, total, f"{done}/{total} {unit}")


def job_run(*, job_id, work: Callable[[Job], dict[str, Any] | None]) -> dict[str, Any] | None:
    """Run ``work`` as job ``job_id``, the body of every job task.

    The job is marked running, then finished with the dict ``work`` returns as its result, or
    failed with the message of the ``DomainError`` it raised (bad input, a row deleted meanwhile).
    A job already finished (a task delivered again) runs nothing; None is returned then, and on
    failure.
    """
    job = job_start(job_id=job_id)
    if job is None:
        return None
    try:
        result = work(job) or {}
    except DomainError as exc:
        job_finish(job_id=job_id, error=exc.message)
        return None
    job_finish(job_id=job_id, result=result)
    return result
