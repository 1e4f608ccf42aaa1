"""Roles in Chromium: a viewer finds no controls and is refused when posting anyway; the curator
makes them a reviewer on the Team page; the same user then corrects a label."""
from __future__ import annotations

import pytest

from backend.labels.models import Label
from backend.videos.models import DatasetRole, Video

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "roles-walk-pass-1"


def _sign_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_viewer_is_refused_then_promoted_to_reviewer_corrects(dataset, live_server, page, browser,
                                                              django_user_model, tmp_path):
    users = {name: django_user_model.objects.create_user(username=name, password=PASSWORD, is_staff=True)
             for name in ("cora", "vic")}
    DatasetRole.objects.create(user=users["cora"], dataset=dataset, role="curator")
    DatasetRole.objects.create(user=users["vic"], dataset=dataset, role="viewer")
    jumping = dataset.actions.get(name="jumping")
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/clip{i}.mp4", name=f"clip{i}.mp4", storage_key=f"videos/clip{i}.mp4",
              checksum=f"c{i}") for i in range(3)])
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=jumping, asked_action=jumping, source="initial", state="positive",
              yes_count=2, no_count=1, confidence=0.67) for v in videos])
    first = Label.objects.order_by("id").first()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    # the viewer: pages without controls
    labels_url = f"{live_server.url}/dashboard/synthetic/labels/"
    _sign_in(page, labels_url, "vic")
    page.wait_for_selector("h1:has-text('Label browser')")
    assert page.locator("form[method=post]").count() == 0
    assert page.locator(f"tr[data-label='{first.pk}'] button:has-text('Reject')").count() == 0
    page.screenshot(path=str(tmp_path / "roles_viewer_labels.png"), full_page=True)
    page.goto(f"{live_server.url}/dashboard/synthetic/releases/")
    assert page.locator("button:has-text('Export a release')").count() == 0
    page.goto(f"{live_server.url}/dashboard/synthetic/review/")
    assert page.locator("button[data-do]").count() == 0
    page.keyboard.press("r")  # the queue's keys do nothing for a viewer
    csrf = page.locator(".review-queue").get_attribute("data-csrf")

    # ... and posting anyway is refused by the server, naming the problem
    refused = page.evaluate("""async ([url, csrf]) => {
        const r = await fetch(url, {method: 'POST', credentials: 'same-origin', headers: {'X-CSRFToken': csrf,
            'Content-Type': 'application/x-www-form-urlencoded'}, body: 'do=negative&reason=no'});
        return [r.status, await r.text()];
    }""", [f"/dashboard/synthetic/labels/{first.pk}/correct/", csrf])
    assert refused[0] == 403 and "correcting labels needs the reviewer role" in refused[1]
    api = page.evaluate("""async ([url, csrf]) => {
        const r = await fetch(url, {method: 'PATCH', credentials: 'same-origin', headers: {'X-CSRFToken': csrf,
            'Content-Type': 'application/json'}, body: JSON.stringify({state: 'negative', reason: 'no'})});
        return [r.status, await r.json()];
    }""", [f"/api/datasets/synthetic/labels/{first.pk}/", csrf])
    assert api == [403, {"detail": "You are a viewer of dataset 'synthetic'; correcting labels needs the "
                                   "reviewer role."}]
    denied = page.goto(f"{live_server.url}/dashboard/synthetic/gold/upload/")  # a curator's control
    assert denied.status == 403 and page.locator("h1").inner_text() == "Not allowed"
    assert "gold" in page.locator(".denied").inner_text() or "curator role" in page.locator(".denied").inner_text()
    page.screenshot(path=str(tmp_path / "roles_denied.png"), full_page=True)
    first.refresh_from_db()
    assert first.state == "positive"

    # the curator, in a browser of their own, makes the viewer a reviewer on the Team page
    curator_context = browser.new_context(viewport={"width": 1280, "height": 720})
    curator = curator_context.new_page()
    curator.set_default_timeout(15_000)
    _sign_in(curator, f"{live_server.url}/dashboard/synthetic/team/", "cora")
    curator.wait_for_selector("h1:has-text('Team')")
    row = curator.locator("tr[data-member='vic']")
    row.locator("select[name=role]").select_option("reviewer")
    row.locator("button:has-text('Change')").click()
    curator.wait_for_selector(".messages li.success")
    assert curator.locator(".messages li.success").inner_text() == "vic is now a reviewer of synthetic."
    curator.screenshot(path=str(tmp_path / "roles_team.png"), full_page=True)
    curator_context.close()

    # the same user, now a reviewer, corrects a label
    page.goto(labels_url)
    row = page.locator(f"tr[data-label='{first.pk}']")
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("nobody jumps in this clip")
    row.locator("button:has-text('Reject')").click()
    page.wait_for_selector(".messages li.success")
    assert "clip0.mp4 · jumping: 1 label set to negative" in page.locator(".messages li.success").inner_text()
    first.refresh_from_db()
    assert (first.state, first.corrected) == ("negative", True)
    assert not errors, errors
