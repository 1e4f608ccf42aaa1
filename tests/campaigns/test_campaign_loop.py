"""The campaign autopilot, step by step: every transition, waiting, pausing with the reason and
resuming, every way it finishes, and a crash inside each step (the transaction rolls back: the
next tick does the step once, nothing twice). The work the steps start (a round, an export, a
training) is recorded, not run: its outcome is written here as the workers would write it."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backend.annotation.models import Question
from backend.campaigns import services
from backend.campaigns.models import Campaign
from backend.campaigns.services import (
    FINISHED_BUDGET,
    FINISHED_NOTHING,
    FINISHED_ROUNDS,
    FINISHED_SOURCES,
    FINISHED_TIME,
    NOT_PAUSED,
    PAUSED_JOB,
    PAUSED_RUN,
    campaign_advance,
    campaign_pause,
    campaign_resume,
    campaign_save,
)
from backend.candidates.models import CandidateRound, CandidateSource
from backend.common.errors import DomainError
from backend.common.models import Job
from backend.labels.models import Label
from backend.releases.models import Release
from backend.training.models import ModelRun

pytestmark = pytest.mark.django_db

ROUND_TASK, EXPORT_TASK, TRAIN_TASK = "mmit.candidates.run_round", "mmit.releases.export_release", \
    "mmit.training.train_run"


@pytest.fixture
def loop(engine, sent_tasks, django_capture_on_commit_callbacks):
    """The engine's dataset (30 open questions about jumping), and a way to tick its campaign."""
    class Loop:
        dataset = engine["dataset"]
        sent = sent_tasks

        def tick(self) -> Campaign:
            with django_capture_on_commit_callbacks(execute=True):
                return campaign_advance(campaign_id=Campaign.objects.get(dataset=self.dataset).pk)

        def create(self, **fields) -> Campaign:
            with django_capture_on_commit_callbacks(execute=True):
                return campaign_save(dataset=self.dataset, **fields)

        def names(self) -> list[str]:
            return [name for name, _, _ in self.sent]

        def finish_round(self, campaign: Campaign, *, proposed: int = 30) -> CandidateRound:
            """What the round's worker writes: the round, its questions (the engine's), the job's end."""
            number = CandidateRound.objects.filter(dataset=self.dataset).count() + 1
            found = CandidateRound.objects.create(dataset=self.dataset, number=number, status="finished",
                                                  job_id=campaign.job_id, proposed=proposed)
            Label.objects.filter(dataset=self.dataset, question__isnull=False).update(round=number)
            Job.objects.filter(pk=campaign.job_id).update(status=Job.Status.SUCCEEDED)
            return found

        def decide_questions(self) -> None:
            Question.objects.filter(dataset=self.dataset).update(state=Question.State.DECIDED)

        def finish_export(self, campaign: Campaign) -> Release:
            version = Release.objects.filter(dataset=self.dataset).count() + 1
            release = Release.objects.create(dataset=self.dataset, version=version, path=f"/tmp/r{version}",
                                             content_hash=f"h{version}")
            Job.objects.filter(pk=campaign.job_id).update(status=Job.Status.SUCCEEDED,
                                                          result={"release": release.pk})
            return release

    return Loop()


def test_one_whole_turn_of_the_loop_and_the_next_round(loop):
    campaign = loop.create(max_rounds=3)
    assert loop.names() == ["mmit.campaigns.advance"]
    campaign = loop.tick()
    assert (campaign.status, campaign.step) == ("running", "round") and loop.names()[-1] == ROUND_TASK
    job = campaign.job_id
    assert loop.tick().job_id == job and loop.names().count(ROUND_TASK) == 1  # waits: nothing twice

    round_ = loop.finish_round(campaign)
    campaign = loop.tick()
    assert campaign.step == "wait" and campaign.candidate_round == round_ and campaign.rounds_done == 1
    assert loop.tick().step == "wait"  # 30 questions open, deadline far

    loop.decide_questions()
    campaign = loop.tick()
    assert campaign.step == "release" and loop.names()[-1] == EXPORT_TASK
    assert loop.tick().step == "release" and loop.names().count(EXPORT_TASK) == 1

    release = loop.finish_export(campaign)
    campaign = loop.tick()
    assert campaign.step == "train" and campaign.release == release
    run = campaign.model_run
    assert run.release == release and loop.sent[-1] == (TRAIN_TASK, (run.pk,), {})
    assert loop.tick().model_run == run and loop.names().count(TRAIN_TASK) == 1

    ModelRun.objects.filter(pk=run.pk).update(status="succeeded", predictions_ingested=True, metrics={
        "eval": {"splits": {"val": {"micro_map": 0.4321}}}})
    campaign = loop.tick()
    assert campaign.step == "round" and loop.names().count(ROUND_TASK) == 2 and campaign.job_id != job
    events = [e["event"] for e in campaign.history]
    assert "round 1 proposed 30 pairs" in events and "the round's questions are decided" in events
    assert any("val micro mAP 0.432" in e for e in events) and "round 2 started" in events


