"""A newcomer's first hour, in Chromium: from the demo's state, the printed annotator link opens
real questions, answered by keyboard and accepted, and the answers are on the dashboard; and a
refusal that blocks a worker says so, in view, wherever the page was scrolled."""
from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.management import call_command

from backend.annotation.models import Answer, SetItem, TaskSet
from backend.crowd.links import worker_link_token
from backend.crowd.models import Worker
from backend.crowd.services import worker_get_or_create
from tests.annotation.bench import truth_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def _in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def _truth_of_demo_item(item_id: str, truth: dict[str, set[str]]) -> bool:
    item = SetItem.objects.select_related("question__video", "question__action", "gold__video", "gold__action").get(
        public_id=item_id)
    if item.gold_id:
        return item.gold.truth
    return item.question.action.name in truth[item.question.video.name]


def test_from_make_demo_to_answers_on_the_dashboard(live_server, page, settings, monkeypatch):
    monkeypatch.setenv("MMIT_SITE_URL", live_server.url)  # the demo's links point at this server
    settings.SITE_URL = live_server.url
    out = io.StringIO()
    call_command("demo", setup_only=True, clips=24, rounds=1, stdout=out, stderr=io.StringIO())
    banner = out.getvalue().split("Multi-Moments platform demo")[1]
    link = re.search(r"annotator link: (\S+)", banner).group(1)
    password = re.search(r"curator login : curator / (\S+)", banner).group(1)
    assert banner.index("dashboard     :") < banner.index("annotator link:") < banner.index("admin         :") \
        < banner.index("API docs      :")
    assert "Try first:" in banner and link.startswith(f"{live_server.url}/annotate/demo/?w=")
    with open(settings.VAR_DIR / "imports" / "demo" / "truth.csv", newline="") as f:
        truth = {r["video"]: set(r["actions"].split(";")) for r in csv.DictReader(f)}

    # the printed link opens a set of real questions, answered by keyboard and accepted
    page.goto(link)
    page.wait_for_selector(".card video")
    items = page.eval_on_selector_all(".card", "cards => cards.map(c => c.dataset.item)")
    assert len(items) == 20 and sum(1 for i in items if not SetItem.objects.get(public_id=i).gold_id) >= 10
    for item in items:  # focus starts on the first clip and moves on after each answer
        page.keyboard.press("y" if _truth_of_demo_item(item, truth) else "n")
    page.keyboard.press("Enter")
    page.wait_for_selector('#banner[data-kind="success"]')
    assert "Thank you" in page.inner_text("#banner") and _in_view(page, "#banner")
    annotator = Worker.objects.get(external_id="demo-annotator")
    real = Answer.objects.filter(worker=annotator).count()
    assert real == sum(1 for i in items if not SetItem.objects.get(public_id=i).gold_id)

    # the curator finds those answers on the dashboard
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.goto(f"{live_server.url}/dashboard/demo/workers/")
    row = page.locator("tr", has=page.locator("a", has_text="demo-annotator"))
    assert row.locator("td").nth(2).inner_text() == str(real)
    row.locator("a", has_text="demo-annotator").click()
    page.wait_for_selector("dl.facts")
    facts = page.inner_text("dl.facts")
    assert f"Answers\n{real}" in facts and "Active" in facts and "gold_accuracy" not in facts


def test_a_refusal_that_blocks_shows_the_block_in_view(engine, live_server, page, settings):
    settings.MMIT_BLOCK_EARLY_GOLD_MIN = 999
    worker = worker_get_or_create(provider="inhouse", external_id="slipping")
    Worker.objects.filter(pk=worker.pk).update(recent_refusals=0b11)  # two refusals among the latest sets
    page.set_viewport_size({"width": 1280, "height": 560})  # short: the last cards are far below the top
    page.goto(f"{live_server.url}/annotate/synthetic/?w={worker_link_token(worker=worker)}")
    page.wait_for_selector(".card video")
    items = page.eval_on_selector_all(".card", "cards => cards.map(c => c.dataset.item)")
    gold = [i for i in items if SetItem.objects.get(public_id=i).gold_id]
    for item in items:
        value = truth_of(item, engine) != (item in gold[:2])  # two gold answers wrong: refused
        page.keyboard.press("y" if value else "n")
    assert page.evaluate("window.scrollY") > 0  # the page followed the answers down
    page.keyboard.press("Enter")
    page.wait_for_selector('#banner[data-kind="error"]')
    text = page.inner_text("#banner")
    assert text.startswith("Your account has been blocked") and "attempts left" not in text
    assert _in_view(page, "#banner") and page.is_disabled("#submit")
    assert Worker.objects.get(pk=worker.pk).blocked and TaskSet.objects.get().status == "cancelled"
