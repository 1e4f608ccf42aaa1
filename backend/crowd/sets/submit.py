"""Grading a submitted set on the server, and recording it.

Order of checks (each a clear 4xx that stores nothing): the set exists, it is the worker's, it
is still open and not expired, the worker is not blocked, and the submission covers exactly its
items. Then gold is graded: more than ``max_missed`` missed gold items refuse the attempt without
saying which (the worker may review and resubmit, up to the set's attempt cap). Every attempt is
recorded. A retried request with the same submission id returns the recorded outcome, and the
set's row lock makes two concurrent submits of one set record exactly one result.

This is the platform's hot path: every write goes in one batch (``execute_batch``), nothing is
done per item in SQL, and the worker's counters are updated in the same statement that feeds
their refusal history.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from backend.common.errors import DomainError, Forbidden, Gone, NotFound
from backend.common.statements import execute_batch
from backend.crowd.models import Worker
from backend.crowd.policy import block_notice, block_reason, recent_after
from backend.crowd.services import worker_block
from backend.crowd.sets.assign import set_release
from backend.crowd.sets.kinds import ACCEPTED, CANCELLED, EXPIRED, FAILED, OPEN, SetKind, SetRef
from backend.crowd.sets.statements import attempt_insert, set_attempted, worker_counters_add


@dataclass
class SubmitOutcome:
    accepted: bool
    body: dict
    replay: bool = False
    ref: SetRef | None = None  # the set as graded (not set on replays)


def set_submit(*, kind: SetKind, worker: Worker, set_id: uuid.UUID, submission_id: uuid.UUID, answers: list[dict],
               extra: dict | None = None) -> SubmitOutcome:
    """Grade and record one submission of a set of ``kind``; ``answers`` in the kind's form."""
    with transaction.atomic():
        result = _submit(kind=kind, worker=worker, set_id=set_id, submission_id=submission_id, answers=answers,
                         extra=extra or {})
    if isinstance(result, DomainError):
        # a refusal whose state change (an expiry, a cancelled set) had to commit first
        raise result
    return result


def _previous(kind: SetKind, locked, submission_id) -> tuple[bool, dict] | None:
    if locked.previous is not None or not locked.record.attempts:
        return locked.previous
    # A kind may read the earlier outcome in the locking statement, whose snapshot was taken when
    # the statement began. When it waited for the row lock (a double click, a retry racing the
    # first request), an attempt committed in the meantime is invisible to it, while the locked
    # row itself is its latest version. A set with attempts is therefore looked at again.
    return kind.attempt_model.objects.filter(**{f"{kind.attempt_set_field}_id": locked.record.pk},
                                             submission_id=submission_id).values_list("accepted", "response").first()


def _submit(*, kind: SetKind, worker: Worker, set_id, submission_id, answers, extra) -> SubmitOutcome | DomainError:
    now = timezone.now()
    messages = kind.messages
    locked = kind.lock(set_id=set_id, submission_id=submission_id)
    if locked is None:
        raise NotFound(messages.not_found)
    record = locked.record
    if record.worker_id != worker.pk:
        raise Forbidden(messages.not_yours)
    previous = _previous(kind, locked, submission_id)
    if previous is not None:
        accepted, response = previous
        return SubmitOutcome(bool(accepted), json.loads(response) if isinstance(response, str) else response,
                             replay=True)
    if record.status == ACCEPTED:
        response = kind.attempt_model.objects.filter(**{f"{kind.attempt_set_field}_id": record.pk},
                                                     accepted=True).values_list("response", flat=True).first()
        return SubmitOutcome(True, response or {"status": "accepted"}, replay=True)
    if worker.blocked:  # as read when the request identified the worker: say why, whatever the set's state
        if record.status == OPEN:
            set_release(kind=kind, record=record, status=CANCELLED, now=now)
            return Forbidden(block_notice(worker.blocked_reason))
        raise Forbidden(block_notice(worker.blocked_reason))
    if record.status == FAILED:
        raise Gone(messages.closed)
    if record.status in (EXPIRED, CANCELLED):
        raise Gone(messages.expired if record.status == EXPIRED else messages.cancelled)
    if record.expires_at <= now:
        set_release(kind=kind, record=record, status=EXPIRED, now=now)
        return Gone(messages.expired)

    parsed = kind.parse(locked, answers)
    graded = kind.grade(locked, parsed, worker=worker, now=now)
    accepted = graded.missed <= kind.max_missed()
    number = record.attempts + 1
    left = record.max_attempts - number
    failed = not accepted and left <= 0

    counters = {"gold_answers": graded.gold_total, "gold_correct": graded.gold_total - graded.missed,
                "attempts_refused": 0 if accepted else 1,
                **kind.tallies(locked, parsed, accepted=accepted, failed=failed)}
    writes = [*graded.writes,
              worker_counters_add(worker_id=worker.pk, counters=counters, now=now, refused=not accepted)]
    for name, n in counters.items():  # the worker's counters as they now stand, for the block rules
        setattr(worker, name, getattr(worker, name) + n)
    worker.recent_refusals = recent_after(worker.recent_refusals, refused=not accepted)

    reason = block_reason(worker)  # this submission's outcome may block the worker: they are told so now
    then = None
    if accepted:
        work = kind.accept(locked, parsed, worker=worker, now=now)
        writes += [*work.writes, set_attempted(kind=kind, set_id=record.pk, attempts=number, accepted_at=now)]
        then = work.then
        record.status, record.closed_at, record.attempts = ACCEPTED, now, number
        body = {"status": "accepted", "detail": messages.accepted + (f" {block_notice(reason)}" if reason else ""),
                "attempts_left": 0}
    else:
        writes.append(set_attempted(kind=kind, set_id=record.pk, attempts=number))
        record.attempts = number
        if reason:  # the block cancels the set: no attempt is left to make
            body = {"status": "blocked", "detail": block_notice(reason), "attempts_left": 0}
        elif failed:
            body = {"status": "failed", "detail": messages.closed, "attempts_left": 0}
        else:
            body = {"status": "refused", "detail": messages.review, "attempts_left": left}
    writes.append(attempt_insert(kind=kind, set_id=record.pk, number=number, submission_id=submission_id,
                                 accepted=accepted, gold_total=graded.gold_total, missed=graded.missed,
                                 payload={**kind.attempt_payload(locked, parsed), **extra}, response=body, now=now))
    execute_batch(*writes)
    if then is not None:
        then()
    if failed:
        set_release(kind=kind, record=record, status=FAILED, now=now)
    if reason:
        worker_block(worker=worker, reason=reason)
    return SubmitOutcome(accepted, body, ref=kind.ref(record))
