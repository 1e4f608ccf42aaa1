"""The drawing task's worker API and page, and the curators' pipeline API (thin: services do the work)."""
from __future__ import annotations

import mimetypes

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.common.errors import NotFound
from backend.common.views import JobSerializer
from backend.crowd.api import SetAssignView, SetDetailView, SetSubmitView
from backend.regions.selectors import (
    MEDIA,
    drawing_media_key,
    drawing_preview_payload,
    drawingset_payload,
    region_gold_subject,
)
from backend.regions.serializers import (
    DrawAssignResponseSerializer,
    DrawingSetSerializer,
    DrawSubmitResponseSerializer,
    DrawSubmitSerializer,
    ExportSerializer,
    FrameSelectSerializer,
    RegionGoldResponseSerializer,
    RegionGoldSerializer,
)
from backend.regions.services.advance import regions_advance_start
from backend.regions.services.drawing import DRAWING
from backend.regions.services.export import regions_export_start, regions_stats
from backend.regions.services.frames import regions_select_frames_start
from backend.regions.services.gold import region_gold_add
from backend.videos.selectors import dataset_get


# -- workers ---------------------------------------------------------------------------------------
class DrawAssign(SetAssignView):
    kind = DRAWING

    def payload(self, record) -> dict:
        return drawingset_payload(record)

    def preview(self, *, dataset, spec: dict) -> dict | None:
        return drawing_preview_payload(dataset=dataset)

    @extend_schema(request=None, responses=DrawAssignResponseSerializer)
    def post(self, request, name: str):
        return self.assign(request, name)


class DrawSetDetail(SetDetailView):
    kind = DRAWING

    def payload(self, record) -> dict:
        return drawingset_payload(record)

    @extend_schema(responses=DrawingSetSerializer)
    def get(self, request, set_id):
        return self.detail(request, set_id)


class DrawSubmit(SetSubmitView):
    kind = DRAWING

    def parse(self, data):
        payload = DrawSubmitSerializer(data=data)
        payload.is_valid(raise_exception=True)
        return payload.validated_data["submission_id"], payload.validated_data["regions"]

    @extend_schema(request=DrawSubmitSerializer,
                   responses={200: DrawSubmitResponseSerializer, 422: DrawSubmitResponseSerializer})
    def post(self, request, set_id):
        return self.submit(request, set_id)


@require_GET
def draw_media(request, token: str):
    """Serve an item's image. The token is the only credential (it is signed)."""
    public_id = MEDIA.item_id(token)
    try:
        key = drawing_media_key(public_id) if public_id else None
    except (ValueError, ValidationError):
        key = None
    if not key or not default_storage.exists(key):
        raise Http404("No such media.")
    try:
        response = FileResponse(default_storage.open(key, "rb"),
                                content_type=mimetypes.guess_type(key)[0] or "image/jpeg")
    except NotImplementedError:
        return HttpResponseRedirect(default_storage.url(key))
    response["Cache-Control"] = "private, max-age=3600"
    return response


@ensure_csrf_cookie
@require_GET
def draw_page(request, name: str):
    try:
        dataset = dataset_get(name=name)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "regions/draw.html", {"dataset": dataset})


# -- curators --------------------------------------------------------------------------------------
class FrameSelect(APIView):
    """Select and extract centre frames from verified positives (a background job)."""

    @extend_schema(request=FrameSelectSerializer, responses={202: JobSerializer})
    def post(self, request, name: str):
        dataset = dataset_get(name=name)
        payload = FrameSelectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        job = regions_select_frames_start(dataset=dataset, user=request.user, **payload.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class Advance(APIView):
    """Move every frame-action of the dataset to its next step (a background job)."""

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request, name: str):
        job = regions_advance_start(dataset=dataset_get(name=name), user=request.user)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class Stats(APIView):
    @extend_schema(responses=inline_serializer("RegionStats", {
        "images": serializers.IntegerField(), "actions": serializers.IntegerField(),
        "regions": serializers.IntegerField(), "regions_per_image": serializers.DictField(),
        "per_action": serializers.DictField(), "pipeline": serializers.DictField()}))
    def get(self, request, name: str):
        return Response(regions_stats(datasets=[dataset_get(name=name)]))


class GoldCreate(APIView):
    """Add a gold image: a video's centre frame and the action's known boxes in it."""

    @extend_schema(request=RegionGoldSerializer, responses={201: RegionGoldResponseSerializer})
    def post(self, request, name: str):
        dataset = dataset_get(name=name)
        payload = RegionGoldSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        video, action = region_gold_subject(dataset=dataset, video=data["video"], action=data["action"])
        created = region_gold_add(dataset=dataset, video=video, action=action, boxes=data["boxes"], user=request.user,
                                  note="added through the API")
        return Response(created, status=status.HTTP_201_CREATED)


class ExportStart(APIView):
    """Export the verified regions of some datasets (Broden, COCO, statistics) in a background job
    (curators of every dataset named)."""

    def role_datasets(self, request) -> list[str] | None:
        names = request.data.get("datasets")
        return [n for n in names if isinstance(n, str)] or None if isinstance(names, list) else None

    @extend_schema(request=ExportSerializer, responses={202: JobSerializer})
    def post(self, request):
        payload = ExportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        datasets = [dataset_get(name=n) for n in data.pop("datasets")]
        job = regions_export_start(datasets=datasets, user=request.user, **data)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
