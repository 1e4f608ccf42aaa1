"""Assembling sets: one action per set, units the worker has never had, hidden gold; releasing them.

Concurrency: units are reserved with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
workers asking at once get different units instead of waiting on each other; ``in_flight``
counts open sets holding a unit so it is not handed out beyond its redundancy.
"""
from __future__ import annotations

import math
import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from backend.common.errors import Forbidden
from backend.crowd.models import Worker
from backend.crowd.policy import block_notice
from backend.crowd.sets.kinds import CLOSED, EXPIRED, OPEN, SetKind

_random = secrets.SystemRandom()  # gold positions must not be predictable


def lock_skipping(qs):
    """``qs`` locked for update, skipping rows another transaction holds (PostgreSQL)."""
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs  # SQLite: its IMMEDIATE transactions already serialise writers


def gold_count(*, kind: SetKind, dataset, worker: Worker) -> int:
    """Gold items in the worker's next set: more during probation (their first sets)."""
    return gold_items(kind=kind, dataset=dataset, probation=kind.sets_closed(worker) < dataset.probation_sets)


def gold_items(*, kind: SetKind, dataset, probation: bool) -> int:
    """Gold items in a set of ``kind``, on probation or after it."""
    ratio = dataset.probation_gold_ratio if probation else dataset.gold_ratio
    return 0 if ratio <= 0 else max(1, math.floor(kind.set_size(dataset) * ratio + 0.5))


def gold_pick(*, pool: list, n: int, first_truth: bool) -> list:
    """``n`` gold items of ``pool``, those the worker has seen least first, with both truths
    represented when possible: they alternate, so a one-sided spammer (always yes, always skip)
    meets the other truth."""
    if n <= 0:
        return []
    pool = list(pool)
    _random.shuffle(pool)
    pool.sort(key=lambda g: g.seen)
    first = [g for g in pool if g.truth == first_truth]
    second = [g for g in pool if g.truth != first_truth]
    chosen: list = []
    while len(chosen) < n and (first or second):
        for side in (first, second) if len(chosen) % 2 == 0 else (second, first):
            if side:
                chosen.append(side.pop(0))
                break
    return chosen


def set_release(*, kind: SetKind, record, status: str, now=None) -> None:
    """Close an open set without work; its units return to the pool."""
    updated = kind.set_model.objects.filter(pk=record.pk, status=OPEN).update(status=status,
                                                                               closed_at=now or timezone.now())
    if updated:
        unit = f"{kind.item_unit_field}_id"
        ids = kind.item_model.objects.filter(**{f"{kind.item_set_field}_id": record.pk, f"{unit}__isnull": False}) \
            .values_list(unit, flat=True)
        kind.unit_model.objects.filter(pk__in=list(ids), in_flight__gt=0).update(in_flight=F("in_flight") - 1)
    record.status = status


def sets_expire(*, kind: SetKind, now=None) -> int:
    """Expire every abandoned set of the kind (the beat schedule runs this; idempotent)."""
    now = now or timezone.now()
    count = 0
    for record in kind.set_model.objects.filter(status=OPEN, expires_at__lte=now).only("pk", "status"):
        with transaction.atomic():
            set_release(kind=kind, record=record, status=EXPIRED, now=now)
        count += 1
    return count


@transaction.atomic
def set_assign(*, kind: SetKind, dataset, worker: Worker, spec: dict | None = None, provider_ref: dict | None = None,
               now=None):
    """The worker's open set of this queue (resumed) or a new one; None when there is no work for them.

    ``spec`` picks the queue within the kind (the Yes/No prompt); ``provider_ref`` ties the set to
    a provider's assignment (one MTurk assignment is one set).
    """
    now = now or timezone.now()
    spec = spec or {}
    if worker.blocked:
        raise Forbidden(block_notice(worker.blocked_reason))
    sets = kind.set_model.objects
    for stale in sets.filter(worker=worker, status=OPEN, expires_at__lte=now):
        set_release(kind=kind, record=stale, status=EXPIRED, now=now)
    queue = kind.queue(spec)
    current = sets.filter(worker=worker, dataset=dataset, status=OPEN, **queue)
    if provider_ref:
        current = current.filter(provider_ref=provider_ref)
    existing = current.order_by("-id").first()
    if existing is not None:
        return existing

    available = kind.available(dataset=dataset, worker=worker, spec=spec)
    last = sets.filter(worker=worker, dataset=dataset, **queue).order_by("-id").values_list("action_id",
                                                                                         flat=True).first()
    n_gold = gold_count(kind=kind, dataset=dataset, worker=worker)
    n_real = max(1, kind.set_size(dataset) - n_gold)
    # Keep the worker on the action of their last set while it has work (one action in mind);
    # otherwise the action of the oldest open unit.
    action_id = None
    if last is not None and available.filter(action_id=last).exists():
        action_id = last
    if action_id is None:
        action_id = available.order_by("id").values_list("action_id", flat=True).first()
    if action_id is None:
        return None
    picked = list(lock_skipping(available.filter(action_id=action_id).order_by(*kind.unit_order))
                  .values_list("id", flat=True)[:n_real])
    if not picked:
        return None
    golds = gold_pick(pool=kind.gold_pool(dataset=dataset, worker=worker, action_id=action_id, spec=spec), n=n_gold,
                      first_truth=kind.gold_first_truth)
    record = sets.create(
        dataset=dataset, worker=worker, action_id=action_id, max_attempts=dataset.max_attempts,
        provider_ref=provider_ref or {}, expires_at=now + timedelta(minutes=dataset.set_timeout_minutes), **queue,
    )
    entries = [(unit_id, None) for unit_id in picked] + [(None, gold) for gold in golds]
    _random.shuffle(entries)
    kind.items_create(record=record, entries=entries)
    kind.reserved(worker=worker, unit_ids=picked)
    kind.unit_model.objects.filter(pk__in=picked).update(in_flight=F("in_flight") + 1)
    return record


def set_for_assignment(*, kind: SetKind, worker: Worker, provider_ref: dict):
    """The set a provider's assignment was graded to its end with (accepted, or failed at the
    attempt cap), if any: the page shows that outcome again instead of handing out a new set, so
    gold cannot be learnt by trial."""
    return kind.set_model.objects.filter(worker=worker, provider_ref=provider_ref, status__in=CLOSED) \
        .order_by("-id").first()
