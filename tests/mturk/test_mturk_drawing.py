"""MTurk end to end with drawing sets, against the fake requester (boto3 over HTTP, as in production).

A drawing batch is published, a worker draws in the framed drawing page's API with MTurk's query
parameters, the accepted set is linked to its assignment (in ``Assignment.drawing_set``, never in
the Yes/No link), the worker submits on MTurk, and the review loop approves it; a worker whose
drawing set failed gold and who submits anyway is rejected and blocked, on the platform and on
MTurk.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from backend.annotation.models import TaskSet
from backend.crowd.api import ALREADY_ACCEPTED
from backend.crowd.models import Worker
from backend.crowd.policy import block_notice
from backend.mturk import policy
from backend.mturk.gateway import gateway_for
from backend.mturk.models import Assignment, Batch, Hit
from backend.mturk.services.publish import batch_create, batch_publish
from backend.mturk.services.review import review_run
from backend.regions.models import DrawingSet, FrameAction
from backend.regions.services.frames import regions_select_frames
from backend.regions.services.gold import region_gold_add
from tests.faults.fake_requester import FakeRequester
from tests.mturk.mturk_helpers import SITE, SUBMIT_ORIGIN, assignment_id, worker_id
from tests.regions.bench import build_bench, correct_regions, to_drawing

pytestmark = pytest.mark.django_db


@pytest.fixture
def requester(settings, monkeypatch, tmp_path):
    with FakeRequester() as fake:
        settings.SITE_URL = SITE
        settings.MMIT_MTURK_ENDPOINT_URL = fake.url
        settings.MMIT_MTURK_SUBMIT_ORIGINS = [SUBMIT_ORIGIN]
        # boto3 signs every request: any credentials do, and no profile on this machine may interfere
        for name, value in {"AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE", "AWS_SECRET_ACCESS_KEY": "fake-secret",
                            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials")}.items():
            monkeypatch.setenv(name, value)
        yield fake


@pytest.fixture
def frames(dataset, clip_factory, settings, tmp_path):
    """Frames of `jumping` waiting for two drawings each, and jumping gold images (two boxed, one to skip)."""
    settings.MMIT_REGIONS_SET_SIZE = 5
    bench = build_bench(dataset, clip_factory, settings, tmp_path)
    regions_select_frames(dataset=dataset, per_action=4, actions=["jumping"], seed=0)
    to_drawing(FrameAction.objects.all(), needed=2)
    chosen = set(FrameAction.objects.values_list("frame__video__name", flat=True))
    boxed = [n for n, b in sorted(bench["boxes"].items()) if "jumping" in b and n not in chosen][:2]
    empty = [n for n in sorted(bench["truth"]) if "jumping" not in bench["truth"][n]][:1]
    for name in boxed + empty:
        region_gold_add(dataset=dataset, video=bench["videos"][name], action=bench["actions"]["jumping"],
                        boxes=bench["boxes"][name].get("jumping", []))
    return bench


def _mturk_query(hit_id: str, n: int) -> str:
    return urlencode({"assignmentId": assignment_id(n), "hitId": hit_id, "workerId": worker_id(n),
                      "turkSubmitTo": SUBMIT_ORIGIN})


def _wrong(regions: list[dict]) -> list[dict]:
    """Every image drawn with one small box in a corner: every gold image missed."""
    return [{"item": e["item"], "skip": False, "boxes": [[0, 0, 6, 6]], "ms": 500} for e in regions]


def test_a_drawing_batch_end_to_end(frames, requester, anon_client, django_capture_on_commit_callbacks):
    dataset = frames["dataset"]
    batch = batch_create(dataset=dataset, kind="drawing", reward=Decimal("0.30"), budget=Decimal("20"),
                         assignments_per_hit=2, sandbox=True)
    # 4 frames x 2 drawings; a new worker's set of 5 holds 2 gold images, so 3 frames per set
    assert batch.kind == "drawing" and batch.hits_requested == 2 and "Draw boxes" in batch.title
    report = batch_publish(batch_id=batch.pk, gateway=gateway_for(sandbox=True))
    assert report.created == 2 and Batch.objects.get().status == Batch.Status.PUBLISHED
    hit = Hit.objects.filter(batch=batch).order_by("index").first()
    assert f"{SITE}/mturk/draw/{dataset.name}/</ExternalURL>" in requester.hits[hit.hit_id]["Question"]

    # the page MTurk frames, with the assignment's parameters
    page = anon_client.get(f"/mturk/draw/{dataset.name}/?{_mturk_query(hit.hit_id, 1)}")
    assert page.status_code == 200 and SUBMIT_ORIGIN in page["Content-Security-Policy"]

    # worker 1 draws correctly: accepted, linked as a drawing set, and told where to post the HIT
    assign = anon_client.post(f"/api/regions/work/{dataset.name}/sets/?{_mturk_query(hit.hit_id, 1)}")
    payload = assign.json()["set"]
    drawing_set = DrawingSet.objects.get(public_id=payload["id"])
    assert drawing_set.provider_ref == {"assignment_id": assignment_id(1), "hit_id": hit.hit_id}
    submit = anon_client.post(f"/api/regions/work/sets/{payload['id']}/submit/?{_mturk_query(hit.hit_id, 1)}",
                              {"submission_id": str(uuid.uuid4()), "regions": correct_regions(payload, frames)},
                              format="json")
    assert submit.status_code == 200, submit.json()
    assert submit.json()["external_submit"] == {
        "url": f"{SUBMIT_ORIGIN}/mturk/externalSubmit",
        "fields": {"assignmentId": assignment_id(1), "set": payload["id"]}}
    row = Assignment.objects.get(assignment_id=assignment_id(1))
    assert row.drawing_set_id == drawing_set.pk and row.taskset_id is None and not TaskSet.objects.exists()
    # reopening the HIT shows the outcome again: no second set for the same assignment
    again = anon_client.post(f"/api/regions/work/{dataset.name}/sets/?{_mturk_query(hit.hit_id, 1)}").json()
    assert again["set"] is None and again["detail"] == ALREADY_ACCEPTED and "external_submit" in again
    assert DrawingSet.objects.count() == 1

    # worker 2 misses every gold image three times: the set fails, the worker is blocked (three refusals),
    # and nothing reaches MTurk's form
    second = anon_client.post(f"/api/regions/work/{dataset.name}/sets/?{_mturk_query(hit.hit_id, 2)}")
    failed = second.json()["set"]
    for _ in range(3):
        outcome = anon_client.post(
            f"/api/regions/work/sets/{failed['id']}/submit/?{_mturk_query(hit.hit_id, 2)}",
            {"submission_id": str(uuid.uuid4()), "regions": _wrong(correct_regions(failed, frames))}, format="json")
        assert outcome.status_code == 422 and "external_submit" not in outcome.json()
    blocked = Worker.objects.get(provider="mturk", external_id=worker_id(2))
    assert outcome.json() == {"status": "blocked", "detail": block_notice(blocked.blocked_reason), "attempts_left": 0}
    assert DrawingSet.objects.get(public_id=failed["id"]).status == "failed"

    # both submit on MTurk's side; the review loop approves the drawn set and rejects the failed one
    requester.assignment_submit(hit_id=hit.hit_id, assignment_id=assignment_id(1), worker_id=worker_id(1))
    requester.assignment_submit(hit_id=hit.hit_id, assignment_id=assignment_id(2), worker_id=worker_id(2))
    with django_capture_on_commit_callbacks(execute=True):
        review = review_run(gateway=gateway_for(sandbox=True))
    assert (review.approved, review.rejected) == (1, 1)
    assert requester.assignments[assignment_id(1)]["AssignmentStatus"] == "Approved"
    assert requester.assignments[assignment_id(2)]["AssignmentStatus"] == "Rejected"
    assert requester.feedback[assignment_id(2)] == policy.FEEDBACK_FAILED_GOLD
    approved, rejected = (Assignment.objects.get(assignment_id=assignment_id(n)) for n in (1, 2))
    assert approved.mturk_status == "Approved" and approved.cost == Decimal("0.36")  # $0.30 + 20% fee
    assert rejected.mturk_status == "Rejected" and rejected.cost == 0 and rejected.drawing_set_id is None
    # the rejected worker is blocked on the platform and soft-blocked on MTurk (the qualification)
    assert Worker.objects.get(provider="mturk", external_id=worker_id(2)).blocked
    assert {worker_id(2)} == set().union(*requester.qualified.values())
    assert requester.unknown == []
