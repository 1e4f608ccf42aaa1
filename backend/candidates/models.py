"""Candidate generation state: sources, relations `source: a -> b`, rounds and model predictions.

Section 3.1.1 of the Multi-Moments in Time paper: the platform proposes (video, action) pairs
along relations between actions ("videos verified with `a` get asked about `b`"), asks the
crowd, and keeps a relation or a source going while its harvest rate (share of Yes
consensus) stays above a threshold. The proposals themselves are `labels.Label` rows that
carry their source, relation, round and score; the harvest is always computed from those
labels' decisions, never stored as the truth here.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from backend.common.models import Job
from backend.labels.models import Label
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action


class Source(models.TextChoices):
    """The automatic candidate sources (values shared with `Label.Source`)."""

    WORDNET = "wordnet", "WordNet"
    WORD2VEC = "word2vec", "Word2Vec"
    MODEL = "model", "Model top-1"


# The model source's proposals per video per model run: 1 by default, at most this many.
TOP_K_MAX = 20
TOP_K_MODEL_ONLY = "Only the model source proposes k predictions per video; the others keep 1."


class CandidateSource(models.Model):
    """One source's state in one dataset: running or stopped (and why), WordNet's distance d."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        STOPPED = "stopped"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="candidate_sources")
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    stop_reason = models.TextField(blank=True)
    stopped_round = models.PositiveIntegerField(null=True, blank=True)
    # The node distance d of the paper: WordNet relations up to d are in play; it grows by one
    # each round whose WordNet harvest stays above the threshold. Unused by other sources.
    distance = models.PositiveSmallIntegerField(default=0)
    # The round that first proposed at `distance`: only rounds from then on judge it.
    distance_round = models.PositiveIntegerField(null=True, blank=True)
    # The model source's k: proposals per video per model run (its k best-ranked predictions not
    # yet labelled or asked, once per run). The paper's 1 -- lower ranks dropped the harvest.
    # A per-dataset setting (admin, the sources API, the dashboard); unused by other sources.
    top_k = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(TOP_K_MAX)],
        help_text="Model source only: proposals per video per model run (1 = the paper's top-1).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset", "source"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "source"], name="candidate_source_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.source} {self.status}"

    def clean(self) -> None:
        super().clean()
        if self.source != Source.MODEL and self.top_k != 1:
            raise ValidationError({"top_k": TOP_K_MODEL_ONLY})


class Relation(models.Model):
    """`source: from_action -> to_action`: videos verified with the first are asked about the second.

    A relation is piloted on a small sample of videos first; its pilot harvest decides whether
    it is rolled out to every video verified with `from_action` or stopped. The counters are a
    snapshot refreshed at the start of every round (the labels are the truth).
    """

    class State(models.TextChoices):
        PILOT = "pilot"
        ACTIVE = "active"
        STOPPED = "stopped"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="relations")
    source = models.CharField(max_length=16, choices=Source.choices)
    from_action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="relations_out")
    to_action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="relations_in")
    # WordNet: the node distance between the actions' synsets; Word2Vec: the cosine similarity.
    score = models.FloatField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PILOT)
    stop_reason = models.TextField(blank=True)
    started_round = models.PositiveIntegerField()
    # Set when a round found fewer eligible videos than the pilot still needed: its sample is
    # then complete with fewer than `pilot_size` videos, and can be judged as it is.
    pilot_exhausted = models.BooleanField(default=False)
    rolled_out_round = models.PositiveIntegerField(null=True, blank=True)
    stopped_round = models.PositiveIntegerField(null=True, blank=True)
    asked = models.PositiveIntegerField(default=0)
    decided = models.PositiveIntegerField(default=0)
    yes = models.PositiveIntegerField(default=0)
    # yes / decided over every decided label of the relation; None until one is decided.
    harvest = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "source", "from_action", "to_action"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "source", "from_action", "to_action"], name="relation_unique_pair"
            ),
        ]
        indexes = [models.Index(fields=["dataset", "state", "source"])]

    def __str__(self) -> str:
        return f"{self.source}: {self.from_action_id} -> {self.to_action_id} ({self.state})"


