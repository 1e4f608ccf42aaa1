"""A curator clears the disagreement queue by keyboard in Chromium: reject, next, accept, ask more."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.annotation.models import Question
from backend.labels.models import Label, LabelCorrection
from tests.annotation.test_disagreements import _work

pytestmark = pytest.mark.django_db(transaction=True)


def test_settle_the_queue_by_keyboard(engine, live_server, page, django_user_model, make_worker, tmp_path):
    for name in ("alice", "bob", "carol"):
        _work(make_worker(name), engine, lie=name == "carol")
    django_user_model.objects.create_user(username="curator", password="settle-it-all-1", is_staff=True,
                                          is_superuser=True)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/dashboard/synthetic/review/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "settle-it-all-1")
    page.click("input[type=submit]")
    page.wait_for_selector("h1:has-text('Disagreement queue')")
    items = page.locator(".review-item")
    before = items.count()
    assert before >= 3
    ids = [int(items.nth(i).get_attribute("data-label")) for i in range(3)]
    shots = Path(os.environ.get("MMIT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "review.png"), full_page=False)

    page.keyboard.press("r")  # reject the first
    page.wait_for_selector("#review-status.ok")
    assert items.count() == before - 1
    page.keyboard.press("j")  # skip the second
    page.keyboard.press("a")  # accept the third
    page.wait_for_function(f"document.querySelectorAll('.review-item').length === {before - 2}")
    page.fill("#review-more", "3")
    page.keyboard.press("Escape")  # from the field back to the queue's keys
    page.keyboard.press("k")  # back to the second
    page.keyboard.press("m")  # ask 3 more
    page.wait_for_function(f"document.querySelectorAll('.review-item').length === {before - 3}")

    first, second, third = (Label.objects.get(pk=i) for i in ids)
    assert (first.state, first.corrected) == ("negative", True)
    assert (third.state, third.corrected) == ("positive", True)
    assert second.state == "pending" and not second.corrected
    assert Question.objects.get(label=second).state == "open"
    reasons = set(LabelCorrection.objects.values_list("reason", flat=True))
    assert reasons == {"Settled in the disagreement queue"} and LabelCorrection.objects.count() == 3
    assert errors == []
