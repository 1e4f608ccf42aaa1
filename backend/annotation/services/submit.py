"""Grading a submitted Yes/No set on the server, and recording its answers (the graded-set
engine's ``crowd.sets.submit`` with the Yes/No kind; the messages a worker sees are here)."""
from __future__ import annotations

import uuid

from backend.annotation.services.yesno import (  # noqa: F401  (the messages, for callers and tests)
    ACCEPTED_MESSAGE,
    DUPLICATE_ITEMS,
    GOLD_TOLERANCE,
    MISSING_ANSWERS,
    NOT_YOUR_SET,
    REVIEW_MESSAGE,
    SET_CANCELLED,
    SET_CLOSED,
    SET_EXPIRED,
    SET_NOT_FOUND,
    UNKNOWN_ITEMS,
    YES_NO,
)
from backend.crowd.models import Worker
from backend.crowd.sets.submit import SubmitOutcome, set_submit


def taskset_submit(
    *, worker: Worker, set_id: uuid.UUID, submission_id: uuid.UUID, answers: list[dict], extra: dict | None = None,
) -> SubmitOutcome:
    """Grade and record one submission. `answers`: [{"item": UUID, "answer": bool, "ms": int|None}]."""
    return set_submit(kind=YES_NO, worker=worker, set_id=set_id, submission_id=submission_id, answers=answers,
                      extra=extra)
