"""The pipeline through the real APIs: frames, two visibility rounds, drawing, consensus, crops."""
from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image

from backend.common.errors import DomainError
from backend.annotation.models import Answer, GoldQuestion, Prompt, Question, SetItem, Shown
from backend.regions.geometry import iou
from backend.regions.models import Drawing, FrameAction, Region, RegionFrame
from backend.regions.services.advance import regions_advance
from backend.regions.services.frames import BAD_PER_ACTION, UNKNOWN_ACTIONS, regions_select_frames
from backend.regions.services.gold import region_gold_add
from backend.videos.synthetic import AUDIO_ACTIONS, VISUAL_ACTIONS
from tests.regions.bench import Drawer, correct_regions, to_drawing

pytestmark = pytest.mark.django_db


def _pixels(key):
    with default_storage.open(key, "rb") as f:
        return np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB")).astype(int)


def test_frames_are_centre_frames_of_verified_positives(bench):
    report = regions_select_frames(dataset=bench["dataset"], per_action=2, seed=1)
    per_action = {}
    for name, acts in bench["truth"].items():
        for a in acts:
            per_action[a] = per_action.get(a, 0) + 1
    assert report.per_action == {a: min(2, n) for a, n in sorted(per_action.items())}
    assert report.selected == FrameAction.objects.count() == sum(min(2, n) for n in per_action.values())
    assert report.frames_extracted == RegionFrame.objects.count() and not report.failed
    for target in FrameAction.objects.select_related("frame__video", "action", "visibility_question"):
        frame = target.frame
        # provenance: the source video, the centre timestamp (frame 12 of 24 at 8 fps), the action
        assert (frame.timestamp, frame.width, frame.height) == (1.5, 64, 64)
        assert target.label.video_id == frame.video_id and target.label.state == "positive"
        q = target.visibility_question
        assert (q.prompt, q.image_key, q.ref, q.needed, q.split) == (
            Prompt.VISIBLE, frame.image_key, f"regions:visible:{target.pk}:1",
            bench["dataset"].answers_needed(frame.video.split), frame.video.split)
        assert target.visibility_round == 1
        # the stored image is the frame the ground-truth boxes describe (rain's box is the frame)
        for box in bench["boxes"][frame.video.name].get(target.action.name, []) * (target.action.name != "raining"):
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            patch = _pixels(frame.image_key)[y0:y1, x0:x1]
            colour = np.array(VISUAL_ACTIONS[target.action.name])
            assert (np.abs(patch - colour).sum(-1) < 60).mean() > 0.4
    # a re-run with the same seed adds nothing; a larger K tops every action up
    assert regions_select_frames(dataset=bench["dataset"], per_action=2, seed=1).selected == 0
    more = regions_select_frames(dataset=bench["dataset"], per_action=3, seed=1)
    assert more.selected == sum(1 for n in per_action.values() if n >= 3)
    assert Question.objects.filter(prompt=Prompt.VISIBLE).count() == FrameAction.objects.count()


def test_selection_is_seeded_and_bad_input_is_refused(bench):
    with pytest.raises(DomainError) as bad_k:
        regions_select_frames(dataset=bench["dataset"], per_action=0)
    assert bad_k.value.message == BAD_PER_ACTION
    with pytest.raises(DomainError) as unknown:
        regions_select_frames(dataset=bench["dataset"], actions=["jumping", "teleporting"])
    assert unknown.value.message == UNKNOWN_ACTIONS.format(names="'teleporting'")
    assert not FrameAction.objects.exists()
    regions_select_frames(dataset=bench["dataset"], per_action=1, actions=["jumping"], seed=7)
    first = set(FrameAction.objects.values_list("frame__video_id", flat=True))
    FrameAction.objects.all().delete()
    Question.objects.all().delete()
    regions_select_frames(dataset=bench["dataset"], per_action=1, actions=["jumping"], seed=7)
    assert set(FrameAction.objects.values_list("frame__video_id", flat=True)) == first
    with pytest.raises(CommandError, match="at least 1"):
        call_command("select_region_frames", "--dataset", "synthetic", "--per-action", "0")


