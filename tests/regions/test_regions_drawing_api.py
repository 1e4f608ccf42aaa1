"""The drawing task's worker API: hidden gold graded by IoU, refusals, attempt cap, idempotency,
concurrency, expiry, blocking, preview, media, and every bad input (4xx, clear message, nothing stored)."""
from __future__ import annotations

import json
import math
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from backend.crowd.models import Worker
from backend.crowd.policy import block_notice
from backend.crowd.services import worker_block
from backend.regions import geometry as g
from backend.regions.models import Drawing, DrawingAttempt, DrawingItem, DrawingSet, FrameAction, GoldDrawing
from backend.regions.services import drawing as d
from backend.regions.services.advance import regions_advance
from backend.regions.services.frames import regions_select_frames
from backend.regions.services.gold import region_gold_add
from tests.regions.bench import Drawer, correct_regions, to_drawing

pytestmark = pytest.mark.django_db


@pytest.fixture
def drawing(bench, settings):
    """Frames of `jumping` waiting for drawings; jumping gold images (two boxed, one to skip)."""
    settings.MMIT_REGIONS_SET_SIZE = 5
    dataset = bench["dataset"]
    regions_select_frames(dataset=dataset, per_action=4, actions=["jumping"], seed=0)
    to_drawing(FrameAction.objects.all())
    chosen = set(FrameAction.objects.values_list("frame__video__name", flat=True))
    jumping = bench["actions"]["jumping"]
    boxed = [n for n, b in sorted(bench["boxes"].items()) if "jumping" in b and n not in chosen][:2]
    empty = [n for n in sorted(bench["truth"]) if "jumping" not in bench["truth"][n]][:1]
    for name in boxed + empty:
        region_gold_add(dataset=dataset, video=bench["videos"][name], action=jumping,
                        boxes=bench["boxes"][name].get("jumping", []))
    return bench


def _nothing_stored():
    return not (Drawing.objects.exists() or DrawingAttempt.objects.exists() or GoldDrawing.objects.exists())


def _gold_ids(payload):
    return [i["id"] for i in payload["items"] if DrawingItem.objects.get(public_id=i["id"]).gold_id]


def test_a_set_is_one_action_with_hidden_gold(drawing):
    w = Drawer("alice")
    r = w.assign()
    assert r.status_code == 200
    payload = r.json()["set"]
    assert payload["action"]["name"] == "jumping" and "jumping" in payload["question"].lower()
    assert payload["limits"] == {"max_boxes": 10, "min_box": 4.0}
    # probation: 30% of 5 rounds to 2 gold images, at random positions, same shape as the rest
    assert len(payload["items"]) == 5 and len(_gold_ids(payload)) == 2
    for item in payload["items"]:
        assert set(item) == {"id", "media_url", "width", "height"} and (item["width"], item["height"]) == (64, 64)
        media = w.client.get(item["media_url"])
        assert media.status_code == 200 and media["Content-Type"] == "image/jpeg"
    assert set(FrameAction.objects.filter(in_flight=1).values_list("pk", flat=True)) == set(
        DrawingItem.objects.filter(target__isnull=False).values_list("target_id", flat=True))
    # asking again resumes the same set
    assert w.assign().json()["set"]["id"] == payload["id"]
    again = w.client.get(f"/api/regions/work/sets/{payload['id']}/").json()["items"]
    assert [i["id"] for i in again] == [i["id"] for i in payload["items"]]  # media tokens carry a timestamp
    assert Drawer("bob").client.get(f"/api/regions/work/sets/{payload['id']}/").status_code == 403


def _miss(regions, items):
    return [dict(e, skip=False, boxes=[[0, 0, 10, 10]]) if e["item"] in items else e for e in regions]


