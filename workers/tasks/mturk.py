"""MTurk work in the background: publishing a batch, the review loop (beat), block mirroring."""
from __future__ import annotations

from backend.common.errors import DomainError, NotFound
from backend.common.jobs import job_progress, job_run
from backend.crowd.models import Worker
from backend.mturk import gateway as mturk_gateway
from backend.mturk.models import Batch
from backend.mturk.services.publish import batch_publish
from backend.mturk.services.review import review_run
from backend.mturk.services.workers import worker_block_sync
from workers.base import platform_task

BATCH_GONE = "The batch was deleted before it was published."


@platform_task(soft_time_limit=3 * 3600)
def publish_batch(job_id: str, batch_id: int) -> None:
    """Create a batch's HITs within its budget; a replay resumes and never duplicates a HIT."""
    def work(job) -> dict:
        batch = Batch.objects.filter(pk=batch_id).first()
        if batch is None:
            raise NotFound(BATCH_GONE)
        return batch_publish(batch_id=batch.pk, gateway=mturk_gateway.gateway_for(sandbox=batch.sandbox),
                             progress=job_progress(job_id=job_id, unit="HITs")).as_dict()

    job_run(job_id=job_id, work=work)


def _review() -> dict:
    return review_run(gateway=mturk_gateway.gateway_for(sandbox=mturk_gateway.configured_sandbox())).as_dict()


@platform_task(soft_time_limit=1800)
def review(job_id: str | None = None) -> dict:
    """The review loop for the configured endpoint (beat: every few minutes; idempotent)."""
    if job_id is not None:
        return job_run(job_id=job_id, work=lambda job: _review()) or {}
    try:
        return _review()
    except DomainError as exc:
        return {"error": exc.message}


@platform_task(soft_time_limit=600)
def sync_worker_block(annotator_id: int) -> None:
    """Mirror an annotator's block on the platform on MTurk (soft qualification, then hard block when wanted)."""
    annotator = Worker.objects.filter(pk=annotator_id, provider="mturk").first()
    if annotator is None:
        return
    worker_block_sync(worker=annotator,
                      gateway=mturk_gateway.gateway_for(sandbox=mturk_gateway.configured_sandbox()))
