"""Action Regions (Section 5.2.1): frames, their verified actions, drawn boxes, consensus regions.

The pipeline unit is a `FrameAction`, one (centre frame, action) pair that moves through:
visibility (Yes/No image questions of the engine, at least two rounds) -> drawing (this app's
own task: boxes per round, gold graded by IoU) -> verifying (a Yes/No "recognisable" question per
consensus region's crop) -> verified or rejected.
"""
from __future__ import annotations

import uuid

from django.db import models

from backend.annotation.models import GoldQuestion, Question
from backend.crowd.models import Worker
from backend.labels.models import Label
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action


class RegionFrame(models.Model):
    """The centre frame of one video, extracted once and shared by every action asked about it."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="region_frames")
    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="region_frame")
    image_key = models.CharField(max_length=512, unique=True)
    timestamp = models.FloatField(help_text="Seconds from the start of the video.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"frame {self.video_id}@{self.timestamp:.2f}s"


class FrameAction(models.Model):
    class Stage(models.TextChoices):
        VISIBILITY = "visibility"
        DRAWING = "drawing"
        VERIFYING = "verifying"
        VERIFIED = "verified"
        REJECTED = "rejected"

    class Reason(models.TextChoices):
        NOT_VISIBLE = "not_visible"
        NO_REGION = "no_region"
        NOT_RECOGNISABLE = "not_recognisable"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="frame_actions")
    frame = models.ForeignKey(RegionFrame, on_delete=models.CASCADE, related_name="actions")
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="frame_actions")
    # The verified positive label the frame was selected for (provenance).
    label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.VISIBILITY)
    reason = models.CharField(max_length=16, choices=Reason.choices, blank=True)
    visibility_round = models.PositiveSmallIntegerField(default=0)
    visibility_question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.SET_NULL,
                                            related_name="+")
    drawings_needed = models.PositiveSmallIntegerField(default=0)
    drawings = models.PositiveSmallIntegerField(default=0)  # accepted, not excluded
    in_flight = models.PositiveSmallIntegerField(default=0)  # open drawing sets holding it
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["frame", "action"], name="frame_action_unique")]
        indexes = [models.Index(fields=["dataset", "stage", "action"])]

    def __str__(self) -> str:
        return f"{self.action_id}@frame{self.frame_id} {self.stage}"


class DrawingSet(models.Model):
    """One unit of drawing work (a HIT): frames of one action, with hidden gold images."""

    class Status(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"
        FAILED = "failed"
        EXPIRED = "expired"
        CANCELLED = "cancelled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="drawing_sets")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="drawing_sets")
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    provider_ref = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["worker", "status"]), models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"drawing set {self.public_id} ({self.status})"


class DrawingItem(models.Model):
    drawing_set = models.ForeignKey(DrawingSet, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    target = models.ForeignKey(FrameAction, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    gold = models.ForeignKey(GoldQuestion, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    image_key = models.CharField(max_length=512)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        ordering = ["drawing_set", "position"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(target__isnull=False, gold__isnull=True)
                | models.Q(target__isnull=True, gold__isnull=False),
                name="drawingitem_target_xor_gold",
            ),
        ]


class DrawingAttempt(models.Model):
    """Every submission of a drawing set, accepted or refused, with what was sent."""

    drawing_set = models.ForeignKey(DrawingSet, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    submission_id = models.UUIDField()
    accepted = models.BooleanField()
    gold_total = models.PositiveSmallIntegerField(default=0)
    gold_missed = models.PositiveSmallIntegerField(default=0)
    payload = models.JSONField()
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["drawing_set", "number"]
        constraints = [
            models.UniqueConstraint(fields=["drawing_set", "submission_id"], name="drawing_attempt_unique_submission"),
            models.UniqueConstraint(fields=["drawing_set", "number"], name="drawing_attempt_unique_number"),
        ]


class Drawing(models.Model):
    """One round of region selection: one worker's boxes (or skip) on one frame-action."""

    target = models.ForeignKey(FrameAction, on_delete=models.CASCADE, related_name="drawn")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="drawings")
    drawing_set = models.ForeignKey(DrawingSet, on_delete=models.CASCADE, related_name="drawings")
    skipped = models.BooleanField(default=False)
    boxes = models.JSONField(default=list)  # [[x0, y0, x1, y1], ...] in frame pixels
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Set when the worker is blocked before the frame-action is decided: not used for consensus.
    excluded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["target", "worker"], name="drawing_once_per_worker")]


class GoldDrawing(models.Model):
    """A worker's boxes on a gold image at one attempt, and how they were graded."""

    gold = models.ForeignKey(GoldQuestion, on_delete=models.CASCADE, related_name="drawings")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="gold_drawings")
    drawing_set = models.ForeignKey(DrawingSet, on_delete=models.CASCADE, related_name="gold_drawings")
    skipped = models.BooleanField(default=False)
    boxes = models.JSONField(default=list)
    correct = models.BooleanField()
    best_iou = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Region(models.Model):
    """A consensus region of a frame-action, cropped and verified by a Yes/No question."""

    class State(models.TextChoices):
        PENDING = "pending"
        VERIFIED = "verified"
        REJECTED = "rejected"

    target = models.ForeignKey(FrameAction, on_delete=models.CASCADE, related_name="regions")
    x0 = models.FloatField()
    y0 = models.FloatField()
    x1 = models.FloatField()
    y1 = models.FloatField()
    support = models.PositiveSmallIntegerField(help_text="Rounds whose boxes agree on this region.")
    min_iou = models.FloatField()
    crop_key = models.CharField(max_length=512, blank=True)
    question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state"])]

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def __str__(self) -> str:
        return f"region {self.pk} of {self.target_id} ({self.state})"
