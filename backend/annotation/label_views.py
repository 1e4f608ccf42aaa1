"""Staff API for the label browser and a curator's label corrections: the filtered, sorted selection
(pages or a CSV), one label (read, correct) and the selection in bulk. Corrections go through
``services/corrections.py``, the selection through ``label_browser.py``."""
from __future__ import annotations

from urllib.parse import urlencode

from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from backend.annotation.disagreements import disagreement_queue
from backend.annotation.label_browser import (
    CSV_HEADER,
    SORTS,
    label_browse,
    label_browse_page,
    label_browse_parse,
    label_browse_rows,
)
from backend.annotation.label_browser import FILTERS as BROWSER_FILTERS
from backend.annotation.serializers import (
    LabelBulkCorrectResultSerializer,
    LabelBulkCorrectSerializer,
    LabelCorrectSerializer,
    LabelSerializer,
    correction_parse,
    filters_parse,
)
from backend.annotation.services.corrections import label_correct, labels_correct
from backend.common.csv_export import CSVRenderer, JSONErrors, csv_response
from backend.common.errors import NotFound
from backend.labels.models import Label
from backend.labels.selectors import label_corrections, label_get
from backend.videos.access import REVIEWER
from backend.videos.selectors import dataset_get

UNKNOWN_LABEL = "Dataset {dataset!r} has no label with id {id}."


def _label(dataset, label_id: int) -> Label:
    label = label_get(dataset=dataset, label_id=label_id)
    if label is None:
        raise NotFound(UNKNOWN_LABEL.format(dataset=dataset.name, id=label_id))
    return label


def _label_data(label: Label) -> dict:
    label.history = label_corrections(label_ids=[label.pk]).get(label.pk, [])
    return LabelSerializer(label).data


class LabelDetail(APIView):
    dataset_roles = {"PATCH": REVIEWER}
    dataset_doing = {"PATCH": "correcting labels"}

    @extend_schema(responses=LabelSerializer)
    def get(self, request, name: str, pk: int):
        return Response(_label_data(_label(dataset_get(name=name), pk)))

    @extend_schema(request=LabelCorrectSerializer, responses=LabelSerializer)
    def patch(self, request, name: str, pk: int):
        """Set the label's verdict (``state`` positive or negative: pinned through consensus) or ask
        for ``more_answers`` crowd answers (reopens its question, un-pins it); ``reason`` required."""
        label = _label(dataset_get(name=name), pk)
        label = label_correct(label=label, user=request.user, **correction_parse(request.data))
        return Response(_label_data(label))


class LabelBulkCorrect(APIView):
    dataset_roles = {"POST": REVIEWER}
    dataset_doing = {"POST": "correcting labels"}

    @extend_schema(request=LabelBulkCorrectSerializer, responses=LabelBulkCorrectResultSerializer)
    def post(self, request, name: str):
        """Correct every label the label browser's ``filters`` select (merged labels left out)."""
        dataset = dataset_get(name=name)
        correction = correction_parse(request.data)
        labels = label_browse(dataset=dataset, browse=label_browse_parse(filters_parse(request.data)))
        result = labels_correct(dataset=dataset, labels=labels, user=request.user, **correction)
        return Response({"corrected": result.corrected, "changed": result.changed, "batch": str(result.batch)})


class LabelList(JSONErrors, APIView):
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    @extend_schema(responses=LabelSerializer(many=True), parameters=[
        *(OpenApiParameter(name, str, required=False) for name in (*BROWSER_FILTERS, "after", "before")),
        OpenApiParameter("sort", str, required=False, enum=list(SORTS)),
        OpenApiParameter("limit", int, required=False),
        OpenApiParameter("format", str, required=False, enum=["json", "csv"]),
    ])
    def get(self, request, name: str):
        """The label browser's selection: filters ``action``, ``state``, ``source``, ``confidence_min``,
        ``confidence_max`` (inclusive), ``votes`` (split, unanimous, unanswered or ``yes-no`` counts such
        as ``2-1``), ``worker`` (the labels that worker answered); ``sort`` (added, newest, confidence,
        -confidence, video). A keyset page (``limit``, at most 1000; ``next``/``previous`` links), or
        with ``?format=csv`` every matching label as a streamed CSV."""
        dataset = dataset_get(name=name)
        q = request.query_params
        browse = label_browse_parse(q)
        if request.accepted_renderer.format == "csv":
            label_browse(dataset=dataset, browse=browse)  # a bad filter is a 400 now, not a broken download
            return csv_response(filename=f"{slugify(dataset.name)}-labels.csv", header=CSV_HEADER,
                                rows=label_browse_rows(dataset=dataset, browse=browse))
        try:
            limit = max(1, min(1000, int(q.get("limit", 100))))
        except ValueError:
            limit = 100
        page = label_browse_page(dataset=dataset, browse=browse, after=q.get("after"), before=q.get("before"),
                                 limit=limit)

        def link(**cursor) -> str:
            return request.build_absolute_uri("?" + urlencode({**browse.query(), "limit": limit, **cursor}))

        return Response({
            "count": page.total, "count_capped": page.capped,
            "next": link(after=page.next_after) if page.next_after is not None else None,
            "previous": link(before=page.prev_before) if page.prev_before is not None else None,
            "results": LabelSerializer(page.rows, many=True).data,
        })


def disagreement_data(row) -> dict:
    label = row.label
    return {"id": label.pk, "video": label.video.name, "video_id": label.video_id, "action": label.action.name,
            "source": label.source, "state": label.state, "confidence": label.confidence,
            "split": label.video.split, "media_url": row.media_url, "yes": row.yes, "no": row.no,
            "votes": [{"worker_id": v.worker_id, "worker": v.worker, "value": v.value,
                       "gold_accuracy": v.gold_accuracy} for v in row.votes]}


class LabelQueue(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=[
        OpenApiParameter(name, str, required=False) for name in ("action", "source", "split", "worker")
    ] + [OpenApiParameter("limit", int, required=False)])
    def get(self, request, name: str):
        """The disagreement queue: decided labels, least certain first (posterior or vote share
        nearest 0.5), with their votes and each voter's gold accuracy; filters ``action``,
        ``source``, ``split``, ``worker`` (id); ``limit`` (at most 200)."""
        dataset = dataset_get(name=name)
        q = request.query_params
        try:
            limit = max(1, min(200, int(q.get("limit", 50))))
        except ValueError:
            limit = 50
        rows = disagreement_queue(dataset=dataset, action=q.get("action", ""), source=q.get("source", ""),
                                  split=q.get("split", ""), worker=q.get("worker"), limit=limit)
        return Response({"results": [disagreement_data(r) for r in rows]})
