"""Model runs: a training configuration applied to one release, with its metrics and artifacts."""
from __future__ import annotations

from django.db import models

from backend.releases.models import Release
from backend.videos.models import Dataset


class ModelRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="model_runs")
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="model_runs")
    config = models.JSONField(help_text="Options of `python -m ml.train` (model, loss, epochs, ...).")
    config_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)  # {"epochs": [...], "eval": {...}}
    artifacts = models.JSONField(default=dict, blank=True)  # file name -> storage key
    attempts = models.PositiveIntegerField(default=0)
    predictions_ingested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # one run per release and configuration: a retried schedule never trains twice
            models.UniqueConstraint(fields=["release", "config_hash"], name="run_unique_release_config"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.config.get('model')}/{self.config.get('loss')}) on {self.release}"