def test_one_missed_gold_image_is_graded_but_does_not_refuse(drawing, settings):
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    gold = _gold_ids(payload)
    one_missed = _miss(correct_regions(payload, drawing), gold[:1])
    # a strict campaign sends the set back for one miss
    settings.MMIT_REGIONS_GOLD_MAX_MISSED = 0
    r = w.submit(payload["id"], one_missed)
    assert r.status_code == 422 and r.json()["attempts_left"] == 2
    # the default, as in the Yes/No engine: only more than one miss refuses
    settings.MMIT_REGIONS_GOLD_MAX_MISSED = 1
    r = w.submit(payload["id"], one_missed)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    attempts = DrawingAttempt.objects.order_by("number")
    assert [(a.accepted, a.gold_total, a.gold_missed) for a in attempts] == [(False, 2, 1), (True, 2, 1)]
    missed_gold = DrawingItem.objects.get(public_id=gold[0]).gold_id
    assert set(GoldDrawing.objects.filter(correct=False).values_list("gold_id", flat=True)) == {missed_gold}
    w.worker.refresh_from_db()
    assert (w.worker.attempts_refused, w.worker.gold_answers, w.worker.gold_correct) == (1, 4, 2)
    assert Drawing.objects.count() == 3 and not w.worker.blocked


def test_missed_gold_refuses_then_review_succeeds(drawing):
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    regions = correct_regions(payload, drawing)
    gold = _gold_ids(payload)
    r = w.submit(payload["id"], _miss(regions, gold))
    assert r.status_code == 422
    assert r.json() == {"status": "refused", "detail": d.REVIEW_MESSAGE, "attempts_left": 2}
    assert not Drawing.objects.exists()
    attempt = DrawingAttempt.objects.get()
    assert (attempt.accepted, attempt.gold_total, attempt.gold_missed) == (False, 2, 2)
    assert GoldDrawing.objects.filter(correct=False).count() == 2
    w.worker.refresh_from_db()
    assert (w.worker.attempts_refused, w.worker.gold_answers, w.worker.gold_correct) == (1, 2, 0)
    r = w.submit(payload["id"], regions)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert Drawing.objects.count() == 3
    for drawn in Drawing.objects.select_related("target__frame__video", "target__action"):
        truth = drawing["boxes"][drawn.target.frame.video.name]["jumping"]
        assert drawn.boxes == truth and not drawn.skipped and drawn.duration_ms == 900
    assert set(FrameAction.objects.filter(pk__in=Drawing.objects.values("target")).values_list(
        "drawings", "in_flight")) == {(1, 0)}
    assert DrawingSet.objects.get().status == "accepted"


def test_attempts_are_capped_and_the_set_fails(drawing):
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    # a box in the wrong place everywhere: boxed gold missed, the gold image to skip not skipped
    all_wrong = _miss(correct_regions(payload, drawing), [i["id"] for i in payload["items"]])
    statuses = [w.submit(payload["id"], all_wrong).json()["status"] for _ in range(3)]
    # the third refusal both fails the set and blocks the worker (three refusals), as a bad Yes/No worker
    assert statuses == ["refused", "refused", "blocked"]
    assert DrawingSet.objects.get(public_id=payload["id"]).status == DrawingSet.Status.FAILED
    w.worker.refresh_from_db()
    assert w.worker.blocked and "refused" in w.worker.blocked_reason
    notice = block_notice(w.worker.blocked_reason)
    r = w.submit(payload["id"], correct_regions(payload, drawing))
    assert r.status_code == 403 and r.json()["detail"] == notice
    assert not Drawing.objects.exists() and set(FrameAction.objects.values_list("in_flight", flat=True)) == {0}
    r = w.assign()  # and no more work
    assert r.status_code == 403 and r.json()["detail"] == notice


