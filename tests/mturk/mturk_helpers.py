"""A stubbed MTurk for tests: a real boto3 ``mturk`` client under botocore's Stubber, so every
call the platform makes is checked against botocore's MTurk service model, with no network."""
from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import boto3
from django.utils import timezone
from botocore.stub import ANY, Stubber

from backend.mturk.gateway import Gateway
from backend.mturk.models import Batch, Hit

SITE = "https://labels.example.org"
SUBMIT_ORIGIN = "https://workersandbox.mturk.com"
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=dt_timezone.utc)

__all__ = ["ANY", "MTurkStub", "hit_id", "assignment_id", "worker_id", "remote_assignment", "make_batch"]


def hit_id(n: int) -> str:
    return f"3HIT{n:026d}"


def assignment_id(n: int) -> str:
    return f"3ASG{n:026d}"


def worker_id(n: int) -> str:
    return f"A1WORKER{n:06d}"


class MTurkStub:
    """The Stubber, the gateway around it and what the gateway slept."""

    def __init__(self, *, sandbox: bool = True, max_attempts: int = 4) -> None:
        self.client = boto3.client(
            "mturk", region_name="us-east-1", endpoint_url="https://mturk-requester-sandbox.us-east-1.amazonaws.com",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        self.stubber = Stubber(self.client)
        self.sleeps: list[float] = []
        self.sandbox = sandbox
        self.max_attempts = max_attempts
        self.gateway = self.gateway_for(sandbox=sandbox)

    def gateway_for(self, *, sandbox: bool) -> Gateway:
        return Gateway(self.client, sandbox=sandbox, sleep=self.sleeps.append, jitter=lambda: 1.0,
                       max_attempts=self.max_attempts)

    def ok(self, operation: str, response: dict | None = None, params: dict | None = None) -> None:
        self.stubber.add_response(operation, response or {}, params)

    def error(self, operation: str, code: str, message: str = "", status: int = 400,
              params: dict | None = None) -> None:
        self.stubber.add_client_error(operation, service_error_code=code, service_message=message,
                                      http_status_code=status, expected_params=params)

    def done(self) -> None:
        self.stubber.assert_no_pending_responses()


def remote_assignment(aid: str, wid: str, hid: str, status: str = "Submitted", submitted: datetime = T0) -> dict:
    item = {"AssignmentId": aid, "WorkerId": wid, "HITId": hid, "AssignmentStatus": status,
            "AcceptTime": submitted - timedelta(minutes=5), "SubmitTime": submitted,
            "Answer": "<QuestionFormAnswers/>"}
    if status == "Approved":
        item["ApprovalTime"] = submitted + timedelta(minutes=1)
    if status == "Rejected":
        item["RejectionTime"] = submitted + timedelta(minutes=1)
    return item


def make_batch(dataset, *, hits: int = 1, assignments: int = 3, reward: str = "0.40", budget: str = "100",
               sandbox: bool = True, first_hit: int = 1, expires_at: datetime | None = None) -> Batch:
    """A batch whose HITs already exist on MTurk (what a publish run leaves)."""
    from backend.mturk.fees import hit_cost

    batch = Batch.objects.create(
        dataset=dataset, prompt="seen_or_heard", sandbox=sandbox, hits_requested=hits,
        assignments_per_hit=assignments, reward=Decimal(reward), budget=Decimal(budget), title="t",
        description="d", lifetime_seconds=86400, assignment_duration_seconds=1800,
        auto_approval_delay_seconds=86400, status=Batch.Status.PUBLISHED,
    )
    cost = hit_cost(reward=Decimal(reward), max_assignments=assignments)
    Hit.objects.bulk_create([
        Hit(batch=batch, index=i, token=f"{batch.public_id.hex}-{i}", hit_id=hit_id(first_hit + i),
            max_assignments=assignments, reward=Decimal(reward), cost_committed=cost, status=Hit.Status.OPEN,
            expires_at=expires_at or timezone.now() + timedelta(days=7))
        for i in range(hits)
    ])
    return batch
