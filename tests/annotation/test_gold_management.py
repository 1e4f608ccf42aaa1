"""Gold management (upload, promote, retire) and gold health, through the staff API, with simulated
workers on the real worker API."""
from __future__ import annotations

import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.annotation import gold_health as health
from backend.annotation.gold_views import PROMOTE_BAD_LABEL, UPLOAD_MISSING
from backend.annotation.models import GoldAnswer, GoldQuestion, Question, SetItem
from backend.annotation.services.gold import (
    GOLD_BAD_ROW,
    GOLD_COLUMNS,
    GOLD_EMPTY,
    GOLD_NOT_TEXT,
    PROMOTE_SPLIT,
    PROMOTE_TOO_FEW,
    PROMOTE_UNDECIDED,
)
from backend.labels.models import Label

pytestmark = pytest.mark.django_db

API = "/api/datasets/synthetic/gold/"


def real_truth(item_id, engine) -> bool:
    """What the clip really shows (the truth file), whatever a gold row claims."""
    item = SetItem.objects.select_related("question__video", "question__action", "gold__video", "gold__action") \
        .get(public_id=item_id)
    pair = item.gold or item.question
    return pair.action.name in engine["truth"][pair.video.name]


def run_set(worker, engine, *, accuracy: float = 1.0, always=None, rng: random.Random | None = None,
            flip: set[int] = frozenset()) -> dict | None:
    """One set answered by a simulated worker: from the real truth, right with ``accuracy`` (seeded
    ``rng``), or always the same answer; ``flip``: positions answered wrong on purpose."""
    response = worker.assign()
    if response.status_code != 200 or response.json()["set"] is None:
        return None
    payload = response.json()["set"]
    answers = {}
    for position, item in enumerate(payload["items"]):
        truth = real_truth(item["id"], engine)
        if always is not None:
            truth = always
        elif accuracy < 1.0 and rng.random() >= accuracy:
            truth = not truth
        answers[item["id"]] = (not truth) if position in flip else truth
    body = worker.submit(payload["id"], answers).json()
    return body


