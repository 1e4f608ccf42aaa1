"""The review loop against a stubbed MTurk: reconcile, approve, reject per policy, escalate blocks,
pay bonuses, notify by 100s, expire finished HITs and record what was spent."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from backend.annotation.models import Question, TaskSet
from backend.common.errors import DomainError
from backend.crowd.models import Worker
from backend.mturk import policy
from backend.mturk.models import Assignment, Bonus, Hit, Notice, Standing
from backend.mturk.services.review import ALREADY_RUNNING, EXPIRE_NOW, LOCK_KEY, review_run
from backend.mturk.services.workers import BONUS_NOT_APPROVED, bonus_create, notices_queue
from tests.mturk.mturk_helpers import assignment_id, hit_id, make_batch, remote_assignment, worker_id
from tests.mturk.test_mturk_page import Turker, _answers

pytestmark = pytest.mark.django_db
QUAL = "3BLOCKQUALIFICATION0000000001"
STATUSES = ["Submitted", "Approved", "Rejected"]


@pytest.fixture
def batch(engine, stub):
    return make_batch(engine["dataset"])


def _accepted(engine, n: int) -> str:
    """Worker n does assignment n of HIT 1 on our page and the platform accepts the set."""
    turker = Turker(n=n, assignment=n)
    payload = turker.assign().json()["set"]
    assert turker.submit(payload["id"], _answers(payload, engine)).json()["status"] == "accepted"
    return payload["id"]


def _listing(stub, assignments: list[dict], hit: int = 1) -> None:
    stub.ok("list_assignments_for_hit", {"Assignments": assignments, "NumResults": len(assignments)},
            {"HITId": hit_id(hit), "AssignmentStatuses": STATUSES, "MaxResults": 100})


def _qualification(stub) -> None:
    stub.ok("create_qualification_type", {"QualificationType": {"QualificationTypeId": QUAL}})


def test_accepted_work_is_approved_and_its_cost_recorded(batch, engine, stub):
    _accepted(engine, 1)
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(1), hit_id(1))])
    stub.ok("approve_assignment", {}, {"AssignmentId": assignment_id(1)})
    report = review_run(gateway=stub.gateway)
    assert report.approved == 1 and report.rejected == 0 and report.errors == []
    row = Assignment.objects.get(assignment_id=assignment_id(1))
    assert row.mturk_status == "Approved" and row.decided_by_us and row.cost == Decimal("0.48")
    # the next run finds it approved and makes no second decision
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(1), hit_id(1), status="Approved")])
    again = review_run(gateway=stub.gateway)
    assert again.approved == 0 and Assignment.objects.get(pk=row.pk).cost == Decimal("0.48")


def test_listing_beyond_one_page_settles_every_assignment(batch, engine, stub):
    """150 submitted assignments come in two pages; every one of them is approved."""
    dataset, action = engine["dataset"], engine["action"]
    hit = batch.hits.get()
    workers = Worker.objects.bulk_create([Worker(provider="mturk", external_id=worker_id(n)) for n in range(150)])
    sets = TaskSet.objects.bulk_create([
        TaskSet(dataset=dataset, worker=w, action=action, status=TaskSet.Status.ACCEPTED,
                provider_ref={"assignment_id": assignment_id(n), "hit_id": hit.hit_id},
                expires_at=timezone.now() + timedelta(hours=1)) for n, w in enumerate(workers)])
    # half linked on acceptance, half only findable through the set's provider_ref
    Assignment.objects.bulk_create([
        Assignment(assignment_id=assignment_id(n), hit=hit, worker=w, taskset=sets[n] if n % 2 else None)
        for n, w in enumerate(workers)])
    remote = [remote_assignment(assignment_id(n), worker_id(n), hit.hit_id) for n in range(150)]
    stub.ok("list_assignments_for_hit", {"Assignments": remote[:100], "NextToken": "page-2", "NumResults": 100},
            {"HITId": hit.hit_id, "AssignmentStatuses": STATUSES, "MaxResults": 100})
    stub.ok("list_assignments_for_hit", {"Assignments": remote[100:], "NumResults": 50},
            {"HITId": hit.hit_id, "AssignmentStatuses": STATUSES, "MaxResults": 100, "NextToken": "page-2"})
    for n in range(150):
        stub.ok("approve_assignment", {}, {"AssignmentId": assignment_id(n)})
    report = review_run(gateway=stub.gateway)
    assert report.assignments == 150 and report.approved == 150
    assert Assignment.objects.filter(mturk_status="Approved", cost=Decimal("0.48")).count() == 150
    assert Assignment.objects.filter(taskset__isnull=True).count() == 0  # the rest got linked


def test_policy_rejects_with_feedback_and_waits_for_open_sets(batch, engine, stub, settings):
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 100
    now = timezone.now()
    # worker 2 failed gold three times, worker 3 never did the set, worker 4 is still grading
    failing = Turker(n=2, assignment=2)
    payload = failing.assign().json()["set"]
    for _ in range(3):
        failing.submit(payload["id"], _answers(payload, engine, wrong_gold=2))
    Turker(n=4, assignment=4).assign()
    _listing(stub, [
        remote_assignment(assignment_id(2), worker_id(2), hit_id(1)),
        remote_assignment(assignment_id(3), worker_id(3), hit_id(1)),
        remote_assignment(assignment_id(4), worker_id(4), hit_id(1), submitted=now),
    ])
    stub.ok("reject_assignment", {},
            {"AssignmentId": assignment_id(2), "RequesterFeedback": policy.FEEDBACK_FAILED_GOLD})
    stub.ok("reject_assignment", {}, {"AssignmentId": assignment_id(3), "RequesterFeedback": policy.FEEDBACK_NO_WORK})
    # both are offenders: soft block on MTurk (worker 2 was already blocked by the engine)
    _qualification(stub)
    for n in (2, 3):
        stub.ok("associate_qualification_with_worker", {}, {"QualificationTypeId": QUAL, "WorkerId": worker_id(n),
                                                            "IntegerValue": 1, "SendNotification": False})
    report = review_run(gateway=stub.gateway, now=now)
    assert report.rejected == 2 and report.waiting == 1 and report.approved == 0
    rows = {a.assignment_id: a for a in Assignment.objects.all()}
    assert rows[assignment_id(3)].feedback == policy.FEEDBACK_NO_WORK and rows[assignment_id(3)].cost == 0
    assert rows[assignment_id(4)].mturk_status == "Submitted" and not rows[assignment_id(4)].decided_by_us
    assert Worker.objects.get(external_id=worker_id(3)).blocked
    assert not Standing.objects.get(worker__external_id=worker_id(3)).hard_blocked_at

    # past the grace period the still-open set is rejected as well
    _listing(stub, [remote_assignment(assignment_id(4), worker_id(4), hit_id(1), submitted=now)])
    stub.ok("reject_assignment", {}, {"AssignmentId": assignment_id(4), "RequesterFeedback": policy.FEEDBACK_NO_WORK})
    stub.ok("associate_qualification_with_worker", {}, {"QualificationTypeId": QUAL, "WorkerId": worker_id(4),
                                                        "IntegerValue": 1, "SendNotification": False})
    assert review_run(gateway=stub.gateway, now=now + timedelta(hours=1)).rejected == 1


def test_repeat_offender_gets_soft_then_hard_block_with_a_reason(engine, stub):
    make_batch(engine["dataset"], hits=3)
    for h in (1, 2, 3):  # one worker submits three HITs without doing them on our page
        _listing(stub, [remote_assignment(assignment_id(h), worker_id(7), hit_id(h))], hit=h)
        stub.ok("reject_assignment", {},
                {"AssignmentId": assignment_id(h), "RequesterFeedback": policy.FEEDBACK_NO_WORK})
    reason = policy.REASON_REJECTIONS.format(n=3, limit=3)
    _qualification(stub)
    stub.ok("associate_qualification_with_worker", {}, {"QualificationTypeId": QUAL, "WorkerId": worker_id(7),
                                                        "IntegerValue": 1, "SendNotification": False})
    stub.ok("create_worker_block", {}, {"WorkerId": worker_id(7), "Reason": reason})
    report = review_run(gateway=stub.gateway)
    assert report.rejected == 3 and report.soft_blocked == 1 and report.hard_blocked == 1
    worker = Worker.objects.get(external_id=worker_id(7))
    standing = Standing.objects.get(worker=worker)
    assert worker.blocked and worker.blocked_reason == reason
    assert standing.soft_blocked_at and standing.hard_blocked_at and standing.hard_reason == reason


def test_assignment_settled_elsewhere_is_recorded_not_an_error(batch, engine, stub):
    _accepted(engine, 1)
    _accepted(engine, 2)
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(1), hit_id(1)),
                    remote_assignment(assignment_id(2), worker_id(2), hit_id(1), status="Approved")])
    stub.error("approve_assignment", "RequestError",
               "This operation can be called with a status of: Submitted (1611111111111)",
               params={"AssignmentId": assignment_id(1)})
    stub.ok("get_assignment", {"Assignment": remote_assignment(assignment_id(1), worker_id(1), hit_id(1),
                                                                status="Approved")},
            {"AssignmentId": assignment_id(1)})
    report = review_run(gateway=stub.gateway)
    assert report.errors == [] and report.settled_elsewhere == 1 and report.approved == 0
    assert list(Assignment.objects.order_by("assignment_id").values_list("mturk_status", "decided_by_us", "cost")) == [
        ("Approved", False, Decimal("0.48")), ("Approved", False, Decimal("0.48"))]


def test_a_refused_approval_is_kept_for_the_next_run(batch, engine, stub):
    _accepted(engine, 1)
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(1), hit_id(1))])
    stub.error("approve_assignment", "RequestError", "This Requester has insufficient funds.")
    stub.ok("get_assignment", {"Assignment": remote_assignment(assignment_id(1), worker_id(1), hit_id(1))})
    report = review_run(gateway=stub.gateway)
    assert report.errors == [f"{assignment_id(1)}: This Requester has insufficient funds."]
    row = Assignment.objects.get(assignment_id=assignment_id(1))
    assert row.mturk_status == "Submitted" and row.cost == 0


def test_throttled_approval_is_retried(batch, engine, stub):
    _accepted(engine, 1)
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(1), hit_id(1))])
    stub.error("approve_assignment", "ThrottlingException", "Rate exceeded")
    stub.error("approve_assignment", "ThrottlingException", "Rate exceeded")
    stub.ok("approve_assignment", {}, {"AssignmentId": assignment_id(1)})
    assert review_run(gateway=stub.gateway).approved == 1
    assert stub.sleeps == [0.5, 1.0]


def test_another_account_submitting_the_assignment_is_rejected(batch, engine, stub):
    _accepted(engine, 1)
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(9), hit_id(1))])
    stub.ok("reject_assignment", {}, {"AssignmentId": assignment_id(1),
                                      "RequesterFeedback": policy.FEEDBACK_WRONG_WORKER})
    report = review_run(gateway=stub.gateway)
    assert report.rejected == 1 and report.soft_blocked == 0  # the impostor is unknown: nobody is blocked


def test_bonus_within_budget_paid_once_with_its_token(batch, engine, stub):
    _accepted(engine, 1)
    worker = Worker.objects.get(external_id=worker_id(1))
    with pytest.raises(DomainError) as err:
        bonus_create(worker=worker, assignment_id=assignment_id(1), amount=Decimal("0.10"), reason="thanks")
    assert err.value.message == BONUS_NOT_APPROVED.format(assignment=assignment_id(1), status="not submitted")
    Assignment.objects.update(mturk_status="Approved", cost=Decimal("0.48"))
    bonus = bonus_create(worker=worker, assignment_id=assignment_id(1), amount=Decimal("0.50"), reason="Great work")
    assert bonus.cost == Decimal("0.60") and bonus.token.startswith("bonus-")
    with pytest.raises(DomainError, match="does not cover"):  # 1.44 reserved + 0.60 + 84 x 1.2 > 100
        bonus_create(worker=worker, assignment_id=assignment_id(1), amount=Decimal("84"), reason="too much")
    bonus_create(worker=worker, assignment_id=assignment_id(1), amount=Decimal("81"), reason="fits").delete()
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(1), hit_id(1), status="Approved")])
    # the first send timed out after MTurk paid; the retry with the same token is refused as a duplicate
    stub.error("send_bonus", "ServiceUnavailable", "timeout", status=503)
    stub.error("send_bonus", "RequestError", 'The idempotency token "bonus-..." has already been processed.',
               params={"WorkerId": worker_id(1), "BonusAmount": "0.50", "AssignmentId": assignment_id(1),
                       "Reason": "Great work", "UniqueRequestToken": bonus.token})
    stub.ok("list_bonus_payments", {"BonusPayments": [
        {"WorkerId": worker_id(1), "BonusAmount": "0.50", "AssignmentId": assignment_id(1), "Reason": "Great work",
         "GrantTime": timezone.now()}], "NumResults": 1}, {"AssignmentId": assignment_id(1), "MaxResults": 100})
    assert review_run(gateway=stub.gateway).bonuses_paid == 1
    bonus.refresh_from_db()
    assert bonus.status == "paid" and Bonus.objects.count() == 1


def test_notices_go_out_by_hundreds(batch, stub):
    workers = Worker.objects.bulk_create([Worker(provider="mturk", external_id=worker_id(n)) for n in range(250)])
    notices_queue(workers=workers, subject="New HITs", message="More clips are up.", sandbox=True)
    notices_queue(workers=workers[:3], subject="Thanks", message="Bonus sent.", sandbox=True)
    _listing(stub, [])
    ids = sorted(worker_id(n) for n in range(250))
    for chunk, failures in ((ids[:100], [
        {"NotifyWorkersFailureCode": "HardFailure", "NotifyWorkersFailureMessage": "never worked for you",
         "WorkerId": ids[5]},
        {"NotifyWorkersFailureCode": "SoftFailure", "NotifyWorkersFailureMessage": "try later", "WorkerId": ids[6]},
    ]), (ids[100:200], []), (ids[200:], [])):
        stub.ok("notify_workers", {"NotifyWorkersFailureStatuses": failures},
                {"Subject": "New HITs", "MessageText": "More clips are up.", "WorkerIds": chunk})
    stub.ok("notify_workers", {"NotifyWorkersFailureStatuses": []},
            {"Subject": "Thanks", "MessageText": "Bonus sent.", "WorkerIds": ids[:3]})
    assert review_run(gateway=stub.gateway).notices_sent == 251
    assert Notice.objects.filter(status="failed").get().worker.external_id == ids[5]
    assert Notice.objects.filter(status="pending").get().worker.external_id == ids[6]  # retried next run


def test_finished_hits_expire_then_close_with_their_actual_cost(batch, engine, stub):
    _accepted(engine, 1)
    Question.objects.update(state="decided")  # every question has its answers
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(1), hit_id(1))])
    stub.ok("approve_assignment", {}, {"AssignmentId": assignment_id(1)})
    stub.ok("update_expiration_for_hit", {}, {"HITId": hit_id(1), "ExpireAt": EXPIRE_NOW})
    now = timezone.now()
    report = review_run(gateway=stub.gateway, now=now)
    assert report.expired == 1 and report.closed == 0
    hit = Hit.objects.get()
    assert hit.status == "expired" and hit.cost_committed == Decimal("1.44")
    # after the last possible submission: reviewed once more, then closed at what it really cost
    _listing(stub, [remote_assignment(assignment_id(1), worker_id(1), hit_id(1), status="Approved")])
    later = review_run(gateway=stub.gateway, now=now + timedelta(hours=2))
    hit.refresh_from_db()
    assert later.closed == 1 and hit.status == "closed" and hit.cost_committed == Decimal("0.48")
    assert review_run(gateway=stub.gateway, now=now + timedelta(hours=3)).hits == 0  # nothing left to list


def test_one_review_at_a_time(stub):
    cache.add(LOCK_KEY.format(sandbox=True), 1, 60)
    try:
        assert review_run(gateway=stub.gateway).skipped == ALREADY_RUNNING
    finally:
        cache.delete(LOCK_KEY.format(sandbox=True))


def test_unknown_hit_error_does_not_stop_the_others(engine, stub):
    make_batch(engine["dataset"], hits=2)
    stub.error("list_assignments_for_hit", "RequestError", f"Hit {hit_id(1)} does not exist.")
    _listing(stub, [], hit=2)
    report = review_run(gateway=stub.gateway)
    assert report.hits == 2 and report.errors == [f"{hit_id(1)}: Hit {hit_id(1)} does not exist."]

