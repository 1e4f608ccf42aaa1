"""The label browser's corrections: a form per row and a bulk form over the current filter, each
coming back to the same filtered page with a clear message, and each label's history shown."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from backend.annotation.services.corrections import REASON_REQUIRED
from backend.labels.models import Label, LabelCorrection
from backend.videos.models import Video

pytestmark = pytest.mark.django_db

PAGE = "/dashboard/synthetic/labels/"


@pytest.fixture
def curator(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def labels(dataset):
    jumping = dataset.actions.get(name="jumping")
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/v{i}.mp4", name=f"v{i}.mp4", storage_key=f"videos/v{i}.mp4",
              checksum=f"c{i}") for i in range(4)])
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=jumping, asked_action=jumping, source="initial",
              state="positive" if i % 2 else "pending") for i, v in enumerate(videos)])
    return Label.objects.filter(dataset=dataset).order_by("id")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_each_row_has_its_correction_form(curator, labels):
    content = curator.get(PAGE).content.decode()
    for label in labels:
        assert f'action="/dashboard/synthetic/labels/{label.pk}/correct/"' in content
    assert 'action="/dashboard/synthetic/labels/correct/"' in content and "Correct all 4 labels that match" in content


def test_a_row_correction_comes_back_to_the_filtered_page_with_its_history(curator, labels):
    label = labels.filter(state="pending").first()
    response = curator.post(f"{PAGE}{label.pk}/correct/", {"do": "negative", "reason": "nothing jumps",
                                                            "query": "state=pending&action=jumping&bogus=1"})
    assert response.status_code == 302 and response["Location"] == f"{PAGE}?action=jumping&state=pending"
    assert _messages(response) == [f"{label.video.name} · jumping: 1 label set to negative; kept through "
                                   "re-aggregation."]
    label.refresh_from_db()
    assert (label.state, label.corrected) == ("negative", True)
    page = curator.get(PAGE).content.decode()
    assert "history (1)" in page and "pending → negative" in page and "nothing jumps" in page
    assert 'class="corrected"' in page
    # the admin lists the corrections, read only
    listing = curator.get("/admin/labels/labelcorrection/")
    assert listing.status_code == 200 and "pending" in listing.content.decode()
    assert curator.get("/admin/labels/labelcorrection/add/").status_code == 403


def test_a_row_correction_without_a_reason_says_so_and_changes_nothing(curator, labels):
    label = labels.first()
    response = curator.post(f"{PAGE}{label.pk}/correct/", {"do": "positive", "reason": " ", "query": ""})
    assert response["Location"] == PAGE
    assert _messages(response) == [f"{label.video.name} · jumping: {REASON_REQUIRED}"]
    assert not LabelCorrection.objects.exists()


def test_ask_more_from_a_row(curator, labels):
    label = labels.filter(state="positive").first()
    response = curator.post(f"{PAGE}{label.pk}/correct/", {"do": "more", "more_answers": "2", "reason": "unsure"})
    assert _messages(response) == [f"{label.video.name} · jumping: Asked for 2 more answers on 1 label: pending "
                                   "until the crowd decides again."]
    label.refresh_from_db()
    assert label.state == "pending" and label.question.needed == 2


def test_the_bulk_form_acts_on_the_current_filter(curator, labels):
    response = curator.post(f"{PAGE}correct/", {"action": "jumping", "state": "pending", "source": "",
                                                "do": "positive", "reason": "all checked by eye",
                                                "query": "action=jumping&state=pending"})
    assert response["Location"] == f"{PAGE}?action=jumping&state=pending"
    assert _messages(response) == ["2 labels set to positive (2 changed state); kept through re-aggregation."]
    assert set(labels.values_list("state", "corrected")) == {("positive", True), ("positive", False)}
    assert LabelCorrection.objects.count() == 2


def test_the_dashboard_corrections_are_for_staff_only(client, labels, django_user_model):
    label = labels.first()
    client.force_login(django_user_model.objects.create_user(username="someone", password="not-staff-123"))
    response = client.post(f"{PAGE}{label.pk}/correct/", {"do": "negative", "reason": "r"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post(f"{PAGE}correct/", {"do": "negative", "reason": "r"}).status_code == 302
    assert not LabelCorrection.objects.exists()
