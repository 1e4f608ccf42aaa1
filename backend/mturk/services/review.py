"""The review loop (Celery beat): settle every open HIT with what the platform graded.

For each open HIT it lists all assignments page by page, reconciles them with the sets the
engine accepted, approves accepted work, rejects per `policy` with feedback, escalates repeat
offenders (soft block, then hard block), pays pending bonuses, sends pending notices, expires
HITs whose questions are complete and records what was actually spent. Every step is idempotent:
an assignment settled elsewhere (another run, the requester website, auto-approval) is read back
and recorded, not treated as an error.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from botocore.exceptions import ClientError
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from backend.common.background import task_enqueue
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.crowd.models import Worker
from backend.crowd.services import worker_block
from backend.crowd.sets.kinds import ACCEPTED, FAILED, OPEN, kind_named
from backend.mturk import policy
from backend.mturk.fees import assignment_cost
from backend.mturk.gateway import Gateway, configured_sandbox, error_code, error_message
from backend.mturk.models import Assignment, Batch, Hit, Standing
from backend.mturk.selectors import hits_to_review, work_complete
from backend.mturk.services.assignments import PROVIDER
from backend.mturk.services.workers import bonuses_pay, notices_send, worker_block_sync

log = logging.getLogger("backend.mturk")

STATUSES = ["Submitted", "Approved", "Rejected"]
EXPIRE_NOW = datetime(2015, 1, 1, tzinfo=dt_timezone.utc)  # a time in the past expires a HIT at once
SETTLE_MARGIN = timedelta(minutes=10)
LOCK_KEY = "mmit:mturk:review:{sandbox}"
LOCK_SECONDS = 3600
ALREADY_RUNNING = "Another review of this endpoint is running."
_SET_RANK = {ACCEPTED: 0, FAILED: 1, OPEN: 2}


@dataclass
class ReviewReport:
    hits: int = 0
    assignments: int = 0
    approved: int = 0
    rejected: int = 0
    waiting: int = 0
    settled_elsewhere: int = 0
    soft_blocked: int = 0
    hard_blocked: int = 0
    bonuses_paid: int = 0
    notices_sent: int = 0
    expired: int = 0
    closed: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def review_start(*, user=None) -> Job:
    """Run the review loop in a worker now instead of waiting for the beat schedule."""
    job = job_create(kind="mturk_review", user=user, params={"sandbox": configured_sandbox()})
    task_enqueue("mmit.mturk.review", str(job.id))
    return job


def review_run(*, gateway: Gateway, now: datetime | None = None) -> ReviewReport:
    """One pass of the review loop for the gateway's endpoint (sandbox or production)."""
    report = ReviewReport()
    key = LOCK_KEY.format(sandbox=gateway.sandbox)
    if not cache.add(key, 1, LOCK_SECONDS):
        report.skipped = ALREADY_RUNNING
        return report
    try:
        now = now or timezone.now()
        offenders: set[int] = set()  # annotators (our Worker ids) whose assignments we rejected
        for hit in hits_to_review().filter(batch__sandbox=gateway.sandbox):
            report.hits += 1
            try:
                offenders |= _review_hit(hit=hit, gateway=gateway, now=now, report=report)
            except ClientError as exc:  # e.g. a HIT deleted on the requester website: the others go on
                report.errors.append(f"{hit.hit_id}: {error_message(exc)}")
        _escalate(annotator_ids=offenders, gateway=gateway, report=report)
        report.bonuses_paid = bonuses_pay(gateway=gateway)
        report.notices_sent = notices_send(gateway=gateway)["sent"]
        report.expired = hits_expire_complete(gateway=gateway, now=now)
        report.closed = hits_close_settled(sandbox=gateway.sandbox, now=now)
    finally:
        cache.delete(key)
    return report


def _annotators_by_mturk_id(mturk_worker_ids: set[str]) -> dict[str, Worker]:
    existing = {w.external_id for w in Worker.objects.filter(provider=PROVIDER, external_id__in=mturk_worker_ids)}
    Worker.objects.bulk_create([Worker(provider=PROVIDER, external_id=x) for x in mturk_worker_ids - existing],
                               ignore_conflicts=True)
    return {w.external_id: w for w in Worker.objects.filter(provider=PROVIDER, external_id__in=mturk_worker_ids)}


