"""Turning answers into labels.

The aggregation is a strategy chosen per dataset:
- `MajorityVote`, the paper's baseline: a fixed 3 (train) or 5 (val/test) answers, majority
  wins, a tie is ambiguous.
- `Probabilistic`: each answer weighs by its worker's reliability (sensitivity/specificity
  estimated from their gold answers, with a prior); with adaptive redundancy a question stops as
  soon as its posterior is confident and gets more answers only where workers disagree, up to the
  question's cap. `dataset_reaggregate` re-decides the whole dataset with Dawid-Skene EM.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np
from django.db.models import Case, Count, F, FloatField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from backend.annotation.dawid_skene import dawid_skene, posterior_logit
from backend.annotation.models import Answer, GoldAnswer, Question
from backend.crowd.models import Worker
from backend.labels.models import Label

POSITIVE, NEGATIVE, AMBIGUOUS = "positive", "negative", "ambiguous"


@dataclass(frozen=True)
class Decision:
    decision: str  # positive / negative / ambiguous
    confidence: float


class Aggregator(Protocol):
    def decide(self, questions: list[Question]) -> dict[int, Decision | int]:
        """For each question: a Decision, or the number of answers it needs now (keep asking)."""


class MajorityVote:
    """Fixed redundancy: decide once `needed` answers are in; ties are ambiguous."""

    def decide(self, questions: list[Question]) -> dict[int, Decision | int]:
        out: dict[int, Decision | int] = {}
        for q in questions:
            total = q.yes + q.no
            if total < q.needed or total == 0:
                out[q.pk] = q.needed
            elif q.yes == q.no:
                out[q.pk] = Decision(AMBIGUOUS, 0.5)
            else:
                out[q.pk] = Decision(POSITIVE if q.yes > q.no else NEGATIVE, max(q.yes, q.no) / total)
        return out


def worker_confusions(worker_ids: Iterable[int], *, strength: float = 4.0, accuracy: float = 0.85
                      ) -> dict[int, tuple[float, float]]:
    """(sensitivity, specificity) per worker from their gold answers, with a Beta prior so that a
    worker with little gold sits near a plausible accuracy rather than at 0 or 1."""
    a0, b0 = strength * accuracy, strength * (1 - accuracy)
    rows = (
        GoldAnswer.objects.filter(worker_id__in=list(worker_ids))
        .values("worker_id")
        .annotate(
            pos=Count("id", filter=Q(gold__truth=True)), pos_ok=Count("id", filter=Q(gold__truth=True, correct=True)),
            neg=Count("id", filter=Q(gold__truth=False)), neg_ok=Count("id", filter=Q(gold__truth=False, correct=True)),
        )
    )
    stats = {r["worker_id"]: r for r in rows}
    out = {}
    for wid in worker_ids:
        r = stats.get(wid, {"pos": 0, "pos_ok": 0, "neg": 0, "neg_ok": 0})
        sens = (r["pos_ok"] + a0) / (r["pos"] + a0 + b0)
        spec = (r["neg_ok"] + a0) / (r["neg"] + a0 + b0)
        out[wid] = (min(max(sens, 0.01), 0.99), min(max(spec, 0.01), 0.99))
    return out


class Probabilistic:
    """Reliability-weighted posterior per question, optionally with adaptive redundancy."""

    def __init__(self, *, adaptive: bool, confidence: float = 0.99, eval_confidence: float = 0.998,
                 prior: float = 0.5, ambiguous_band: float = 0.15) -> None:
        self.adaptive = adaptive
        self.confidence = confidence
        self.eval_confidence = eval_confidence
        self.prior = prior
        self.ambiguous_band = ambiguous_band

    def source_priors(self, questions: list[Question], *, typical_accuracy: float = 0.9,
                      min_answers: int = 20) -> dict[int, float]:
        """P(true) before any answer, per question, from the share of Yes among all answers to
        questions of the same source (initial labels are nearly always right, a weak candidate
        relation nearly always wrong). Using every answer, not only decided questions, avoids the
        bias of whichever questions happen to be decided first; the share is corrected for
        worker noise: yes = pi * a + (1 - pi) * (1 - a)."""
        if not questions:
            return {}
        dataset_id = questions[0].dataset_id
        label_ids = [q.label_id for q in questions if q.label_id]
        source_of = dict(Label.objects.filter(pk__in=label_ids).values_list("pk", "source"))
        rates = {}
        for r in (Answer.objects.filter(question__dataset_id=dataset_id, excluded=False,
                                        question__label__isnull=False)
                  .values("question__label__source").annotate(n=Count("id"), yes=Count("id", filter=Q(value=True)))):
            if r["n"] >= min_answers:
                share = r["yes"] / r["n"]
                rates[r["question__label__source"]] = (share - (1 - typical_accuracy)) / (2 * typical_accuracy - 1)
        return {
            q.pk: min(0.95, max(0.05, rates.get(source_of.get(q.label_id), self.prior))) for q in questions
        }

    def decide(self, questions: list[Question]) -> dict[int, Decision | int]:
        ids = [q.pk for q in questions]
        priors = self.source_priors(questions)
        answers = defaultdict(list)
        for qid, wid, value in Answer.objects.filter(question_id__in=ids, excluded=False).values_list(
                "question_id", "worker_id", "value"):
            answers[qid].append((wid, value))
        confusions = worker_confusions({w for rows in answers.values() for w, _ in rows})
        out: dict[int, Decision | int] = {}
        for q in questions:
            rows = answers.get(q.pk, [])
            if len(rows) < q.needed or not rows:
                out[q.pk] = q.needed
                continue
            sens = np.array([confusions[w][0] for w, _ in rows])
            spec = np.array([confusions[w][1] for w, _ in rows])
            p = 1 / (1 + np.exp(-posterior_logit(prior=priors[q.pk], sens=sens, spec=spec,
                                                  values=np.array([v for _, v in rows]))))
            target = self.confidence if q.split == "train" else self.eval_confidence
            confident = p >= target or p <= 1 - target
            if self.adaptive and not confident and len(rows) < q.max_answers:
                out[q.pk] = len(rows) + 1  # workers disagree or are unreliable: ask one more
                continue
            out[q.pk] = _decision_from_posterior(p, self.ambiguous_band)
        return out


def _decision_from_posterior(p: float, band: float) -> Decision:
    if abs(p - 0.5) < band:
        return Decision(AMBIGUOUS, float(max(p, 1 - p)))
    return Decision(POSITIVE, float(p)) if p > 0.5 else Decision(NEGATIVE, float(1 - p))


def aggregator_named(name: str, *, adaptive: bool) -> Aggregator:
    """The aggregator a dataset's ``aggregator`` and ``adaptive`` settings name."""
    if name == "dawid_skene":
        return Probabilistic(adaptive=adaptive)
    return MajorityVote()


