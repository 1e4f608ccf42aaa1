"""MTurk work in the background: publishing a batch, the review loop (beat), block mirroring."""
from __future__ import annotations

from backend.common.errors import DomainError
from backend.common.jobs import job_finish, job_progress_reporter, job_start
from backend.crowd.models import Worker
from backend.mturk import gateway as mturk_gateway
from backend.mturk.models import Batch
from backend.mturk.services.publish import batch_publish
from backend.mturk.services.review import review_run
from backend.mturk.services.workers import worker_block_sync
from workers.base import platform_task


@platform_task(soft_time_limit=3 * 3600)
def publish_batch(job_id: str, batch_id: int) -> None:
    """Create a batch's HITs within its budget; a replay resumes and never duplicates a HIT."""
    job = job_start(job_id=job_id)
    if job is None:
        return
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        job_finish(job_id=job_id, error="The batch was deleted before it was published.")
        return
    report_progress = job_progress_reporter(job_id=job_id)
    try:
        report = batch_publish(batch_id=batch.pk, gateway=mturk_gateway.gateway_for(sandbox=batch.sandbox),
                               progress=lambda done, total: report_progress(done, total, f"{done}/{total} HITs"))
    except DomainError as exc:
        job_finish(job_id=job_id, error=exc.message)
        return
    job_finish(job_id=job_id, result=report.as_dict())


@platform_task(soft_time_limit=1800)
def review(job_id: str | None = None) -> dict:
    """The review loop for the configured endpoint (beat: every few minutes; idempotent)."""
    if job_id is not None and job_start(job_id=job_id) is None:
        return {}
    try:
        report = review_run(gateway=mturk_gateway.gateway_for(sandbox=mturk_gateway.configured_sandbox()))
    except DomainError as exc:
        if job_id is not None:
            job_finish(job_id=job_id, error=exc.message)
        return {"error": exc.message}
    if job_id is not None:
        job_finish(job_id=job_id, result=report.as_dict())
    return report.as_dict()


@platform_task(soft_time_limit=600)
def sync_worker_block(worker_id: int) -> None:
    """Mirror a worker's platform block on MTurk (soft qualification, then hard block when wanted)."""
    worker = Worker.objects.filter(pk=worker_id, provider="mturk").first()
    if worker is None:
        return
    worker_block_sync(worker=worker, gateway=mturk_gateway.gateway_for(sandbox=mturk_gateway.configured_sandbox()))
