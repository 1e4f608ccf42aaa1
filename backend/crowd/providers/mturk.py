"""Amazon Mechanical Turk: workers arrive in MTurk's frame with assignmentId, hitId, workerId and
turkSubmitTo in the query string (forwarded by the page to every API call).

One MTurk assignment is one set of the engine; the engine grades it with its usual gold rules and
only an accepted set gets the form that submits the assignment to MTurk. Blocks are mirrored on
MTurk by a Celery task (never inside the worker's request).
"""
from __future__ import annotations

from backend.crowd.models import Worker
from backend.crowd.providers.base import CrowdProvider
from backend.mturk.services.assignments import (
    PREVIEW_ASSIGNMENT,
    PROVIDER,
    assignment_bind,
    assignment_ref,
    external_submit_for,
)


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
                               worker_id=params.get("workerId"), turk_submit_to=params.get("turkSubmitTo")).worker

    def is_preview(self, request) -> bool:
        return request.GET.get("assignmentId") == PREVIEW_ASSIGNMENT

    def assignment_ref(self, request) -> dict:
        return assignment_ref(assignment_id=request.GET["assignmentId"], hit_id=request.GET["hitId"])

    def accepted_payload(self, taskset) -> dict:
        return external_submit_for(taskset=taskset)

    def on_worker_blocked(self, *, worker_id: int, reason: str) -> None:
        from workers.tasks.mturk import sync_worker_block

        sync_worker_block.delay(worker_id)

    def on_worker_unblocked(self, *, worker_id: int) -> None:
        from workers.tasks.mturk import sync_worker_block

        sync_worker_block.delay(worker_id)
