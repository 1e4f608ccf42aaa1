"""API shapes of candidate generation (the staff dashboard reads these)."""
from __future__ import annotations

from rest_framework import serializers

from backend.candidates.models import (
    TOP_K_MAX,
    CandidateRound,
    CandidateSource,
    ModelProposal,
    PredictionSet,
    Relation,
    Source,
)


class HarvestSerializer(serializers.Serializer):
    asked = serializers.IntegerField()
    decided = serializers.IntegerField()
    yes = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class RoundStartSerializer(serializers.Serializer):
    """What a curator may choose when starting a round; everything else comes from settings."""

    sources = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text=f"Some of {', '.join(Source.values)} (default: all).",
    )
    harvest_threshold = serializers.FloatField(required=False, help_text="Stop below this share of Yes (0-1).")
    word2vec_threshold = serializers.FloatField(required=False, help_text="Cosine similarity (-1 to 1).")
    pilot_size = serializers.IntegerField(required=False)
    per_video_cap = serializers.IntegerField(required=False)


class RoundSerializer(serializers.ModelSerializer):
    """A round with the harvest of its proposals so far, per source (``context["harvest"]``)."""

    # Plain strings in the schema: other apps' `status` enums already take the generated names.
    status = serializers.CharField(read_only=True, help_text="planned or finished")
    job = serializers.UUIDField(source="job_id", read_only=True, allow_null=True)
    harvest = serializers.SerializerMethodField()

    class Meta:
        model = CandidateRound
        fields = ["number", "status", "sources", "policy", "proposed", "stats", "harvest", "job", "created_at",
                  "finished_at"]

    def get_harvest(self, obj: CandidateRound) -> dict[str, dict]:
        return self.context.get("harvest", {}).get(obj.number, {})


class RelationSerializer(serializers.ModelSerializer):
    source = serializers.CharField(read_only=True, help_text="wordnet or word2vec")
    state = serializers.CharField(read_only=True, help_text="pilot, active or stopped")
    from_action = serializers.CharField(source="from_action.name")
    to_action = serializers.CharField(source="to_action.name")
    harvest = serializers.SerializerMethodField(help_text="Over every decided proposal of the relation, live.")

    class Meta:
        model = Relation
        fields = ["id", "source", "from_action", "to_action", "score", "state", "stop_reason", "started_round",
                  "rolled_out_round", "stopped_round", "harvest"]

    def get_harvest(self, obj: Relation) -> dict:
        empty = {"asked": 0, "decided": 0, "yes": 0, "rate": None}
        return self.context.get("harvest", {}).get(obj.id, empty)


class RoundDetailSerializer(RoundSerializer):
    """A round and the relations that proposed in it, each with its harvest in that round."""

    relations = serializers.SerializerMethodField()

    class Meta(RoundSerializer.Meta):
        fields = [*RoundSerializer.Meta.fields, "relations"]

    def get_relations(self, obj: CandidateRound) -> list[dict]:
        relations = self.context.get("relations", [])
        context = {"harvest": self.context.get("relation_harvest", {})}
        return RelationSerializer(relations, many=True, context=context).data


class SourceSerializer(serializers.ModelSerializer):
    source = serializers.CharField(read_only=True, help_text="wordnet, word2vec or model")
    status = serializers.CharField(read_only=True, help_text="active or stopped")
    harvest = serializers.SerializerMethodField()

    top_k = serializers.IntegerField(
        read_only=True, help_text="Model source: proposals per video per model run (1 = the paper's top-1).")

    class Meta:
        model = CandidateSource
        fields = ["source", "status", "stop_reason", "stopped_round", "distance", "top_k", "harvest"]

    def get_harvest(self, obj: CandidateSource) -> dict:
        return self.context.get("harvest", {}).get(obj.source, {})


class PredictionsIngestSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="A predictions CSV of `python -m ml.predict`, under an import root.")


class SourceSettingsSerializer(serializers.Serializer):
    """What a curator may change of a source (PATCH): the model source's k."""

    top_k = serializers.IntegerField(
        min_value=1, max_value=TOP_K_MAX,
        help_text="Model source only: proposals per video per model run (default 1, the paper's top-1).",
    )


class PredictionSetSerializer(serializers.ModelSerializer):
    """An ingested predictions file: a model run as the model source sees it (its id is the run
    that model proposals record)."""

    model_run_id = serializers.IntegerField(read_only=True, allow_null=True,
                                            help_text="The training run that wrote it, if scheduled retraining did.")

    class Meta:
        model = PredictionSet
        fields = ["id", "path", "rows", "videos", "model_run_id", "created_at"]


class ModelProposalSerializer(serializers.ModelSerializer):
    """A candidate of the model source with the rank and run that proposed it."""

    label = serializers.IntegerField(source="label_id", read_only=True)
    video = serializers.CharField(source="video.name", read_only=True)
    action = serializers.CharField(source="label.action.name", read_only=True)
    round = serializers.IntegerField(source="label.round", read_only=True)
    state = serializers.CharField(source="label.state", read_only=True, help_text="The label's decision so far.")
    score = serializers.FloatField(source="label.score", read_only=True, allow_null=True)
    rank = serializers.IntegerField(read_only=True, help_text="1 = the model's best prediction for the video.")
    run = serializers.IntegerField(source="prediction_set_id", read_only=True,
                                   help_text="The predictions (model run) that proposed it: /candidates/predictions/.")
    model_run_id = serializers.IntegerField(source="prediction_set.model_run_id", read_only=True, allow_null=True)

    class Meta:
        model = ModelProposal
        fields = ["label", "video", "action", "round", "state", "score", "rank", "run", "model_run_id"]
