from django.contrib import admin

from backend.vocabulary.models import Action, VocabularyEvent


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "dataset", "status", "merged_into", "synsets_curated",
                    "definition_generated", "updated_at"]
    list_filter = ["dataset", "status", "synsets_curated", "definition_generated"]
    search_fields = ["name", "display_name", "definition"]
    list_select_related = ["dataset", "merged_into"]
    # Status changes go through the services (merge/remove keep labels and history consistent).
    readonly_fields = ["status", "merged_into", "definition_generated", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        # A definition typed here is the curator's: a refill from WordNet must leave it alone.
        if "definition" in form.changed_data:
            obj.definition_generated = False
        super().save_model(request, obj, form, change)


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
