from django.contrib import admin

from backend.labels.models import Label, LabelImport


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["video", "action", "source", "round", "state", "yes_count", "no_count", "confidence"]
    list_filter = ["dataset", "state", "source", "round"]
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
