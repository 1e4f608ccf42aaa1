"""Grading a submitted set on the server, and recording its answers.

Order of checks (each a clear 4xx that stores nothing): the set exists, it is the worker's, it
is still open and not expired, and the answers cover exactly its items. Then gold is graded:
more than one wrong gold answer refuses the attempt without saying which (the worker may review
and resubmit, up to the set's attempt cap). Every attempt is recorded. A retried request with the
same `submission_id` returns the recorded outcome, and the set's row lock makes two concurrent
submits of one set record exactly one result.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from backend.annotation.models import Attempt, TaskSet
from backend.annotation.services.assign import taskset_release
from backend.annotation.services.consensus import MajorityVote, aggregator_named, questions_decide
from backend.annotation.services.record import (
    answers_insert,
    attempt_insert,
    gold_answers_insert,
    labels_follow_decisions,
    questions_count,
    questions_count_and_decide,
    run,
    taskset_attempted,
    taskset_lock,
    worker_counters_add,
)
from backend.common.errors import DomainError, Forbidden, Gone, NotFound
from backend.crowd.models import Worker
from backend.crowd.policy import block_reason, recent_after
from backend.crowd.services import worker_block

SET_NOT_FOUND = "There is no such set."
NOT_YOUR_SET = "This set belongs to another worker."
SET_EXPIRED = "This set has expired; its questions went back to the pool. Ask for a new set."
SET_CLOSED = "This set is closed: it was refused too many times."
SET_CANCELLED = "This set was cancelled."
WORKER_BLOCKED = "Your account can no longer submit work."
MISSING_ANSWERS = "Answer every item before submitting ({n} missing)."
UNKNOWN_ITEMS = "The submission names {n} item(s) that are not in this set."
DUPLICATE_ITEMS = "The submission answers an item more than once."
REVIEW_MESSAGE = (
    "Some of your answers do not match what we know about these clips. Please review your answers "
    "carefully and submit again."
)
ACCEPTED_MESSAGE = "Thank you! Your answers were recorded."
GOLD_TOLERANCE = 1  # "more than one" wrong gold answer refuses the set (Section 3.1)


@dataclass
class SubmitOutcome:
    accepted: bool
    body: dict
    replay: bool = False
    taskset: TaskSet | None = None  # the set as locked and graded (not set on replays)


def _validate(item_ids: list[uuid.UUID], answers: list[dict]) -> dict[uuid.UUID, dict]:
    by_item: dict[uuid.UUID, dict] = {}
    for entry in answers:
        if entry["item"] in by_item:
            raise DomainError(DUPLICATE_ITEMS)
        by_item[entry["item"]] = entry
    known = set(item_ids)
    unknown = set(by_item) - known
    if unknown:
        raise DomainError(UNKNOWN_ITEMS.format(n=len(unknown)))
    missing = known - set(by_item)
    if missing:
        raise DomainError(MISSING_ANSWERS.format(n=len(missing)))
    return by_item


def taskset_submit(
    *, worker: Worker, set_id: uuid.UUID, submission_id: uuid.UUID, answers: list[dict], extra: dict | None = None,
) -> SubmitOutcome:
    """Grade and record one submission. `answers`: [{"item": UUID, "answer": bool, "ms": int|None}]."""
    with transaction.atomic():
        result = _submit(worker=worker, set_id=set_id, submission_id=submission_id, answers=answers,
                         extra=extra or {})
    if isinstance(result, DomainError):
        # a refusal whose state change (an expiry, a cancelled set) had to commit first
        raise result
    return result


def _submit(*, worker, set_id, submission_id, answers, extra) -> SubmitOutcome | DomainError:
    # This is the hot path of the platform: every statement is one round trip, nothing per item,
    # and each is plain SQL (record.py), since compiling ORM queries cost more than running them.
    now = timezone.now()
    taskset = taskset_lock(set_id=set_id, submission_id=submission_id)
    if taskset is None:
        raise NotFound(SET_NOT_FOUND)
    if taskset.worker_id != worker.pk:
        raise Forbidden(NOT_YOUR_SET)
    previous_outcome = (taskset.prev_accepted, taskset.prev_response)
    if previous_outcome[0] is None and taskset.attempts:
        # The subqueries read the snapshot taken when the statement began. When it waited for the
        # row lock (a double click, a retry racing the first request), an attempt committed in the
        # meantime is invisible to them, while the locked row itself is its latest version. A set
        # with attempts is therefore looked at again, in a statement of its own.
        previous_outcome = Attempt.objects.filter(taskset_id=taskset.pk, submission_id=submission_id).values_list(
            "accepted", "response").first() or (None, None)
    if previous_outcome[0] is not None:
        accepted, response = previous_outcome
        return SubmitOutcome(bool(accepted), json.loads(response) if isinstance(response, str) else response,
                             replay=True)
    if taskset.status == TaskSet.Status.ACCEPTED:
        accepted = Attempt.objects.filter(taskset=taskset, accepted=True).first()
        return SubmitOutcome(True, accepted.response if accepted else {"status": "accepted"}, replay=True)
    if taskset.status == TaskSet.Status.FAILED:
        raise Gone(SET_CLOSED)
    if taskset.status in (TaskSet.Status.EXPIRED, TaskSet.Status.CANCELLED):
        raise Gone(SET_EXPIRED if taskset.status == TaskSet.Status.EXPIRED else SET_CANCELLED)
    if taskset.expires_at <= now:
        taskset_release(taskset=taskset, status=TaskSet.Status.EXPIRED, now=now)
        return Gone(SET_EXPIRED)
    if worker.blocked:  # as read when the request identified the worker
        taskset_release(taskset=taskset, status=TaskSet.Status.CANCELLED, now=now)
        return Forbidden(WORKER_BLOCKED)

    # (public id, question id, gold id, gold truth) of every item
    items = taskset.item_rows
    by_item = _validate([i[0] for i in items], answers)
    value = {pid: bool(by_item[pid]["answer"]) for pid, *_ in items}
    gold = [(pid, gid, truth) for pid, _, gid, truth in items if gid]
    gold_wrong = sum(1 for pid, _, truth in gold if value[pid] != truth)
    accepted = gold_wrong <= GOLD_TOLERANCE
    number = taskset.attempts + 1
    left = taskset.max_attempts - number
    payload = {"answers": [{"item": str(k), "answer": value[k], "ms": v.get("ms")} for k, v in by_item.items()],
               **extra}

    writes = [gold_answers_insert(worker_id=worker.pk, taskset_id=taskset.pk, now=now,
                                  rows=[(gid, value[pid], value[pid] == truth) for pid, gid, truth in gold])]
    real = [(pid, qid) for pid, qid, gid, _ in items if qid]
    counters = {"gold_answers": len(gold), "gold_correct": len(gold) - gold_wrong,
                "attempts_refused": 0 if accepted else 1, "sets_accepted": 1 if accepted else 0,
                "answers_count": len(real) if accepted else 0, "sets_failed": 1 if not accepted and left <= 0 else 0}
    writes.append(worker_counters_add(worker_id=worker.pk, counters=counters, now=now, refused=not accepted))
    for k, v in counters.items():  # the worker's counters as they now stand, for the block rules
        setattr(worker, k, getattr(worker, k) + v)
    worker.recent_refusals = recent_after(worker.recent_refusals, refused=not accepted)

    aggregator = None
    if accepted:
        question_ids = [qid for _, qid in real]
        yes_ids = [qid for pid, qid in real if value[pid]]
        no_ids = [qid for pid, qid in real if not value[pid]]
        writes.append(answers_insert(worker_id=worker.pk, taskset_id=taskset.pk, now=now,
                                     rows=[(qid, value[pid], by_item[pid].get("ms")) for pid, qid in real]))
        aggregator = aggregator_named(taskset.dataset_aggregator, adaptive=bool(taskset.dataset_adaptive))
        if isinstance(aggregator, MajorityVote):  # the default: counted and decided in SQL
            writes += [questions_count_and_decide(yes_ids=yes_ids, no_ids=no_ids, now=now),
                       labels_follow_decisions(question_ids=question_ids, now=now)]
        else:
            writes.append(questions_count(yes_ids=yes_ids, no_ids=no_ids))
        writes.append(taskset_attempted(taskset_id=taskset.pk, attempts=number, accepted_at=now))
        taskset.status, taskset.closed_at, taskset.attempts = TaskSet.Status.ACCEPTED, now, number
        body = {"status": "accepted", "detail": ACCEPTED_MESSAGE, "attempts_left": 0}
    elif left <= 0:
        writes.append(taskset_attempted(taskset_id=taskset.pk, attempts=number))
        body = {"status": "failed", "detail": SET_CLOSED, "attempts_left": 0}
    else:
        writes.append(taskset_attempted(taskset_id=taskset.pk, attempts=number))
        body = {"status": "refused", "detail": REVIEW_MESSAGE, "attempts_left": left}
    writes.append(attempt_insert(taskset_id=taskset.pk, number=number, submission_id=submission_id,
                                 accepted=accepted, gold_total=len(gold), gold_wrong=gold_wrong, payload=payload,
                                 response=body, now=now))
    run(*writes)
    if aggregator is not None and not isinstance(aggregator, MajorityVote):
        questions_decide(question_ids=question_ids, aggregator=aggregator)
    if not accepted and left <= 0:
        taskset_release(taskset=taskset, status=TaskSet.Status.FAILED, now=now)
    reason = block_reason(worker)
    if reason:
        worker_block(worker=worker, reason=reason)
    return SubmitOutcome(accepted, body, taskset=taskset)
