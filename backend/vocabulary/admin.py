from django.contrib import admin

from backend.vocabulary.models import Action, VocabularyEvent


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "dataset", "status", "merged_into", "synsets_curated", "updated_at"]
    list_filter = ["dataset", "status", "synsets_curated"]
    search_fields = ["name", "display_name", "definition"]
    list_select_related = ["dataset", "merged_into"]
    # Status changes go through the services (merge/remove keep labels and history consistent).
    readonly_fields = ["status", "merged_into", "created_at", "updated_at"]


@admin.register(VocabularyEvent)
class VocabularyEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "dataset", "kind", "action", "target", "actor"]
    list_filter = ["dataset", "kind"]
    search_fields = ["action__name", "target__name"]
    list_select_related = ["dataset", "action", "target", "actor"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
