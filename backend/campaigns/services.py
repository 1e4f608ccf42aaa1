"""The campaign autopilot: one step of a dataset's closed loop per call, driven by beat.

``campaign_advance`` locks the campaign row, looks at what its current step started (a job, a
batch, a model run) and either waits, moves to the next step (starting its work), pauses with the
reason (a failed step), or finishes (every source stopped with nothing pending, or a round, budget
or time limit). It runs in one transaction and the work it starts is sent when that transaction
commits, so a worker killed anywhere in it leaves the campaign as it was and the next tick does
the same step again; the work itself is idempotent (a round finds its job's round, an unchanged
dataset exports to the same release, a release and configuration make one model run).
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from backend.annotation.models import Prompt, Question
from backend.campaigns.models import Campaign
from backend.candidates.models import CandidateRound, CandidateSource
from backend.candidates.services import candidate_round_start, candidate_sources_validate
from backend.common.background import task_enqueue
from backend.common.errors import DomainError
from backend.common.models import Job
from backend.mturk.fees import hit_cost
from backend.mturk.gateway import configured_sandbox
from backend.mturk.services.publish import NO_WORK, batch_create, batch_publish_start
from backend.releases.models import Release
from backend.releases.services import release_export_start
from backend.training.models import ModelRun
from backend.training.services import DEFAULT_CONFIG, run_for_release
from backend.videos.models import Dataset

HISTORY_KEEP = 200

FINISHED_SOURCES = "Every candidate source has stopped and no question is open."
FINISHED_NOTHING = "Round {n} proposed nothing new and no question is open."
FINISHED_ROUNDS = "Reached the round limit ({n} rounds)."
FINISHED_TIME = "Reached the time limit ({at:%Y-%m-%d %H:%M} UTC)."
FINISHED_BUDGET = "The MTurk budget is spent (${spent} committed of ${budget})."
PAUSED_JOB = "The {step} failed: {error}"
PAUSED_RUN = "Retraining failed (model run {run}): {error}"
PAUSED_BATCH = "The MTurk batch could not be created: {error}"
PAUSED_BY = "Paused by {user}."
ALREADY_FINISHED = "This campaign has finished ({reason}); create a new one to start again."
NOT_PAUSED = "Only a paused campaign can be resumed; this one is {status}."
BAD_NUMBER = "{field} must be {what}."
JOB_GONE = "its job was deleted"

EDITABLE = ("max_rounds", "round_deadline_hours", "ends_at", "sources", "mturk", "mturk_reward",
            "mturk_assignments", "budget", "retrain", "train_config", "train_processes")


def settings_clean(fields: dict) -> dict:
    """Checked and typed campaign settings (DomainError names the field)."""
    out = {}
    for name, value in fields.items():
        if name not in EDITABLE:
            raise DomainError(f"Unknown campaign setting {name!r}.", field=name)
        if name in ("max_rounds", "mturk_assignments", "train_processes"):
            try:
                value = int(value)
            except (TypeError, ValueError):
                value = 0
            if value < 1 or (name == "mturk_assignments" and value > 100):
                raise DomainError(BAD_NUMBER.format(field=name, what="a whole number of at least 1"), field=name)
        elif name == "round_deadline_hours":
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = 0.0
            if not value > 0:
                raise DomainError(BAD_NUMBER.format(field=name, what="a number of hours above 0"), field=name)
        elif name in ("mturk_reward", "budget"):
            try:
                value = Decimal(str(value))
            except (InvalidOperation, ValueError):
                value = Decimal("-1")
            if value < 0:
                raise DomainError(BAD_NUMBER.format(field=name, what="an amount in dollars, 0 or more"), field=name)
        elif name == "sources":
            value = candidate_sources_validate(value) if value else []
        elif name == "train_config" and not isinstance(value, dict):
            raise DomainError(BAD_NUMBER.format(field=name, what="a JSON object of ml.train options"), field=name)
        elif name in ("mturk", "retrain"):
            value = bool(value)
        out[name] = value
    return out


def _event(campaign: Campaign, event: str) -> None:
    campaign.history = [*campaign.history, {"at": timezone.now().strftime("%Y-%m-%d %H:%M:%S UTC"),
                                            "round": campaign.rounds_done, "step": campaign.step,
                                            "event": event}][-HISTORY_KEEP:]


@transaction.atomic
def campaign_save(*, dataset: Dataset, user=None, **fields) -> Campaign:
    """Create the dataset's campaign (running from its first step) or change its settings."""
    cleaned = settings_clean(fields)
    campaign = Campaign.objects.select_for_update().filter(dataset=dataset).first()
    if campaign is None:
        campaign = Campaign(dataset=dataset, step_started_at=timezone.now(), **cleaned)
        _event(campaign, f"created by {user or 'the system'}")
        campaign.save()
        task_enqueue("mmit.campaigns.advance", campaign.pk)
        return campaign
    for name, value in cleaned.items():
        setattr(campaign, name, value)
    _event(campaign, f"settings changed by {user or 'the system'}")
    campaign.save()
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, user=None) -> Campaign:
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == Campaign.Status.FINISHED:
        raise DomainError(ALREADY_FINISHED.format(reason=campaign.reason))
    if campaign.status == Campaign.Status.RUNNING:
        _pause(campaign, PAUSED_BY.format(user=user or "the system"))
        campaign.save()
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, user=None) -> Campaign:
    """Continue a paused campaign at the step it stopped: a failed job of that step is started
    again, a failed model run is trained again (from its checkpoint)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != Campaign.Status.PAUSED:
        raise DomainError(NOT_PAUSED.format(status=campaign.status))
    if campaign.job_id and Job.objects.filter(pk=campaign.job_id,
                                              status__in=(Job.Status.FAILED, Job.Status.QUEUED)).exists():
        campaign.job = None  # the step starts its work again (a job no worker ever started is lost)
    if campaign.model_run_id and ModelRun.objects.filter(pk=campaign.model_run_id,
                                                         status=ModelRun.Status.FAILED).exists():
        task_enqueue("mmit.training.train_run", campaign.model_run_id)
    campaign.status, campaign.reason = Campaign.Status.RUNNING, ""
    _event(campaign, f"resumed by {user or 'the system'}")
    campaign.save()
    task_enqueue("mmit.campaigns.advance", campaign.pk)
    return campaign


def _pause(campaign: Campaign, reason: str) -> None:
    campaign.status, campaign.reason = Campaign.Status.PAUSED, reason
    _event(campaign, f"paused: {reason}")


def _finish(campaign: Campaign, reason: str) -> None:
    campaign.status, campaign.reason = Campaign.Status.FINISHED, reason
    _event(campaign, f"finished: {reason}")


def _move(campaign: Campaign, step: str, event: str) -> None:
    _event(campaign, event)
    campaign.step, campaign.step_started_at, campaign.job = step, timezone.now(), None
    if step == Campaign.Step.ROUND:
        campaign.candidate_round = None
    elif step == Campaign.Step.CROWD:
        campaign.batch = None
    elif step == Campaign.Step.RELEASE:
        campaign.release = None
    elif step == Campaign.Step.TRAIN:
        campaign.model_run = None


def _open_questions(campaign: Campaign, **filters) -> int:
    return Question.objects.filter(dataset=campaign.dataset, state=Question.State.OPEN, **filters).count()


def _job(campaign: Campaign, step: str) -> Job | None:
    """The step's job once it has finished (None while it runs); a failed job pauses the campaign."""
    job = Job.objects.filter(pk=campaign.job_id).first()
    if job is None:
        _pause(campaign, PAUSED_JOB.format(step=step, error=JOB_GONE))
        return None
    if job.status == Job.Status.FAILED:
        _pause(campaign, PAUSED_JOB.format(step=step, error=job.error or "no reason given"))
        return None
    return job if job.status == Job.Status.SUCCEEDED else None


