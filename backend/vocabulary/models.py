"""The action vocabulary of a dataset, with an audit trail of every change."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from backend.videos.models import Dataset


class Action(models.Model):
    """One action class. Merged and removed actions are archived, never deleted."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        MERGED = "merged"
        REMOVED = "removed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="actions")
    # The identifier as written in vocabulary files: `running`, `ascending/rising`, `ice+skating`.
    name = models.CharField(max_length=100)
    display_name = models.CharField(max_length=200)
    definition = models.TextField(blank=True, help_text="Short definition shown to annotators.")
    # The definition was written by the platform from WordNet glosses, not by a curator: a refill
    # may replace it, a curator's edit clears the flag and is never overwritten.
    definition_generated = models.BooleanField(default=False)
    synonyms = models.JSONField(default=list, blank=True)
    synsets = models.JSONField(default=list, blank=True, help_text="WordNet verb synset ids.")
    synsets_curated = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="action_unique_name"),
        ]
        indexes = [models.Index(fields=["dataset", "status"])]

    def __str__(self) -> str:
        return self.name


class VocabularyEvent(models.Model):
    """Audit trail: who changed the vocabulary, how, and what moved."""

    class Kind(models.TextChoices):
        ADD = "add"
        RENAME = "rename"
        MERGE = "merge"
        REMOVE = "remove"
        RESTORE = "restore"
        LOAD = "load"
        MIGRATE = "migrate"
        EDIT = "edit"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="vocabulary_events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    action = models.ForeignKey(
        Action, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    target = models.ForeignKey(
        Action, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.details}"
