from django.contrib import admin

from backend.labels.models import Label, LabelCorrection, LabelImport


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["video", "action", "source", "round", "state", "yes_count", "no_count", "confidence", "corrected"]
    list_filter = ["dataset", "state", "source", "round", "corrected"]
    search_fields = ["video__name", "action__name"]
    list_select_related = ["video", "action"]
    raw_id_fields = ["video", "action", "asked_action", "merged_into", "imported_from"]


@admin.register(LabelImport)
class LabelImportAdmin(admin.ModelAdmin):
    """Provenance of trusted imports: read only (written by the import itself)."""

    list_display = ["manifest", "dataset", "imported_at", "imported_by_name", "via", "labels_added", "job"]
    list_filter = ["dataset", "via"]
    search_fields = ["manifest", "imported_by_name"]
    readonly_fields = ["dataset", "manifest", "imported_at", "imported_by", "imported_by_name", "via", "job",
                       "labels_added"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(LabelCorrection)
class LabelCorrectionAdmin(admin.ModelAdmin):
    """Curators' corrections: read only (written by the label browser and the API, with the label)."""

    list_display = ["label", "kind", "state_before", "state_after", "more_answers", "corrected_by_name",
                    "corrected_at"]
    list_filter = ["kind", "label__dataset"]
    list_select_related = ["label"]
    search_fields = ["reason", "corrected_by_name", "label__video__name"]
    readonly_fields = ["label", "kind", "state_before", "state_after", "more_answers", "reason", "corrected_at",
                       "corrected_by", "corrected_by_name", "batch"]

    def has_add_permission(self, request) -> bool:
        return False