def _visible(item_id, bench) -> bool:
    item = SetItem.objects.select_related("question__video", "question__action", "gold").get(public_id=item_id)
    if item.gold_id:
        return item.gold.truth
    return item.question.action.name in bench["boxes"][item.question.video.name]


def _answer_sets(worker: Drawer, prompt: str, bench, truth_of=_visible, limit=50) -> int:
    done = 0
    for _ in range(limit):
        r = worker.yes_no_set(prompt)
        assert r.status_code == 200, r.content
        payload = r.json()["set"]
        if not payload:
            return done
        assert all(i["media_type"] == "image" for i in payload["items"])
        answers = {i["id"]: truth_of(i["id"], bench) for i in payload["items"]}
        body = {"submission_id": __import__("uuid").uuid4().hex,
                "answers": [{"item": k, "answer": v, "ms": 500} for k, v in answers.items()]}
        res = worker.client.post(f"/api/work/sets/{payload['id']}/submit/", body, format="json")
        assert res.status_code == 200, res.content
        done += 1
    raise AssertionError("too many sets")


def test_two_independent_visibility_rounds(bench):
    dataset = bench["dataset"]
    regions_select_frames(dataset=dataset, per_action=2, actions=["jumping", "whistling", "falling"], seed=0)
    round_one = list(Question.objects.filter(prompt=Prompt.VISIBLE).values_list("pk", flat=True))
    first = [Drawer(f"v1-{i}") for i in range(3)]
    for w in first:
        _answer_sets(w, "visible", bench)
    assert Question.objects.filter(pk__in=round_one, state="decided").count() == len(round_one)
    report = regions_advance(dataset=dataset)
    audio = FrameAction.objects.filter(action__name__in=AUDIO_ACTIONS)
    assert audio.exists() and set(audio.values_list("stage", "reason")) == {("rejected", "not_visible")}
    assert report.not_visible == audio.count()
    second = FrameAction.objects.exclude(action__name__in=AUDIO_ACTIONS)
    assert set(second.values_list("stage", "visibility_round")) == {("visibility", 2)}
    assert report.visibility_rounds_opened == second.count()
    # round 2 is answered by other workers: round 1's workers are marked as already shown it
    r2 = [t.visibility_question_id for t in second]
    assert Shown.objects.filter(question_id__in=r2).count() == 3 * len(r2)
    for w in first:
        assert w.yes_no_set("visible").json()["set"] is None
    assert regions_advance(dataset=dataset).changed is False  # nothing decided yet: a replay is a no-op
    for w in [Drawer(f"v2-{i}") for i in range(3)]:
        _answer_sets(w, "visible", bench)
    regions_advance(dataset=dataset)
    assert set(second.values_list("stage", "drawings_needed")) == {("drawing", 3)}
    workers_per_target = {}
    for t in second:
        qs = Question.objects.filter(ref__startswith=f"regions:visible:{t.pk}:")
        assert qs.count() == 2
        workers = [set(Answer.objects.filter(question=q).values_list("worker_id", flat=True)) for q in qs]
        assert not workers[0] & workers[1]
        workers_per_target[t.pk] = workers
    assert workers_per_target


