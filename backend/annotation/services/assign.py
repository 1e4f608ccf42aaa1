"""Assembling sets: one action per set, questions the worker has never seen, hidden gold.

Concurrency: questions are reserved with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so
two workers asking at once get different questions instead of waiting on each other;
`in_flight` counts open sets holding a question so it is not handed out beyond its redundancy.
"""
from __future__ import annotations

import math
import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from backend.annotation.models import GoldQuestion, Prompt, Question, SetItem, Shown, TaskSet
from backend.common.errors import Forbidden
from backend.crowd.models import Worker
from backend.videos.models import Dataset

WORKER_BLOCKED = "Your account cannot take new sets."
_random = secrets.SystemRandom()  # gold positions must not be predictable


def _available(*, dataset: Dataset, worker: Worker, prompt: str):
    shown = Shown.objects.filter(worker=worker, question=OuterRef("pk"))
    return (
        Question.objects.filter(dataset=dataset, prompt=prompt, state=Question.State.OPEN)
        .filter(needed__gt=F("answers") + F("in_flight"))
        .exclude(Exists(shown))
    )


def _lock(qs):
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs  # SQLite: its IMMEDIATE transactions already serialise writers


def gold_count(*, dataset: Dataset, worker: Worker) -> int:
    on_probation = worker.sets_accepted + worker.sets_failed < dataset.probation_sets
    ratio = dataset.probation_gold_ratio if on_probation else dataset.gold_ratio
    return 0 if ratio <= 0 else max(1, math.floor(dataset.set_size * ratio + 0.5))


def _pick_gold(*, dataset: Dataset, worker: Worker, action_id: int, prompt: str, n: int) -> list[GoldQuestion]:
    """Gold of the set's action (so it looks like every other item), unseen by this worker first,
    with positives and negatives both represented when possible."""
    if n <= 0:
        return []
    pool = list(
        GoldQuestion.objects.filter(dataset=dataset, prompt=prompt, action_id=action_id, active=True)
        .annotate(seen=Count("answers", filter=Q(answers__worker=worker)))
    )
    _random.shuffle(pool)
    pool.sort(key=lambda g: g.seen)
    pos = [g for g in pool if g.truth]
    neg = [g for g in pool if not g.truth]
    chosen: list[GoldQuestion] = []
    while len(chosen) < n and (pos or neg):
        # alternate so a one-sided spammer (always yes / always no) meets the other truth
        for side in (neg, pos) if len(chosen) % 2 == 0 else (pos, neg):
            if side:
                chosen.append(side.pop(0))
                break
    return chosen


def _expire_worker_sets(*, worker: Worker, now) -> None:
    stale = TaskSet.objects.filter(worker=worker, status=TaskSet.Status.OPEN, expires_at__lte=now)
    for ts in stale:
        taskset_release(taskset=ts, status=TaskSet.Status.EXPIRED, now=now)


def taskset_release(*, taskset: TaskSet, status: str, now=None) -> None:
    """Close an open set without answers; its questions return to the pool."""
    updated = TaskSet.objects.filter(pk=taskset.pk, status=TaskSet.Status.OPEN).update(
        status=status, closed_at=now or timezone.now()
    )
    if updated:
        ids = SetItem.objects.filter(taskset_id=taskset.pk, question__isnull=False).values_list("question_id", flat=True)
        Question.objects.filter(pk__in=list(ids), in_flight__gt=0).update(in_flight=F("in_flight") - 1)
    taskset.status = status


def tasksets_expire(*, now=None) -> int:
    """Expire every abandoned set (the beat schedule runs this)."""
    now = now or timezone.now()
    count = 0
    for ts in TaskSet.objects.filter(status=TaskSet.Status.OPEN, expires_at__lte=now).only("pk", "status"):
        with transaction.atomic():
            taskset_release(taskset=ts, status=TaskSet.Status.EXPIRED, now=now)
        count += 1
    return count


@transaction.atomic
def taskset_assign(
    *, dataset: Dataset, worker: Worker, prompt: str = Prompt.SEEN_OR_HEARD, provider_ref: dict | None = None,
    now=None,
) -> TaskSet | None:
    """The worker's open set (resumed) or a new one; None when there is no work for them."""
    now = now or timezone.now()
    if worker.blocked:
        raise Forbidden(WORKER_BLOCKED)
    _expire_worker_sets(worker=worker, now=now)
    current = TaskSet.objects.filter(worker=worker, dataset=dataset, prompt=prompt, status=TaskSet.Status.OPEN)
    if provider_ref:
        current = current.filter(provider_ref=provider_ref)
    existing = current.order_by("-id").first()
    if existing is not None:
        return existing

    available = _available(dataset=dataset, worker=worker, prompt=prompt)
    last = TaskSet.objects.filter(worker=worker, dataset=dataset, prompt=prompt).order_by("-id").values_list(
        "action_id", flat=True).first()
    n_gold = gold_count(dataset=dataset, worker=worker)
    n_real = max(1, dataset.set_size - n_gold)
    # Keep the worker on the action of their last set while it has work (one action in mind);
    # otherwise the action of the oldest open question.
    action_id = None
    if last is not None and available.filter(action_id=last).exists():
        action_id = last
    if action_id is None:
        action_id = available.order_by("id").values_list("action_id", flat=True).first()
    if action_id is None:
        return None
    picked = list(
        _lock(available.filter(action_id=action_id).order_by("-answers", "id")).values_list("id", flat=True)[:n_real]
    )
    if not picked:
        return None
    golds = _pick_gold(dataset=dataset, worker=worker, action_id=action_id, prompt=prompt, n=n_gold)
    taskset = TaskSet.objects.create(
        dataset=dataset, worker=worker, action_id=action_id, prompt=prompt, max_attempts=dataset.max_attempts,
        provider_ref=provider_ref or {}, expires_at=now + timedelta(minutes=dataset.set_timeout_minutes),
    )
    entries: list[tuple[int | None, int | None]] = [(qid, None) for qid in picked] + [(None, g.pk) for g in golds]
    _random.shuffle(entries)
    SetItem.objects.bulk_create([
        SetItem(taskset=taskset, position=i, question_id=qid, gold_id=gid) for i, (qid, gid) in enumerate(entries)
    ])
    Shown.objects.bulk_create([Shown(worker=worker, question_id=qid) for qid in picked], ignore_conflicts=True)
    Question.objects.filter(pk__in=picked).update(in_flight=F("in_flight") + 1)
    return taskset


def taskset_items(taskset: TaskSet) -> list[SetItem]:
    return list(SetItem.objects.filter(taskset=taskset).select_related("question__video", "gold__video").order_by(
        "position"))
