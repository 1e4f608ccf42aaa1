"""The one way the platform talks to MTurk: a boto3 ``mturk`` client behind retries and paging.

botocore's own retries are switched off so there is exactly one retry policy, ours: throttling
and transient service errors are retried with exponential backoff and full jitter, and the sleep
is injected so tests never wait. Listing goes page by page with ``NextToken`` (MTurk pages at
100) and each page is retried on its own, so a throttled third page does not restart the walk
or lose the rest.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from backend.common.errors import DomainError
from backend.mturk.conf import mturk_setting

log = logging.getLogger("backend.mturk")

PAGE_SIZE = 100  # MTurk's maximum MaxResults
RETRYABLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "ServiceUnavailable", "ServiceFault", "InternalFailure", "InternalServerError",
})
TRANSIENT_NETWORK = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)
MTURK_UNAVAILABLE = "Mechanical Turk did not answer {operation} after {attempts} attempts ({error}); try again later."


class MTurkUnavailable(DomainError):
    """Retries ran out on a throttled or failing service; nothing was decided."""

    status_code = 503


def endpoint_url(*, sandbox: bool) -> str:
    """The requester endpoint: ``MMIT_MTURK_ENDPOINT_URL`` when set (a stand-in service), else Amazon's."""
    override = mturk_setting("MMIT_MTURK_ENDPOINT_URL")
    if override:
        return override
    region = mturk_setting("MMIT_MTURK_REGION")
    return f"https://mturk-requester{'-sandbox' if sandbox else ''}.{region}.amazonaws.com"


def mturk_client(*, sandbox: bool):
    """A boto3 client for the sandbox or production requester endpoint (credentials: boto3's chain)."""
    return boto3.session.Session().client(
        "mturk",
        region_name=mturk_setting("MMIT_MTURK_REGION"),
        endpoint_url=endpoint_url(sandbox=sandbox),
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10, read_timeout=60),
    )


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or str(exc)


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, TRANSIENT_NETWORK):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error_code(exc) in RETRYABLE_CODES or status >= 500 or status == 429
    return False


class Gateway:
    """Calls on a boto3 ``mturk`` client with retries; ``sleep`` and ``jitter`` are injectable."""

    def __init__(self, client, *, sandbox: bool, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random, max_attempts: int | None = None) -> None:
        self.client = client
        self.sandbox = sandbox
        self.sleep = sleep
        self.jitter = jitter
        self.max_attempts = max_attempts or int(mturk_setting("MMIT_MTURK_MAX_ATTEMPTS"))
        self.calls = 0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(attempt-1))]."""
        cap = float(mturk_setting("MMIT_MTURK_BACKOFF_MAX"))
        base = float(mturk_setting("MMIT_MTURK_BACKOFF_BASE"))
        return self.jitter() * min(cap, base * 2 ** (attempt - 1))

    def call(self, operation: str, **params: Any) -> dict:
        """Run one operation (the boto3 method name, e.g. ``create_hit_type``)."""
        method = getattr(self.client, operation)
        for attempt in range(1, self.max_attempts + 1):
            self.calls += 1
            try:
                return method(**params)
            except Exception as exc:
                if not _retryable(exc):
                    raise
                if attempt == self.max_attempts:
                    raise MTurkUnavailable(MTURK_UNAVAILABLE.format(
                        operation=operation, attempts=attempt, error=type(exc).__name__
                        if not isinstance(exc, ClientError) else error_code(exc))) from exc
                delay = self.backoff(attempt)
                log.warning("mturk %s attempt %d failed (%s); retrying in %.2fs", operation, attempt, exc, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def items(self, operation: str, result_key: str, **params: Any) -> Iterator[dict]:
        """Every result of a paged list operation, following NextToken to the end."""
        token = None
        while True:
            page = self.call(operation, MaxResults=PAGE_SIZE, **params, **({"NextToken": token} if token else {}))
            results = page.get(result_key) or []
            yield from results
            token = page.get("NextToken")
            # MTurk may hand out a token with an empty last page; an empty page is the end.
            if not token or not results:
                return


def gateway_for(*, sandbox: bool) -> Gateway:
    """The production gateway (tests replace this function with a stubbed one)."""
    return Gateway(mturk_client(sandbox=sandbox), sandbox=sandbox)


def configured_sandbox() -> bool:
    return bool(mturk_setting("MMIT_MTURK_SANDBOX"))