def test_without_retraining_a_release_leads_to_the_next_round(loop):
    campaign = loop.create(retrain=False)
    campaign = loop.tick()
    loop.finish_round(campaign)
    loop.decide_questions()
    campaign = loop.tick()
    loop.finish_export(campaign)
    campaign = loop.tick()
    assert campaign.step == "round" and TRAIN_TASK not in loop.names() and loop.names().count(ROUND_TASK) == 2


def test_the_wait_ends_at_the_round_deadline(loop):
    campaign = loop.create(round_deadline_hours=2)
    loop.finish_round(loop.tick())
    campaign = loop.tick()
    assert campaign.step == "wait"
    Campaign.objects.filter(pk=campaign.pk).update(step_started_at=timezone.now() - timedelta(hours=3))
    campaign = loop.tick()
    assert campaign.step == "release" and "deadline passed with 30 questions open" in campaign.history[-2]["event"]


def test_a_failed_step_pauses_with_the_reason_and_resume_starts_it_again(loop, django_capture_on_commit_callbacks):
    loop.create()
    campaign = loop.tick()
    Job.objects.filter(pk=campaign.job_id).update(status=Job.Status.FAILED, error="WordNet is not installed")
    campaign = loop.tick()
    assert campaign.status == "paused"
    assert campaign.reason == PAUSED_JOB.format(step="candidate round", error="WordNet is not installed")
    assert loop.tick().status == "paused" and loop.names().count(ROUND_TASK) == 1  # a paused campaign waits
    with django_capture_on_commit_callbacks(execute=True):
        campaign = campaign_resume(campaign=campaign, user="curator")
    assert campaign.status == "running" and campaign.job is None and campaign.reason == ""
    campaign = loop.tick()
    assert loop.names().count(ROUND_TASK) == 2 and campaign.job_id is not None
    with pytest.raises(DomainError, match="Only a paused campaign"):
        campaign_resume(campaign=campaign)
    # a job no worker ever started (its message lost): pause and resume start the step again
    campaign_pause(campaign=campaign, user="curator")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign=campaign, user="curator")
    assert loop.tick().job_id not in (None, campaign.job_id) and loop.names().count(ROUND_TASK) == 3
    assert NOT_PAUSED.format(status="running").startswith("Only a paused campaign")


def test_a_failed_training_pauses_and_resume_trains_it_again(loop, django_capture_on_commit_callbacks):
    campaign = loop.create()
    loop.finish_round(loop.tick())
    loop.decide_questions()
    campaign = loop.tick()
    loop.finish_export(campaign)
    campaign = loop.tick()
    run = campaign.model_run
    ModelRun.objects.filter(pk=run.pk).update(status="failed", error="Training failed (exit code 1): CUDA OOM")
    campaign = loop.tick()
    assert campaign.status == "paused"
    assert campaign.reason == PAUSED_RUN.format(run=run.pk, error="Training failed (exit code 1): CUDA OOM")
    with django_capture_on_commit_callbacks(execute=True):
        campaign_resume(campaign=campaign)
    assert loop.names().count(TRAIN_TASK) == 2  # the same run, trained again from its checkpoint
    ModelRun.objects.filter(pk=run.pk).update(status="succeeded", predictions_ingested=True)
    assert loop.tick().step == "round"


def test_it_finishes_at_the_round_limit(loop):
    campaign = loop.create(max_rounds=1, retrain=False)
    loop.finish_round(loop.tick())
    loop.decide_questions()
    loop.finish_export(loop.tick())
    campaign = loop.tick()
    assert campaign.status == "finished" and campaign.reason == FINISHED_ROUNDS.format(n=1)
    assert loop.names().count(ROUND_TASK) == 1


def test_it_finishes_at_the_time_limit(loop):
    campaign = loop.create(ends_at=timezone.now() - timedelta(minutes=1))
    campaign = loop.tick()
    assert campaign.status == "finished" and campaign.reason == FINISHED_TIME.format(at=campaign.ends_at)
    assert ROUND_TASK not in loop.names()


def test_it_finishes_when_every_source_has_stopped_and_nothing_is_pending(loop):
    for source in ("wordnet", "word2vec", "model"):
        CandidateSource.objects.update_or_create(dataset=loop.dataset, source=source,
                                                 defaults={"status": "stopped"})
    loop.create()
    campaign = loop.tick()
    assert campaign.status == "running" and campaign.job_id  # 30 questions still open: a round still runs
    loop.decide_questions()
    Campaign.objects.filter(pk=campaign.pk).update(job=None)  # the start of the next round
    campaign = loop.tick()
    assert campaign.status == "finished" and campaign.reason == FINISHED_SOURCES
    assert loop.names().count(ROUND_TASK) == 1


def test_it_finishes_when_a_round_proposes_nothing_and_nothing_is_pending(loop):
    loop.decide_questions()
    campaign = loop.create(retrain=False)
    campaign = loop.tick()
    loop.finish_round(campaign, proposed=0)
    loop.decide_questions()
    campaign = loop.tick()
    assert campaign.status == "finished" and campaign.reason == FINISHED_NOTHING.format(n=1)


