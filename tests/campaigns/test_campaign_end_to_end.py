"""A campaign runs the real loop, every task in this process (eager): a model-only round that finds
nothing, a release and a tiny model trained on it, its predictions ingested, a round of the model's
top-1 proposals with their questions, the crowd's verdicts, a second release and model, and the end
at the round limit."""
from __future__ import annotations

import pytest

from backend.annotation.models import Question
from backend.campaigns.models import Campaign
from backend.campaigns.services import FINISHED_ROUNDS, campaign_advance, campaign_save
from backend.labels.models import Label
from backend.training.models import ModelRun
from tests.training.test_retrain import TINY, labelled  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_the_loop_runs_round_after_round_and_stops_at_its_limit(labelled, eager_tasks,  # noqa: F811
                                                                  django_capture_on_commit_callbacks):
    def tick() -> Campaign:
        with django_capture_on_commit_callbacks(execute=True):
            return campaign_advance(campaign_id=Campaign.objects.get().pk)

    with django_capture_on_commit_callbacks(execute=True):
        campaign_save(dataset=labelled, sources=["model"], max_rounds=2, train_config=TINY)
    campaign = tick()
    # round 1 (no model yet) proposed nothing, its release trained a model whose predictions came in
    for _ in range(4):
        if campaign.step == "round" and campaign.rounds_done == 1:
            break
        campaign = tick()
    assert campaign.status == "running", campaign.reason
    assert (campaign.step, campaign.rounds_done, campaign.empty_rounds) == ("round", 1, 1)
    first = ModelRun.objects.get()
    assert first.status == "succeeded" and first.predictions_ingested

    campaign = tick()  # round 2: the model's top-1 for every video
    assert campaign.step == "wait" and campaign.candidate_round.proposed > 0, campaign.history
    proposals = Label.objects.filter(dataset=labelled, source="model", round=campaign.candidate_round.number)
    assert proposals.count() == campaign.candidate_round.proposed
    assert Question.objects.filter(label__in=proposals, state="open").count() == proposals.count()
    # the crowd says yes to half of them
    for i, label in enumerate(proposals.order_by("id")):
        Question.objects.filter(label=label).update(state="decided")
        Label.objects.filter(pk=label.pk).update(state="positive" if i % 2 else "negative")
    campaign = tick()  # decided: a release, then a second model
    for _ in range(4):
        if campaign.status != "running":
            break
        campaign = tick()
    assert campaign.status == "finished" and campaign.reason == FINISHED_ROUNDS.format(n=2)
    assert ModelRun.objects.count() == 2 and all(r.predictions_ingested for r in ModelRun.objects.all())
    steps = [e["event"] for e in campaign.history]
    assert any(e.startswith("release v2 exported") for e in steps), steps
