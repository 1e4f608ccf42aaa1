"""Candidate rounds and predictions ingestion as background jobs.

``mmit.candidates.run_round`` can also be scheduled by beat: without a job id it opens a job
of its own, so its progress shows on the dashboard like a round started from the API.
"""
from __future__ import annotations

import time

from backend.candidates.models import CandidateRound
from backend.candidates.policy import RoundPolicy
from backend.candidates.services import candidate_round_resume, candidate_round_run, predictions_ingest
from backend.common.errors import DomainError, NotFound
from backend.common.jobs import job_create, job_progress_reporter, job_run
from backend.videos.models import Dataset
from workers.base import platform_task

DATASET_GONE = "The dataset was deleted before the job ran."
ROUND_HELD = ("Round {number} still has chunks held by another process after {minutes} minutes; the round "
              "finishes when that process does, or when the dataset's next round runs.")
HELD_CHUNKS_WAIT = 600  # seconds
HELD_CHUNKS_POLL = 5


@platform_task(soft_time_limit=6 * 3600)
def run_round(job_id: str | None, dataset_id: int, sources: list[str] | None = None,
              policy: dict | None = None) -> None:
    """Run the dataset's next candidate round (or finish the one a crash left open).

    A replay of a job whose round finished changes nothing: ``candidate_round_run`` finds the
    round by its job.
    """
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if job_id is None:  # a beat schedule
        if dataset is None:
            return
        job_id = str(job_create(kind="candidate_round", params={"dataset": dataset.name, "sources": sources,
                                                                "policy": policy or {}, "scheduled": True}).id)

    def work(job) -> dict:
        if dataset is None:
            raise NotFound(DATASET_GONE)
        report = job_progress_reporter(job_id=job_id)
        finished = candidate_round_run(
            dataset=dataset, sources=sources, policy=RoundPolicy.from_settings(**(policy or {})), job=job,
            progress=lambda done, total: report(done, total, f"step {done} of {total}"),
        )
        # Chunks still locked by another process (a worker whose connection has not been dropped
        # yet): wait for them, taking over any whose lock is released, rather than report success.
        deadline = time.monotonic() + HELD_CHUNKS_WAIT
        while finished.status != CandidateRound.Status.FINISHED and time.monotonic() < deadline:
            time.sleep(HELD_CHUNKS_POLL)
            finished = candidate_round_resume(candidate_round=finished, job=job)
        if finished.status != CandidateRound.Status.FINISHED:
            raise DomainError(ROUND_HELD.format(number=finished.number, minutes=HELD_CHUNKS_WAIT // 60))
        return {"round": finished.number, "proposed": finished.proposed,
                "sources": finished.stats.get("sources", {})}

    job_run(job_id=job_id, work=work)


@platform_task(soft_time_limit=3600)
def ingest_predictions(job_id: str, dataset_id: int, path: str) -> None:
    """Ingest a predictions CSV; bad content fails the job with the reason and writes nothing."""
    def work(job) -> dict:
        dataset = Dataset.objects.filter(pk=dataset_id).first()
        if dataset is None:
            raise NotFound(DATASET_GONE)
        prediction_set = predictions_ingest(dataset=dataset, path=path, user=job.created_by)
        return {"prediction_set": prediction_set.id, "rows": prediction_set.rows, "videos": prediction_set.videos}

    job_run(job_id=job_id, work=work)
