"""In Chromium: the ES modules put API data (action names, definitions, chart labels) into the
page as text. Nothing of the payload runs, no element is injected, and the text reads as entered."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.annotation.bench import WorkerClient
from tests.security.hostile import IMG, PAYLOAD, SCRIPT, build_hostile

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

INJECTED = "img[src='x'], script:not([src]):not([type='application/json'])"


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def test_annotate_page_and_dashboard_show_markup_as_text(dataset, clip_factory, tmp_path, staff_client, staff_user,
                                                         live_server, page):
    h = build_hostile(dataset, clip_factory, tmp_path, staff_client)
    problems = _watch(page)

    viewer = WorkerClient("viewer")
    token = viewer.client._credentials["HTTP_X_WORKER_TOKEN"]
    page.goto(f"{live_server.url}/annotate/{dataset.name}/?w={token}")
    page.wait_for_selector(".card")
    assert page.text_content("#task-title") == f"Is “{PAYLOAD}” seen or heard in this video?"
    assert page.text_content("#task-definition") == PAYLOAD
    assert PAYLOAD in page.get_attribute(".card button", "aria-label")
    assert page.locator(INJECTED).count() == 0

    client = Client()
    client.force_login(staff_user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
    for path, charts in ((f"/dashboard/{dataset.name}/", 2), (f"/dashboard/{dataset.name}/models/", 2),
                         (f"/dashboard/{dataset.name}/labels/", 0),
                         (f"/dashboard/{dataset.name}/workers/{h['annotator'].worker.pk}/", 0),
                         (f"/dashboard/{dataset.name}/mturk/", 0)):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_selector("main h1")
        if charts:
            page.wait_for_selector(".chart svg")
        assert page.locator(INJECTED).count() == 0, path
    # the per-class chart names the action as text: in its description and in the hover tooltip
    page.goto(f"{live_server.url}/dashboard/{dataset.name}/models/")
    chart = page.locator(".chart[data-source=per-class]")
    chart.locator("svg").wait_for()
    # (ECharts' description template reads "$&" in a name as a pattern: the markup must be there as text)
    label = chart.get_attribute("aria-label")
    assert SCRIPT in label and IMG in label, label
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    chart.locator(".chart-tooltip").wait_for()
    assert PAYLOAD in chart.locator(".chart-tooltip").inner_text()
    assert page.locator(INJECTED).count() == 0
    assert problems == []
