"""The per-(video, action) record: where a pair came from and what the crowd decided."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from backend.common.models import Job
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action


class Label(models.Model):
    """One (video, action) pair: an initial label, a candidate, a curator's question, or a label
    imported as already verified (a trusted manifest: source ``import``, state positive, no question).

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
        # A manifest's label taken as verified (``import_videos --trust-labels``): a positive from
        # the start, never asked; where it came from is its ``imported_from`` (LabelImport).
        IMPORT = "import"

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
    # For `import` labels: the trusted import that recorded them (file, time, who). Like
    # `relation`, neither indexed nor a database constraint, so a million-row import writes fast.
    imported_from = models.ForeignKey(
        "LabelImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="labels",
        db_index=False, db_constraint=False,
    )
    round = models.PositiveIntegerField(default=0)
    score = models.FloatField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    yes_count = models.PositiveIntegerField(default=0)
    no_count = models.PositiveIntegerField(default=0)
    confidence = models.FloatField(null=True, blank=True)
    # A curator's verdict (see LabelCorrection): pinned like gold, so consensus and re-aggregation
    # leave it alone until a curator asks the crowd again.
    corrected = models.BooleanField(default=False)
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
            # The disagreement queue: the least confident verdicts first.
            models.Index(fields=["dataset", "confidence", "id"], name="label_by_confidence"),
            # The browser's "split vote" filter: only labels the crowd disagreed on are in it.
            models.Index(fields=["dataset", "id"], name="label_split_votes",
                         condition=models.Q(yes_count__gt=0, no_count__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.video_id}:{self.action_id} {self.state}"


class LabelImport(models.Model):
    """The provenance of the labels one trusted import recorded as verified: which manifest, when,
    who imported it and how (the command line, the API or the admin, and the job if any).

    One row per trusted import run; each label it recorded points at it (``Label.imported_from``).
    """

    class Via(models.TextChoices):
        COMMAND = "command"
        API = "api"
        ADMIN = "admin"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="label_imports")
    manifest = models.CharField(max_length=2048)  # the source as given to the import
    imported_at = models.DateTimeField(default=timezone.now)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # The user's name as it was (kept when the user goes), or the system login on the command line.
    imported_by_name = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=8, choices=Via.choices, default=Via.COMMAND)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    labels_added = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.manifest} ({self.imported_at:%Y-%m-%d %H:%M}, {self.imported_by_name or 'unknown'})"


class LabelCorrection(models.Model):
    """A curator's correction of a label, kept forever: a verdict (positive or negative, which pins
    the label) or a request for more crowd answers (which reopens its question and un-pins it).

    The answers themselves are never touched; this row says who changed what, when and why.
    """

    class Kind(models.TextChoices):
        VERDICT = "verdict"
        MORE_ANSWERS = "more_answers"

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="corrections")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    state_before = models.CharField(max_length=10, choices=Label.State.choices)
    state_after = models.CharField(max_length=10, choices=Label.State.choices)
    more_answers = models.PositiveSmallIntegerField(null=True, blank=True)  # for kind more_answers
    reason = models.TextField()
    corrected_at = models.DateTimeField(default=timezone.now)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # The user's name as it was (kept when the user goes).
    corrected_by_name = models.CharField(max_length=150, blank=True)
    # One id per request, shared by every row a bulk correction wrote.
    batch = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["label", "id"], name="correction_by_label")]

    def __str__(self) -> str:
        change = (f"asked {self.more_answers} more" if self.kind == self.Kind.MORE_ANSWERS
                  else f"{self.state_before} -> {self.state_after}")
        return f"label {self.label_id}: {change} ({self.corrected_by_name or 'unknown'})"
