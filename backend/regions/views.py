"""The drawing task's worker API and page, and the curators' pipeline API (thin: services do the work)."""
from __future__ import annotations

import mimetypes

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.annotation.views import NO_WORK, WorkerThrottle, WorkView, worker_for_request
from backend.common.errors import Forbidden, NotFound
from backend.common.jobs import job_create
from backend.common.views import JobSerializer
from backend.crowd.services import worker_touch
from backend.regions.conf import regions_conf
from backend.regions.media import item_id_from_token
from backend.regions.models import DrawingSet
from backend.regions.selectors import drawing_media_key, drawing_preview_payload, drawingset_payload
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
from backend.regions.services.drawing import NOT_YOUR_SET, SET_NOT_FOUND, drawingset_assign, drawingset_submit
from backend.regions.services.export import regions_stats
from backend.regions.services.gold import region_gold_add
from backend.videos.models import Video
from backend.videos.selectors import dataset_get
from backend.vocabulary.selectors import action_lookup

UNKNOWN_VIDEO = "Unknown video {name!r} in dataset {dataset!r}."
UNKNOWN_ACTION = "Unknown action {name!r} in dataset {dataset!r}."


# -- workers ---------------------------------------------------------------------------------------
class DrawAssign(WorkView):
    @extend_schema(request=None, responses=DrawAssignResponseSerializer)
    def post(self, request, name: str):
        dataset = dataset_get(name=name)
        provider, worker = worker_for_request(request)
        if provider.is_preview(request):
            payload = drawing_preview_payload(dataset=dataset)
            return Response({"set": payload, "detail": "" if payload else NO_WORK})
        worker_touch(worker=worker)
        drawing_set = drawingset_assign(dataset=dataset, worker=worker, provider_ref=provider.assignment_ref(request))
        if drawing_set is None:
            return Response({"set": None, "detail": NO_WORK})
        return Response({"set": drawingset_payload(drawing_set), "detail": ""})


class DrawSetDetail(WorkView):
    @extend_schema(responses=DrawingSetSerializer)
    def get(self, request, set_id):
        _, worker = worker_for_request(request)
        drawing_set = DrawingSet.objects.select_related("dataset", "action").filter(public_id=set_id).first()
        if drawing_set is None:
            raise NotFound(SET_NOT_FOUND)
        if drawing_set.worker_id != worker.pk:
            raise Forbidden(NOT_YOUR_SET)
        return Response(drawingset_payload(drawing_set))


class DrawSubmit(WorkView):
    throttle_classes = [WorkerThrottle]

    @extend_schema(request=DrawSubmitSerializer,
                   responses={200: DrawSubmitResponseSerializer, 422: DrawSubmitResponseSerializer})
    def post(self, request, set_id):
        provider, worker = worker_for_request(request)
        payload = DrawSubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        outcome = drawingset_submit(worker=worker, set_id=set_id, submission_id=payload.validated_data["submission_id"],
                                    regions=payload.validated_data["regions"])
        body = dict(outcome.body)
        if outcome.accepted:
            # a provider may post the HIT form after an accepted set; it only reads ids and refs
            body.update(provider.accepted_payload(DrawingSet.objects.get(public_id=set_id)))
        return Response(body, status=status.HTTP_200_OK if outcome.accepted else status.HTTP_422_UNPROCESSABLE_ENTITY)


@require_GET
def draw_media(request, token: str):
    """Serve an item's image. The token is the only credential (it is signed)."""
    public_id = item_id_from_token(token)
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
        from workers.tasks.regions import select_frames

        dataset = dataset_get(name=name)
        payload = FrameSelectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        params = {"dataset": dataset.name, **payload.validated_data}
        job = job_create(kind="regions_select_frames", user=request.user, params=params)
        data = payload.validated_data
        transaction.on_commit(lambda: select_frames.delay(str(job.id), dataset.id, data.get("per_action"),
                                                          data.get("actions"), data.get("seed", 0)))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class Advance(APIView):
    """Move every frame-action of the dataset to its next step (a background job)."""

    @extend_schema(request=None, responses={202: JobSerializer})
    def post(self, request, name: str):
        from workers.tasks.regions import advance

        dataset = dataset_get(name=name)
        job = job_create(kind="regions_advance", user=request.user, params={"dataset": dataset.name})
        transaction.on_commit(lambda: advance.delay(dataset.id, str(job.id)))
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
        video = Video.objects.filter(dataset=dataset, name=data["video"], status=Video.Status.OK).first()
        if video is None:
            raise NotFound(UNKNOWN_VIDEO.format(name=data["video"], dataset=dataset.name), field="video")
        action = action_lookup(dataset=dataset).get(data["action"])
        if action is None:
            raise NotFound(UNKNOWN_ACTION.format(name=data["action"], dataset=dataset.name), field="action")
        created = region_gold_add(dataset=dataset, video=video, action=action, boxes=data["boxes"], user=request.user,
                                  note="added through the API")
        return Response(created, status=status.HTTP_201_CREATED)


class ExportStart(APIView):
    """Export the verified regions of some datasets (Broden, COCO, statistics) in a background job."""

    @extend_schema(request=ExportSerializer, responses={202: JobSerializer})
    def post(self, request):
        from workers.tasks.regions import export

        payload = ExportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        datasets = [dataset_get(name=n) for n in data["datasets"]]
        # The server chooses where exports go; clients never name a path.
        out_dir = regions_conf().export_dir / f"{timezone.now():%Y%m%d-%H%M%S}-{'+'.join(data['datasets'])}"
        job = job_create(kind="regions_export", user=request.user, params={**data, "out_dir": str(out_dir)})
        transaction.on_commit(lambda: export.delay(str(job.id), [d.pk for d in datasets], str(out_dir),
                                                   data.get("size"), data.get("seg_size"), data["label_offset"]))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
