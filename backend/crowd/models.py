"""Crowd workers, whichever provider brought them, and what happened to them."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F


class Worker(models.Model):
    """An annotator. Counters are kept on the row so quality rules run without aggregation."""

    provider = models.CharField(max_length=16)  # "inhouse", "mturk", ...
    external_id = models.CharField(max_length=128)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="worker")
    group = models.CharField(max_length=64, blank=True, help_text="Free label, e.g. a simulator group.")
    answers_count = models.PositiveIntegerField(default=0)
    gold_answers = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    sets_accepted = models.PositiveIntegerField(default=0)
    attempts_refused = models.PositiveIntegerField(default=0)
    # the outcomes of the latest graded submissions (up to 62), newest in the lowest bit, 1 = refused
    recent_refusals = models.BigIntegerField(default=0)
    sets_failed = models.PositiveIntegerField(default=0)
    flagged = models.BooleanField(default=False)
    blocked = models.BooleanField(default=False)
    blocked_reason = models.TextField(blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "external_id"], name="worker_unique_identity"),
        ]
        # the workers pages list the busiest first, a page at a time
        indexes = [models.Index(F("answers_count").desc(), "id", name="worker_busiest")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.external_id}"

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_answers if self.gold_answers else None


class WorkerEvent(models.Model):
    """Flags, blocks and unblocks, with who did it and why; never edited."""

    class Kind(models.TextChoices):
        FLAGGED = "flagged"
        BLOCKED = "blocked"
        UNBLOCKED = "unblocked"

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class WorkerLink(models.Model):
    """An invitation: a signed annotator link made from the dashboard, with a label saying whom it
    was for, an expiry, and a revocation that refuses it at once (``crowd.links``)."""

    worker = models.ForeignKey(Worker, on_delete=models.CASCADE, related_name="links")
    dataset = models.ForeignKey("videos.Dataset", on_delete=models.CASCADE, related_name="worker_links")
    label = models.CharField(max_length=128, help_text="Whom the link was for, e.g. a name or a team.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"link {self.pk} for {self.label} ({self.dataset_id})"
