"""Turning answers into labels.

The aggregation is a strategy: `MajorityVote` is the paper's baseline (a fixed 3 or 5 answers,
majority wins, a tie is ambiguous). Other strategies (a probabilistic one) implement the same
`decide` and are chosen per dataset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

from django.db.models import F
from django.utils import timezone

from backend.annotation.models import Answer, Question
from backend.crowd.models import Worker
from backend.labels.models import Label

POSITIVE, NEGATIVE, AMBIGUOUS = "positive", "negative", "ambiguous"


@dataclass(frozen=True)
class Decision:
    decision: str  # positive / negative / ambiguous
    confidence: float


class Aggregator(Protocol):
    def decide(self, question: Question) -> Decision | None:
        """The decision for a question given its counters, or None to keep asking."""

    def needed_after(self, question: Question) -> int:
        """How many answers the question needs now (adaptive strategies may raise it)."""


class MajorityVote:
    """Fixed redundancy: decide once `needed` answers are in; ties are ambiguous."""

    def decide(self, question: Question) -> Decision | None:
        total = question.yes + question.no
        if total < question.needed or total == 0:
            return None
        if question.yes == question.no:
            return Decision(AMBIGUOUS, 0.5)
        winner = POSITIVE if question.yes > question.no else NEGATIVE
        return Decision(winner, max(question.yes, question.no) / total)

    def needed_after(self, question: Question) -> int:
        return question.needed


AGGREGATORS: dict[str, Aggregator] = {"majority": MajorityVote()}


def aggregator_for(dataset) -> Aggregator:
    return AGGREGATORS.get(dataset.aggregator, AGGREGATORS["majority"])


def questions_decide(*, question_ids: Iterable[int], aggregator: Aggregator) -> list[Question]:
    """Apply the aggregator to these questions; decided ones update their label too."""
    now = timezone.now()
    decided: list[Question] = []
    raised: list[Question] = []
    for q in Question.objects.filter(pk__in=list(question_ids), state=Question.State.OPEN):
        decision = aggregator.decide(q)
        if decision is None:
            needed = aggregator.needed_after(q)
            if needed != q.needed:
                q.needed = needed
                raised.append(q)
            continue
        q.state, q.decision, q.confidence, q.decided_at = Question.State.DECIDED, decision.decision, decision.confidence, now
        decided.append(q)
    if raised:
        Question.objects.bulk_update(raised, ["needed"])
    if decided:
        Question.objects.bulk_update(decided, ["state", "decision", "confidence", "decided_at"])
        labels = []
        for q in decided:
            if q.label_id:
                labels.append(Label(pk=q.label_id, state=q.decision, yes_count=q.yes, no_count=q.no,
                                    confidence=q.confidence, decided_at=now))
        Label.objects.bulk_update(labels, ["state", "yes_count", "no_count", "confidence", "decided_at"])
    return decided


def worker_work_withdraw(*, worker: Worker) -> int:
    """A blocked worker's open sets are cancelled and their answers to still-open questions stop
    counting (the rows are kept); returns how many answers were excluded."""
    from backend.annotation.models import TaskSet
    from backend.annotation.services.assign import taskset_release

    for taskset in TaskSet.objects.filter(worker=worker, status=TaskSet.Status.OPEN):
        taskset_release(taskset=taskset, status=TaskSet.Status.CANCELLED)
    pending = Answer.objects.filter(worker=worker, excluded=False, question__state=Question.State.OPEN)
    yes_ids = list(pending.filter(value=True).values_list("question_id", flat=True))
    no_ids = list(pending.filter(value=False).values_list("question_id", flat=True))
    Question.objects.filter(pk__in=yes_ids).update(answers=F("answers") - 1, yes=F("yes") - 1)
    Question.objects.filter(pk__in=no_ids).update(answers=F("answers") - 1, no=F("no") - 1)
    return pending.update(excluded=True)
