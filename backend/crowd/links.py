"""Signed, expiring annotator links for the in-house provider."""
from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone
from functools import cache

from django.conf import settings
from django.core import signing
from django.db import connection
from django.utils import timezone

from backend.common import prepared
from backend.common.errors import Forbidden
from backend.common.rows import attnames, columns, instance_from_row
from backend.crowd.models import Worker, WorkerLink

SALT = "mmit.worker-link"
LINK_INVALID = "This annotator link is not valid."
LINK_EXPIRED = "This annotator link has expired; ask for a new one."
LINK_REVOKED = "This annotator link was withdrawn; ask the person who sent it for a new one."


def worker_link_token(*, worker: Worker, link: WorkerLink | None = None) -> str:
    """A signed token for ``worker``; one made for an invitation (``link``) also names it, so that
    revoking or letting the invitation expire refuses the token at once."""
    data = {"w": worker.pk, "e": worker.external_id}
    if link is not None:
        data["l"] = link.pk
    return signing.dumps(data, salt=SALT, compress=True)


def worker_from_token(token: str, *, max_age: int | None = None) -> Worker:
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age or settings.MMIT_WORKER_LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        # an invitation's own expiry governs it, not the age limit of plain links
        data = signing.loads(token, salt=SALT)
        if not isinstance(data, dict) or "l" not in data:
            raise Forbidden(LINK_EXPIRED) from exc
    except signing.BadSignature as exc:
        raise Forbidden(LINK_INVALID) from exc
    if not isinstance(data, dict) or not isinstance(data.get("w"), int) or not isinstance(data.get("e"), str):
        raise Forbidden(LINK_INVALID)
    link_id = data.get("l")
    if link_id is not None and not isinstance(link_id, int):
        raise Forbidden(LINK_INVALID)
    # Every request from a link comes through here, so this is a plain statement, not a compiled query;
    # an invitation's state comes with the worker in the same round trip.
    with connection.cursor() as cursor:
        prepared.execute(cursor, [(_worker_sql(connection.vendor), [link_id, data["w"], data["e"]])])
        row = cursor.fetchone()
    if row is None:
        raise Forbidden(LINK_INVALID)
    n = len(attnames(Worker))
    found, revoked, expires = row[n:n + 3]
    if link_id is not None:
        if found is None:
            raise Forbidden(LINK_INVALID)
        if revoked is not None:
            raise Forbidden(LINK_REVOKED)
        if _aware(expires) <= timezone.now():
            raise Forbidden(LINK_EXPIRED)
    return instance_from_row(Worker, attnames(Worker), row[:n])


def _aware(value):
    """A timestamp as the database returned it (SQLite: a naive UTC string or datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt_timezone.utc)


@cache
def _worker_sql(vendor: str) -> str:
    table = connection.ops.quote_name(Worker._meta.db_table)
    links = connection.ops.quote_name(WorkerLink._meta.db_table)
    return (f"SELECT {columns(Worker, attnames(Worker), 'w')}, l.id, l.revoked_at, l.expires_at FROM {table} w "
            f"LEFT JOIN {links} l ON l.id = %s AND l.worker_id = w.id WHERE w.id = %s AND w.external_id = %s")


def worker_link_url(*, worker: Worker, dataset_name: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/annotate/{dataset_name}/?w={worker_link_token(worker=worker)}"
