"""The set page inside MTurk, through the worker API: preview, accept, grade, externalSubmit, and
every way it can go wrong with a clear message and nothing lost."""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from backend.annotation.models import Answer, TaskSet
from backend.annotation.services.submit import SET_CLOSED
from backend.crowd.api import ALREADY_ACCEPTED, PREVIEW_NO_SUBMIT
from backend.crowd.models import Worker
from backend.crowd.policy import block_notice
from backend.mturk.models import Assignment
from backend.mturk.services.assignments import (
    BAD_PARAMS,
    BAD_SUBMIT_TO,
    MISSING_PARAMS,
    NO_SUBMIT_TO,
    UNKNOWN_HIT,
    WORKER_MISMATCH,
)
from tests.annotation.bench import truth_of
from tests.mturk.mturk_helpers import SUBMIT_ORIGIN, assignment_id, hit_id, make_batch, worker_id

pytestmark = pytest.mark.django_db


class Turker:
    """A worker's browser inside MTurk's frame: the page forwards MTurk's parameters to the API."""

    def __init__(self, *, n: int = 1, hit: int = 1, assignment: int = 1, submit_to: str | None = SUBMIT_ORIGIN,
                 preview: bool = False):
        self.client = APIClient()
        params = {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE" if preview else assignment_id(assignment),
                  "hitId": hit_id(hit)}
        if not preview:
            params["workerId"] = worker_id(n)
        if submit_to is not None:
            params["turkSubmitTo"] = submit_to
        self.params = params

    def qs(self) -> str:
        return urlencode(self.params)

    def assign(self):
        return self.client.post(f"/api/work/synthetic/sets/?{self.qs()}")

    def submit(self, set_id, answers: dict, submission_id=None):
        body = {"submission_id": str(submission_id or uuid.uuid4()),
                "answers": [{"item": i, "answer": a, "ms": 700} for i, a in answers.items()]}
        return self.client.post(f"/api/work/sets/{set_id}/submit/?{self.qs()}", body, format="json")


@pytest.fixture
def hit(engine, stub):
    return make_batch(engine["dataset"]).hits.get()


def _answers(payload, engine, *, wrong_gold: int = 0) -> dict:
    answers, broken = {}, 0
    from tests.annotation.bench import is_gold

    for item in payload["items"]:
        value = truth_of(item["id"], engine)
        if broken < wrong_gold and is_gold(item["id"]):
            value, broken = not value, broken + 1
        answers[item["id"]] = value
    return answers


def test_preview_shows_clips_and_accepts_nothing(hit):
    turker = Turker(preview=True)
    response = turker.assign()
    assert response.status_code == 200
    payload = response.json()["set"]
    assert payload["preview"] is True and payload["items"]
    assert not TaskSet.objects.exists() and not Worker.objects.exists() and not Assignment.objects.exists()
    refused = turker.submit(uuid.uuid4(), {})
    assert refused.status_code == 403 and refused.json()["detail"] == PREVIEW_NO_SUBMIT


def test_accept_answer_grade_and_external_submit(hit, engine):
    turker = Turker()
    payload = turker.assign().json()["set"]
    taskset = TaskSet.objects.get(public_id=payload["id"])
    assert taskset.provider_ref == {"assignment_id": assignment_id(1), "hit_id": hit_id(1)}
    assert taskset.worker.provider == "mturk" and taskset.worker.external_id == worker_id(1)
    assert turker.assign().json()["set"]["id"] == payload["id"]  # a reload resumes the same set

    response = turker.submit(payload["id"], _answers(payload, engine))
    body = response.json()
    assert response.status_code == 200 and body["status"] == "accepted"
    assert body["external_submit"] == {"url": f"{SUBMIT_ORIGIN}/mturk/externalSubmit",
                                       "fields": {"assignmentId": assignment_id(1), "set": payload["id"]}}
    row = Assignment.objects.get(assignment_id=assignment_id(1))
    assert row.taskset_id == taskset.pk and row.worker == taskset.worker and row.hit == hit


def test_failed_gold_can_review_but_never_submits_to_mturk(hit, engine):
    turker = Turker()
    payload = turker.assign().json()["set"]
    refused = turker.submit(payload["id"], _answers(payload, engine, wrong_gold=2))
    assert refused.status_code == 422 and "external_submit" not in refused.json()
    fixed = turker.submit(payload["id"], _answers(payload, engine))  # reviewed and corrected
    assert fixed.status_code == 200 and fixed.json()["external_submit"]["fields"]["assignmentId"] == assignment_id(1)


