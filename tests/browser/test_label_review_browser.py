"""A curator corrects labels in the label browser (Chromium): one row, then the current filter in bulk."""
from __future__ import annotations

import pytest

from backend.labels.models import Label, LabelCorrection
from backend.videos.models import Video

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_curator_corrects_a_label_and_sees_its_history(dataset, live_server, page, django_user_model, tmp_path):
    django_user_model.objects.create_user(username="curator", password="review-the-labels-1", is_staff=True,
                                          is_superuser=True)
    jumping = dataset.actions.get(name="jumping")
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/clip{i}.mp4", name=f"clip{i}.mp4", storage_key=f"videos/clip{i}.mp4",
              checksum=f"c{i}") for i in range(5)])
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=jumping, asked_action=jumping, source="initial",
              state="positive" if i < 2 else "pending", yes_count=2 if i < 2 else 0, no_count=1 if i < 2 else 0,
              confidence=0.67 if i < 2 else None) for i, v in enumerate(videos)])
    first = Label.objects.order_by("id").first()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    page.goto(f"{live_server.url}/dashboard/synthetic/labels/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "review-the-labels-1")
    page.click("input[type=submit]")
    page.wait_for_selector("h1:has-text('Label browser')")

    row = page.locator(f"tr[data-label='{first.pk}']")
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("the clip shows a wave, not a jump")
    row.locator("button:has-text('Reject')").click()
    page.wait_for_selector(".messages li.success")
    assert "clip0.mp4 · jumping: 1 label set to negative" in page.locator(".messages li.success").inner_text()
    row = page.locator(f"tr[data-label='{first.pk}']")
    assert row.locator(".corrected").inner_text() == "corrected"
    row.locator("summary").click()
    assert "positive → negative" in row.locator("ol.history").inner_text()
    assert "the clip shows a wave, not a jump" in row.locator("ol.history").inner_text()
    page.screenshot(path=str(tmp_path / "label_review.png"), full_page=True)

    # the bulk form acts on the current filter: the three pending labels
    page.select_option("select[name=state]", "pending")
    page.click("button:has-text('Filter')")
    page.wait_for_selector("text=Correct all 3 labels that match")
    bulk = page.locator("form.review.bulk")
    bulk.locator("input[name=reason]").fill("not sure: ask the crowd again")
    bulk.locator("input[name=more_answers]").fill("4")
    bulk.locator("button:has-text('Ask all')").click()
    page.wait_for_selector(".messages li.success")
    assert page.locator(".messages li.success").inner_text() == (
        "Asked for 4 more answers on 3 labels: pending until the crowd decides again.")
    assert page.locator("select[name=state]").input_value() == "pending"  # still on the filtered page
    page.screenshot(path=str(tmp_path / "label_review_bulk.png"), full_page=True)

    first.refresh_from_db()
    assert (first.state, first.corrected) == ("negative", True)
    assert list(LabelCorrection.objects.order_by("id").values_list("kind", flat=True)) == [
        "verdict", "more_answers", "more_answers", "more_answers"]
    assert errors == []
