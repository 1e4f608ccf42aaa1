"""A curator starts a campaign from the Campaign page in Chromium and sees where its loop is."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.campaigns.models import Campaign
from backend.campaigns.services import campaign_advance

pytestmark = pytest.mark.django_db(transaction=True)


def test_start_a_campaign_and_follow_it(engine, live_server, page, django_user_model, sent_tasks, tmp_path):
    django_user_model.objects.create_user(username="curator", password="loop-the-loop-1", is_staff=True,
                                          is_superuser=True)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/dashboard/synthetic/campaign/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "loop-the-loop-1")
    page.click("input[type=submit]")
    page.wait_for_selector("h2:has-text('Start a campaign')")
    page.fill("input[name=max_rounds]", "3")
    page.uncheck("input[name=sources][value=model]")
    page.click("button:has-text('Start the campaign')")
    page.wait_for_selector("text=Campaign started")
    campaign = Campaign.objects.get()
    assert campaign.max_rounds == 3 and campaign.sources == ["wordnet", "word2vec"]
    campaign_advance(campaign_id=campaign.pk)  # what beat does: the first round starts
    page.reload()
    page.wait_for_selector("ol.steps li.current:has-text('candidate round')")
    assert "round 1 started" in page.locator("section[aria-labelledby=history-title]").inner_text()
    shots = Path(os.environ.get("MMIT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "campaign.png"), full_page=True)
    page.click("button:has-text('Pause')")
    page.wait_for_selector("text=Paused by curator.")
    assert Campaign.objects.get().status == "paused" and errors == []
