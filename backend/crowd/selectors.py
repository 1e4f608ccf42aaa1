"""Reads of annotators and what happened to them."""
from __future__ import annotations

from django.db.models import QuerySet

from backend.crowd.models import Worker, WorkerEvent


def worker_get(*, worker_id: int) -> Worker | None:
    """An annotator by their id on the platform (not a provider's id)."""
    return Worker.objects.filter(pk=worker_id).first()


def worker_events(*, worker: Worker) -> QuerySet[WorkerEvent]:
    """Flags, blocks and unblocks, newest first, with who did them."""
    return WorkerEvent.objects.filter(worker=worker).select_related("actor")
