"""A campaign created and edited in the admin goes through the same checks and service; the
retraining it asks for runs under torchrun when the ml worker has GPUs."""
from __future__ import annotations

import pytest

from backend.campaigns.models import Campaign
from backend.campaigns.services import train_config
from backend.training import services as training

pytestmark = pytest.mark.django_db

FORM = {"max_rounds": "5", "round_deadline_hours": "24", "sources": '["wordnet"]', "mturk_reward": "0.10",
        "mturk_assignments": "1", "budget": "0", "retrain": "on", "train_config": '{"epochs": 2}',
        "train_processes": "4"}


def test_the_admin_creates_and_checks_a_campaign(client, staff_user, dataset, sent_tasks,
                                                  django_capture_on_commit_callbacks):
    client.force_login(staff_user)
    page = client.post("/admin/campaigns/campaign/add/", {**FORM, "dataset": dataset.pk, "max_rounds": "0"})
    assert page.status_code == 200 and "max_rounds must be a whole number of at least 1" in page.content.decode()
    assert not Campaign.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post("/admin/campaigns/campaign/add/", {**FORM, "dataset": dataset.pk})
    assert page.status_code == 302, page.content.decode()[:2000]
    campaign = Campaign.objects.get()
    assert campaign.sources == ["wordnet"] and campaign.train_processes == 4 and campaign.status == "running"
    assert campaign.history[0]["event"] == "created by curator"
    assert ("mmit.campaigns.advance", (campaign.pk,), {}) in sent_tasks
    assert train_config(campaign)["processes"] == 4 and train_config(campaign)["epochs"] == 2


@pytest.mark.parametrize("gpus, expected", [(0, None), (1, None), (2, "2"), (8, "4")])
def test_training_runs_under_torchrun_with_one_process_per_gpu(monkeypatch, gpus, expected):
    monkeypatch.setattr(training, "gpu_count", lambda: gpus)
    argv = training.train_argv(config={"model": "i3d_r50", "processes": 4}, release=training.Path("r"),
                               out=training.Path("o"))
    assert "--processes" not in argv
    launched = training.torchrun_argv(argv, processes=4)
    if expected is None:
        assert launched == argv
    else:
        assert launched[1:5] == ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={expected}"]
        assert launched[5:7] == ["-m", "ml.train"] and launched[7:] == argv[3:]


def test_the_admin_pauses_and_resumes_selected_campaigns(client, staff_user, dataset, sent_tasks,
                                                         django_capture_on_commit_callbacks):
    from backend.campaigns.services import campaign_save

    campaign = campaign_save(dataset=dataset, max_rounds=2)
    client.force_login(staff_user)
    url = "/admin/campaigns/campaign/"
    client.post(url, {"action": "pause", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == "paused" and campaign.reason == "Paused by curator."
    page = client.post(url, {"action": "pause", "_selected_action": [campaign.pk]}, follow=True)
    assert campaign.refresh_from_db() is None and campaign.status == "paused"  # pausing a paused one: nothing
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "resume", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == "running"
    page = client.post(url, {"action": "resume", "_selected_action": [campaign.pk]}, follow=True)
    assert "Only a paused campaign can be resumed" in page.content.decode()