def _step_round(campaign: Campaign) -> None:
    if campaign.job_id is None:
        if campaign.rounds_done >= campaign.max_rounds:
            return _finish(campaign, FINISHED_ROUNDS.format(n=campaign.max_rounds))
        sources = campaign.sources or candidate_sources_validate(None)
        states = dict(CandidateSource.objects.filter(dataset=campaign.dataset).values_list("source", "status"))
        every_stopped = bool(states) and all(states.get(s) == CandidateSource.Status.STOPPED for s in sources)
        if every_stopped and not _open_questions(campaign):
            return _finish(campaign, FINISHED_SOURCES)
        campaign.job = candidate_round_start(dataset=campaign.dataset, sources=campaign.sources or None, policy={})
        _event(campaign, f"round {campaign.rounds_done + 1} started")
        return None
    job = _job(campaign, "candidate round")
    if job is None:
        return None
    found = CandidateRound.objects.filter(dataset=campaign.dataset, job=job).first()
    campaign.candidate_round = found
    campaign.rounds_done += 1
    proposed = found.proposed if found else 0
    campaign.empty_rounds = 0 if proposed else campaign.empty_rounds + 1
    if proposed == 0 and not _open_questions(campaign) and (not campaign.retrain or campaign.empty_rounds > 1):
        # with retraining, one empty round still leads to a model trained on what is verified now
        return _finish(campaign, FINISHED_NOTHING.format(n=found.number if found else campaign.rounds_done))
    nxt = Campaign.Step.CROWD if campaign.mturk else Campaign.Step.WAIT
    return _move(campaign, nxt, f"round {found.number if found else '?'} proposed {proposed} pairs")


