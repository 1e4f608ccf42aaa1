"""Signed, expiring annotator links for the in-house provider."""
from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core import signing
from django.db import connection

from backend.common import prepared
from backend.common.errors import Forbidden
from backend.common.rows import attnames, columns, instance_from_row
from backend.crowd.models import Worker

SALT = "mmit.worker-link"
LINK_INVALID = "This annotator link is not valid."
LINK_EXPIRED = "This annotator link has expired; ask for a new one."


def worker_link_token(*, worker: Worker) -> str:
    return signing.dumps({"w": worker.pk, "e": worker.external_id}, salt=SALT, compress=True)


def worker_from_token(token: str, *, max_age: int | None = None) -> Worker:
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age or settings.MMIT_WORKER_LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise Forbidden(LINK_EXPIRED) from exc
    except signing.BadSignature as exc:
        raise Forbidden(LINK_INVALID) from exc
    if not isinstance(data, dict) or not isinstance(data.get("w"), int) or not isinstance(data.get("e"), str):
        raise Forbidden(LINK_INVALID)
    # Every request from a link comes through here, so this is a plain statement, not a compiled query.
    with connection.cursor() as cursor:
        prepared.execute(cursor, [(_worker_sql(connection.vendor), [data["w"], data["e"]])])
        row = cursor.fetchone()
    if row is None:
        raise Forbidden(LINK_INVALID)
    return instance_from_row(Worker, attnames(Worker), row)


@cache
def _worker_sql(vendor: str) -> str:
    table = connection.ops.quote_name(Worker._meta.db_table)
    return f"SELECT {columns(Worker, attnames(Worker), 'w')} FROM {table} w WHERE w.id = %s AND w.external_id = %s"


def worker_link_url(*, worker: Worker, dataset_name: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/annotate/{dataset_name}/?w={worker_link_token(worker=worker)}"
