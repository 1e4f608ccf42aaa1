"""Submission idempotency, concurrency and every bad input: 4xx, clear message, nothing stored."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.db import connection

from backend.annotation.models import Answer, Attempt, SetItem, TaskSet
from backend.annotation.services import submit as s
from backend.crowd import links
from tests.annotation.bench import WorkerClient, truth_of

pytestmark = pytest.mark.django_db


def _correct(payload, engine):
    return {i["id"]: truth_of(i["id"], engine) for i in payload["items"]}


def _nothing_stored():
    return not Answer.objects.exists() and not Attempt.objects.exists()


def test_double_submit_records_one_result(engine, make_worker):
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    sid = uuid.uuid4()
    first = w.submit(payload["id"], _correct(payload, engine), submission_id=sid)
    second = w.submit(payload["id"], _correct(payload, engine), submission_id=sid)
    third = w.submit(payload["id"], _correct(payload, engine))  # a new click after acceptance
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.json() == second.json() == third.json()
    assert Attempt.objects.count() == 1 and Answer.objects.count() == 7


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_record_exactly_one(engine, make_worker):
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    answers = _correct(payload, engine)
    results = []

    def go():
        client = WorkerClient("alice")
        try:
            results.append(client.submit(payload["id"], answers).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    assert Attempt.objects.filter(accepted=True).count() == 1
    assert Answer.objects.count() == 7
    assert TaskSet.objects.get(public_id=payload["id"]).status == "accepted"


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_submits_of_a_refused_set_get_the_recorded_outcome(engine, make_worker):
    """A double click on a submission that gold refuses: the copies that waited for the set's lock
    get the recorded refusal (once found by the load script: one of them failed with a 500 on the
    unique submission id, because the replay check could not see the attempt committed meanwhile)."""
    from django.db import transaction

    w = make_worker("alice")
    payload = w.assign().json()["set"]
    answers = _correct(payload, engine)
    gold = [k for k in answers if SetItem.objects.get(public_id=k).gold_id][:2]
    for k in gold:
        answers[k] = not answers[k]
    sid = uuid.uuid4()
    results = []

    def go():
        try:
            r = WorkerClient("alice").submit(payload["id"], answers, submission_id=sid)
            results.append((r.status_code, r.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(3)]
    with transaction.atomic():  # hold the set so that every copy queues on its lock
        list(TaskSet.objects.select_for_update().filter(public_id=payload["id"]))
        for t in threads:
            t.start()
        time.sleep(1.0)
    for t in threads:
        t.join()
    assert [status for status, _ in results] == [422] * 3, results
    assert len({json.dumps(body, sort_keys=True) for _, body in results}) == 1
    assert results[0][1]["status"] == "refused"
    assert Attempt.objects.count() == 1 and not Answer.objects.exists()
    assert TaskSet.objects.get(public_id=payload["id"]).attempts == 1


def test_missing_extra_unknown_answers(engine, make_worker):
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    answers = _correct(payload, engine)
    first = next(iter(answers))
    missing = dict(answers)
    missing.pop(first)
    r = w.submit(payload["id"], missing)
    assert r.status_code == 400 and r.json()["detail"] == s.MISSING_ANSWERS.format(n=1)
    extra = {**answers, str(uuid.uuid4()): True}
    r = w.submit(payload["id"], extra)
    assert r.status_code == 400 and r.json()["detail"] == s.UNKNOWN_ITEMS.format(n=1)
    body = {"submission_id": str(uuid.uuid4()),
            "answers": [{"item": first, "answer": True}] + [{"item": k, "answer": v} for k, v in answers.items()]}
    r = w.client.post(f"/api/work/sets/{payload['id']}/submit/", body, format="json")
    assert r.status_code == 400 and r.json()["detail"] == s.DUPLICATE_ITEMS
    assert _nothing_stored()


def test_another_workers_set_and_unknown_set(engine, make_worker):
    alice, bob = make_worker("alice"), make_worker("bob")
    payload = alice.assign().json()["set"]
    r = bob.submit(payload["id"], _correct(payload, engine))
    assert r.status_code == 403 and r.json()["detail"] == s.NOT_YOUR_SET
    assert bob.client.get(f"/api/work/sets/{payload['id']}/").status_code == 403
    r = alice.submit(uuid.uuid4(), _correct(payload, engine))
    assert r.status_code == 404 and r.json()["detail"] == s.SET_NOT_FOUND
    assert _nothing_stored()


@pytest.mark.parametrize("body,content_type", [
    (b"{not json", "application/json"),
    (b'{"submission_id": "x", "answers": []}', "application/json"),
    (b'{"submission_id": "4b9a3c1e-2f4d-4a55-9d7b-3c2a1b0f9e8d", "answers": [{"item": "nope", "answer": "maybe"}]}',
     "application/json"),
    (b'[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
     "application/json"),
    (b"answers=yes", "application/x-www-form-urlencoded"),
])
def test_malformed_bodies(engine, make_worker, body, content_type):
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    r = w.client.generic("POST", f"/api/work/sets/{payload['id']}/submit/", body, content_type=content_type)
    assert r.status_code == 400, r.content
    assert "detail" in r.json() or r.json()
    assert _nothing_stored()


def test_oversized_body_is_413(engine, make_worker, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    body = b'{"submission_id": "4b9a3c1e-2f4d-4a55-9d7b-3c2a1b0f9e8d", "pad": "' + b"x" * 20_000 + b'"}'
    r = w.client.generic("POST", f"/api/work/sets/{payload['id']}/submit/", body, content_type="application/json")
    assert r.status_code == 413 and _nothing_stored()


def test_no_identity_and_bad_links(engine, anon_client, make_worker):
    r = anon_client.post("/api/work/synthetic/sets/")
    assert r.status_code == 403
    anon_client.credentials(HTTP_X_WORKER_TOKEN="tampered:token")
    r = anon_client.post("/api/work/synthetic/sets/")
    assert r.status_code == 403 and r.json()["detail"] == links.LINK_INVALID
    w = make_worker("alice")
    token = links.worker_link_token(worker=w.worker)
    with pytest.raises(Exception) as err:
        links.worker_from_token(token, max_age=-1)
    assert err.value.message == links.LINK_EXPIRED
    assert anon_client.post("/api/work/nope/sets/").status_code in (403, 404)


def test_preview_shows_clips_and_accepts_nothing(engine, make_worker):
    w = make_worker("alice")
    r = w.client.post("/api/work/synthetic/sets/?preview=1")
    payload = r.json()["set"]
    assert payload["preview"] is True and payload["id"] is None and len(payload["items"]) == 10
    assert not TaskSet.objects.exists()
    media = w.client.get(payload["items"][0]["media_url"])
    assert media.status_code == 200 and media["Content-Type"] == "video/mp4"


def test_media_is_served_for_items_and_refused_for_forged_tokens(engine, make_worker, anon_client):
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    for item in payload["items"]:
        r = anon_client.get(item["media_url"])
        assert r.status_code == 200 and r["Content-Type"] == "video/mp4"
        assert b"".join(r.streaming_content)[4:8] == b"ftyp"
    assert anon_client.get("/api/work/media/forged-token/").status_code == 404


def test_session_worker_needs_csrf(engine, django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_user(username="inhouse-ann", password="pw-123456-x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    r = client.post("/api/work/synthetic/sets/")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    page = client.get("/annotate/synthetic/")
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value
    r = client.post("/api/work/synthetic/sets/", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200 and r.json()["set"] is not None