def _rows_for(*, hit: Hit, remote: list[dict]) -> dict[str, Assignment]:
    """Our row of every listed assignment; ones never seen on our page are recorded now."""
    ids = [a["AssignmentId"] for a in remote]
    rows = {r.assignment_id: r for r in Assignment.objects.filter(assignment_id__in=ids).select_related("worker")}
    unseen = [a for a in remote if a["AssignmentId"] not in rows]
    if unseen:
        annotators = _annotators_by_mturk_id({a["WorkerId"] for a in unseen})
        Assignment.objects.bulk_create([
            Assignment(assignment_id=a["AssignmentId"], hit=hit, worker=annotators[a["WorkerId"]]) for a in unseen
        ], ignore_conflicts=True)
        rows = {r.assignment_id: r for r in Assignment.objects.filter(assignment_id__in=ids).select_related("worker")}
    return rows


def _link_sets(rows: list[Assignment]) -> dict[int, str]:
    """The engine's set of each assignment, whatever its kind (linked on acceptance, else found by
    its ``provider_ref``): its status by assignment row."""
    status_by_row: dict[int, str] = {}
    unlinked = {r.assignment_id: r for r in rows}
    for kind_name, link in Assignment.SET_LINKS.items():
        linked = {getattr(r, f"{link}_id"): r for r in rows if getattr(r, f"{link}_id")}
        sets = kind_named(kind_name).set_model.objects.filter(pk__in=list(linked))
        for set_id, status in sets.values_list("pk", "status"):
            status_by_row[linked[set_id].pk] = status
        for row in linked.values():
            unlinked.pop(row.assignment_id, None)
    if not unlinked:
        return status_by_row
    best: dict[str, tuple[str, object]] = {}
    for kind_name, link in Assignment.SET_LINKS.items():
        candidates = kind_named(kind_name).set_model.objects.filter(
            worker_id__in={r.worker_id for r in unlinked.values()},
            provider_ref__assignment_id__in=list(unlinked)).only("pk", "status", "worker_id", "provider_ref")
        for record in candidates:
            aid = record.provider_ref.get("assignment_id")
            row = unlinked.get(aid)
            if row is None or record.worker_id != row.worker_id:
                continue
            if aid not in best or _SET_RANK.get(record.status, 9) < _SET_RANK.get(best[aid][1].status, 9):
                best[aid] = (link, record)
    for aid, (link, record) in best.items():
        row = unlinked[aid]
        status_by_row[row.pk] = record.status
        if record.status == ACCEPTED:
            Assignment.objects.filter(pk=row.pk, **{f"{link}__isnull": True}).update(**{link: record})
    return status_by_row


def _review_hit(*, hit: Hit, gateway: Gateway, now: datetime, report: ReviewReport) -> set[int]:
    remote = list(gateway.items("list_assignments_for_hit", "Assignments", HITId=hit.hit_id,
                                AssignmentStatuses=STATUSES))
    rows = _rows_for(hit=hit, remote=remote)
    set_status = _link_sets(list(rows.values()))
    offenders: set[int] = set()
    changed: list[Assignment] = []
    for item in remote:
        row = rows[item["AssignmentId"]]
        report.assignments += 1
        status = item["AssignmentStatus"]
        row.mturk_worker_id = item["WorkerId"]
        row.submitted_at = item.get("SubmitTime") or row.submitted_at
        same_worker = row.worker.external_id == item["WorkerId"]
        if status == Assignment.MTurkStatus.SUBMITTED:
            decision = policy.assignment_decision(
                set_status=set_status.get(row.pk), worker_matches=same_worker,
                submitted_at=row.submitted_at, now=now)
            if decision.action == policy.WAIT:
                report.waiting += 1
                row.mturk_status = status
                changed.append(row)
                continue
            try:
                status = _settle(row=row, decision=decision, gateway=gateway, report=report)
            except ClientError as exc:
                report.errors.append(f"{row.assignment_id}: {error_message(exc)}")
                row.mturk_status = Assignment.MTurkStatus.SUBMITTED
                changed.append(row)
                continue
            if status == Assignment.MTurkStatus.REJECTED and row.decided_by_us and same_worker:
                # (a mismatch is rejected, but whoever used the other account's id is unknown)
                offenders.add(row.worker_id)
        _record(row=row, status=status, hit=hit, now=now)
        changed.append(row)
    Assignment.objects.bulk_update(changed, ["mturk_status", "mturk_worker_id", "submitted_at", "decided_at",
                                             "decided_by_us", "feedback", "cost"])
    updates = {"reviewed_at": now}
    if hit.status == Hit.Status.OPEN and hit.expires_at and hit.expires_at <= now:
        updates["status"] = Hit.Status.EXPIRED
    Hit.objects.filter(pk=hit.pk).update(**updates)
    return offenders