def test_attempts_are_capped_and_the_set_fails_without_a_block(drawing, settings):
    settings.MMIT_BLOCK_AFTER_REFUSALS = 10  # neither rule blocks before the attempts run out
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 100
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    all_wrong = _miss(correct_regions(payload, drawing), [i["id"] for i in payload["items"]])
    statuses = [w.submit(payload["id"], all_wrong).json()["status"] for _ in range(3)]
    assert statuses == ["refused", "refused", "failed"]
    r = w.submit(payload["id"], correct_regions(payload, drawing))
    assert r.status_code == 410 and r.json()["detail"] == d.SET_CLOSED
    assert not Drawing.objects.exists() and set(FrameAction.objects.values_list("in_flight", flat=True)) == {0}


def test_idempotent_submission(drawing):
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    regions = correct_regions(payload, drawing)
    sid = uuid.uuid4()
    first = w.submit(payload["id"], regions, submission_id=sid)
    again = w.submit(payload["id"], regions, submission_id=sid)
    later = w.submit(payload["id"], regions)  # a new click after acceptance
    assert first.status_code == again.status_code == later.status_code == 200
    assert first.json() == again.json() == later.json()
    assert DrawingAttempt.objects.count() == 1 and Drawing.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_record_exactly_one(drawing):
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    regions = correct_regions(payload, drawing)
    results = []

    def go():
        try:
            results.append(Drawer("alice").submit(payload["id"], regions).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    assert DrawingAttempt.objects.filter(accepted=True).count() == 1 and Drawing.objects.count() == 3
    assert set(FrameAction.objects.filter(drawings=1).values_list("in_flight", flat=True)) == {0}


def _bad(w, payload, regions, message):
    r = w.submit(payload["id"], regions)
    assert r.status_code == 400, r.content
    assert r.json()["detail"] == message
    assert _nothing_stored()


def test_bad_boxes_are_refused_with_a_clear_message(drawing, settings):
    settings.MMIT_REGIONS_MAX_BOXES = 3
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    good = correct_regions(payload, drawing)
    first = payload["items"][0]["id"]

    def with_first(**entry):
        return [dict({"item": first}, **entry)] + good[1:]

    _bad(w, payload, with_first(boxes=[[10, 10, 80, 20]]), g.BOX_OUTSIDE.format(item=1, box=1, width=64, height=64))
    _bad(w, payload, with_first(boxes=[[-5, 10, 20, 20]]), g.BOX_OUTSIDE.format(item=1, box=1, width=64, height=64))
    _bad(w, payload, with_first(boxes=[[10, 10, 10, 20]]), g.BOX_EMPTY.format(item=1, box=1))
    _bad(w, payload, with_first(boxes=[[10, 20, 30, 5]]), g.BOX_EMPTY.format(item=1, box=1))
    _bad(w, payload, with_first(boxes=[[10, 10, 12, 30]]), g.BOX_TOO_SMALL.format(item=1, box=1, min_size=4.0))
    _bad(w, payload, with_first(boxes=[[1, 1, 9, 9]] * 4), g.TOO_MANY_BOXES.format(item=1, limit=3, n=4))
    _bad(w, payload, with_first(boxes=[[1, 1, 9]]), g.BOX_NOT_NUMBERS.format(item=1, box=1))
    _bad(w, payload, with_first(boxes=[[1, 1, 9, "9"]]), g.BOX_NOT_NUMBERS.format(item=1, box=1))
    _bad(w, payload, with_first(boxes=[[1, 1, 9, True]]), g.BOX_NOT_NUMBERS.format(item=1, box=1))
    _bad(w, payload, with_first(skip=True, boxes=[[1, 1, 9, 9]]), d.SKIP_AND_BOXES.format(item=1))
    _bad(w, payload, with_first(skip=False, boxes=[]), d.NOTHING_DRAWN.format(item=1))
    # a region set for a frame that was not assigned in this set (another worker's frame)
    other = Drawer("bob").assign().json()["set"]
    _bad(w, payload, good + [{"item": other["items"][0]["id"], "boxes": [[1, 1, 9, 9]]}],
         d.UNKNOWN_ITEMS.format(n=1))
    _bad(w, payload, good[1:], d.MISSING_ITEMS.format(n=1))
    _bad(w, payload, good + good[:1], d.DUPLICATE_ITEMS)
    # infinities parse as floats (1e999); NaN is not JSON at all
    body = json.dumps({"submission_id": str(uuid.uuid4()), "regions": with_first(boxes=[[1, 1, 9, 9]])})
    url = f"/api/regions/work/sets/{payload['id']}/submit/"
    r = w.client.post(url, body.replace("[1, 1, 9, 9]", "[1, 1, 1e999, 9]"), content_type="application/json")
    assert r.status_code == 400 and r.json()["detail"] == g.BOX_NOT_FINITE.format(item=1, box=1)
    r = w.client.post(url, body.replace("[1, 1, 9, 9]", "[1, 1, NaN, 9]"), content_type="application/json")
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    r = w.client.post(f"/api/regions/work/sets/{payload['id']}/submit/", "{not json", content_type="application/json")
    assert r.status_code == 400
    r = w.client.post(f"/api/regions/work/sets/{payload['id']}/submit/", {"regions": good}, format="json")
    assert r.status_code == 400 and "submission_id" in r.json()
    assert _nothing_stored()
    assert w.submit(payload["id"], good).status_code == 200


def test_another_workers_set_unknown_set_and_no_identity(drawing, anon_client):
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    regions = correct_regions(payload, drawing)
    r = Drawer("mallory").submit(payload["id"], regions)
    assert r.status_code == 403 and r.json()["detail"] == d.NOT_YOUR_SET
    r = w.submit(str(uuid.uuid4()), regions)
    assert r.status_code == 404 and r.json()["detail"] == d.SET_NOT_FOUND
    assert anon_client.post("/api/regions/work/synthetic/sets/").status_code == 403
    assert anon_client.post("/api/regions/work/nowhere/sets/").status_code == 404
    assert _nothing_stored()


def test_expired_sets_return_frames_and_refuse_submission(drawing):
    w = Drawer("alice")
    payload = w.assign().json()["set"]
    DrawingSet.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    r = w.submit(payload["id"], correct_regions(payload, drawing))
    assert r.status_code == 410 and r.json()["detail"] == d.SET_EXPIRED
    assert DrawingSet.objects.get().status == "expired" and not FrameAction.objects.filter(in_flight__gt=0).exists()
    assert _nothing_stored()
    # the frames are available again, to a new set
    fresh = w.assign().json()["set"]
    assert fresh["id"] != payload["id"]
    DrawingSet.objects.filter(public_id=fresh["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert d.drawingsets_expire() == 1 and d.drawingsets_expire() == 0


def test_no_worker_draws_a_frame_twice_and_rounds_fill_up(drawing):
    workers = [Drawer(f"w{i}") for i in range(4)]
    drawn = {}
    for w in workers:
        while (payload := w.assign().json()["set"]) is not None:
            assert w.submit(payload["id"], correct_regions(payload, drawing)).status_code == 200
            drawn[w.worker.pk] = set(Drawing.objects.filter(worker=w.worker).values_list("target_id", flat=True))
    # three rounds per frame, by three different workers; the fourth worker found nothing left
    assert set(FrameAction.objects.values_list("drawings", flat=True)) == {3}
    assert Drawing.objects.values("target", "worker").distinct().count() == Drawing.objects.count() == 12
    assert not Drawing.objects.filter(worker=workers[3].worker).exists()


def test_blocked_drawer_gets_nothing_and_their_drawings_stop_counting(drawing, staff_user):
    alice, bob = Drawer("alice"), Drawer("bob")
    payload = alice.assign().json()["set"]
    alice.submit(payload["id"], correct_regions(payload, drawing))
    open_set = bob.assign().json()["set"]
    worker_block(worker=alice.worker, reason="curator: careless boxes", actor=staff_user)
    worker_block(worker=bob.worker, reason="curator: careless boxes", actor=staff_user)
    assert alice.assign().status_code == 403
    # blocking withdraws at once: open drawing sets are cancelled, drawings stop counting
    assert DrawingSet.objects.get(public_id=open_set["id"]).status == "cancelled"
    r = bob.submit(open_set["id"], correct_regions(open_set, drawing))
    assert r.status_code in (403, 410)
    assert Drawing.objects.filter(excluded=True).count() == 3
    assert set(FrameAction.objects.values_list("drawings", "in_flight")) == {(0, 0)}
    # the pipeline's own pass (for blocks that bypassed worker_block) finds nothing left to do
    assert regions_advance(dataset=drawing["dataset"]).drawings_withdrawn == 0


def test_bad_drawer_is_blocked_by_gold_accuracy(drawing, settings):
    settings.MMIT_BLOCK_AFTER_REFUSALS = 0  # only the gold-accuracy rules
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 4
    w = Drawer("scribbler")
    for _ in range(3):
        payload = w.assign().json()["set"]
        if payload is None:
            break
        r = w.submit(payload["id"], [{"item": i["id"], "boxes": [[0, 0, 30, 30]]} for i in payload["items"]])
        assert r.status_code in (422, 403)
        w.worker.refresh_from_db()
        if w.worker.blocked:
            break
    w.worker.refresh_from_db()
    assert w.worker.blocked and "gold accuracy" in w.worker.blocked_reason
    assert Worker.objects.get(pk=w.worker.pk).gold_answers >= 4


def test_preview_shows_frames_and_reserves_nothing(drawing):
    w = Drawer("alice")
    r = w.assign(preview=1)
    payload = r.json()["set"]
    assert payload["preview"] is True and payload["id"] is None and len(payload["items"]) == 4
    assert all(w.client.get(i["media_url"]).status_code == 200 for i in payload["items"])
    assert not DrawingSet.objects.exists() and not FrameAction.objects.filter(in_flight__gt=0).exists()


def test_media_refuses_forged_tokens(drawing, anon_client):
    assert anon_client.get("/api/regions/work/media/forged-token/").status_code == 404
    from backend.regions.selectors import MEDIA

    assert anon_client.get(MEDIA.url(uuid.uuid4())).status_code == 404
    assert anon_client.get(MEDIA.url("p:not-a-number")).status_code == 404


def test_gold_grading_rules():
    box = (10.0, 10.0, 30.0, 30.0)
    grade = g.grade_gold(drawn=[(11, 11, 31, 29)], skipped=False, gold=[box], iou_threshold=0.5, extra_allowed=1)
    assert grade.correct and grade.matched == 1 and grade.best_ious[0] > 0.8
    assert not g.grade_gold(drawn=[(0, 0, 12, 12)], skipped=False, gold=[box], iou_threshold=0.5,
                            extra_allowed=1).correct
    assert not g.grade_gold(drawn=[], skipped=True, gold=[box], iou_threshold=0.5, extra_allowed=1).correct
    # one extra box is tolerated, a shotgun of boxes is not
    assert g.grade_gold(drawn=[box, (40, 40, 50, 50)], skipped=False, gold=[box], iou_threshold=0.5,
                        extra_allowed=1).correct
    assert not g.grade_gold(drawn=[box, (40, 40, 50, 50), (0, 40, 9, 50)], skipped=False, gold=[box],
                            iou_threshold=0.5, extra_allowed=1).correct
    # two gold boxes need two distinct matches
    two = [box, (40.0, 40.0, 60.0, 60.0)]
    assert not g.grade_gold(drawn=[box, box], skipped=False, gold=two, iou_threshold=0.5, extra_allowed=1).correct
    # an image without the action must be skipped
    assert g.grade_gold(drawn=[], skipped=True, gold=[], iou_threshold=0.5, extra_allowed=1).correct
    assert not g.grade_gold(drawn=[box], skipped=False, gold=[], iou_threshold=0.5, extra_allowed=1).correct
    assert math.isclose(g.iou(box, (20, 10, 40, 30)), 1 / 3)
