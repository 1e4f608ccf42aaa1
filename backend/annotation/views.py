"""Worker-facing API (assign, fetch, submit, media) and the annotator page."""
from __future__ import annotations

import logging
import mimetypes

from django.core.cache import caches
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from backend.annotation.media import item_id_from_token
from backend.annotation.models import Prompt, TaskSet
from backend.annotation.selectors import media_for_item, preview_payload, taskset_payload
from backend.annotation.serializers import (
    AssignResponseSerializer,
    SubmitResponseSerializer,
    SubmitSerializer,
    TaskSetSerializer,
    submission_parse,
)
from backend.annotation.services.assign import taskset_assign
from backend.annotation.services.submit import NOT_YOUR_SET, SET_CLOSED, SET_NOT_FOUND, taskset_submit
from backend.common.cache import counter_add
from backend.common.errors import Forbidden, NotFound
from backend.crowd.providers import identify_worker
from backend.crowd.providers.inhouse import HEADER, link_token
from backend.crowd.services import worker_touch
from backend.videos.selectors import dataset_get

NO_WORK = "There is no work available for you right now. Thank you!"
log = logging.getLogger(__name__)
ALREADY_ACCEPTED = "You already submitted this set and it was accepted. Thank you!"
PREVIEW_NO_SUBMIT = "This is a preview: accept the task to answer and submit."


class _CsrfCheck(SessionAuthentication):
    def check(self, request) -> None:
        self.enforce_csrf(request)


def worker_for_request(request):
    """Identify the worker; requests authenticated by the session cookie must carry CSRF."""
    provider, worker = identify_worker(request)
    token_based = _carries_worker_token(request)
    if not token_based and request.method not in ("GET", "HEAD", "OPTIONS") and request.user.is_authenticated:
        _CsrfCheck().check(request)
    return provider, worker


class WorkerThrottle(SimpleRateThrottle):
    """Submissions per worker in fixed windows (``MMIT_THROTTLE_SUBMIT``, e.g. 120/min): one
    counter per worker and window, counted in one cache round trip (DRF's own throttle keeps a
    list of timestamps, read and written back on every request). A burst across a window's edge
    may reach twice the rate, which is fine for a limit meant to stop scripts.

    When the cache (Redis) is down the throttle lets requests through rather than losing
    annotators' work."""

    scope = "submit"

    @property
    def cache(self):
        # the backend itself: `django.core.cache.cache` is a proxy, which hides it from counter_add
        return caches["default"]

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        self.now = self.timer()
        window = int(self.now // self.duration)
        try:
            count = counter_add(self.cache, f"{ident}:{window}", self.duration + 1)
        except Exception as exc:  # a cache outage must not turn submissions away
            log.warning("submit throttle skipped, cache unavailable: %s", exc)
            return True
        return count <= self.num_requests

    def wait(self):
        return self.duration - self.now % self.duration

    def get_cache_key(self, request, view):
        ident = request.META.get(HEADER) or (request.user.pk if request.user.is_authenticated else None)
        return self.cache_format % {"scope": self.scope, "ident": ident or self.get_ident(request)}


def _carries_worker_token(request) -> bool:
    return bool(link_token(request))


class _LaxSession(SessionAuthentication):
    """Session users are resolved here without DRF's CSRF check; `_worker` applies it to
    session-based workers only (token-based requests cannot be forged cross-site). A request
    carrying a worker token is that worker's, whatever cookie comes with it, so its session is
    not even loaded."""

    def authenticate(self, request):
        if _carries_worker_token(request._request):
            return None
        return super().authenticate(request)

    def enforce_csrf(self, request):
        return None


class _AnswerJson(DefaultContentNegotiation):
    """The worker endpoints answer JSON whatever the request's Accept header says (no browsable
    API to negotiate on every request of the busiest endpoints)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class WorkView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = [_LaxSession]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AnswerJson


class Assign(WorkView):
    @extend_schema(request=None, responses=AssignResponseSerializer)
    def post(self, request, name: str):
        dataset = dataset_get(name=name)
        provider, worker = worker_for_request(request)
        prompt = request.query_params.get("prompt", Prompt.SEEN_OR_HEARD)
        if prompt not in Prompt.values:
            prompt = Prompt.SEEN_OR_HEARD
        if provider.is_preview(request):
            payload = preview_payload(dataset=dataset, prompt=prompt)
            return Response({"set": payload, "detail": "" if payload else NO_WORK})
        worker_touch(worker=worker)
        ref = provider.assignment_ref(request)
        if ref:
            # One provider assignment (an MTurk assignment) is one set: once its set is closed, the
            # page shows that outcome again instead of handing out a new set (no gold by trial).
            closed = TaskSet.objects.filter(
                worker=worker, provider_ref=ref, status__in=[TaskSet.Status.ACCEPTED, TaskSet.Status.FAILED]
            ).order_by("-id").first()
            if closed is not None:
                if closed.status == TaskSet.Status.FAILED:
                    return Response({"set": None, "status": closed.status, "detail": SET_CLOSED})
                return Response({"set": None, "status": closed.status, "detail": ALREADY_ACCEPTED,
                                 **provider.accepted_payload(closed)})
        taskset = taskset_assign(dataset=dataset, worker=worker, prompt=prompt, provider_ref=ref)
        if taskset is None:
            return Response({"set": None, "detail": NO_WORK})
        return Response({"set": taskset_payload(taskset), "detail": ""})


class SetDetail(WorkView):
    @extend_schema(responses=TaskSetSerializer)
    def get(self, request, set_id):
        _, worker = worker_for_request(request)
        taskset = TaskSet.objects.select_related("dataset", "action").filter(public_id=set_id).first()
        if taskset is None:
            raise NotFound(SET_NOT_FOUND)
        if taskset.worker_id != worker.pk:
            raise Forbidden(NOT_YOUR_SET)
        return Response(taskset_payload(taskset))


class Submit(WorkView):
    throttle_classes = [WorkerThrottle]

    @extend_schema(request=SubmitSerializer, responses={200: SubmitResponseSerializer, 422: SubmitResponseSerializer})
    def post(self, request, set_id):
        provider, worker = worker_for_request(request)
        if provider.is_preview(request):
            raise Forbidden(PREVIEW_NO_SUBMIT)
        submission_id, answers = submission_parse(request.data)
        outcome = taskset_submit(worker=worker, set_id=set_id, submission_id=submission_id, answers=answers)
        body = dict(outcome.body)
        if outcome.accepted:
            taskset = outcome.taskset or TaskSet.objects.get(public_id=set_id)
            body.update(provider.accepted_payload(taskset))
        return Response(body, status=status.HTTP_200_OK if outcome.accepted else status.HTTP_422_UNPROCESSABLE_ENTITY)


@require_GET
def media(request, token: str):
    """Serve an item's clip or image. The token is the only credential (it is signed)."""
    public_id = item_id_from_token(token)
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