def _settle(*, row: Assignment, decision: policy.Decision, gateway: Gateway, report: ReviewReport) -> str:
    """Approve or reject; when MTurk says it is no longer Submitted, record what it is instead."""
    try:
        if decision.action == policy.APPROVE:
            gateway.call("approve_assignment", AssignmentId=row.assignment_id)
        else:
            gateway.call("reject_assignment", AssignmentId=row.assignment_id, RequesterFeedback=decision.feedback)
    except ClientError as exc:
        if error_code(exc) != "RequestError":
            raise
        current = gateway.call("get_assignment", AssignmentId=row.assignment_id)["Assignment"]["AssignmentStatus"]
        if current == Assignment.MTurkStatus.SUBMITTED:
            raise  # a real refusal (e.g. not enough funds): retried next run
        report.settled_elsewhere += 1
        return current
    row.decided_by_us = True
    row.feedback = decision.feedback
    if decision.action == policy.APPROVE:
        report.approved += 1
        return Assignment.MTurkStatus.APPROVED
    report.rejected += 1
    return Assignment.MTurkStatus.REJECTED


def _record(*, row: Assignment, status: str, hit: Hit, now: datetime) -> None:
    row.mturk_status = status
    if status == Assignment.MTurkStatus.APPROVED:
        if not row.cost:
            row.cost = assignment_cost(reward=hit.reward, max_assignments=hit.max_assignments)
            row.decided_at = row.decided_at or now
    elif status == Assignment.MTurkStatus.REJECTED:
        row.cost = 0
        row.decided_at = row.decided_at or now


def _escalate(*, annotator_ids: set[int], gateway: Gateway, report: ReviewReport) -> None:
    """Annotators with rejected assignments: the soft block at once, the hard block past the limit."""
    if not annotator_ids:
        return
    counts = Counter(dict(
        Assignment.objects.filter(worker_id__in=annotator_ids, decided_by_us=True,
                                  mturk_status=Assignment.MTurkStatus.REJECTED,
                                  mturk_worker_id=F("worker__external_id"))
        .values("worker_id").annotate(n=Count("id")).values_list("worker_id", "n")))
    for annotator in Worker.objects.filter(pk__in=annotator_ids):
        n = counts[annotator.pk]
        hard = policy.hard_block_reason(rejections=n)
        with transaction.atomic():
            if not annotator.blocked:
                worker_block(worker=annotator, reason=hard or policy.soft_block_reason(rejections=n))
                report.soft_blocked += 1
            if hard:
                standing, _ = Standing.objects.get_or_create(worker=annotator)
                if not standing.hard_wanted:
                    Standing.objects.filter(pk=standing.pk).update(hard_wanted=True, hard_reason=hard)
                    report.hard_blocked += 1
        worker_block_sync(worker=annotator, gateway=gateway)


def hits_expire_complete(*, gateway: Gateway, now: datetime) -> int:
    """Expire open HITs of batches whose questions are all answered (no new worker takes them)."""
    expired = 0
    batches = Batch.objects.filter(sandbox=gateway.sandbox, hits__status=Hit.Status.OPEN).distinct()
    for batch in batches:
        if not work_complete(dataset_id=batch.dataset_id, kind=batch.kind, prompt=batch.prompt):
            continue
        for hit in Hit.objects.filter(batch=batch, status=Hit.Status.OPEN):
            gateway.call("update_expiration_for_hit", HITId=hit.hit_id, ExpireAt=EXPIRE_NOW)
            Hit.objects.filter(pk=hit.pk).update(status=Hit.Status.EXPIRED, expires_at=now, expired_early_at=now)
            expired += 1
    return expired


def hits_close_settled(*, sandbox: bool, now: datetime) -> int:
    """Expired HITs past their last possible submission, with everything decided, are closed and
    their committed cost becomes what they actually cost (the rest of the budget is free again)."""
    closed = 0
    for hit in Hit.objects.filter(status=Hit.Status.EXPIRED, batch__sandbox=sandbox).select_related("batch"):
        last_submission = hit.expires_at + timedelta(seconds=hit.batch.assignment_duration_seconds) + SETTLE_MARGIN
        if now < last_submission:
            continue
        if hit.assignments.filter(mturk_status=Assignment.MTurkStatus.SUBMITTED).exists():
            continue
        if hit.reviewed_at is None or hit.reviewed_at < last_submission:
            continue  # review it once more after the last possible submission
        spent = hit.assignments.aggregate(s=Sum("cost"))["s"] or 0
        Hit.objects.filter(pk=hit.pk, status=Hit.Status.EXPIRED).update(status=Hit.Status.CLOSED,
                                                                        cost_committed=spent)
        closed += 1
    return closed