def _upload(client, text: str, name: str = "gold.csv"):
    return client.post(f"{API}upload/", {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")},
                       format="multipart")


# -- gold health: a wrong gold pair planted among correct ones ------------------------------------

POPULATION = [("careful", 6, {"accuracy": 1.0}), ("sloppy", 2, {"accuracy": 0.7}), ("always-yes", 1, {"always": True})]


def test_a_planted_wrong_gold_pair_is_flagged_and_the_others_are_not(engine, make_worker, staff_client, monkeypatch):
    # seed everything: which gold each set mixes in (the engine's shuffle) and the sloppy workers' slips
    monkeypatch.setattr("backend.crowd.sets.assign._random", random.Random(18))
    rng = random.Random(3)
    Question.objects.filter(dataset=engine["dataset"]).update(needed=10, max_answers=10)  # work for everyone
    planted = GoldQuestion.objects.filter(dataset=engine["dataset"]).order_by("id").first()
    planted.truth = not planted.truth  # a curator's slip: the clip says one thing, the gold row the other
    planted.save(update_fields=["truth"])

    for group, count, behaviour in POPULATION:
        for i in range(count):
            worker = make_worker(f"{group}-{i}")
            for _ in range(6):  # until their work runs out or they are blocked
                if run_set(worker, engine, rng=rng, **behaviour) is None:
                    break

    rows = {r.gold.pk: r for r in health.gold_health(dataset=engine["dataset"])}
    assert len(rows) == 10
    wrong = rows[planted.pk]
    assert wrong.flagged and wrong.miss_rate == 1.0 and wrong.good_workers >= health.FLAG_MIN_GOOD_WORKERS
    others = [r for pk, r in rows.items() if pk != planted.pk]
    assert not any(r.flagged for r in others)
    assert all(r.good_workers >= health.FLAG_MIN_GOOD_WORKERS and r.miss_rate < health.FLAG_MISS_RATE
               for r in others)
    # the spammer and the sloppy workers missed correct gold too, but only good workers' misses count
    assert any(r.answers > r.correct for r in others)

    # the API and its order: the probably-wrong item first, with the same figures
    listed = staff_client.get(API).json()
    assert listed[0]["id"] == planted.pk and listed[0]["probably_wrong"] is True
    assert listed[0]["good_miss_rate"] == 1.0 and listed[0]["good_misses"] == wrong.good_misses
    assert [r["probably_wrong"] for r in listed[1:]] == [False] * 9

    # the curator fixes the truth by uploading the pair again: the flag goes, the answers stay
    video, action = planted.video.name, planted.action.name
    fixed = _upload(staff_client, f"video,action,truth\n{video},{action},{'no' if planted.truth else 'yes'}\n")
    assert fixed.status_code == 200 and fixed.json() == {"imported": 1}
    after = {r.gold.pk: r for r in health.gold_health(dataset=engine["dataset"])}[planted.pk]
    assert not after.flagged and after.miss_rate < health.FLAG_MISS_RATE and after.answers == wrong.answers


def test_good_workers_are_judged_on_their_other_gold_answers(engine, make_worker):
    # one worker: too few other gold answers to be "good" on any item, so nothing is flagged yet
    worker = make_worker("solo")
    assert run_set(worker, engine, always=False)["status"] in ("accepted", "refused", "blocked")
    rows = health.gold_health(dataset=engine["dataset"])
    assert GoldAnswer.objects.filter(worker=worker.worker).count() == 3
    assert all(r.good_workers == 0 and r.miss_rate is None and not r.flagged for r in rows)


# -- upload --------------------------------------------------------------------------------------

def test_upload_a_good_gold_file(engine, staff_client):
    action = engine["action"]
    GoldQuestion.objects.all().delete()
    videos = sorted(engine["truth"])[:3]
    text = "video,action,truth\n" + "".join(f"{v},{action.name},{t}\n" for v, t in zip(videos, ("yes", "no", "1")))
    response = _upload(staff_client, text)
    assert response.status_code == 200 and response.json() == {"imported": 3}
    stored = {g.video.name: g.truth for g in GoldQuestion.objects.filter(dataset=engine["dataset"])}
    assert stored == {videos[0]: True, videos[1]: False, videos[2]: True}
    assert {g.note for g in GoldQuestion.objects.all()} == {"imported from gold.csv"}


@pytest.mark.parametrize("text, message", [
    ("name,truth\nx,yes\n", GOLD_COLUMNS),
    ("video,action,truth\n", GOLD_EMPTY),
    ("video,action,truth\n{video},jumping,yes\nnope.mp4,jumping,yes\n",
     GOLD_BAD_ROW.format(line=3, problem="unknown video 'nope.mp4'")),
    ("video,action,truth\n{video},jumping,maybe\n",
     GOLD_BAD_ROW.format(line=2, problem="truth must be yes or no, not 'maybe'")),
    ("video,action,truth\n{video},levitating,no\n", GOLD_BAD_ROW.format(line=2, problem="unknown action 'levitating'")),
])
def test_a_bad_gold_file_is_one_clear_message_and_stores_nothing(engine, staff_client, text, message):
    GoldQuestion.objects.all().delete()
    response = _upload(staff_client, text.format(video=sorted(engine["truth"])[0]))
    assert response.status_code == 400 and response.json() == {"detail": message}
    assert not GoldQuestion.objects.exists()


def test_upload_refuses_a_binary_file_and_a_missing_file(engine, staff_client):
    before = GoldQuestion.objects.count()
    binary = staff_client.post(f"{API}upload/", {"file": SimpleUploadedFile("gold.csv", b"\xff\xfe\x00\x81junk")},
                               format="multipart")
    assert binary.status_code == 400 and binary.json() == {"detail": GOLD_NOT_TEXT}
    missing = staff_client.post(f"{API}upload/", {}, format="multipart")
    assert missing.status_code == 400 and missing.json()["detail"] == UPLOAD_MISSING
    assert GoldQuestion.objects.count() == before


# -- promote -------------------------------------------------------------------------------------

@pytest.fixture
def answered(engine, make_worker):
    """Three careful workers each answer their first set (the same 7 oldest questions); the third
    answers the first real question of it wrong: one 2-1 label, the other six unanimous 3-0."""
    first = None
    for name in ("ann", "bob", "cat"):
        worker = make_worker(name)
        payload = worker.assign().json()["set"]
        real = [i for i, item in enumerate(payload["items"]) if SetItem.objects.get(public_id=item["id"]).gold_id is None]
        first = SetItem.objects.get(public_id=payload["items"][real[0]]["id"]).question
        answers = {item["id"]: real_truth(item["id"], engine) for item in payload["items"]}
        if name == "cat":
            answers[payload["items"][real[0]]["id"]] = not answers[payload["items"][real[0]]["id"]]
        assert worker.submit(payload["id"], answers).json()["status"] == "accepted"
    split = Label.objects.get(question=first)
    unanimous = Label.objects.filter(question__answers=3, question__yes__in=(0, 3)).exclude(pk=split.pk)
    assert unanimous.count() == 6 and split.yes_count + split.no_count == 3
    return {"split": split, "unanimous": list(unanimous)}


def test_promote_a_unanimous_label(engine, staff_client, answered):
    label = answered["unanimous"][0]
    assert label.state in ("positive", "negative")
    response = staff_client.post(f"{API}promote/", {"label": label.pk}, format="json")
    assert response.status_code == 201
    gold = GoldQuestion.objects.get(pk=response.json()["id"])
    assert (gold.video_id, gold.action_id, gold.truth, gold.active) == (
        label.video_id, label.action_id, label.state == "positive", True)
    assert response.json()["truth"] is gold.truth and gold.note == f"promoted from label {label.pk}"


def test_promote_refuses_a_split_label_and_one_with_too_few_answers(engine, staff_client, answered):
    before = GoldQuestion.objects.count()
    split = answered["split"]
    yes, no = split.question.yes, split.question.no
    response = staff_client.post(f"{API}promote/", {"label": split.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": PROMOTE_SPLIT.format(id=split.pk, yes=yes, no=no)}

    pending = Label.objects.filter(dataset=engine["dataset"], state="pending").first()
    response = staff_client.post(f"{API}promote/", {"label": pending.pk}, format="json")
    assert response.json() == {"detail": PROMOTE_UNDECIDED.format(id=pending.pk, state="pending")}

    # a verdict with fewer than 3 answers (a curator's correction, here with none): refused
    pending.state, pending.corrected = Label.State.POSITIVE, True
    pending.save(update_fields=["state", "corrected"])
    response = staff_client.post(f"{API}promote/", {"label": pending.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": PROMOTE_TOO_FEW.format(id=pending.pk, n=0, min=3)}

    bad = staff_client.post(f"{API}promote/", {"label": "twelve"}, format="json")
    assert bad.status_code == 400 and bad.json()["detail"] == PROMOTE_BAD_LABEL
    assert GoldQuestion.objects.count() == before


# -- retire --------------------------------------------------------------------------------------

def test_retired_gold_is_kept_but_no_longer_served(engine, staff_client, make_worker):
    golds = list(GoldQuestion.objects.filter(dataset=engine["dataset"]).order_by("id"))
    keep = golds[0]
    for gold in golds[1:]:
        response = staff_client.post(f"{API}{gold.pk}/retire/")
        assert response.status_code == 200 and response.json()["active"] is False
    assert GoldQuestion.objects.filter(active=False).count() == 9 and GoldQuestion.objects.count() == 10
    payload = make_worker("new").assign().json()["set"]  # on probation: a set wants 3 gold
    served = {SetItem.objects.get(public_id=i["id"]).gold_id for i in payload["items"]} - {None}
    assert served == {keep.pk}
    missing = staff_client.post(f"{API}999999/retire/")
    assert missing.status_code == 404 and "no gold question with id 999999" in missing.json()["detail"]


# -- access --------------------------------------------------------------------------------------

def test_gold_api_is_for_staff_only(engine, anon_client, django_user_model):
    from rest_framework.test import APIClient

    annotator = APIClient()
    annotator.force_authenticate(django_user_model.objects.create_user(username="ann", password="x-pass-123"))
    gold = GoldQuestion.objects.first()
    for client in (anon_client, annotator):
        assert client.get(API).status_code in (401, 403)
        assert _upload(client, "video,action,truth\n").status_code in (401, 403)
        assert client.post(f"{API}promote/", {"label": 1}, format="json").status_code in (401, 403)
        assert client.post(f"{API}{gold.pk}/retire/").status_code in (401, 403)
    assert GoldQuestion.objects.get(pk=gold.pk).active
