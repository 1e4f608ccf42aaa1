"""Dataset releases (reproducible snapshots) and the model runs trained on them."""
from __future__ import annotations

from django.db import models

from backend.common.models import Job
from backend.videos.models import Dataset


class Release(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="releases")
    version = models.PositiveIntegerField()
    path = models.CharField(max_length=1024, help_text="Directory the release was written to.")
    content_hash = models.CharField(max_length=64, help_text="SHA-256 over the manifest's file checksums.")
    stats = models.JSONField(default=dict)
    manifest = models.JSONField(default=dict)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "-version"]
        constraints = [models.UniqueConstraint(fields=["dataset", "version"], name="release_unique_version")]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.version}"