def test_a_set_refused_to_the_end_stays_closed_for_its_assignment(hit, engine, settings, enqueued,
                                                                  django_capture_on_commit_callbacks):
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 100  # let the attempts run out before the early block rule
    turker = Turker()
    payload = turker.assign().json()["set"]
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            last = turker.submit(payload["id"], _answers(payload, engine, wrong_gold=2))
    worker = Worker.objects.get(provider="mturk")  # three refusals: blocked, mirrored on MTurk by a task
    assert worker.blocked and enqueued == [("sync_worker_block", (worker.pk,))]
    # the last refusal says so, and why, in words for the worker; the set is closed all the same
    assert last.json() == {"status": "blocked", "detail": block_notice(worker.blocked_reason), "attempts_left": 0}
    assert "did not pass our quality checks" in last.json()["detail"] and "external_submit" not in last.json()
    assert TaskSet.objects.get().status == "failed"
    again = turker.assign()  # reloading the HIT does not hand out a fresh set to try gold on
    assert again.status_code == 403 and again.json()["detail"] == block_notice(worker.blocked_reason)
    assert TaskSet.objects.count() == 1


def test_a_set_refused_to_the_end_without_a_block_stays_closed(hit, engine, settings):
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 100
    settings.MMIT_BLOCK_AFTER_REFUSALS = 10  # the attempts run out, the worker stays unblocked
    turker = Turker()
    payload = turker.assign().json()["set"]
    for _ in range(3):
        last = turker.submit(payload["id"], _answers(payload, engine, wrong_gold=2))
    assert last.json() == {"status": "failed", "detail": SET_CLOSED, "attempts_left": 0}
    again = turker.assign().json()  # reloading the HIT does not hand out a fresh set to try gold on
    assert again == {"set": None, "status": "failed", "detail": SET_CLOSED}
    assert TaskSet.objects.count() == 1


def test_repeated_submit_records_once_and_posts_again(hit, engine):
    turker = Turker()
    payload = turker.assign().json()["set"]
    answers = _answers(payload, engine)
    submission = uuid.uuid4()
    first = turker.submit(payload["id"], answers, submission_id=submission).json()
    n_answers = Answer.objects.count()
    assert turker.submit(payload["id"], answers, submission_id=submission).json() == first
    second_click = turker.submit(payload["id"], answers).json()  # a new click after success
    assert second_click["status"] == "accepted" and second_click["external_submit"] == first["external_submit"]
    assert Answer.objects.count() == n_answers
    reloaded = turker.assign().json()  # the page reloaded after the set was accepted
    assert reloaded["set"] is None and reloaded["status"] == "accepted"
    assert reloaded["detail"] == ALREADY_ACCEPTED and reloaded["external_submit"] == first["external_submit"]
    assert TaskSet.objects.count() == 1


def test_missing_turk_submit_to_keeps_the_answers_and_says_what_to_do(hit, engine):
    turker = Turker(submit_to=None)
    payload = turker.assign().json()["set"]
    body = turker.submit(payload["id"], _answers(payload, engine)).json()
    assert body["status"] == "accepted" and body["external_submit"] is None and body["detail"] == NO_SUBMIT_TO
    assert Answer.objects.filter(taskset__public_id=payload["id"]).exists()
    reopened = Turker()  # the HIT opened again from MTurk: now the form can be posted
    assert reopened.assign().json()["external_submit"]["url"] == f"{SUBMIT_ORIGIN}/mturk/externalSubmit"


@pytest.mark.parametrize("change,message", [
    ({"workerId": worker_id(2)}, WORKER_MISMATCH),
    ({"turkSubmitTo": "https://evil.example.org"}, BAD_SUBMIT_TO),
    ({"turkSubmitTo": f"{SUBMIT_ORIGIN}/elsewhere"}, BAD_SUBMIT_TO),
    ({"hitId": hit_id(99), "assignmentId": assignment_id(99)}, UNKNOWN_HIT),
    ({"workerId": "robert'); drop"}, BAD_PARAMS),
    ({"workerId": ""}, MISSING_PARAMS),
])
def test_bad_mturk_parameters_are_refused_and_store_nothing(hit, engine, change, message):
    owner = Turker()
    payload = owner.assign().json()["set"]
    sets_before = TaskSet.objects.count()
    intruder = Turker()
    intruder.params.update(change)
    response = intruder.assign()
    assert response.status_code == 403 and response.json()["detail"] == message
    submit = intruder.submit(payload["id"], _answers(payload, engine))
    assert submit.status_code == 403 and submit.json()["detail"] == message
    assert TaskSet.objects.count() == sets_before and not Answer.objects.exists()
    assert Worker.objects.filter(provider="mturk").count() == 1


def test_set_page_may_be_framed_by_mturk_only(hit, client):
    framed = client.get("/mturk/annotate/synthetic/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=" + hit_id(1))
    assert framed.status_code == 200 and "X-Frame-Options" not in framed
    csp = framed["Content-Security-Policy"]
    assert csp.startswith("frame-ancestors 'self' ") and "https://worker.mturk.com" in csp
    assert "https://workersandbox.mturk.com" in csp and "*" not in csp
    assert b'id="external-submit"' in framed.content
    in_house = client.get("/annotate/synthetic/")
    assert in_house["X-Frame-Options"] == "DENY" and "Content-Security-Policy" not in in_house
