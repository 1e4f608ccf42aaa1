"""The per-(video, action) record: where a pair came from and what the crowd decided."""
from __future__ import annotations

from django.db import models

from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action


class Label(models.Model):
    """One (video, action) pair: an initial label, a candidate, or a curator's question.

    Every pair is asked at most once per video (the unique constraint), which is what keeps
    candidate generation from proposing a pair twice. The answers themselves live in the
    annotation app; this row carries the current decision and its vote counts.
    """

    class State(models.TextChoices):
        PENDING = "pending"  # not yet decided
        POSITIVE = "positive"
        NEGATIVE = "negative"
        AMBIGUOUS = "ambiguous"
        MERGED = "merged"  # superseded by another label after a vocabulary merge

    class Source(models.TextChoices):
        INITIAL = "initial"
        CURATOR = "curator"
        WORDNET = "wordnet"
        WORD2VEC = "word2vec"
        MODEL = "model"

    # Denormalised from video so that per-dataset scans over millions of rows need no join.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="labels")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="labels")
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="labels")
    # The action as it was asked; `action` moves when classes are merged, this never does.
    asked_action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=16, choices=Source.choices)
    # For candidates: the relation `source: a -> b` that proposed the pair (None for the model
    # source and for initial/curator labels). Neither indexed nor a database constraint: it is
    # read by whole-dataset aggregates only, only candidate rounds write it (from the relations
    # they just read), and relations go only with their dataset; each index and each per-row
    # foreign-key check left out keeps million-row rounds faster to write.
    relation = models.ForeignKey(
        "candidates.Relation", null=True, blank=True, on_delete=models.SET_NULL, related_name="labels",
        db_index=False, db_constraint=False,
    )
    round = models.PositiveIntegerField(default=0)
    score = models.FloatField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    yes_count = models.PositiveIntegerField(default=0)
    no_count = models.PositiveIntegerField(default=0)
    confidence = models.FloatField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["video", "action"], name="label_unique_pair"),
        ]
        # The label browser's filters, each in id order (its keyset pages walk them from an id).
        indexes = [
            models.Index(fields=["dataset", "state", "id"], name="label_by_state"),
            models.Index(fields=["action", "state", "id"], name="label_by_action"),
            models.Index(fields=["dataset", "source", "id"], name="label_by_source"),
        ]

    def __str__(self) -> str:
        return f"{self.video_id}:{self.action_id} {self.state}"