class CandidateRound(models.Model):
    """One round of candidate generation in a dataset.

    A round is planned (relations judged and discovered, pilots proposed, its chunks listed)
    in one transaction, then rolled out chunk by chunk, each chunk one transaction that also
    marks it done; a crash leaves whole chunks, and a re-run does the chunks not done.
    """

    class Status(models.TextChoices):
        PLANNED = "planned"
        FINISHED = "finished"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="candidate_rounds")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PLANNED)
    sources = models.JSONField(default=list)
    # The policy the round ran with (threshold, pilot size, cap, ...), for the record.
    policy = models.JSONField(default=dict)
    # Per-source and per-state figures written by the round itself (what it judged and proposed);
    # the harvest of its proposals is computed live from the labels by the selectors.
    stats = models.JSONField(default=dict)
    proposed = models.PositiveIntegerField(default=0)
    # Relation id -> [draw, video] where its pilot sample ends (see `selection.pilot_cutoffs`):
    # drawn once when the round is planned, applied by every chunk to its own videos.
    pilot_cutoffs = models.JSONField(default=dict)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="candidate_round_unique_number"),
            # Rounds build on each other's labels: at most one can be in progress per dataset.
            models.UniqueConstraint(
                fields=["dataset"], condition=models.Q(status="planned"), name="candidate_round_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"round {self.number} of {self.dataset_id} ({self.status})"


class RoundChunk(models.Model):
    """A range of video ids [low, high) that a round rolls out to in one transaction.

    Chunks are independent (the per-video cap never crosses videos), so several workers
    can take them at once; a worker claims one by locking its row (SKIP LOCKED).
    """

    candidate_round = models.ForeignKey(CandidateRound, on_delete=models.CASCADE, related_name="chunks")
    low = models.BigIntegerField()
    high = models.BigIntegerField()
    done = models.BooleanField(default=False)
    proposed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["candidate_round", "low"]
        constraints = [
            models.UniqueConstraint(fields=["candidate_round", "low"], name="round_chunk_unique_low"),
        ]

    def __str__(self) -> str:
        return f"chunk [{self.low}, {self.high}) of round {self.candidate_round_id}"


class PredictionSet(models.Model):
    """A predictions file of the `ml` package, ingested: one model run as the model source sees it.

    The newest set of a dataset feeds the model source (its rows replace the older sets'); every
    model proposal records the set that made it (``ModelProposal``).
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="prediction_sets")
    path = models.CharField(max_length=1024)
    # The training app's `ModelRun` whose predictions these are, when scheduled retraining
    # ingested them (a plain id: the training app is a sibling, not a floor below); None for a
    # file ingested by hand.
    model_run_id = models.PositiveIntegerField(null=True, blank=True)
    rows = models.PositiveIntegerField(default=0)
    videos = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"predictions {self.path} ({self.videos} videos)"


class Prediction(models.Model):
    """One ranked prediction of a model for a video (rank 1 is the model's top-1)."""

    prediction_set = models.ForeignKey(PredictionSet, on_delete=models.CASCADE, related_name="predictions")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="+", db_index=False)
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="+", db_index=False)
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()

    class Meta:
        ordering = ["prediction_set", "video", "rank"]
        constraints = [
            # Also the index rounds read through: a set's predictions of a range of videos, by rank.
            models.UniqueConstraint(fields=["prediction_set", "video", "rank"], name="prediction_unique_rank"),
        ]


class ModelProposal(models.Model):
    """What the model source knew when it proposed a candidate: the run and the prediction's rank.

    One row per candidate label of the model source. A model run (``PredictionSet``) proposes
    to a video at most ``CandidateSource.top_k`` times in all (1: its top-1 not yet labelled or
    asked, and only once -- later rounds with the same run propose nothing more for the video,
    so ranks do not walk down round after round); a newer run may propose to it again.

    Written by the rounds' set-based INSERT ... SELECT next to the labels. Like
    ``Label.relation``, the keys have no database constraint (each per-row check left out keeps
    million-row rounds faster to write); the ORM still cascades when a label is deleted.
    """

    label = models.OneToOneField(
        Label, primary_key=True, on_delete=models.CASCADE, related_name="model_proposal", db_constraint=False,
    )
    prediction_set = models.ForeignKey(
        PredictionSet, on_delete=models.CASCADE, related_name="proposals", db_index=False, db_constraint=False,
    )
    # Denormalised from the label: a chunk reads "videos of [low, high) this run proposed to".
    # DO_NOTHING: the row goes with its label, which goes with the video (no scan by video here).
    video = models.ForeignKey(Video, on_delete=models.DO_NOTHING, related_name="+", db_index=False,
                              db_constraint=False)
    rank = models.PositiveSmallIntegerField(help_text="The prediction's rank in its run (1 = the model's best).")

    class Meta:
        ordering = ["label"]
        indexes = [models.Index(fields=["prediction_set", "video"], name="model_proposal_by_run")]

    def __str__(self) -> str:
        return f"label {self.label_id}: rank {self.rank} of predictions {self.prediction_set_id}"
