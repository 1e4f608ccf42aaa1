"""Datasets and their videos."""
from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

DATASET_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
DATASET_NAME_HELP = "Letters, digits, '-', '_' and '.', starting with a letter or digit."


class Split(models.TextChoices):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class Dataset(models.Model):
    """A collection of videos with its own vocabulary and annotation policy."""

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(DATASET_NAME_RE, DATASET_NAME_HELP)],
        help_text=DATASET_NAME_HELP,
    )
    description = models.TextField(blank=True)
    # Redundancy of Section 3.1: answers needed before a pair becomes a label.
    train_answers = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    eval_answers = models.PositiveSmallIntegerField(default=5, validators=[MinValueValidator(1)])
    set_size = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(2), MaxValueValidator(200)]
    )
    gold_ratio = models.FloatField(
        default=0.1, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)]
    )
    max_attempts = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    set_timeout_minutes = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    # New workers see more gold in their first sets, so spammers are caught before they have
    # answered much; afterwards the paper's 10%.
    probation_sets = models.PositiveSmallIntegerField(default=3)
    probation_gold_ratio = models.FloatField(
        default=0.3, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)]
    )
    aggregator = models.CharField(
        max_length=16, choices=[("majority", "Majority vote"), ("dawid_skene", "Dawid-Skene EM")],
        default="majority",
    )
    adaptive = models.BooleanField(
        default=False, help_text="Stop early when confident, ask more where workers disagree."
    )
    max_answers = models.PositiveSmallIntegerField(
        default=9, validators=[MinValueValidator(1)], help_text="Per-question cap for adaptive redundancy."
    )
    budget = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def answers_needed(self, split: str) -> int:
        """The paper's fixed redundancy: 3 answers for train, 5 for val/test (configurable)."""
        return self.train_answers if split == Split.TRAIN else self.eval_answers

    def initial_answers(self, split: str) -> int:
        """Answers a new question asks for; adaptive redundancy starts lower and asks more
        only where workers disagree (up to `max_answers`)."""
        fixed = self.answers_needed(split)
        return min(fixed, 2 if split == Split.TRAIN else 3) if self.adaptive else fixed


class Video(models.Model):
    """One clip. Unreadable files are kept as quarantined rows with the reason."""

    class Status(models.TextChoices):
        OK = "ok"
        QUARANTINED = "quarantined"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="videos")
    # Where the file was imported from (absolute path or s3:// URI); a re-import of the same
    # source is a no-op.
    source = models.CharField(max_length=1024)
    name = models.CharField(max_length=255, db_index=True)
    storage_key = models.CharField(max_length=512, blank=True)
    checksum = models.CharField(max_length=64, blank=True, db_index=True)
    size_bytes = models.BigIntegerField(default=0)
    duration = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    has_audio = models.BooleanField(default=False)
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.TRAIN)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    quarantine_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "source"], name="video_unique_source"),
        ]
        # The video search's index, ``video_name_prefix`` (dataset, name without case), is made by
        # migration 0005 in each database's own terms; the ORM cannot express it for both.
        indexes = [models.Index(fields=["dataset", "status", "split"])]

    def __str__(self) -> str:
        return self.name


class ImportChunk(models.Model):
    """Rows ``[low, high)`` of an import job's source (a manifest's data rows, or a folder's or S3
    prefix's sorted files), imported by one Celery task.

    Chunks are independent, so several workers share a job. A replayed task finds its chunk done
    and does nothing; a task killed mid-chunk is redelivered and re-runs it, and the import's
    dedup by source and checksum keeps every video once. Whoever finishes the last chunk finishes
    the job; ``report`` holds the chunk's counts (``ImportReport``) for the job's result.
    """

    job = models.ForeignKey("common.Job", on_delete=models.CASCADE, related_name="import_chunks")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="import_chunks")
    low = models.BigIntegerField()
    high = models.BigIntegerField()
    done = models.BooleanField(default=False)
    report = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "low"]
        constraints = [
            models.UniqueConstraint(fields=["job", "low"], name="import_chunk_unique_low"),
        ]

    def __str__(self) -> str:
        return f"rows [{self.low}, {self.high}) of import {self.job_id}"


class DatasetRole(models.Model):
    """What one staff user may do in one dataset (superusers are curators of every dataset).

    viewer reads everything; reviewer also settles the review queue and corrects labels; curator
    does everything, spend, campaigns and MTurk included, and manages the dataset's team."""

    class Role(models.TextChoices):
        VIEWER = "viewer"
        REVIEWER = "reviewer"
        CURATOR = "curator"

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="dataset_roles")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=16, choices=Role.choices)
    granted_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dataset"], name="dataset_role_unique_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is a {self.role} of {self.dataset}"
