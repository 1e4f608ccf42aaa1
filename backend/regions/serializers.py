from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.annotation.serializers import ActionInfoSerializer, SubmitResponseSerializer

# The drawing submit answers exactly like the Yes/No submit (status, detail, attempts_left).
DrawSubmitResponseSerializer = SubmitResponseSerializer


@extend_schema_field({"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                      "description": "[x0, y0, x1, y1] in pixels of the image"})
class BoxField(serializers.Field):
    """A box as sent; the services check it against its image and say what is wrong with it
    (a generic "not valid JSON" would not tell a worker which box to fix)."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class RegionEntrySerializer(serializers.Serializer):
    item = serializers.UUIDField()
    skip = serializers.BooleanField(default=False)
    boxes = serializers.ListField(child=BoxField(), default=list, max_length=1000,
                                  help_text="[[x0, y0, x1, y1], ...] in pixels of the image.")
    ms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=3_600_000)


class DrawSubmitSerializer(serializers.Serializer):
    submission_id = serializers.UUIDField(help_text="A new UUID per click; retries of one click reuse it.")
    regions = serializers.ListField(child=RegionEntrySerializer(), max_length=500, allow_empty=False)


class DrawItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    media_url = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class LimitsSerializer(serializers.Serializer):
    max_boxes = serializers.IntegerField()
    min_box = serializers.FloatField()


class DrawingSetSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    dataset = serializers.CharField()
    question = serializers.CharField()
    action = ActionInfoSerializer()
    items = DrawItemSerializer(many=True)
    status = serializers.CharField()
    attempts_left = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    preview = serializers.BooleanField()
    limits = LimitsSerializer()


class DrawAssignResponseSerializer(serializers.Serializer):
    set = DrawingSetSerializer(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class FrameSelectSerializer(serializers.Serializer):
    per_action = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
    actions = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=5000)
    seed = serializers.IntegerField(required=False, default=0)


class RegionGoldSerializer(serializers.Serializer):
    video = serializers.CharField(max_length=255, help_text="The video's file name in the dataset.")
    action = serializers.CharField(max_length=100)
    boxes = serializers.ListField(child=BoxField(), default=list, max_length=100,
                                  help_text="Known boxes [[x0, y0, x1, y1], ...]; empty: the action is not visible.")


class RegionGoldResponseSerializer(serializers.Serializer):
    visible = serializers.IntegerField()
    recognisable = serializers.ListField(child=serializers.IntegerField())
    frame = serializers.IntegerField()


class ExportSerializer(serializers.Serializer):
    datasets = serializers.ListField(child=serializers.CharField(max_length=100), allow_empty=False, max_length=50)
    size = serializers.IntegerField(required=False, min_value=16, max_value=1024)
    seg_size = serializers.IntegerField(required=False, min_value=1, max_value=1024)
    label_offset = serializers.IntegerField(required=False, default=0, min_value=0)