def test_drawing_rounds_make_consensus_regions_then_crops_are_verified(bench):
    dataset = bench["dataset"]
    regions_select_frames(dataset=dataset, per_action=3, actions=["sliding", "falling"], seed=0)
    to_drawing(FrameAction.objects.all())
    drawers = [Drawer(f"d{i}") for i in range(3)]
    rng = np.random.default_rng(0)
    for w in drawers:
        while (payload := w.assign().json()["set"]) is not None:  # one action per set
            regions = correct_regions(payload, bench)
            for entry in regions:  # each worker's hand shakes a little
                boxes = [[float(v + rng.normal(0, 0.6)) for v in b] for b in entry["boxes"]]
                entry["boxes"] = [[max(0, b[0]), max(0, b[1]), min(64, b[2]), min(64, b[3])] for b in boxes]
            res = w.submit(payload["id"], regions)
            assert res.status_code == 200, res.content
    targets = FrameAction.objects.all()
    assert set(targets.values_list("drawings", "in_flight")) == {(3, 0)}
    report = regions_advance(dataset=dataset)
    assert report.consensus_found == targets.count() == report.crops_asked
    for region in Region.objects.select_related("target__frame__video", "target__action", "question"):
        true_box = bench["boxes"][region.target.frame.video.name][region.target.action.name][0]
        # the intersection of three shaky boxes: inside the true box, most of it
        assert iou(region.box, tuple(true_box)) > 0.65 and region.support == 3
        assert all(abs(a - b) < 2.5 for a, b in zip(region.box, true_box))
        assert region.question.prompt == Prompt.RECOGNISABLE and region.question.image_key == region.crop_key
        crop = _pixels(region.crop_key)
        assert abs(crop.shape[1] - (region.x1 - region.x0)) <= 2 and abs(crop.shape[0] - (region.y1 - region.y0)) <= 2
    assert set(targets.values_list("stage", flat=True)) == {"verifying"}
    for w in [Drawer(f"c{i}") for i in range(3)]:
        _answer_sets(w, "recognisable", bench, truth_of=lambda i, b: not SetItem.objects.get(public_id=i).gold_id
                     or SetItem.objects.get(public_id=i).gold.truth)
    report = regions_advance(dataset=dataset)
    assert report.regions_verified == Region.objects.count() and report.verified == targets.count()
    assert set(targets.values_list("stage", flat=True)) == {"verified"}
    assert Drawing.objects.filter(excluded=False).count() == 3 * targets.count()


def test_disagreeing_rounds_ask_more_then_give_up(bench, settings):
    settings.MMIT_REGIONS_DRAW_MAX_ROUNDS = 4
    dataset = bench["dataset"]
    regions_select_frames(dataset=dataset, per_action=1, actions=["sliding"], seed=0)
    to_drawing(FrameAction.objects.all(), needed=2)
    (target,) = FrameAction.objects.all()
    places = [[2, 2, 12, 12], [40, 40, 60, 60], [2, 40, 14, 60], [40, 2, 60, 14]]
    for n, box in enumerate(places):
        w = Drawer(f"x{n}")
        payload = w.assign().json()["set"]
        assert w.submit(payload["id"], [{"item": i["id"], "boxes": [box]} for i in payload["items"]]).status_code == 200
        report = regions_advance(dataset=dataset)
        target.refresh_from_db()
        if n == 0:
            assert report.changed is False  # one round of two: nothing to decide yet
        elif n < 3:
            assert (report.more_rounds, target.drawings_needed, target.stage) == (1, n + 2, "drawing")
    assert (target.stage, target.reason, report.no_region) == ("rejected", "no_region", 1)


def test_region_gold_grades_every_task(bench):
    dataset, videos = bench["dataset"], bench["videos"]
    name = next(n for n, b in sorted(bench["boxes"].items()) if "jumping" in b)
    negative = next(n for n in sorted(bench["truth"]) if "jumping" not in bench["truth"][n])
    jumping = bench["actions"]["jumping"]
    made = region_gold_add(dataset=dataset, video=videos[name], action=jumping, boxes=bench["boxes"][name]["jumping"])
    region_gold_add(dataset=dataset, video=videos[negative], action=jumping, boxes=[])
    visible = GoldQuestion.objects.get(pk=made["visible"])
    assert visible.truth and visible.prompt == Prompt.VISIBLE and visible.boxes == bench["boxes"][name]["jumping"]
    assert visible.image_key == RegionFrame.objects.get(video=videos[name]).image_key
    crops = GoldQuestion.objects.filter(prompt=Prompt.RECOGNISABLE, action=jumping, active=True)
    assert sorted(crops.values_list("truth", flat=True)) == [False, True]
    neg_crop = crops.get(truth=False)
    assert neg_crop.boxes == [[16.0, 16.0, 48.0, 48.0]] and default_storage.exists(neg_crop.image_key)
    # replacing a gold image replaces its crops
    region_gold_add(dataset=dataset, video=videos[name], action=jumping, boxes=bench["boxes"][name]["jumping"])
    assert crops.filter(truth=True).count() == 1
    with pytest.raises(Exception, match="lies outside the image"):
        region_gold_add(dataset=dataset, video=videos[name], action=jumping, boxes=[[0, 0, 90, 10]])
