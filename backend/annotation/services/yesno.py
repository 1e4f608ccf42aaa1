"""The Yes/No kind of graded set (Section 3.1): what the engine (``crowd.sets``) asks of it.

A set holds open questions of one action and one prompt that the worker has never been shown,
and gold of the same action and prompt. Gold is graded by truth; an accepted set's answers are
counted on their questions and, under the majority rule, decided in the same batch of statements
(other aggregators decide right after, in Python).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Count, F, Sum, Value
from django.db.models.functions import Greatest

from backend.annotation.models import Attempt, GoldAnswer, GoldQuestion, Prompt, Question, SetItem, Shown, TaskSet
from backend.annotation.services.consensus import MajorityVote, aggregator_named, questions_decide
from backend.annotation.services.statements import (
    answers_insert,
    gold_answers_insert,
    labels_follow_decisions,
    questions_count,
    questions_count_and_decide,
    taskset_lock,
)
from backend.crowd.models import Worker
from backend.crowd.sets.kinds import (
    Accepted,
    CoverMessages,
    Graded,
    LockedSet,
    SetKind,
    SetMessages,
    answers_by_item,
)

SET_NOT_FOUND = "There is no such set."
NOT_YOUR_SET = "This set belongs to another worker."
SET_EXPIRED = "This set has expired; its questions went back to the pool. Ask for a new set."
SET_CLOSED = "This set is closed: it was refused too many times."
SET_CANCELLED = "This set was cancelled; ask for a new set."
MISSING_ANSWERS = "Answer every item before submitting ({n} missing)."
UNKNOWN_ITEMS = "The submission names {n} item(s) that are not in this set."
DUPLICATE_ITEMS = "The submission answers an item more than once."
REVIEW_MESSAGE = (
    "Some of your answers do not match what we know about these clips. Please review your answers "
    "carefully and submit again."
)
ACCEPTED_MESSAGE = "Thank you! Your answers were recorded."
GOLD_TOLERANCE = 1  # "more than one" wrong gold answer refuses the set (Section 3.1)
COVER = CoverMessages(duplicate=DUPLICATE_ITEMS, unknown=UNKNOWN_ITEMS, missing=MISSING_ANSWERS)


@dataclass
class Answered:
    """A parsed submission: each item's answer (by public id) and the entries as sent."""

    value: dict[uuid.UUID, bool]
    by_item: dict[uuid.UUID, dict]


