"""A worker in a real browser: open a set, answer by keyboard, be refused on gold, fix, succeed."""
from __future__ import annotations

import pytest

from backend.annotation.models import Answer, SetItem, TaskSet
from backend.crowd.links import worker_link_token
from backend.crowd.services import worker_get_or_create
from tests.annotation.bench import truth_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _items(page):
    return page.eval_on_selector_all(".card", "cards => cards.map(c => c.dataset.item)")


def test_worker_answers_by_keyboard_is_refused_then_succeeds(engine, live_server, page):  # noqa: F811
    worker = worker_get_or_create(provider="inhouse", external_id="browser-worker")
    page.goto(f"{live_server.url}/annotate/synthetic/?w={worker_link_token(worker=worker)}")
    page.wait_for_selector(".card video")
    assert "jumping" in page.inner_text("#task-title")
    items = _items(page)
    assert len(items) == 10
    assert page.is_disabled("#submit")
    gold_items = [i for i in items if SetItem.objects.get(public_id=i).gold_id]
    to_break = set(gold_items[:2])
    truths = {i: truth_of(i, engine) for i in items}
    for item in items:  # focus starts on the first clip and moves on after each answer
        value = truths[item] if item not in to_break else not truths[item]
        page.keyboard.press("y" if value else "n")
    assert page.inner_text("#progress-text") == "10 / 10"
    assert page.is_enabled("#submit")
    page.keyboard.press("Enter")
    page.wait_for_selector('#banner[data-kind="warning"]')
    assert "review your answers" in page.inner_text("#banner")
    assert "2 attempts left" in page.inner_text("#banner")
    assert not Answer.objects.exists()

    # review: go back to the two broken gold clips and fix them with the keyboard
    for item in to_break:
        index = items.index(item)
        page.keyboard.press("Home")  # no-op key; then walk with the arrows from the last card
        current = page.eval_on_selector_all(".card", "cs => cs.findIndex(c => c.classList.contains('current'))")
        key = "ArrowLeft" if current > index else "ArrowRight"
        for _ in range(abs(current - index)):
            page.keyboard.press(key)
        page.keyboard.press("y" if truths[item] else "n")
    page.click("#submit")
    page.wait_for_selector('#banner[data-kind="success"]')
    assert "Thank you" in page.inner_text("#banner")
    taskset = TaskSet.objects.get(worker=worker)
    assert taskset.status == "accepted" and taskset.attempts == 2
    assert Answer.objects.filter(worker=worker).count() == 7
    # durations were measured in the browser
    assert Answer.objects.filter(worker=worker, duration_ms__isnull=False).count() == 7
    # the next set button loads new work
    assert page.inner_text("#submit") == "Next set"


def test_mouse_preview_and_phone_width(engine, live_server, browser):  # noqa: F811
    worker = worker_get_or_create(provider="inhouse", external_id="phone-worker")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/annotate/synthetic/?w={worker_link_token(worker=worker)}&preview=1")
        page.wait_for_selector(".card")
        assert "Preview" in page.inner_text("#banner")
        assert page.is_disabled(".card .yes") and page.is_disabled("#submit")
        assert not TaskSet.objects.exists()
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert overflow is False
        # now the real task, answered by tapping
        page.goto(f"{live_server.url}/annotate/synthetic/?w={worker_link_token(worker=worker)}")
        page.wait_for_selector(".card video")
        for item in _items(page):
            page.tap(f'.card[data-item="{item}"] .{"yes" if truth_of(item, engine) else "no"}')
        assert page.get_attribute(".card .yes", "aria-label").startswith("Yes, clip 1")
        page.tap("#submit")
        page.wait_for_selector('#banner[data-kind="success"]')
    finally:
        context.close()
