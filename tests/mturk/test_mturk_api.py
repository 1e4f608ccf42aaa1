"""Staff API (publish -> 202 + Job, HITs and spend, per-worker actions), the Celery tasks and the
management commands, all against the stubbed MTurk."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backend.common.models import Job
from backend.crowd.models import Worker
from backend.crowd.services import worker_block
from backend.mturk.models import Assignment, Batch, Bonus, Hit, Notice, Standing
from tests.mturk.mturk_helpers import ANY, assignment_id, hit_id, make_batch, worker_id
from workers.tasks.mturk import publish_batch, review, sync_worker_block

pytestmark = pytest.mark.django_db
QUAL = "3BLOCKQUALIFICATION0000000001"
TYPE = "3HITTYPE000000000000000000001"


def _stub_publish(stub, n: int) -> None:
    stub.ok("create_qualification_type", {"QualificationType": {"QualificationTypeId": QUAL}})
    stub.ok("create_hit_type", {"HITTypeId": TYPE})
    for i in range(n):
        stub.ok("create_hit_with_hit_type", {"HIT": {"HITId": hit_id(i)}},
                {"HITTypeId": TYPE, "MaxAssignments": 2, "LifetimeInSeconds": 7200, "Question": ANY,
                 "RequesterAnnotation": ANY, "UniqueRequestToken": ANY})


@pytest.mark.parametrize("method,url", [
    ("get", "/api/mturk/batches/"), ("post", "/api/mturk/batches/"), ("get", "/api/mturk/workers/"),
    ("post", "/api/mturk/review/"), ("post", "/api/mturk/workers/notify/"),
])
def test_staff_only(anon_client, method, url):
    assert getattr(anon_client, method)(url).status_code in (401, 403)


def test_publish_through_the_api_is_a_job(staff_client, engine, stub, enqueued,
                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/api/mturk/batches/", {
            "dataset": "synthetic", "reward": "0.25", "budget": "2.00", "assignments_per_hit": 2, "hits": 4,
            "lifetime_hours": 2}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["job"]["status"] == "queued" and body["batch"]["sandbox"] is True
    assert body["batch"]["budget"] == "2.00" and body["batch"]["committed"] == "0.00"
    batch = Batch.objects.get()
    assert enqueued == [("publish_batch", (body["job"]["id"], batch.pk))]

    _stub_publish(stub, 3)  # 2 x (0.25 + 0.05) = 0.60 per HIT: 3 fit in 2.00
    publish_batch.run(body["job"]["id"], batch.pk)  # what the worker runs
    job = Job.objects.get(pk=body["job"]["id"])
    assert job.status == "succeeded" and job.result["created"] == 3 and job.result["committed"] == "1.80"
    assert "Stopped after 3 HIT(s)" in job.result["message"]

    listed = staff_client.get("/api/mturk/batches/").json()["results"][0]
    assert (listed["hits_created"], listed["committed"], listed["spent"]) == (3, "1.80", "0.00")
    hits = staff_client.get(f"/api/mturk/batches/{batch.public_id}/hits/").json()["results"]
    assert [h["hit_id"] for h in hits] == [hit_id(0), hit_id(1), hit_id(2)]
    token = hits[0]["token"]
    detail = staff_client.get(f"/api/mturk/hits/{token}/")  # the RequesterAnnotation link
    assert detail.status_code == 200 and detail.json()["assignments"] == []
    assert staff_client.get(f"/api/mturk/hits/{hit_id(0)}/").json()["token"] == token


def test_bad_publish_requests_are_400_and_store_nothing(staff_client, engine, settings):
    settings.SITE_URL = "https://labels.example.org"
    too_small = staff_client.post("/api/mturk/batches/", {"dataset": "synthetic", "reward": "1", "budget": "1"},
                                  format="json")
    assert too_small.status_code == 400 and "does not cover one HIT" in too_small.json()["detail"]
    unknown = staff_client.post("/api/mturk/batches/", {"dataset": "nope", "reward": "1", "budget": "10"},
                                format="json")
    assert unknown.status_code == 404
    assert staff_client.post("/api/mturk/batches/", {"dataset": "synthetic"}, format="json").status_code == 400
    assert not Batch.objects.exists() and not Job.objects.exists()


def test_resume_refused_while_running(staff_client, engine, stub, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = staff_client.post("/api/mturk/batches/", {"dataset": "synthetic", "reward": "0.25", "budget": "2",
                                                          "hits": 1}, format="json").json()
    again = staff_client.post(f"/api/mturk/batches/{first['batch']['id']}/publish/")
    assert again.status_code == 409 and "being published" in again.json()["detail"]
    Job.objects.update(status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        resumed = staff_client.post(f"/api/mturk/batches/{first['batch']['id']}/publish/")
    assert resumed.status_code == 202 and resumed.json()["job"]["id"] != first["job"]["id"]
    assert [name for name, _ in enqueued] == ["publish_batch", "publish_batch"]


def test_workers_block_unblock_bonus_notify(staff_client, engine, stub, enqueued,
                                            django_capture_on_commit_callbacks):
    batch = make_batch(engine["dataset"])
    worker = Worker.objects.create(provider="mturk", external_id=worker_id(1))
    Assignment.objects.create(assignment_id=assignment_id(1), hit=batch.hits.get(), worker=worker,
                              mturk_status="Approved", cost=Decimal("0.48"))
    listed = staff_client.get("/api/mturk/workers/").json()["results"]
    assert listed[0]["worker_id"] == worker_id(1) and listed[0]["spent"] == "0.48"

    with django_capture_on_commit_callbacks(execute=True):
        blocked = staff_client.post(f"/api/mturk/workers/{worker_id(1)}/block/",
                                    {"reason": "copied answers", "hard": True}, format="json")
    assert blocked.status_code == 202 and blocked.json()["blocked"] is True
    assert ("sync_worker_block", (worker.pk,)) in enqueued
    stub.ok("create_qualification_type", {"QualificationType": {"QualificationTypeId": QUAL}})
    stub.ok("associate_qualification_with_worker", {}, {"QualificationTypeId": QUAL, "WorkerId": worker_id(1),
                                                        "IntegerValue": 1, "SendNotification": False})
    stub.ok("create_worker_block", {}, {"WorkerId": worker_id(1), "Reason": "copied answers"})
    sync_worker_block.run(worker.pk)
    sync_worker_block.run(worker.pk)  # idempotent: nothing more to do, no call
    detail = staff_client.get(f"/api/mturk/workers/{worker_id(1)}/").json()
    assert detail["soft_blocked"] and detail["hard_blocked"] and detail["blocked_reason"] == "copied answers"

    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(f"/api/mturk/workers/{worker_id(1)}/unblock/", {"reason": "appeal accepted"},
                                 format="json").status_code == 202
    stub.ok("delete_worker_block", {}, {"WorkerId": worker_id(1), "Reason": ANY})
    stub.ok("disassociate_qualification_from_worker", {}, {"QualificationTypeId": QUAL, "WorkerId": worker_id(1),
                                                           "Reason": ANY})
    sync_worker_block.run(worker.pk)
    standing = Standing.objects.get(worker=worker)
    assert not standing.soft_blocked_at and not standing.hard_blocked_at and not standing.hard_wanted

    bonus = staff_client.post(f"/api/mturk/workers/{worker_id(1)}/bonus/",
                              {"assignment_id": assignment_id(1), "amount": "0.20", "reason": "Thanks!"}, format="json")
    assert bonus.status_code == 202 and bonus.json()["cost"] == "0.24" and Bonus.objects.count() == 1
    missing = staff_client.post(f"/api/mturk/workers/{worker_id(1)}/bonus/",
                                {"assignment_id": assignment_id(5), "amount": "0.20", "reason": "x"}, format="json")
    assert missing.status_code == 404

    notify = staff_client.post("/api/mturk/workers/notify/", {"batch": str(batch.public_id), "subject": "Hello",
                                                              "message": "New clips"}, format="json")
    assert notify.status_code == 202 and notify.json() == {"queued": 1} and Notice.objects.count() == 1
    nobody = staff_client.post("/api/mturk/workers/notify/", {"subject": "Hello", "message": "x"}, format="json")
    assert nobody.status_code == 400
    assert staff_client.get("/api/mturk/workers/A1NOBODY/").status_code == 404


def test_engine_block_of_an_mturk_worker_is_mirrored(engine, enqueued, django_capture_on_commit_callbacks):
    worker = Worker.objects.create(provider="mturk", external_id=worker_id(3))
    with django_capture_on_commit_callbacks(execute=True):
        worker_block(worker=worker, reason="gold accuracy 20% over 20 gold answers")
    assert enqueued == [("sync_worker_block", (worker.pk,))]


def test_review_endpoint_and_task(staff_client, stub, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/api/mturk/review/")
    assert response.status_code == 202 and enqueued == [("review", (response.json()["id"],))]
    result = review.run(response.json()["id"])  # nothing open: no call at all
    assert result["hits"] == 0 and Job.objects.get().status == "succeeded"


def test_publish_hits_and_review_hits_commands(engine, stub, capsys):
    _stub_publish(stub, 2)
    call_command("publish_hits", "--dataset", "synthetic", "--reward", "0.25", "--budget", "5",
                 "--assignments", "2", "--hits", "2", "--lifetime-hours", "2", verbosity=0)
    out = capsys.readouterr().out
    assert "2 HIT(s) created" in out and "committed $1.20 of $5.00" in out and "sandbox" in out
    assert Hit.objects.filter(status="open").count() == 2 and Job.objects.get().status == "succeeded"
    for n in range(2):
        stub.ok("list_assignments_for_hit", {"Assignments": [], "NumResults": 0})
    call_command("review_hits")
    assert '"hits": 2' in capsys.readouterr().out


def test_publish_hits_refuses_bad_input(engine, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    with pytest.raises(CommandError, match="HTTPS"):
        call_command("publish_hits", "--dataset", "synthetic", "--reward", "0.25", "--budget", "5")
    with pytest.raises(CommandError, match="dollar amount"):
        call_command("publish_hits", "--dataset", "synthetic", "--reward", "abc", "--budget", "5")
    assert not Batch.objects.exists()


def test_openapi_schema_lists_the_mturk_api(staff_client):
    text = staff_client.get("/api/schema/").content.decode()
    assert "/api/mturk/batches/" in text and "/api/mturk/workers/{worker_id}/block/" in text
