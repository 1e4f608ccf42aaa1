"""Grading a submitted set on the server, and recording its answers.

Order of checks (each a clear 4xx that stores nothing): the set exists, it is the worker's, it
is still open and not expired, and the answers cover exactly its items. Then gold is graded:
more than one wrong gold answer refuses the attempt without saying which (the worker may review
and resubmit, up to the set's attempt cap). Every attempt is recorded. A retried request with the
same `submission_id` returns the recorded outcome, and the set's row lock makes two concurrent
submits of one set record exactly one result.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backend.annotation.models import Answer, Attempt, GoldAnswer, Question, SetItem, TaskSet
from backend.annotation.services.assign import taskset_release
from backend.annotation.services.consensus import aggregator_for, questions_decide
from backend.common.errors import Conflict, DomainError, Forbidden, Gone, NotFound
from backend.crowd.models import Worker
from backend.crowd.policy import block_reason
from backend.crowd.services import worker_block, worker_record_grading

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


def _validate(items: list[SetItem], answers: list[dict]) -> dict[uuid.UUID, dict]:
    by_item: dict[uuid.UUID, dict] = {}
    for entry in answers:
        if entry["item"] in by_item:
            raise DomainError(DUPLICATE_ITEMS)
        by_item[entry["item"]] = entry
    known = {i.public_id for i in items}
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
    now = timezone.now()
    taskset = TaskSet.objects.select_for_update().select_related("dataset").filter(public_id=set_id).first()
    if taskset is None:
        raise NotFound(SET_NOT_FOUND)
    if taskset.worker_id != worker.pk:
        raise Forbidden(NOT_YOUR_SET)
    previous = Attempt.objects.filter(taskset=taskset, submission_id=submission_id).first()
    if previous is not None:
        return SubmitOutcome(previous.accepted, previous.response, replay=True)
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
    worker = Worker.objects.get(pk=worker.pk)
    if worker.blocked:
        taskset_release(taskset=taskset, status=TaskSet.Status.CANCELLED, now=now)
        return Forbidden(WORKER_BLOCKED)

    items = list(SetItem.objects.filter(taskset=taskset).select_related("gold").order_by("position"))
    by_item = _validate(items, answers)
    gold_items = [i for i in items if i.gold_id]
    gold_wrong = sum(1 for i in gold_items if bool(by_item[i.public_id]["answer"]) != i.gold.truth)
    accepted = gold_wrong <= GOLD_TOLERANCE
    number = taskset.attempts + 1
    payload = {"answers": [{"item": str(k), "answer": bool(v["answer"]), "ms": v.get("ms")}
                           for k, v in by_item.items()], **extra}

    GoldAnswer.objects.bulk_create([
        GoldAnswer(gold_id=i.gold_id, worker=worker, taskset=taskset, value=bool(by_item[i.public_id]["answer"]),
                   correct=bool(by_item[i.public_id]["answer"]) == i.gold.truth)
        for i in gold_items
    ])
    worker = worker_record_grading(worker=worker, gold_answers=len(gold_items),
                                   gold_correct=len(gold_items) - gold_wrong, refused=not accepted)
    taskset.attempts = number
    if accepted:
        body = _accept(taskset=taskset, worker=worker, items=items, by_item=by_item, now=now)
    else:
        left = taskset.max_attempts - number
        if left <= 0:
            taskset_release(taskset=taskset, status=TaskSet.Status.FAILED, now=now)
            Worker.objects.filter(pk=worker.pk).update(sets_failed=F("sets_failed") + 1)
            body = {"status": "failed", "detail": SET_CLOSED, "attempts_left": 0}
        else:
            body = {"status": "refused", "detail": REVIEW_MESSAGE, "attempts_left": left}
    TaskSet.objects.filter(pk=taskset.pk).update(attempts=number)
    Attempt.objects.create(taskset=taskset, number=number, submission_id=submission_id, accepted=accepted,
                           gold_total=len(gold_items), gold_wrong=gold_wrong, payload=payload, response=body)
    reason = block_reason(worker)
    if reason:
        worker_block(worker=worker, reason=reason)
    return SubmitOutcome(accepted, body)


def _accept(*, taskset: TaskSet, worker: Worker, items, by_item, now) -> dict:
    real = [i for i in items if i.question_id]
    Answer.objects.bulk_create([
        Answer(question_id=i.question_id, worker=worker, taskset=taskset, value=bool(by_item[i.public_id]["answer"]),
               duration_ms=by_item[i.public_id].get("ms"))
        for i in real
    ])
    yes_ids = [i.question_id for i in real if by_item[i.public_id]["answer"]]
    no_ids = [i.question_id for i in real if not by_item[i.public_id]["answer"]]
    common = {"answers": F("answers") + 1, "in_flight": F("in_flight") - 1}
    if yes_ids:
        Question.objects.filter(pk__in=yes_ids).update(yes=F("yes") + 1, **common)
    if no_ids:
        Question.objects.filter(pk__in=no_ids).update(no=F("no") + 1, **common)
    TaskSet.objects.filter(pk=taskset.pk).update(status=TaskSet.Status.ACCEPTED, closed_at=now)
    taskset.status = TaskSet.Status.ACCEPTED
    Worker.objects.filter(pk=worker.pk).update(
        sets_accepted=F("sets_accepted") + 1, answers_count=F("answers_count") + len(real), last_seen_at=now
    )
    questions_decide(question_ids=yes_ids + no_ids, aggregator=aggregator_for(taskset.dataset))
    return {"status": "accepted", "detail": ACCEPTED_MESSAGE, "attempts_left": 0}
