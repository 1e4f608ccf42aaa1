"""Per-worker actions on MTurk: blocks (soft, then hard), bonuses and notices.

Block state is reconciled, not fired and forgotten: `Standing` says what MTurk should hold for a
worker (the soft-block qualification while the engine blocks them, a CreateWorkerBlock for repeat
offenders) and `worker_block_sync` makes it so, idempotently, whenever it runs.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from botocore.exceptions import ClientError
from django.db import transaction
from django.utils import timezone

from backend.common.background import task_enqueue
from backend.common.errors import DomainError, NotFound
from backend.crowd.models import Worker
from backend.crowd.services import worker_block, worker_unblock
from backend.mturk.fees import bonus_cost, money
from backend.mturk.gateway import Gateway, error_code, error_message
from backend.mturk.models import Assignment, Batch, Bonus, Notice, Standing
from backend.mturk.services.publish import budget_check, qualification_blocked_ensure
from backend.videos.models import Dataset

NOTIFY_CHUNK = 100  # NotifyWorkers takes at most 100 worker ids per call
NOTICE_MAX_ATTEMPTS = 3
BONUS_TOO_SMALL = "A bonus must be at least $0.01."
BONUS_REASON_REQUIRED = "Workers see the reason of a bonus: write one."
BONUS_NOT_APPROVED = "Bonuses are paid on approved assignments only (assignment {assignment} is {status})."
ASSIGNMENT_NOT_FOUND = "Worker {worker} has no assignment {assignment}."
SUBJECT_REQUIRED = "A notice needs a subject (at most 200 characters) and a message (at most 4096)."
NO_RECIPIENTS = "No MTurk worker to notify."


def _standing(worker: Worker) -> Standing:
    standing, _ = Standing.objects.get_or_create(worker=worker)
    return standing


def worker_block_sync_start(*, worker: Worker) -> None:
    """Reconcile the worker's blocks on MTurk in a worker, after the caller's transaction commits."""
    task_enqueue("mmit.mturk.sync_worker_block", worker.pk)


def worker_block_sync(*, worker: Worker, gateway: Gateway) -> Standing:
    """Make MTurk match the platform: soft block while blocked, then the hard block when wanted."""
    standing = _standing(worker)
    worker.refresh_from_db(fields=["blocked", "blocked_reason"])
    qual = qualification_blocked_ensure(gateway=gateway)
    now = timezone.now()
    if worker.blocked:
        # First the soft block: our HITs disappear for the worker.
        if standing.soft_blocked_at is None:
            gateway.call("associate_qualification_with_worker", QualificationTypeId=qual,
                         WorkerId=worker.external_id, IntegerValue=1, SendNotification=False)
            standing.soft_blocked_at = now
        # Then, for repeat offenders only, the hard block, with its reason.
        if standing.hard_wanted and standing.hard_blocked_at is None:
            gateway.call("create_worker_block", WorkerId=worker.external_id,
                         Reason=(standing.hard_reason or worker.blocked_reason)[:1000])
            standing.hard_blocked_at = now
    else:
        if standing.hard_blocked_at is not None:
            gateway.call("delete_worker_block", WorkerId=worker.external_id, Reason="Unblocked after review.")
            standing.hard_blocked_at = None
        if standing.soft_blocked_at is not None:
            try:
                gateway.call("disassociate_qualification_from_worker", QualificationTypeId=qual,
                             WorkerId=worker.external_id, Reason="Unblocked after review.")
            except ClientError as exc:  # never held it on this endpoint: nothing to remove
                if error_code(exc) != "RequestError":
                    raise
            standing.soft_blocked_at = None
        standing.hard_wanted = False
        standing.hard_reason = ""
    standing.save()
    return standing


@transaction.atomic
def worker_block_request(*, worker: Worker, reason: str, hard: bool = False, actor=None) -> Standing:
    """Block on the platform and ask for the MTurk blocks (soft always, hard for repeat offenders).

    Only the database changes here; `worker_block_sync` (a Celery task after commit) talks to MTurk.
    """
    worker_block(worker=worker, reason=reason, actor=actor)
    worker.refresh_from_db(fields=["blocked", "blocked_reason", "blocked_at"])
    standing, _ = Standing.objects.select_for_update().get_or_create(worker=worker)
    if hard and not standing.hard_wanted:
        standing.hard_wanted, standing.hard_reason = True, reason
        standing.save(update_fields=["hard_wanted", "hard_reason", "updated_at"])
    worker_block_sync_start(worker=worker)  # also when already blocked: the hard block may be new
    return standing


@transaction.atomic
def worker_unblock_request(*, worker: Worker, reason: str, actor=None) -> Standing:
    worker_unblock(worker=worker, reason=reason, actor=actor)
    worker.refresh_from_db(fields=["blocked"])
    standing, _ = Standing.objects.get_or_create(worker=worker)
    worker_block_sync_start(worker=worker)
    return standing


def bonus_create(*, worker: Worker, assignment_id: str, amount: Decimal, reason: str, actor=None) -> Bonus:
    """Record a bonus within the batch budget; the review loop (or `bonuses_pay`) sends it."""
    if amount < Decimal("0.01"):
        raise DomainError(BONUS_TOO_SMALL, field="amount")
    if not reason.strip():
        raise DomainError(BONUS_REASON_REQUIRED, field="reason")
    with transaction.atomic():
        assignment = Assignment.objects.select_related("hit").filter(
            worker=worker, assignment_id=assignment_id).first()
        if assignment is None:
            raise NotFound(ASSIGNMENT_NOT_FOUND.format(worker=worker.external_id, assignment=assignment_id))
        if assignment.mturk_status != Assignment.MTurkStatus.APPROVED:
            raise DomainError(BONUS_NOT_APPROVED.format(assignment=assignment_id,
                                                        status=assignment.mturk_status or "not submitted"))
        batch = Batch.objects.select_for_update().select_related("dataset").get(pk=assignment.hit.batch_id)
        Dataset.objects.select_for_update().filter(pk=batch.dataset_id).first()  # same lock order as publishing
        cost = bonus_cost(amount=amount)
        why = budget_check(batch=batch, extra=cost)
        if why:
            raise DomainError(why, field="amount")
        return Bonus.objects.create(assignment=assignment, worker=worker, amount=amount, cost=cost, reason=reason,
                                    token=f"bonus-{uuid.uuid4().hex}", created_by=actor)


def bonuses_pay(*, gateway: Gateway) -> int:
    """SendBonus for every pending bonus of this endpoint; the token makes a retry pay once."""
    paid = 0
    pending = Bonus.objects.filter(status=Bonus.Status.PENDING, assignment__hit__batch__sandbox=gateway.sandbox) \
        .select_related("assignment", "worker")
    for bonus in pending:
        try:
            gateway.call("send_bonus", WorkerId=bonus.worker.external_id, BonusAmount=money(bonus.amount),
                         AssignmentId=bonus.assignment.assignment_id, Reason=bonus.reason,
                         UniqueRequestToken=bonus.token)
        except ClientError as exc:
            if not _bonus_already_paid(bonus=bonus, gateway=gateway):
                Bonus.objects.filter(pk=bonus.pk).update(status=Bonus.Status.FAILED, error=error_message(exc)[:2000])
                continue
        Bonus.objects.filter(pk=bonus.pk, status=Bonus.Status.PENDING).update(
            status=Bonus.Status.PAID, paid_at=timezone.now(), error="")
        paid += 1
    return paid


def _bonus_already_paid(*, bonus: Bonus, gateway: Gateway) -> bool:
    """After a refused SendBonus: did an earlier try with the same token go through?"""
    return any(
        p.get("WorkerId") == bonus.worker.external_id and p.get("BonusAmount") == money(bonus.amount)
        and p.get("Reason") == bonus.reason
        for p in gateway.items("list_bonus_payments", "BonusPayments", AssignmentId=bonus.assignment.assignment_id)
    )


def notices_queue(*, workers: list[Worker], subject: str, message: str, sandbox: bool, actor=None) -> int:
    subject, message = subject.strip(), message.strip()
    if not subject or not message or len(subject) > 200 or len(message) > 4096:
        raise DomainError(SUBJECT_REQUIRED)
    if not workers:
        raise DomainError(NO_RECIPIENTS)
    Notice.objects.bulk_create([
        Notice(worker=w, sandbox=sandbox, subject=subject, message=message, created_by=actor) for w in workers
    ])
    return len(workers)


def notices_send(*, gateway: Gateway) -> dict:
    """NotifyWorkers for pending notices: one call per message and per 100 workers."""
    groups: dict[tuple[str, str], list[Notice]] = defaultdict(list)
    for notice in Notice.objects.filter(status=Notice.Status.PENDING, sandbox=gateway.sandbox) \
            .select_related("worker").order_by("id"):
        groups[(notice.subject, notice.message)].append(notice)
    sent = failed = calls = 0
    now = timezone.now()
    for (subject, message), notices in groups.items():
        for start in range(0, len(notices), NOTIFY_CHUNK):
            chunk = notices[start:start + NOTIFY_CHUNK]
            ids = sorted({n.worker.external_id for n in chunk})
            result = gateway.call("notify_workers", Subject=subject, MessageText=message, WorkerIds=ids)
            calls += 1
            failures = {f["WorkerId"]: f for f in result.get("NotifyWorkersFailureStatuses", [])}
            for notice in chunk:
                failure = failures.get(notice.worker.external_id)
                notice.attempts += 1
                if failure is None:
                    notice.status, notice.sent_at, notice.error = Notice.Status.SENT, now, ""
                    sent += 1
                else:
                    notice.error = failure.get("NotifyWorkersFailureMessage", "")[:2000]
                    # a soft failure may pass next time; a hard one (e.g. never worked for us) will not
                    hard = failure.get("NotifyWorkersFailureCode") == "HardFailure"
                    if hard or notice.attempts >= NOTICE_MAX_ATTEMPTS:
                        notice.status = Notice.Status.FAILED
                        failed += 1
            Notice.objects.bulk_update(chunk, ["status", "sent_at", "error", "attempts"])
    return {"sent": sent, "failed": failed, "calls": calls}
