from rest_framework import serializers

from backend.videos.models import Dataset, Video


class DatasetSerializer(serializers.ModelSerializer):
    video_count = serializers.IntegerField(read_only=True)
    quarantined_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "train_answers", "eval_answers", "set_size", "gold_ratio",
                  "max_attempts", "set_timeout_minutes", "budget", "created_at", "video_count",
                  "quarantined_count"]
        read_only_fields = ["id", "created_at"]


class DatasetCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    train_answers = serializers.IntegerField(required=False, min_value=1, max_value=50)
    eval_answers = serializers.IntegerField(required=False, min_value=1, max_value=50)
    set_size = serializers.IntegerField(required=False, min_value=2, max_value=200)


class VideoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Video
        fields = ["id", "name", "source", "storage_key", "checksum", "size_bytes", "duration", "fps", "width",
                  "height", "has_audio", "split", "status", "quarantine_reason", "created_at"]


class ImportRequestSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=2048, help_text="A folder, a CSV manifest or s3://bucket/prefix.")
    split = serializers.ChoiceField(choices=["train", "val", "test"], required=False, allow_null=True)
    trust_labels = serializers.BooleanField(
        required=False, default=False,
        help_text="The manifest's labels are verified already: record them as verified positives (source "
                  "`import`, with their provenance) instead of pending questions.")
    in_place = serializers.BooleanField(
        required=False, default=False,
        help_text="Reference each file where it is (its allowed import root, or its S3 object) instead of copying "
                  "it into the media storage.")