class YesNoSets(SetKind):
    name = "yesno"
    set_model = TaskSet
    item_model = SetItem
    attempt_model = Attempt
    unit_model = Question
    item_set_field = "taskset"
    item_unit_field = "question"
    attempt_set_field = "taskset"
    attempt_missed_field = "gold_wrong"
    # oldest first, the order of the open-question index: a set reads a set's worth of rows, not the pool
    unit_order = ("id",)
    gold_first_truth = False  # a negative first: an always-yes spammer meets it at once
    messages = SetMessages(not_found=SET_NOT_FOUND, not_yours=NOT_YOUR_SET, expired=SET_EXPIRED, closed=SET_CLOSED,
                           cancelled=SET_CANCELLED, review=REVIEW_MESSAGE, accepted=ACCEPTED_MESSAGE)

    # -- assignment -------------------------------------------------------------------------------
    def queue(self, spec: dict) -> dict:
        return {"prompt": spec.get("prompt", Prompt.SEEN_OR_HEARD)}

    def set_size(self, dataset) -> int:
        return dataset.set_size

    def sets_closed(self, worker: Worker) -> int:
        return worker.sets_accepted + worker.sets_failed  # kept on the row by every graded submission

    def available(self, *, dataset, worker: Worker, spec: dict):
        # ``NOT IN`` (the worker's own shown questions, hashed once) rather than ``NOT EXISTS``:
        # PostgreSQL turns the latter into an anti join that may walk everyone's shown rows,
        # while this keeps the plan a walk of the open-question index that stops after a set.
        return (
            Question.objects.filter(dataset=dataset, prompt=self.queue(spec)["prompt"], state=Question.State.OPEN)
            .filter(needed__gt=F("answers") + F("in_flight"))
            .exclude(id__in=Shown.objects.filter(worker=worker).values("question_id"))
        )

    def gold_pool(self, *, dataset, worker: Worker, action_id: int, spec: dict) -> list:
        """The action's active gold, each with how often this worker answered it: read from the
        worker's own gold answers, never from everyone's (gold is answered by every worker)."""
        pool = list(GoldQuestion.objects.filter(dataset=dataset, prompt=self.queue(spec)["prompt"],
                                                action_id=action_id, active=True))
        seen = dict(GoldAnswer.objects.filter(worker=worker, gold_id__in=[g.pk for g in pool]).order_by()
                    .values("gold_id").annotate(n=Count("id")).values_list("gold_id", "n"))
        for gold in pool:
            gold.seen = seen.get(gold.pk, 0)
        return pool

    def items_create(self, *, record, entries) -> None:
        SetItem.objects.bulk_create([
            SetItem(taskset=record, position=i, question_id=unit_id, gold_id=gold.pk if gold else None)
            for i, (unit_id, gold) in enumerate(entries)
        ])

    def reserved(self, *, worker: Worker, unit_ids) -> None:
        Shown.objects.bulk_create([Shown(worker=worker, question_id=qid) for qid in unit_ids], ignore_conflicts=True)

    def work_missing(self, *, dataset, spec: dict) -> int:
        rows = Question.objects.filter(dataset=dataset, prompt=self.queue(spec)["prompt"], state=Question.State.OPEN) \
            .aggregate(n=Sum(Greatest(F("needed") - F("answers") - F("in_flight"), Value(0))))
        return int(rows["n"] or 0)

    def work_complete(self, *, dataset_id: int, spec: dict) -> bool:
        return not Question.objects.filter(dataset_id=dataset_id, prompt=self.queue(spec)["prompt"],
                                           state=Question.State.OPEN, needed__gt=F("answers")).exists()

    # -- submission -------------------------------------------------------------------------------
    def lock(self, *, set_id, submission_id) -> LockedSet | None:
        taskset = taskset_lock(set_id=set_id, submission_id=submission_id)
        if taskset is None:
            return None
        previous = None if taskset.prev_accepted is None else (taskset.prev_accepted, taskset.prev_response)
        # items: (public id, question id, gold id, gold truth), in order
        return LockedSet(record=taskset, previous=previous, items=taskset.item_rows)

    def parse(self, locked: LockedSet, answers: list[dict]) -> Answered:
        by_item = answers_by_item(answers, [pid for pid, *_ in locked.items], COVER)
        return Answered(value={pid: bool(by_item[pid]["answer"]) for pid, *_ in locked.items}, by_item=by_item)

    def grade(self, locked: LockedSet, parsed: Answered, *, worker: Worker, now) -> Graded:
        gold = [(pid, gid, truth) for pid, _, gid, truth in locked.items if gid]
        value = parsed.value
        rows = [(gid, value[pid], value[pid] == truth) for pid, gid, truth in gold]
        return Graded(gold_total=len(gold), missed=sum(1 for _, _, correct in rows if not correct),
                      writes=[gold_answers_insert(worker_id=worker.pk, taskset_id=locked.record.pk, rows=rows,
                                                  now=now)])

    def max_missed(self) -> int:
        return GOLD_TOLERANCE

    def attempt_payload(self, locked: LockedSet, parsed: Answered) -> dict:
        return {"answers": [{"item": str(k), "answer": parsed.value[k], "ms": v.get("ms")}
                            for k, v in parsed.by_item.items()]}

    def accept(self, locked: LockedSet, parsed: Answered, *, worker: Worker, now) -> Accepted:
        value = parsed.value
        real = [(pid, qid) for pid, qid, gid, _ in locked.items if qid]
        question_ids = [qid for _, qid in real]
        yes_ids = [qid for pid, qid in real if value[pid]]
        no_ids = [qid for pid, qid in real if not value[pid]]
        writes = [answers_insert(worker_id=worker.pk, taskset_id=locked.record.pk, now=now,
                                 rows=[(qid, value[pid], parsed.by_item[pid].get("ms")) for pid, qid in real])]
        taskset = locked.record
        aggregator = aggregator_named(taskset.dataset_aggregator, adaptive=bool(taskset.dataset_adaptive))
        if isinstance(aggregator, MajorityVote):  # the default: counted and decided in SQL
            writes += [questions_count_and_decide(yes_ids=yes_ids, no_ids=no_ids, now=now),
                       labels_follow_decisions(question_ids=question_ids, now=now)]
            return Accepted(writes=writes)
        writes.append(questions_count(yes_ids=yes_ids, no_ids=no_ids))
        return Accepted(writes=writes, then=lambda: questions_decide(question_ids=question_ids, aggregator=aggregator))

    def tallies(self, locked: LockedSet, parsed: Answered, *, accepted: bool, failed: bool) -> dict[str, int]:
        real = sum(1 for _, qid, _, _ in locked.items if qid)
        return {"sets_accepted": 1 if accepted else 0, "answers_count": real if accepted else 0,
                "sets_failed": 1 if failed else 0}


YES_NO = YesNoSets()
