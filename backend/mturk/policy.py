"""What the review loop does with a submitted assignment. Rejection is for work that never passed
the platform's grading (MTurk counts it against the worker), so it is reserved for submissions
that bypassed the page, failed gold, or came from another account than the one that did the set."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from backend.crowd.sets.kinds import ACCEPTED, FAILED, OPEN
from backend.mturk.conf import mturk_setting

APPROVE, REJECT, WAIT = "approve", "reject", "wait"
FEEDBACK_NO_WORK = (
    "No accepted answers were recorded for this assignment: the HIT was submitted without completing the "
    "task on our page."
)
FEEDBACK_FAILED_GOLD = "Your answers did not pass the task's quality checks, so the HIT could not be accepted."
FEEDBACK_WRONG_WORKER = "This assignment was completed under a different worker account than the one submitting it."
REASON_REJECTIONS = "{n} MTurk assignments rejected (limit {limit})"
REASON_REJECTED = "{n} MTurk assignment(s) rejected: submitted without work accepted by the platform"


@dataclass(frozen=True)
class Decision:
    action: str
    feedback: str = ""


def assignment_decision(*, set_status: str | None, worker_matches: bool, submitted_at: datetime | None,
                        now: datetime) -> Decision:
    """What to do with a submitted assignment, from the status of its set (of whichever kind)."""
    if not worker_matches:
        return Decision(REJECT, FEEDBACK_WRONG_WORKER)
    if set_status == ACCEPTED:
        return Decision(APPROVE)
    if set_status == FAILED:
        return Decision(REJECT, FEEDBACK_FAILED_GOLD)
    grace = timedelta(seconds=int(mturk_setting("MMIT_MTURK_REJECT_GRACE_SECONDS")))
    if set_status == OPEN and submitted_at is not None and now - submitted_at < grace:
        # The set is still open: let its grading finish before deciding.
        return Decision(WAIT)
    return Decision(REJECT, FEEDBACK_NO_WORK)


def hard_block_reason(*, rejections: int) -> str | None:
    """Repeat offenders get the hard block (CreateWorkerBlock) on top of the soft one."""
    limit = int(mturk_setting("MMIT_MTURK_HARD_BLOCK_AFTER_REJECTIONS"))
    if limit and rejections >= limit:
        return REASON_REJECTIONS.format(n=rejections, limit=limit)
    return None


def soft_block_reason(*, rejections: int) -> str | None:
    """One rejected assignment is already one submission that bypassed the platform's grading."""
    return REASON_REJECTED.format(n=rejections) if rejections else None
