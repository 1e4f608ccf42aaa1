"""A curator invites an annotator, copies the link, the annotator opens it, and the curator revokes it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.crowd.models import WorkerLink

pytestmark = pytest.mark.django_db(transaction=True)


def test_invite_copy_open_and_revoke(engine, live_server, browser, django_user_model, tmp_path):
    django_user_model.objects.create_user(username="curator", password="invite-them-1", is_staff=True,
                                          is_superuser=True)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/dashboard/synthetic/annotators/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "invite-them-1")
    page.click("input[type=submit]")
    page.wait_for_selector("h1:has-text('Annotators')")
    page.fill("input[name=label]", "Ada Lovelace")
    page.click("button:has-text('Make an annotator link')")
    page.wait_for_selector("text=Link for Ada Lovelace made")
    url = page.locator("tr.new input.link-url").input_value()
    assert "/annotate/synthetic/?w=" in url
    page.click("tr.new button.copy")
    page.wait_for_function("[...document.querySelectorAll('button.copy')].some(b => b.textContent !== 'Copy')")
    shots = Path(os.environ.get("MMIT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "annotators.png"), full_page=True)

    annotator = context.new_page()
    annotator.goto(url.replace("http://127.0.0.1:8000", live_server.url).replace(
        "http://testserver", live_server.url) if not url.startswith(live_server.url) else url)
    annotator.wait_for_selector("video, .card, #task-title, main", state="attached")

    page.click("tr.new button:has-text('Revoke')")
    page.wait_for_selector("text=it is refused from now on")
    link = WorkerLink.objects.get()
    assert link.revoked_at is not None and page.locator("td.state-revoked").count() == 1
    assert errors == []
    context.close()
