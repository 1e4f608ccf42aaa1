"""The Campaign page: start a campaign, see where its loop is, change it, pause and resume it."""
from __future__ import annotations

import pytest

from backend.campaigns.models import Campaign

pytestmark = pytest.mark.django_db


def test_start_see_edit_pause_and_resume(client, staff_user, dataset, sent_tasks, django_capture_on_commit_callbacks):
    client.force_login(staff_user)
    page = client.get("/dashboard/synthetic/campaign/").content.decode()
    assert "Start a campaign" in page and "Where the loop is" not in page
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post("/dashboard/synthetic/campaign/save/", {
            "sources": ["wordnet", "word2vec"], "max_rounds": "4", "round_deadline_hours": "12",
            "mturk_reward": "0.10", "mturk_assignments": "1", "budget": "0", "train_processes": "2",
            "retrain": "on", "train_config": '{"epochs": 3}', "ends_at": ""}, follow=True).content.decode()
    assert "Campaign started" in page
    campaign = Campaign.objects.get()
    assert (campaign.sources, campaign.max_rounds, campaign.round_deadline_hours) == (["wordnet", "word2vec"], 4, 12)
    assert campaign.train_config == {"epochs": 3} and campaign.train_processes == 2 and campaign.retrain
    assert ("mmit.campaigns.advance", (campaign.pk,), {}) in sent_tasks
    assert "Where the loop is" in page and 'aria-current="step"' in page and "0 of 4 rounds done" in page
    assert 'http-equiv="refresh"' in page  # running: the page follows the loop

    page = client.post("/dashboard/synthetic/campaign/save/", {"max_rounds": "0", "round_deadline_hours": "12",
                       "mturk_reward": "0.10", "mturk_assignments": "1", "budget": "0", "train_processes": "1"},
                       follow=True).content.decode()
    assert "max_rounds must be a whole number of at least 1" in page and Campaign.objects.get().max_rounds == 4
    page = client.post("/dashboard/synthetic/campaign/save/", {"max_rounds": "5", "round_deadline_hours": "12",
                       "mturk_reward": "0.10", "mturk_assignments": "1", "budget": "0", "train_processes": "1",
                       "train_config": "{epochs: 3"}, follow=True).content.decode()
    assert "must be a JSON object" in page and Campaign.objects.get().max_rounds == 4

    page = client.post("/dashboard/synthetic/campaign/pause/", follow=True).content.decode()
    assert "Campaign paused." in page and "Paused by curator." in page and ">Resume<" in page
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post("/dashboard/synthetic/campaign/resume/", follow=True).content.decode()
    assert "Campaign resumed." in page and Campaign.objects.get().status == "running"
    assert "resumed by curator" in page  # the history


def test_the_page_is_for_staff_only(client, dataset, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="annotator", password="x-123456789"))
    assert client.get("/dashboard/synthetic/campaign/").status_code == 302
    assert client.post("/dashboard/synthetic/campaign/save/", {"max_rounds": "2"}).status_code == 302
    assert not Campaign.objects.exists()
