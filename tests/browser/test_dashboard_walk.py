"""A curator signs in and walks every dashboard page in Chromium."""
from __future__ import annotations

import pytest

from tests.annotation.bench import truth_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PAGES = {"Overview": "synthetic", "Workers": "Workers", "Labels": "Label browser", "Releases": "Releases",
         "Candidates": "Candidate rounds", "Models": "Model runs", "Interpretation": "Interpretation", "MTurk": "Amazon Mechanical Turk",
         "Campaign": "Campaign"}


def test_curator_walks_every_page(engine, live_server, page, django_user_model, make_worker):
    django_user_model.objects.create_user(username="curator", password="walk-the-pages-1", is_staff=True,
                                          is_superuser=True)
    w = make_worker("alice")
    payload = w.assign().json()["set"]
    w.submit(payload["id"], {i["id"]: truth_of(i["id"], engine) for i in payload["items"]})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    page.goto(f"{live_server.url}/dashboard/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "walk-the-pages-1")
    page.click("input[type=submit]")
    page.wait_for_selector("h1:has-text('Datasets')")
    page.click("a:has-text('synthetic')")
    page.wait_for_selector("h1:has-text('synthetic')")
    # the charts rendered (the charting module loads after the page)
    page.wait_for_function("document.querySelectorAll('.chart svg').length === 2")
    for link, heading in PAGES.items():
        page.click(f"nav a:has-text('{link}')")
        page.wait_for_selector(f"h1:has-text('{heading}')")
        assert page.locator("nav a[aria-current=page]").inner_text() == link
    # the candidate rounds page draws its two harvest charts (empty ones say so)
    page.click("nav a:has-text('Candidates')")
    page.wait_for_selector("h1:has-text('Candidate rounds')")
    page.wait_for_function("document.querySelectorAll('.chart svg').length === 2")
    # the label browser filters, and a video page shows the clip with its votes
    page.click("nav a:has-text('Labels')")
    page.select_option("select[name=action]", "jumping")
    page.click("button:has-text('Filter')")
    page.click("table.data tbody tr:first-child a")
    page.wait_for_selector("video.clip")
    assert page.locator(".vote").count() >= 1
    # the worker's page
    page.click("nav a:has-text('Workers')")
    page.click("a:has-text('alice')")
    page.wait_for_selector("h1:has-text('alice')")
    assert errors == []
