"""Background jobs with progress, shared by every app that starts long work."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Job(models.Model):
    """A unit of long-running work (an import, a candidate round, an export, a training run).

    The Celery task that does the work updates ``done``/``total`` as it goes, so the dashboard
    shows live progress from the database rather than from a task result backend.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


class Summary(models.Model):
    """The stored result of a summary (``backend/common/summaries.py``): counts a page shows,
    recounted by a job once counting them live would keep the page waiting."""

    key = models.CharField(max_length=128, primary_key=True)  # "<kind>:<dataset id>"
    data = models.JSONField(default=dict)
    rows = models.BigIntegerField(default=0, help_text="Rows the count read: its cost.")
    seconds = models.FloatField(default=0, help_text="How long the count took.")
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "summaries"

    def __str__(self) -> str:
        return f"{self.key} ({self.rows} rows, {self.computed_at:%Y-%m-%d %H:%M:%S})"
