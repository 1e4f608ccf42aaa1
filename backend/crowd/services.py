"""Workers: identity, blocking and unblocking (with the reason kept)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from backend.common.errors import DomainError
from backend.crowd.models import Worker, WorkerEvent
from backend.crowd.signals import worker_blocked, worker_unblocked

NOT_BLOCKED = "Worker {worker} is not blocked."
REASON_REQUIRED = "A reason is required."


def worker_get_or_create(*, provider: str, external_id: str, user=None, group: str = "") -> Worker:
    worker, created = Worker.objects.get_or_create(
        provider=provider, external_id=external_id, defaults={"user": user, "group": group}
    )
    return worker


@transaction.atomic
def worker_block(*, worker: Worker, reason: str, actor=None) -> Worker:
    """Block a worker: no new sets, and their answers to still-open questions stop counting (the
    apps that hold their work withdraw it on ``signals.worker_blocked``)."""
    if not reason.strip():
        raise DomainError(REASON_REQUIRED)
    worker = Worker.objects.select_for_update().get(pk=worker.pk)
    if worker.blocked:
        return worker
    worker.blocked, worker.flagged = True, True
    worker.blocked_reason = reason
    worker.blocked_at = timezone.now()
    worker.save(update_fields=["blocked", "flagged", "blocked_reason", "blocked_at"])
    WorkerEvent.objects.create(worker=worker, kind=WorkerEvent.Kind.BLOCKED, reason=reason, actor=actor)
    worker_blocked.send(sender=Worker, worker=worker, reason=reason)
    return worker


@transaction.atomic
def worker_unblock(*, worker: Worker, reason: str, actor=None) -> Worker:
    """A curator's review: the worker may take sets again; counters restart from zero refusals."""
    if not reason.strip():
        raise DomainError(REASON_REQUIRED)
    worker = Worker.objects.select_for_update().get(pk=worker.pk)
    if not worker.blocked:
        raise DomainError(NOT_BLOCKED.format(worker=worker))
    worker.blocked = False
    worker.attempts_refused = worker.recent_refusals = 0
    worker.save(update_fields=["blocked", "attempts_refused", "recent_refusals"])
    WorkerEvent.objects.create(worker=worker, kind=WorkerEvent.Kind.UNBLOCKED, reason=reason, actor=actor)
    worker_unblocked.send(sender=Worker, worker=worker)
    return worker


def worker_touch(*, worker: Worker) -> None:
    Worker.objects.filter(pk=worker.pk).update(last_seen_at=timezone.now())
