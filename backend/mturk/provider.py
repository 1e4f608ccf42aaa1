"""Amazon Mechanical Turk as a crowd provider: workers arrive in MTurk's frame with assignmentId,
hitId, workerId and turkSubmitTo in the query string (forwarded by the page to every API call).

One MTurk assignment is one set of the engine, of whichever kind the HIT asks for (Yes/No or
drawing); the engine grades it with its usual gold rules and only an accepted set gets the form
that submits the assignment to MTurk. Registered in ``MturkConfig.ready``, with the receivers
that mirror the platform's blocks on MTurk (a Celery task after the commit, never inside the
worker's request).
"""
from __future__ import annotations

from backend.crowd.models import Worker
from backend.crowd.providers.base import CrowdProvider
from backend.crowd.sets.kinds import SetRef
from backend.mturk.services.assignments import (
    PREVIEW_ASSIGNMENT,
    PROVIDER,
    assignment_bind,
    assignment_ref,
    external_submit_for,
)
from backend.mturk.services.workers import worker_block_sync_start


class MTurkProvider(CrowdProvider):
    name = PROVIDER

    def identify(self, request) -> Worker | None:
        params = request.GET
        assignment_id = params.get("assignmentId")
        if assignment_id is None:
            return None
        if assignment_id == PREVIEW_ASSIGNMENT:
            # A preview has no worker yet; this stand-in is never saved and can take no set.
            return Worker(provider=self.name, external_id="preview")
        return assignment_bind(assignment_id=assignment_id, hit_id=params.get("hitId"),
                               mturk_worker_id=params.get("workerId"),
                               turk_submit_to=params.get("turkSubmitTo")).worker

    def is_preview(self, request) -> bool:
        return request.GET.get("assignmentId") == PREVIEW_ASSIGNMENT

    def assignment_ref(self, request) -> dict:
        return assignment_ref(assignment_id=request.GET["assignmentId"], hit_id=request.GET["hitId"])

    def accepted_payload(self, ref: SetRef) -> dict:
        return external_submit_for(ref=ref)


def block_mirror(*, worker: Worker, **_) -> None:
    """Receiver of ``crowd.signals.worker_blocked`` and ``worker_unblocked``: MTurk's blocks
    follow the platform's for MTurk workers."""
    if worker.provider == PROVIDER:
        worker_block_sync_start(worker=worker)
