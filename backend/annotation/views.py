"""Worker-facing API of the Yes/No engine (assign, fetch, submit: the engine's views with the Yes/No
kind), the media of set items and the annotator page."""
from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema

from backend.annotation.models import Prompt
from backend.annotation.selectors import MEDIA, media_for_item, preview_payload, taskset_payload
from backend.annotation.serializers import (
    AssignResponseSerializer,
    SubmitResponseSerializer,
    SubmitSerializer,
    TaskSetSerializer,
    submission_parse,
)
from backend.annotation.services.yesno import YES_NO
from backend.common.errors import NotFound
from backend.crowd.api import SetAssignView, SetDetailView, SetSubmitView
from backend.videos.selectors import dataset_get


class Assign(SetAssignView):
    kind = YES_NO

    def spec(self, request) -> dict:
        prompt = request.query_params.get("prompt", Prompt.SEEN_OR_HEARD)
        return {"prompt": prompt if prompt in Prompt.values else Prompt.SEEN_OR_HEARD}

    def payload(self, record) -> dict:
        return taskset_payload(record)

    def preview(self, *, dataset, spec: dict) -> dict | None:
        return preview_payload(dataset=dataset, prompt=spec["prompt"])

    @extend_schema(request=None, responses=AssignResponseSerializer)
    def post(self, request, name: str):
        return self.assign(request, name)


class SetDetail(SetDetailView):
    kind = YES_NO

    def payload(self, record) -> dict:
        return taskset_payload(record)

    @extend_schema(responses=TaskSetSerializer)
    def get(self, request, set_id):
        return self.detail(request, set_id)


class Submit(SetSubmitView):
    kind = YES_NO

    def parse(self, data):
        return submission_parse(data)

    @extend_schema(request=SubmitSerializer, responses={200: SubmitResponseSerializer, 422: SubmitResponseSerializer})
    def post(self, request, set_id):
        return self.submit(request, set_id)


@require_GET
def media(request, token: str):
    """Serve an item's clip or image. The token is the only credential (it is signed)."""
    public_id = MEDIA.item_id(token)
    found = media_for_item(public_id) if public_id else None
    if not found:
        raise Http404("No such media.")
    kind, key = found
    if not key or not default_storage.exists(key):
        raise Http404("No such media.")
    if hasattr(default_storage, "path"):
        try:
            guessed = mimetypes.guess_type(key)[0]
            response = FileResponse(default_storage.open(key, "rb"),
                                    content_type=guessed or ("video/mp4" if kind == "video" else "image/jpeg"))
        except NotImplementedError:
            return HttpResponseRedirect(default_storage.url(key))
        response["Cache-Control"] = "private, max-age=3600"
        return response
    return HttpResponseRedirect(default_storage.url(key))


@ensure_csrf_cookie
@require_GET
def annotate_page(request, name: str):
    try:
        dataset = dataset_get(name=name)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "annotation/annotate.html", {"dataset": dataset})
