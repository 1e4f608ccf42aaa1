from django.contrib import admin

from backend.labels.models import Label


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["video", "action", "source", "round", "state", "yes_count", "no_count", "confidence"]
    list_filter = ["dataset", "state", "source", "round"]
    search_fields = ["video__name", "action__name"]
    list_select_related = ["video", "action"]
    raw_id_fields = ["video", "action", "asked_action", "merged_into"]
