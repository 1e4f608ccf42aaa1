"""A lost database connection is a retryable 503, not a 500.

When PostgreSQL restarts (or a connection is dropped) the request's transaction is rolled back
as a whole, so nothing is half-written; the client is told to retry, and retried submissions are
recorded once (they carry the same submission id).
"""
from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

log = logging.getLogger(__name__)

RETRY_MESSAGE = "The service is briefly unavailable; nothing was saved from this request. Please retry in a moment."
RETRY_AFTER_SECONDS = 5


def service_unavailable() -> JsonResponse:
    response = JsonResponse({"detail": RETRY_MESSAGE, "retryable": True}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            log.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
            return service_unavailable()
        return None