def test_with_retraining_one_empty_round_still_trains_a_model_and_two_in_a_row_finish(loop):
    loop.decide_questions()
    campaign = loop.create()
    loop.finish_round(loop.tick(), proposed=0)
    campaign = loop.tick()  # nothing to wait for: straight on to a release and a model
    assert campaign.status == "running" and campaign.step == "release" and campaign.empty_rounds == 1
    loop.finish_export(campaign)
    campaign = loop.tick()
    ModelRun.objects.filter(pk=campaign.model_run_id).update(status="succeeded", predictions_ingested=True)
    campaign = loop.tick()
    assert campaign.step == "round" and campaign.job_id
    loop.finish_round(campaign, proposed=0)
    campaign = loop.tick()
    assert campaign.status == "finished" and campaign.reason == FINISHED_NOTHING.format(n=2)


def test_an_mturk_batch_per_round_within_the_budget(loop, settings):
    settings.SITE_URL = "https://annotate.example.org"
    campaign = loop.create(mturk=True, budget="1.00", mturk_reward="0.10")
    loop.finish_round(loop.tick())
    campaign = loop.tick()
    assert campaign.step == "wait" and campaign.batch is not None
    assert "mmit.mturk.publish_batch" in loop.names() and campaign.spent > 0
    assert campaign.batch.budget == Decimal("1.00")
    # the next round finds the budget spent
    Campaign.objects.filter(pk=campaign.pk).update(spent=Decimal("1.00"), step="crowd")
    campaign = loop.tick()
    assert campaign.status == "finished"
    assert campaign.reason == FINISHED_BUDGET.format(spent=Decimal("1.00"), budget=Decimal("1.00"))


def test_settings_are_checked_and_a_pause_by_the_curator_is_said(loop):
    with pytest.raises(DomainError, match="max_rounds must be a whole number"):
        campaign_save(dataset=loop.dataset, max_rounds=0)
    with pytest.raises(DomainError, match="unknown candidate source|Unknown|unknown"):
        campaign_save(dataset=loop.dataset, sources=["astrology"])
    assert not Campaign.objects.exists()
    campaign = loop.create(max_rounds=4)
    campaign = campaign_save(dataset=loop.dataset, max_rounds=9, user="curator")
    assert campaign.max_rounds == 9 and Campaign.objects.count() == 1
    campaign = campaign_pause(campaign=campaign, user="curator")
    assert campaign.status == "paused" and campaign.reason == "Paused by curator."


STEPS_TO_CRASH = ["round-start", "round-end", "wait", "release-start", "release-end", "train-start", "train-end"]


@pytest.mark.parametrize("where", STEPS_TO_CRASH)
def test_a_crash_inside_any_step_leaves_it_to_the_next_tick_which_does_it_once(loop, where, monkeypatch):
    """A worker killed inside ``campaign_advance`` dies inside its transaction: the database rolls
    back and nothing was sent (tasks go out on commit). Emulated by failing the final save."""
    campaign = loop.create()
    stage = {"round-start": 0, "round-end": 1, "wait": 2, "release-start": 2, "release-end": 3,
             "train-start": 3, "train-end": 4}[where]
    if stage >= 1:
        campaign = loop.tick()
        loop.finish_round(campaign)
    if stage >= 2:
        campaign = loop.tick()
        loop.decide_questions()
    if stage >= 3:
        campaign = loop.tick()
        loop.finish_export(campaign)
    if stage >= 4:
        campaign = loop.tick()
        ModelRun.objects.filter(pk=campaign.model_run_id).update(status="succeeded", predictions_ingested=True)
    before = Campaign.objects.get()
    counts = (Job.objects.count(), ModelRun.objects.count(), len(loop.sent))

    def killed(self, *args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(Campaign, "save", killed)
    with pytest.raises(SystemExit):
        loop.tick()
    monkeypatch.undo()
    after = Campaign.objects.get()
    assert (after.step, after.job_id, after.model_run_id, after.rounds_done) == (
        before.step, before.job_id, before.model_run_id, before.rounds_done)
    assert (Job.objects.count(), ModelRun.objects.count(), len(loop.sent)) == counts  # nothing started

    done = loop.tick()  # the next tick does the step, once
    again = loop.tick()
    assert done.step != before.step or done.job_id != before.job_id or done.model_run_id != before.model_run_id
    names = loop.names()
    assert names.count(ROUND_TASK) <= 2 and names.count(EXPORT_TASK) <= 1 and names.count(TRAIN_TASK) <= 1
    assert ModelRun.objects.count() <= 1 and again.status == "running"


def test_beat_advances_every_running_campaign(loop, sent_tasks):
    loop.create()
    assert services.campaigns_advance() == 1
    Campaign.objects.update(status="finished")
    assert services.campaigns_advance() == 0