def aggregator_for(dataset) -> Aggregator:
    return aggregator_named(dataset.aggregator, adaptive=dataset.adaptive)


def _apply(decided: list[Question], now) -> None:
    Question.objects.bulk_update(decided, ["state", "decision", "confidence", "decided_at"])
    labels = [
        Label(pk=q.label_id, state=q.decision, yes_count=q.yes, no_count=q.no, confidence=q.confidence, decided_at=now)
        for q in decided if q.label_id
    ]
    Label.objects.bulk_update(labels, ["state", "yes_count", "no_count", "confidence", "decided_at"])


def _majority_decide_sql(question_ids: list[int], now) -> int:
    """The majority rule as two set-based UPDATEs (the submit hot path): decide the questions
    that have their answers, then copy the decisions onto their labels."""
    ready = Question.objects.filter(pk__in=question_ids, state=Question.State.OPEN, answers__gte=F("needed"),
                                    answers__gt=0)
    total = F("yes") + F("no")
    n = ready.update(
        state=Question.State.DECIDED, decided_at=now,
        decision=Case(When(yes__gt=F("no"), then=Value(POSITIVE)), When(no__gt=F("yes"), then=Value(NEGATIVE)),
                      default=Value(AMBIGUOUS)),
        confidence=Case(When(yes__gt=F("no"), then=Cast(F("yes"), FloatField()) / Cast(total, FloatField())),
                        When(no__gt=F("yes"), then=Cast(F("no"), FloatField()) / Cast(total, FloatField())),
                        default=Value(0.5)),
    )
    if n:
        decided = Question.objects.filter(label_id=OuterRef("pk"))
        Label.objects.filter(question__in=question_ids, question__state=Question.State.DECIDED,
                             question__decided_at=now).update(
            state=Subquery(decided.values("decision")[:1]), yes_count=Subquery(decided.values("yes")[:1]),
            no_count=Subquery(decided.values("no")[:1]), confidence=Subquery(decided.values("confidence")[:1]),
            decided_at=now,
        )
    return n


def questions_decide(*, question_ids: Iterable[int], aggregator: Aggregator) -> list[Question] | int:
    """Apply the aggregator to these open questions; decided ones update their label too.

    Returns the decided questions (or, for the set-based majority rule, how many)."""
    now = timezone.now()
    if isinstance(aggregator, MajorityVote):
        return _majority_decide_sql(list(question_ids), now)
    questions = list(Question.objects.filter(pk__in=list(question_ids), state=Question.State.OPEN))
    outcome = aggregator.decide(questions)
    decided, raised = [], []
    for q in questions:
        result = outcome[q.pk]
        if isinstance(result, Decision):
            q.state, q.decision, q.confidence, q.decided_at = Question.State.DECIDED, result.decision, result.confidence, now
            decided.append(q)
        elif result != q.needed:
            q.needed = result
            raised.append(q)
    if raised:
        Question.objects.bulk_update(raised, ["needed"])
    if decided:
        _apply(decided, now)
    return decided


