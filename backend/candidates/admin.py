from django.contrib import admin

from backend.candidates.models import CandidateRound, CandidateSource, PredictionSet, Relation


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
    list_display = ["dataset", "source", "status", "distance", "stop_reason"]
    list_filter = ["dataset", "source", "status"]


@admin.register(PredictionSet)
class PredictionSetAdmin(admin.ModelAdmin):
    list_display = ["dataset", "path", "rows", "videos", "created_at"]
    list_filter = ["dataset"]
