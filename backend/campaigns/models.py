"""A campaign: the closed loop of one dataset, run by beat round after round (Section 3.1.1).

candidate round (with its questions) -> an MTurk batch within budget (optional) -> wait until the
round's questions are decided or its deadline passes -> release -> retrain, predict, ingest -> the
next round. ``step`` says where the loop is and the ``job``/``batch``/``release``/``model_run``
fields what that step started, so that a replayed or resumed step finds its work instead of
starting it again.
"""
from __future__ import annotations

from decimal import Decimal

from django.db import models

from backend.candidates.models import CandidateRound
from backend.common.models import Job
from backend.mturk.models import Batch
from backend.releases.models import Release
from backend.training.models import ModelRun
from backend.videos.models import Dataset


class Campaign(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        PAUSED = "paused"  # a step failed, or the curator paused it: resume continues the same step
        FINISHED = "finished"  # stopped for good, with the reason

    class Step(models.TextChoices):
        ROUND = "round", "candidate round"
        CROWD = "crowd", "MTurk batch"
        WAIT = "wait", "waiting for answers"
        RELEASE = "release", "release"
        TRAIN = "train", "retraining"

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="campaign")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    step = models.CharField(max_length=8, choices=Step.choices, default=Step.ROUND)
    reason = models.TextField(blank=True, help_text="Why it is paused or finished.")
    rounds_done = models.PositiveIntegerField(default=0)
    # Rounds in a row that proposed nothing: after one, a retrained model may still propose; after two, done.
    empty_rounds = models.PositiveIntegerField(default=0)

    # What the curator set.
    max_rounds = models.PositiveIntegerField(default=6, help_text="Stop after this many rounds.")
    round_deadline_hours = models.FloatField(
        default=72.0, help_text="Stop waiting for a round's answers after this many hours.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Stop at this time (empty: no time limit).")
    sources = models.JSONField(default=list, blank=True, help_text="Candidate sources (empty: all).")
    mturk = models.BooleanField(default=False, help_text="Publish an MTurk batch for each round's questions.")
    mturk_reward = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.10"))
    mturk_assignments = models.PositiveIntegerField(default=1, help_text="Assignments per HIT.")
    budget = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"),
                                 help_text="Most the campaign's MTurk batches may commit, in dollars.")
    retrain = models.BooleanField(default=True, help_text="Retrain on each release and propose the model's top-1.")
    train_config = models.JSONField(default=dict, blank=True,
                                    help_text="Options of python -m ml.train (empty: the retraining defaults).")
    train_processes = models.PositiveIntegerField(
        default=1, help_text="Training processes (torchrun, one per GPU) when the ml worker has GPUs.")

    # What the current step started.
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    candidate_round = models.ForeignKey(CandidateRound, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_run = models.ForeignKey(ModelRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    step_started_at = models.DateTimeField(null=True, blank=True)
    spent = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"),
                                help_text="What the campaign's batches committed so far.")
    history = models.JSONField(default=list, blank=True)  # [{"at", "round", "step", "event"}], newest last
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset__name"]

    def __str__(self) -> str:
        return f"campaign of {self.dataset.name} ({self.status}, {self.get_step_display()})"
