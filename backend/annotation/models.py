"""The Yes/No engine: questions, hidden gold, sets (one HIT each), attempts and answers.

A question is one (media, action) pair: a video for the labels of Section 3.1, or an image
(a frame or a crop) for the Action Regions pipeline. Gold questions live in their own table and
are mixed into sets at random positions; the client sees only opaque per-set item ids, so
nothing it receives tells them apart.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from backend.crowd.models import Worker
from backend.labels.models import Label
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action


class Prompt(models.TextChoices):
    """What a set asks; also selects the media kind."""

    SEEN_OR_HEARD = "seen_or_heard", "Is the action seen or heard in this video?"
    VISIBLE = "visible", "Is the action visible in this frame?"
    RECOGNISABLE = "recognisable", "Is the action recognisable in this crop?"


# Open and still short of answers once those in flight come in: what a set can take.
AVAILABLE = models.Q(state="open", needed__gt=models.F("answers") + models.F("in_flight"))


class Question(models.Model):
    class State(models.TextChoices):
        OPEN = "open"
        DECIDED = "decided"
        CANCELLED = "cancelled"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="questions")
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="questions")
    prompt = models.CharField(max_length=16, choices=Prompt.choices, default=Prompt.SEEN_OR_HEARD)
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="questions")
    # For image prompts: the storage key of the frame or crop shown instead of the video.
    image_key = models.CharField(max_length=512, blank=True)
    label = models.OneToOneField(Label, null=True, blank=True, on_delete=models.CASCADE, related_name="question")
    # Free reference for other pipelines (e.g. the region task that owns an image question).
    ref = models.CharField(max_length=64, blank=True, db_index=True)
    split = models.CharField(max_length=8, default="train")
    needed = models.PositiveSmallIntegerField()
    max_answers = models.PositiveSmallIntegerField(help_text="Cap for adaptive redundancy.")
    answers = models.PositiveSmallIntegerField(default=0)
    in_flight = models.PositiveSmallIntegerField(default=0)
    yes = models.PositiveSmallIntegerField(default=0)
    no = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    decision = models.CharField(max_length=10, blank=True)  # positive / negative / ambiguous
    confidence = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["dataset", "prompt", "state", "action"]),
            # The queues a set is assembled from: the open questions of a dataset's prompt that still
            # need answers beyond those in flight, of one action or of all, oldest first. Assignment
            # reads them in index order and stops after a set's worth, whatever the pool's size:
            # the rows it passes over are only those this worker was shown (their own history)
            # and those other transactions hold locked this instant.
            models.Index(fields=["dataset", "prompt", "action", "id"], condition=AVAILABLE, name="question_open_by_action"),
            models.Index(fields=["dataset", "prompt", "id"], condition=AVAILABLE, name="question_open_oldest"),
        ]

    def __str__(self) -> str:
        return f"Q{self.pk} {self.action_id}@{self.video_id} {self.state}"


class GoldQuestion(models.Model):
    """A curated, verified pair with known truth (and known boxes for region gold)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="gold")
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="gold")
    prompt = models.CharField(max_length=16, choices=Prompt.choices, default=Prompt.SEEN_OR_HEARD)
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="gold")
    image_key = models.CharField(max_length=512, blank=True)
    truth = models.BooleanField()
    boxes = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "video", "action", "image_key"], name="gold_unique_pair"),
        ]
        indexes = [models.Index(fields=["dataset", "prompt", "action", "active"])]

    def __str__(self) -> str:
        return f"gold {self.action_id}@{self.video_id}={'yes' if self.truth else 'no'}"


class TaskSet(models.Model):
    """One unit of work (a HIT): N questions of one action with hidden gold mixed in."""

    class Status(models.TextChoices):
        OPEN = "open"
        ACCEPTED = "accepted"
        FAILED = "failed"  # refused on gold too many times
        EXPIRED = "expired"
        CANCELLED = "cancelled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="sets")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="sets")
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="+")
    prompt = models.CharField(max_length=16, choices=Prompt.choices, default=Prompt.SEEN_OR_HEARD)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    provider_ref = models.JSONField(default=dict, blank=True)  # e.g. MTurk assignment and HIT ids
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["worker", "status"]),
            models.Index(fields=["status", "expires_at"]),
            # a worker's latest set of a queue (assignment keeps them on its action)
            models.Index(fields=["worker", "dataset", "prompt", "id"], name="taskset_worker_latest"),
        ]

    def __str__(self) -> str:
        return f"set {self.public_id} ({self.status})"


class SetItem(models.Model):
    taskset = models.ForeignKey(TaskSet, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    gold = models.ForeignKey(GoldQuestion, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["taskset", "position"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(question__isnull=False, gold__isnull=True)
                | models.Q(question__isnull=True, gold__isnull=False),
                name="setitem_question_xor_gold",
            ),
        ]


class Attempt(models.Model):
    """Every submission of a set, accepted or refused, with what was sent."""

    taskset = models.ForeignKey(TaskSet, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    submission_id = models.UUIDField()
    accepted = models.BooleanField()
    gold_total = models.PositiveSmallIntegerField(default=0)
    gold_wrong = models.PositiveSmallIntegerField(default=0)
    payload = models.JSONField()
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["taskset", "number"]
        constraints = [
            models.UniqueConstraint(fields=["taskset", "submission_id"], name="attempt_unique_submission"),
            models.UniqueConstraint(fields=["taskset", "number"], name="attempt_unique_number"),
        ]


class Answer(models.Model):
    """One worker's answer to one question; kept forever, never overwritten."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answer_set")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="answers")
    taskset = models.ForeignKey(TaskSet, on_delete=models.CASCADE, related_name="answers")
    value = models.BooleanField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Set when the worker is blocked while the question is still open: not counted in consensus.
    excluded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["question", "worker"], name="answer_once_per_worker"),
        ]


class GoldAnswer(models.Model):
    gold = models.ForeignKey(GoldQuestion, on_delete=models.CASCADE, related_name="answers")
    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="gold_answer_set")
    taskset = models.ForeignKey(TaskSet, on_delete=models.CASCADE, related_name="gold_answers")
    value = models.BooleanField()
    correct = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Shown(models.Model):
    """That a worker has been shown a question; sets never show it to them again."""

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["worker", "question"], name="shown_once")]
