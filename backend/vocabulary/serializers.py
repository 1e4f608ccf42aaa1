from rest_framework import serializers

from backend.vocabulary.models import Action, VocabularyEvent


class ActionSerializer(serializers.ModelSerializer):
    merged_into = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Action
        fields = ["id", "name", "display_name", "definition", "definition_generated", "synonyms", "synsets",
                  "synsets_curated", "status", "merged_into", "created_at", "updated_at"]
        extra_kwargs = {"definition_generated": {
            "help_text": "The definition was written from the WordNet glosses of the synsets, not by a curator."}}


class ActionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    definition = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    synonyms = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list,
                                     max_length=50)
    synsets = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list,
                                    max_length=50, help_text="WordNet verb synset ids; without a definition, the "
                                                             "definition is written from their glosses.")


class ActionUpdateSerializer(serializers.Serializer):
    definition = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    synonyms = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)
    synsets = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=50)


class RenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class MergeSerializer(serializers.Serializer):
    into = serializers.IntegerField(help_text="Id of the action to merge into.")


class RemoveSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class MigrateSerializer(serializers.Serializer):
    names = serializers.ListField(child=serializers.CharField(max_length=100), min_length=1, max_length=10000)
    merges = serializers.DictField(child=serializers.CharField(max_length=100), required=False, default=dict)
    dry_run = serializers.BooleanField(default=True)


class MigrateReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    combined = serializers.ListField(child=serializers.DictField())
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    kept = serializers.ListField(child=serializers.CharField())


class VocabularyEventSerializer(serializers.ModelSerializer):
    action = serializers.SlugRelatedField(slug_field="name", read_only=True)
    target = serializers.SlugRelatedField(slug_field="name", read_only=True)
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = VocabularyEvent
        fields = ["id", "kind", "action", "target", "details", "actor", "created_at"]
