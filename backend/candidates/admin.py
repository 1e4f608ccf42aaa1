from django.contrib import admin

from backend.candidates.models import CandidateRound, CandidateSource, ModelProposal, PredictionSet, Relation


@admin.register(Relation)
class RelationAdmin(admin.ModelAdmin):
    list_display = ["source", "from_action", "to_action", "score", "state", "started_round", "asked", "harvest"]
    list_filter = ["dataset", "source", "state"]
    search_fields = ["from_action__name", "to_action__name"]
    list_select_related = ["from_action", "to_action"]
    raw_id_fields = ["from_action", "to_action"]


@admin.register(CandidateRound)
class CandidateRoundAdmin(admin.ModelAdmin):
    list_display = ["dataset", "number", "status", "proposed", "created_at", "finished_at"]
    list_filter = ["dataset", "status"]
    readonly_fields = ["stats", "policy"]


@admin.register(CandidateSource)
class CandidateSourceAdmin(admin.ModelAdmin):
    # top_k: the model source's proposals per video per model run (the dataset's setting).
    list_display = ["dataset", "source", "status", "distance", "top_k", "stop_reason"]
    list_filter = ["dataset", "source", "status"]


@admin.register(PredictionSet)
class PredictionSetAdmin(admin.ModelAdmin):
    list_display = ["id", "dataset", "path", "model_run_id", "rows", "videos", "created_at"]
    list_filter = ["dataset"]


@admin.register(ModelProposal)
class ModelProposalAdmin(admin.ModelAdmin):
    """The model source's candidates with the rank and run that proposed them (read-only: rounds write them)."""

    list_display = ["label", "video", "action", "round", "state", "rank", "prediction_set"]
    list_filter = ["prediction_set__dataset", "rank", "label__round", "label__state"]
    list_select_related = ["label__action", "video", "prediction_set"]
    raw_id_fields = ["label", "video", "prediction_set"]
    search_fields = ["video__name", "label__action__name"]

    @admin.display(ordering="label__action__name")
    def action(self, obj: ModelProposal) -> str:
        return obj.label.action.name

    @admin.display(ordering="label__round")
    def round(self, obj: ModelProposal) -> int:
        return obj.label.round

    @admin.display(ordering="label__state")
    def state(self, obj: ModelProposal) -> str:
        return obj.label.state

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
