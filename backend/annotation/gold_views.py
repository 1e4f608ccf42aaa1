"""Staff API for gold management: the dataset's gold with its health figures, a gold file upload,
promoting a unanimous label to gold, and retiring gold. Writes go through ``services/gold.py``;
the figures come from ``gold_health.py``."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.annotation.gold_health import GoldHealth, gold_health
from backend.annotation.models import GoldQuestion
from backend.annotation.services.gold import gold_import_file, gold_promote, gold_retire
from backend.common.errors import DomainError, NotFound
from backend.videos.selectors import dataset_get

UPLOAD_MISSING = "Send the gold file as the multipart field `file` (a CSV with columns video,action,truth)."
PROMOTE_BAD_LABEL = "Send the label to promote as {\"label\": <label id>}."
UNKNOWN_GOLD = "Dataset {dataset!r} has no gold question with id {id}."


class GoldRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    video = serializers.CharField()
    action = serializers.CharField()
    prompt = serializers.CharField()
    truth = serializers.BooleanField()
    active = serializers.BooleanField()
    note = serializers.CharField()
    answers = serializers.IntegerField()
    correct = serializers.IntegerField()
    good_workers = serializers.IntegerField()
    good_answers = serializers.IntegerField()
    good_misses = serializers.IntegerField()
    good_miss_rate = serializers.FloatField(allow_null=True)
    probably_wrong = serializers.BooleanField()


class GoldUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class GoldUploadResultSerializer(serializers.Serializer):
    imported = serializers.IntegerField()


class GoldPromoteSerializer(serializers.Serializer):
    label = serializers.IntegerField()


def gold_row(row: GoldHealth) -> dict:
    g = row.gold
    return {"id": g.pk, "video": g.video.name, "action": g.action.name, "prompt": g.prompt, "truth": g.truth,
            "active": g.active, "note": g.note, "answers": row.answers, "correct": row.correct,
            "good_workers": row.good_workers, "good_answers": row.good_answers, "good_misses": row.good_misses,
            "good_miss_rate": row.miss_rate, "probably_wrong": row.flagged}


def _health_of(dataset, gold_id: int) -> dict:
    return gold_row(next(r for r in gold_health(dataset=dataset) if r.gold.pk == gold_id))


def label_id_parse(data) -> int:
    value = data.get("label") if hasattr(data, "get") else None
    if isinstance(value, bool):
        raise DomainError(PROMOTE_BAD_LABEL, field="label")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(PROMOTE_BAD_LABEL, field="label") from exc


class GoldList(APIView):
    @extend_schema(responses=GoldRowSerializer(many=True))
    def get(self, request, name: str):
        """The dataset's gold, probably-wrong items first, with each item's answers and its miss rate
        among good workers (see the README's Gold paragraph for the thresholds)."""
        return Response([gold_row(r) for r in gold_health(dataset=dataset_get(name=name))])


class GoldUpload(APIView):
    @extend_schema(request={"multipart/form-data": GoldUploadSerializer}, responses=GoldUploadResultSerializer)
    def post(self, request, name: str):
        """Import a gold file (the ``import_gold`` command's CSV); a bad file stores nothing."""
        dataset = dataset_get(name=name)
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError(UPLOAD_MISSING, field="file")
        n = gold_import_file(dataset=dataset, file=upload, source=upload.name, user=request.user)
        return Response({"imported": n})


class GoldPromote(APIView):
    @extend_schema(request=GoldPromoteSerializer, responses=GoldRowSerializer)
    def post(self, request, name: str):
        """Make a verified label gold: at least 3 crowd answers, all agreeing with its verdict."""
        dataset = dataset_get(name=name)
        gold = gold_promote(dataset=dataset, label_id=label_id_parse(request.data), user=request.user)
        return Response(_health_of(dataset, gold.pk), status=201)


class GoldRetire(APIView):
    @extend_schema(request=None, responses=GoldRowSerializer)
    def post(self, request, name: str, pk: int):
        """Stop serving a gold question in new sets (kept, with its answers)."""
        dataset = dataset_get(name=name)
        gold = GoldQuestion.objects.filter(dataset=dataset, pk=pk).first()
        if gold is None:
            raise NotFound(UNKNOWN_GOLD.format(dataset=dataset.name, id=pk))
        gold_retire(gold=gold)
        return Response(_health_of(dataset, gold.pk))