def questions_sweep(*, dataset) -> int:
    """Re-examine open questions whose redundancy was raised while workers' reliabilities were
    still uncertain: with what gold has taught since, some are now confident at fewer answers."""
    aggregator = aggregator_for(dataset)
    if not isinstance(aggregator, Probabilistic):
        return 0
    candidates = list(Question.objects.filter(dataset=dataset, state=Question.State.OPEN, answers__gt=0,
                                              in_flight=0).filter(needed__gt=F("answers")))
    decided = []
    now = timezone.now()
    for start in range(0, len(candidates), 500):
        chunk = candidates[start:start + 500]
        for q in chunk:
            q.needed = q.answers  # evaluate on the answers in hand
        outcome = aggregator.decide(chunk)
        for q in chunk:
            result = outcome[q.pk]
            if isinstance(result, Decision):
                q.state, q.decision, q.confidence, q.decided_at = Question.State.DECIDED, result.decision, result.confidence, now
                decided.append(q)
    if decided:
        _apply(decided, now)
    return len(decided)


def dataset_reaggregate(*, dataset, max_iter: int = 50) -> dict:
    """Re-decide every decided question of the dataset with Dawid-Skene EM over all answers,
    gold answers pinned to their truth, and so are the questions of labels a curator corrected
    (``Label.corrected``): like gold, they teach the workers' reliabilities and keep their verdict.
    Returns how many decisions changed."""
    qa = np.array(
        list(Answer.objects.filter(question__dataset=dataset, excluded=False, question__state=Question.State.DECIDED)
             .values_list("question_id", "worker_id", "value")),
        dtype=np.int64,
    ).reshape(-1, 3)
    ga = np.array(
        list(GoldAnswer.objects.filter(gold__dataset=dataset).values_list("gold_id", "worker_id", "value",
                                                                          "gold__truth")),
        dtype=np.int64,
    ).reshape(-1, 4)
    if not len(qa):
        return {"questions": 0, "changed": 0}
    q_ids, q_idx = np.unique(qa[:, 0], return_inverse=True)
    g_ids, g_idx = np.unique(ga[:, 0], return_inverse=True) if len(ga) else (np.array([], dtype=np.int64),
                                                                               np.array([], dtype=np.int64))
    w_ids, w_idx = np.unique(np.concatenate([qa[:, 1], ga[:, 1]]), return_inverse=True)
    items = np.concatenate([q_idx, len(q_ids) + g_idx])
    pinned = np.full(len(q_ids) + len(g_ids), -1.0)
    if len(ga):
        truth_of_gold = np.zeros(len(g_ids))
        truth_of_gold[g_idx] = ga[:, 3]
        pinned[len(q_ids):] = truth_of_gold
    corrected = dict(Question.objects.filter(dataset=dataset, state=Question.State.DECIDED, label__corrected=True,
                                             label__state__in=(POSITIVE, NEGATIVE))
                     .values_list("pk", "label__state"))
    at = np.searchsorted(q_ids, np.fromiter(corrected, dtype=np.int64, count=len(corrected)))
    for (qid, state), i in zip(corrected.items(), at.tolist()):
        if i < len(q_ids) and q_ids[i] == qid:  # a corrected question may have no answers
            pinned[i] = 1.0 if state == POSITIVE else 0.0
    result = dawid_skene(items, w_idx, np.concatenate([qa[:, 2], ga[:, 2]]), n_items=len(pinned),
                         n_workers=len(w_ids), pinned=pinned, max_iter=max_iter)
    now = timezone.now()
    posterior = dict(zip(q_ids.tolist(), result.posterior[: len(q_ids)].tolist()))
    changed = []
    for q in Question.objects.filter(pk__in=q_ids.tolist()).only("pk", "label_id", "decision", "confidence", "yes",
                                                                  "no", "state", "decided_at"):
        if q.pk in corrected:
            continue  # a curator's verdict: pinned, never re-decided
        d = _decision_from_posterior(posterior[q.pk], 0.15)
        if d.decision != q.decision:
            q.decision, q.confidence, q.decided_at = d.decision, d.confidence, now
            changed.append(q)
    if changed:
        _apply(changed, now)
    return {"questions": len(q_ids), "changed": len(changed), "iterations": result.iterations,
            "prior": result.prior}


def worker_work_withdraw(*, worker: Worker, **_) -> int:
    """A blocked worker's open sets are cancelled and their answers to still-open questions stop
    counting (the rows are kept); returns how many answers were excluded. Also the receiver of
    ``crowd.signals.worker_blocked`` (its other arguments are ignored)."""
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
