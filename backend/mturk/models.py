"""Mechanical Turk requester state: HIT types, batches with their budget, HITs, assignments,
bonuses, notices and each worker's standing (soft/hard block) on MTurk.

No credential is ever stored here. Money is kept as Decimal dollars: `cost_committed` on a HIT is
the most it can still cost (every assignment approved), lowered to what was actually spent once
the HIT is settled; `cost` on assignments and bonuses is what was actually spent.
"""
from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models

from backend.annotation.models import Prompt, TaskSet
from backend.common.models import Job
from backend.crowd.models import Worker
from backend.videos.models import Dataset

ZERO = Decimal("0")


class HitType(models.Model):
    """A CreateHITType result, reused for every HIT with the same configuration."""

    sandbox = models.BooleanField()
    config_hash = models.CharField(max_length=64)
    hit_type_id = models.CharField(max_length=64)
    params = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "HIT type"
        constraints = [models.UniqueConstraint(fields=["sandbox", "config_hash"], name="mturk_hittype_once")]

    def __str__(self) -> str:
        return self.hit_type_id


class QualificationType(models.Model):
    """A qualification type the project owns (the soft block), per endpoint."""

    class Purpose(models.TextChoices):
        BLOCKED = "blocked"

    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    sandbox = models.BooleanField()
    name = models.CharField(max_length=128)
    qualification_type_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["purpose", "sandbox"], name="mturk_qualification_once")]


class Batch(models.Model):
    """What a curator publishes at once, with the budget it must never exceed."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PUBLISHING = "publishing"
        PUBLISHED = "published"
        FAILED = "failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    class Kind(models.TextChoices):  # what the batch's HITs ask: the engine's kind of set
        YESNO = "yesno", "Yes/No questions"
        DRAWING = "drawing", "drawing regions"

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="mturk_batches")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.YESNO)
    prompt = models.CharField(max_length=16, choices=Prompt.choices, default=Prompt.SEEN_OR_HEARD,
                              help_text="The question of Yes/No HITs.")
    sandbox = models.BooleanField()
    hits_requested = models.PositiveIntegerField()
    assignments_per_hit = models.PositiveSmallIntegerField()
    reward = models.DecimalField(max_digits=8, decimal_places=2)
    budget = models.DecimalField(max_digits=12, decimal_places=2)
    title = models.CharField(max_length=128)
    description = models.CharField(max_length=2000)
    keywords = models.CharField(max_length=1000, blank=True)
    lifetime_seconds = models.PositiveIntegerField()
    assignment_duration_seconds = models.PositiveIntegerField()
    auto_approval_delay_seconds = models.PositiveIntegerField()
    hit_type = models.ForeignKey(HitType, null=True, blank=True, on_delete=models.PROTECT, related_name="batches")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(blank=True, help_text="Why publishing stopped early or failed.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"batch {self.public_id} ({self.status})"


class Hit(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # reserved under the budget; CreateHIT not confirmed yet
        OPEN = "open"
        EXPIRED = "expired"  # no new workers; submitted work still arrives and is reviewed
        CLOSED = "closed"  # every assignment settled; cost_committed is the actual cost
        FAILED = "failed"  # MTurk refused to create it; nothing committed

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="hits")
    index = models.PositiveIntegerField()
    token = models.CharField(max_length=64, unique=True, help_text="The UniqueRequestToken of CreateHIT.")
    hit_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    max_assignments = models.PositiveSmallIntegerField()
    reward = models.DecimalField(max_digits=8, decimal_places=2)
    cost_committed = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField(null=True, blank=True)
    expired_early_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name, verbose_name_plural = "HIT", "HITs"
        ordering = ["batch", "index"]
        constraints = [models.UniqueConstraint(fields=["batch", "index"], name="mturk_hit_index_once")]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.hit_id or self.token


class Assignment(models.Model):
    """One MTurk assignment: one worker, at most one set of the engine, of the kind its HIT asks for."""

    # the field linking an assignment to its set, per kind of set (``crowd.sets.kinds``)
    SET_LINKS = {"yesno": "taskset", "drawing": "drawing_set"}

    class MTurkStatus(models.TextChoices):
        WORKING = "", "working"  # seen on our page, not submitted to MTurk yet
        SUBMITTED = "Submitted"
        APPROVED = "Approved"
        REJECTED = "Rejected"

    assignment_id = models.CharField(max_length=64, unique=True)
    hit = models.ForeignKey(Hit, on_delete=models.CASCADE, related_name="assignments")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="mturk_assignments")
    taskset = models.OneToOneField(TaskSet, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="mturk_assignment")
    drawing_set = models.OneToOneField("regions.DrawingSet", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="mturk_assignment")
    turk_submit_to = models.CharField(max_length=255, blank=True)
    mturk_status = models.CharField(max_length=10, choices=MTurkStatus.choices, blank=True, default="")
    mturk_worker_id = models.CharField(max_length=64, blank=True, help_text="The worker MTurk reports.")
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_us = models.BooleanField(default=False)
    feedback = models.TextField(blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["worker", "mturk_status"])]

    def __str__(self) -> str:
        return self.assignment_id

    @property
    def set_record(self):
        """The engine's set this assignment was graded with, whatever its kind (None before)."""
        return self.taskset or self.drawing_set


class Bonus(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        FAILED = "failed"

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="bonuses")
    worker = models.ForeignKey(Worker, on_delete=models.PROTECT, related_name="mturk_bonuses")
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    cost = models.DecimalField(max_digits=10, decimal_places=2, help_text="Amount plus fee.")
    reason = models.TextField()
    token = models.CharField(max_length=64, unique=True, help_text="The UniqueRequestToken of SendBonus.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "bonuses"
        ordering = ["id"]


class Notice(models.Model):
    """An e-mail to one worker through NotifyWorkers, sent in groups of at most 100."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="mturk_notices")
    sandbox = models.BooleanField()
    subject = models.CharField(max_length=200)
    message = models.TextField(max_length=4096)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status"])]


class Standing(models.Model):
    """A worker's blocks on MTurk as they are and as they should be.

    The soft block is the project's qualification (checked with DoesNotExist, so the worker no
    longer discovers, previews or accepts our HITs); the hard block is CreateWorkerBlock, kept
    for repeat offenders because it weighs on the worker's standing with every requester.
    """

    worker = models.OneToOneField(Worker, on_delete=models.CASCADE, related_name="mturk_standing")
    hard_wanted = models.BooleanField(default=False)
    hard_reason = models.TextField(blank=True)
    soft_blocked_at = models.DateTimeField(null=True, blank=True)
    hard_blocked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