def _step_crowd(campaign: Campaign) -> None:
    left = campaign.budget - campaign.spent
    cost = hit_cost(reward=campaign.mturk_reward, max_assignments=campaign.mturk_assignments)
    if left < cost:
        return _finish(campaign, FINISHED_BUDGET.format(spent=campaign.spent, budget=campaign.budget))
    try:
        with transaction.atomic():
            batch = batch_create(dataset=campaign.dataset, reward=campaign.mturk_reward, budget=left,
                                 assignments_per_hit=campaign.mturk_assignments, sandbox=configured_sandbox())
    except DomainError as error:
        if error.message == NO_WORK.format(dataset=campaign.dataset.name, prompt=Prompt.SEEN_OR_HEARD):
            # nothing left for the crowd: every question answered or in flight
            return _move(campaign, Campaign.Step.WAIT, f"no MTurk batch: {error.message}")
        return _pause(campaign, PAUSED_BATCH.format(error=error.message))
    batch_publish_start(batch=batch)
    campaign.spent += min(left, cost * batch.hits_requested)
    campaign.batch = batch
    return _move(campaign, Campaign.Step.WAIT, f"MTurk batch of {batch.hits_requested} HITs published")


def _step_wait(campaign: Campaign) -> None:
    round_ = campaign.candidate_round
    open_now = _open_questions(campaign, label__round=round_.number) if round_ else 0
    deadline = (campaign.step_started_at or timezone.now()) + timedelta(hours=campaign.round_deadline_hours)
    if open_now and timezone.now() < deadline:
        return None
    event = "the round's questions are decided" if not open_now else f"deadline passed with {open_now} questions open"
    return _move(campaign, Campaign.Step.RELEASE, event)


def _step_release(campaign: Campaign) -> None:
    if campaign.job_id is None:
        campaign.job = release_export_start(dataset=campaign.dataset)
        _event(campaign, "release export started")
        return None
    job = _job(campaign, "release export")
    if job is None:
        return None
    release = campaign.release = Release.objects.filter(pk=job.result.get("release")).first()
    nxt = Campaign.Step.TRAIN if campaign.retrain and release is not None else Campaign.Step.ROUND
    return _move(campaign, nxt, f"release v{release.version if release else '?'} exported")


def train_config(campaign: Campaign) -> dict:
    """The run configuration of the campaign's retraining (``processes``: torchrun on GPUs)."""
    config = {**DEFAULT_CONFIG, **campaign.train_config}
    if campaign.train_processes > 1:
        config["processes"] = campaign.train_processes
    return config


def _step_train(campaign: Campaign) -> None:
    if campaign.model_run_id is None:
        run, created = run_for_release(release=campaign.release, config=train_config(campaign))
        if created or run.status == ModelRun.Status.FAILED:
            task_enqueue("mmit.training.train_run", run.pk)
        elif run.status == ModelRun.Status.SUCCEEDED and not run.predictions_ingested:
            task_enqueue("mmit.training.ingest_run_predictions", run.pk)
        campaign.model_run = run
        _event(campaign, f"model run {run.pk} {'started' if created else 'found'} on release v{run.release.version}")
        return None
    run = ModelRun.objects.filter(pk=campaign.model_run_id).first()
    if run is None or run.status == ModelRun.Status.FAILED:
        return _pause(campaign, PAUSED_RUN.format(run=campaign.model_run_id, error=run.error if run else JOB_GONE))
    if run.status == ModelRun.Status.SUCCEEDED and run.predictions_ingested:
        micro = ((run.metrics.get("eval") or {}).get("splits", {}).get("val") or {}).get("micro_map")
        return _move(campaign, Campaign.Step.ROUND, f"model run {run.pk} trained and its predictions ingested"
                     + (f" (val micro mAP {micro:.3f})" if isinstance(micro, float) else ""))
    return None


STEPS = {
    Campaign.Step.ROUND: _step_round,
    Campaign.Step.CROWD: _step_crowd,
    Campaign.Step.WAIT: _step_wait,
    Campaign.Step.RELEASE: _step_release,
    Campaign.Step.TRAIN: _step_train,
}


def campaign_advance(*, campaign_id: int) -> Campaign | None:
    """Do what the campaign's loop can do now: steps follow one another in this call until one
    has to wait for work in the workers (a round, an export, a training) or for the crowd."""
    with transaction.atomic():
        campaign = (Campaign.objects.select_for_update(skip_locked=True).select_related("dataset")
                    .filter(pk=campaign_id).first())
        if campaign is None or campaign.status != Campaign.Status.RUNNING:
            return campaign
        for _ in range(2 * len(STEPS)):
            if campaign.ends_at and timezone.now() >= campaign.ends_at:
                _finish(campaign, FINISHED_TIME.format(at=campaign.ends_at))
                break
            before = (campaign.step, campaign.job_id, campaign.model_run_id)
            STEPS[campaign.step](campaign)
            if campaign.status != Campaign.Status.RUNNING or (campaign.step, campaign.job_id,
                                                              campaign.model_run_id) == before:
                break
        campaign.save()
        return campaign


def campaigns_advance() -> int:
    """Advance every running campaign (the beat entry); the number looked at."""
    ids = list(Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("pk", flat=True))
    for campaign_id in ids:
        campaign_advance(campaign_id=campaign_id)
    return len(ids)
