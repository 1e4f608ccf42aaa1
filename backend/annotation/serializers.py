from rest_framework import serializers


class AnswerSerializer(serializers.Serializer):
    item = serializers.UUIDField()
    answer = serializers.BooleanField()
    ms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=3_600_000)


class SubmitSerializer(serializers.Serializer):
    submission_id = serializers.UUIDField(help_text="A new UUID per click; retries of one click reuse it.")
    answers = serializers.ListField(child=AnswerSerializer(), max_length=500, allow_empty=False)


class ItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    media_url = serializers.CharField()
    media_type = serializers.ChoiceField(choices=["video", "image"])


class ActionInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField()
    definition = serializers.CharField()


class TaskSetSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    dataset = serializers.CharField()
    prompt = serializers.CharField()
    question = serializers.CharField()
    action = ActionInfoSerializer()
    items = ItemSerializer(many=True)
    status = serializers.CharField()
    attempts_left = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    preview = serializers.BooleanField()


class AssignResponseSerializer(serializers.Serializer):
    set = TaskSetSerializer(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class SubmitResponseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "refused", "failed"])
    detail = serializers.CharField()
    attempts_left = serializers.IntegerField()
