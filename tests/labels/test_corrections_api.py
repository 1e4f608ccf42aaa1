"""The staff API of a curator's corrections: PATCH one label, POST a bulk correction over the label
browser's filters; clear 400s, 404s, and no access for anyone but staff."""
from __future__ import annotations

import pytest

from backend.annotation.label_views import UNKNOWN_LABEL
from backend.annotation.models import Question
from backend.annotation.serializers import BAD_CORRECTION_BODY, BAD_FILTERS
from backend.annotation.services import corrections
from backend.labels.models import Label, LabelCorrection
from backend.videos.models import Video
from backend.videos.services import dataset_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def labels(dataset):
    """Six labels of `jumping` and `falling` on three videos: two positive, two negative, two pending."""
    actions = {a.name: a for a in dataset.actions.filter(name__in=("jumping", "falling"))}
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/v{i}.mp4", name=f"v{i}.mp4", storage_key=f"videos/v{i}.mp4",
              checksum=f"c{i}") for i in range(3)])
    states = iter(["positive", "negative", "pending", "positive", "negative", "pending"])
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=a, asked_action=a, source="initial", state=next(states),
              yes_count=2, no_count=1) for a in actions.values() for v in videos])
    return Label.objects.filter(dataset=dataset).order_by("id")


def _url(label_id, dataset="synthetic"):
    return f"/api/datasets/{dataset}/labels/{label_id}/"


BULK = "/api/datasets/synthetic/labels/correct/"


def test_patch_sets_the_verdict_and_answers_with_the_label(staff_client, labels):
    label = labels.filter(state="positive").first()
    response = staff_client.patch(_url(label.pk), {"state": "negative", "reason": "a wave, not a jump"},
                                  format="json")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "video", "action", "state", "corrected", "yes", "no")} == {
        "id": label.pk, "video": label.video.name, "action": label.action.name, "state": "negative",
        "corrected": True, "yes": 2, "no": 1}
    assert [(c["kind"], c["state_before"], c["state_after"], c["reason"], c["corrected_by"])
            for c in body["corrections"]] == [("verdict", "positive", "negative", "a wave, not a jump", "curator")]
    assert staff_client.get(_url(label.pk)).json()["corrections"] == body["corrections"]


def test_patch_on_a_pending_label_and_asking_for_more(staff_client, labels):
    label = labels.filter(state="pending").first()
    Question.objects.create(dataset=label.dataset, action=label.action, video=label.video, label=label, needed=3,
                            max_answers=3)
    body = staff_client.patch(_url(label.pk), {"state": "positive", "reason": "obvious"}, format="json").json()
    assert (body["state"], body["corrected"]) == ("positive", True)
    assert Question.objects.get(label=label).state == "decided"
    response = staff_client.patch(_url(label.pk), {"more_answers": 4, "reason": "let the crowd say"}, format="json")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["corrected"]) == ("pending", False)
    assert [c["kind"] for c in response.json()["corrections"]] == ["verdict", "more_answers"]
    question = Question.objects.get(label=label)
    assert (question.state, question.needed) == ("open", 4)


@pytest.mark.parametrize("body, detail", [
    ({"state": "negative"}, corrections.REASON_REQUIRED),
    ({"state": "negative", "reason": ""}, corrections.REASON_REQUIRED),
    ({"state": "unsure", "reason": "r"}, corrections.BAD_STATE.format(state="'unsure'")),
    ({"state": 1, "reason": "r"}, corrections.BAD_STATE.format(state="1")),
    ({"more_answers": "many", "reason": "r"}, corrections.BAD_MORE_ANSWERS.format(value="'many'")),
    ({"more_answers": 50, "reason": "r"}, corrections.BAD_MORE_ANSWERS.format(value="50")),
    ({"state": "positive", "more_answers": 3, "reason": "r"}, corrections.ONE_CORRECTION),
    ({"reason": "r"}, corrections.NO_CORRECTION),
    (["positive"], BAD_CORRECTION_BODY),
])
def test_patch_refuses_an_invalid_correction_with_a_clear_400(staff_client, labels, body, detail):
    label = labels.first()
    response = staff_client.patch(_url(label.pk), body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert not LabelCorrection.objects.exists()
    assert Label.objects.get(pk=label.pk).state == label.state


def test_unknown_labels_are_404(staff_client, labels):
    other = dataset_create(name="other")
    label = labels.first()
    response = staff_client.patch(_url(label.pk, dataset="other"), {"state": "negative", "reason": "r"},
                                  format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == UNKNOWN_LABEL.format(dataset=other.name, id=label.pk)
    assert staff_client.get(_url(999_999)).status_code == 404


def test_bulk_correction_by_the_browser_filters(staff_client, labels):
    response = staff_client.post(BULK, {"filters": {"action": "jumping", "state": "negative"}, "state": "positive",
                                        "reason": "jumping now includes hops"}, format="json")
    assert response.status_code == 200
    assert {k: response.json()[k] for k in ("corrected", "changed")} == {"corrected": 1, "changed": 1}
    corrected = Label.objects.get(corrected=True)
    assert (corrected.action.name, corrected.state) == ("jumping", "positive")
    # every pending label (any action): more answers
    response = staff_client.post(BULK, {"filters": {"state": "pending"}, "more_answers": 3, "reason": "ask"},
                                 format="json")
    assert {k: response.json()[k] for k in ("corrected", "changed")} == {"corrected": 2, "changed": 0}
    assert LabelCorrection.objects.filter(kind="more_answers").count() == 2
    # {} selects every label
    response = staff_client.post(BULK, {"filters": {}, "state": "negative", "reason": "start over"}, format="json")
    assert response.json()["corrected"] == 6 and set(labels.values_list("state", flat=True)) == {"negative"}


@pytest.mark.parametrize("body, detail", [
    ({"state": "positive", "reason": "r"}, BAD_FILTERS),
    ({"filters": {"colour": "red"}, "state": "positive", "reason": "r"}, BAD_FILTERS),
    ({"filters": {"state": ["pending"]}, "state": "positive", "reason": "r"}, BAD_FILTERS),
    ({"filters": {}, "state": "positive"}, corrections.REASON_REQUIRED),
])
def test_bulk_refuses_invalid_requests(staff_client, labels, body, detail):
    response = staff_client.post(BULK, body, format="json")
    assert response.status_code == 400 and response.json()["detail"] == detail
    assert not LabelCorrection.objects.exists()


def test_only_staff_may_correct(labels, django_user_model, anon_client):
    from rest_framework.test import APIClient

    label = labels.first()
    annotator = django_user_model.objects.create_user(username="someone", password="not-staff-123")
    client = APIClient()
    client.force_authenticate(annotator)
    for c in (client, anon_client):
        assert c.patch(_url(label.pk), {"state": "negative", "reason": "r"}, format="json").status_code in (401, 403)
        assert c.post(BULK, {"filters": {}, "state": "negative", "reason": "r"}, format="json").status_code in (401,
                                                                                                                403)
    assert client.patch(_url(label.pk), {"state": "negative", "reason": "r"}, format="json").status_code == 403
    assert not LabelCorrection.objects.exists() and not Label.objects.filter(corrected=True).exists()
