"""The worker-facing API of the graded-set engine: ask for a set, read it, submit it.

Every kind of set is served by the same three views (``SetAssignView``, ``SetDetailView``,
``SetSubmitView``); a kind's app subclasses them with its kind, its payloads and its body parser
(the Yes/No API in ``annotation.views``, the drawing API in ``regions.views``). Workers are
identified by their provider (a signed link, a session, an MTurk assignment); requests
authenticated by a session cookie must carry CSRF, signed-link requests cannot be forged
cross-site and skip the session entirely.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from django.core.cache import caches
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from backend.common.cache import counter_add
from backend.common.errors import Forbidden, NotFound
from backend.crowd.policy import block_notice
from backend.crowd.providers import identify_worker
from backend.crowd.providers.inhouse import HEADER, link_token
from backend.crowd.services import worker_touch
from backend.crowd.sets.assign import set_assign, set_for_assignment
from backend.crowd.sets.kinds import FAILED, SetKind
from backend.crowd.sets.submit import set_submit
from backend.videos.selectors import dataset_get

NO_WORK = "There is no work available for you right now. Thank you!"
ALREADY_ACCEPTED = "You already submitted this set and it was accepted. Thank you!"
PREVIEW_NO_SUBMIT = "This is a preview: accept the task to answer and submit."
log = logging.getLogger(__name__)


class _CsrfCheck(SessionAuthentication):
    def check(self, request) -> None:
        self.enforce_csrf(request)


def worker_for_request(request):
    """Identify the worker; requests authenticated by the session cookie must carry CSRF."""
    provider, worker = identify_worker(request)
    if not link_token(request) and request.method not in ("GET", "HEAD", "OPTIONS") \
            and request.user.is_authenticated:
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


class _LaxSession(SessionAuthentication):
    """Session users are resolved here without DRF's CSRF check; `worker_for_request` applies it
    to session-based workers only (token-based requests cannot be forged cross-site). A request
    carrying a worker token is that worker's, whatever cookie comes with it, so its session is
    not even loaded."""

    def authenticate(self, request):
        if link_token(request._request):
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


class SetAssignView(WorkView, ABC):
    """POST: the worker's open set of the kind (resumed) or a new one."""

    kind: ClassVar[SetKind]

    def spec(self, request) -> dict:
        """Which queue of the kind the request asks for (the Yes/No prompt)."""
        return {}

    @abstractmethod
    def payload(self, record) -> dict:
        """What the kind's page receives for a set."""

    @abstractmethod
    def preview(self, *, dataset, spec: dict) -> dict | None:
        """A sample set shown before an assignment is accepted (nothing reserved or gradable)."""

    def assign(self, request, name: str) -> Response:
        dataset = dataset_get(name=name)
        provider, worker = worker_for_request(request)
        spec = self.spec(request)
        if provider.is_preview(request):
            payload = self.preview(dataset=dataset, spec=spec)
            return Response({"set": payload, "detail": "" if payload else NO_WORK})
        if worker.blocked:  # say so (and why) before anything else about their sets
            raise Forbidden(block_notice(worker.blocked_reason))
        worker_touch(worker=worker)
        ref = provider.assignment_ref(request)
        if ref:
            # One provider assignment (an MTurk assignment) is one set: once its set is closed, the
            # page shows that outcome again instead of handing out a new set (no gold by trial).
            closed = set_for_assignment(kind=self.kind, worker=worker, provider_ref=ref)
            if closed is not None:
                if closed.status == FAILED:
                    return Response({"set": None, "status": closed.status, "detail": self.kind.messages.closed})
                return Response({"set": None, "status": closed.status, "detail": ALREADY_ACCEPTED,
                                 **provider.accepted_payload(self.kind.ref(closed))})
        record = set_assign(kind=self.kind, dataset=dataset, worker=worker, spec=spec, provider_ref=ref)
        if record is None:
            return Response({"set": None, "detail": NO_WORK})
        return Response({"set": self.payload(record), "detail": ""})


class SetDetailView(WorkView, ABC):
    """GET: one of the worker's sets, as their page shows it."""

    kind: ClassVar[SetKind]

    @abstractmethod
    def payload(self, record) -> dict:
        """What the kind's page receives for a set."""

    def detail(self, request, set_id) -> Response:
        _, worker = worker_for_request(request)
        record = self.kind.set_model.objects.select_related("dataset", "action").filter(public_id=set_id).first()
        if record is None:
            raise NotFound(self.kind.messages.not_found)
        if record.worker_id != worker.pk:
            raise Forbidden(self.kind.messages.not_yours)
        return Response(self.payload(record))


class SetSubmitView(WorkView, ABC):
    """POST: grade and record a submission (200 accepted, 422 refused or failed)."""

    kind: ClassVar[SetKind]
    throttle_classes = [WorkerThrottle]

    @abstractmethod
    def parse(self, data) -> tuple[Any, list[dict]]:
        """(submission id, answers in the kind's form) from the request body; 400 on bad input."""

    def submit(self, request, set_id) -> Response:
        provider, worker = worker_for_request(request)
        if provider.is_preview(request):
            raise Forbidden(PREVIEW_NO_SUBMIT)
        submission_id, answers = self.parse(request.data)
        outcome = set_submit(kind=self.kind, worker=worker, set_id=set_id, submission_id=submission_id,
                             answers=answers)
        body = dict(outcome.body)
        if outcome.accepted:
            ref = outcome.ref or self.kind.ref(self.kind.set_model.objects.get(public_id=set_id))
            body.update(provider.accepted_payload(ref))
        return Response(body, status=status.HTTP_200_OK if outcome.accepted else status.HTTP_422_UNPROCESSABLE_ENTITY)
