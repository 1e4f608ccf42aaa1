"""Summaries: the counts a page shows, read in constant time however large the dataset grows.

A summary kind is a function of one dataset that counts something a page shows (its overview's
counters and charts, the harvest of its candidate sources) and returns ``(data, rows)``: small
JSON and the number of rows the count read, its cost. ``summary_read`` then decides:

- while a count is cheap (fewer than ``MMIT_SUMMARY_LIVE_ROWS`` rows), it is counted live on every
  read: small datasets see exact figures at once, as they always have, and nothing is stored;
- once it is not, its result is stored (``common.Summary``, one row by primary key) and pages read
  that, saying when it was counted. The beat job ``summaries_refresh`` recounts every stored
  summary each ``MMIT_SUMMARY_REFRESH_SECONDS``, and jobs that write in bulk (a candidate round)
  recount theirs when they finish. Should beat not run, a read of a summary older than twice the
  period asks a worker to recount it (once: the request is deduplicated in the cache).

The kinds register with ``@summary_kind("name")`` in the module that owns what they count; apps
import those modules when they are ready, so every process (web and workers) knows every kind.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from backend.common import background
from backend.common.models import Summary

log = logging.getLogger(__name__)

Count = Callable[[int], "tuple[dict, int]"]
KINDS: dict[str, Count] = {}
REFRESH_TASK = "mmit.summaries.refresh"


@dataclass(frozen=True)
class Counted:
    data: dict
    computed_at: datetime  # when it was counted: now for live counts
    live: bool  # counted for this read (else read from the stored summary)

    @property
    def age_s(self) -> float:
        return max(0.0, (timezone.now() - self.computed_at).total_seconds())

    @property
    def late(self) -> bool:
        """Stored and not recounted for two periods of the job: the workers or beat are not running."""
        return not self.live and self.age_s > 2 * settings.MMIT_SUMMARY_REFRESH_SECONDS


def summary_kind(name: str) -> Callable[[Count], Count]:
    """Register ``count(dataset_id) -> (data, rows)`` as the summary kind ``name``."""

    def register(count: Count) -> Count:
        KINDS[name] = count
        return count

    return register


def summary_key(kind: str, dataset_id: int) -> str:
    return f"{kind}:{dataset_id}"


def summary_read(kind: str, dataset_id: int) -> Counted:
    """The summary ``kind`` of a dataset: live while cheap, else the stored one (see the module)."""
    key = summary_key(kind, dataset_id)
    stored = Summary.objects.filter(key=key).first()
    if stored is not None and stored.rows >= settings.MMIT_SUMMARY_LIVE_ROWS:
        if stored.computed_at < timezone.now() - timedelta(seconds=2 * settings.MMIT_SUMMARY_REFRESH_SECONDS):
            _refresh_later(kind, dataset_id)
        return Counted(data=stored.data, computed_at=stored.computed_at, live=False)
    started = time.perf_counter()
    data, rows = KINDS[kind](dataset_id)
    now = timezone.now()
    if rows >= settings.MMIT_SUMMARY_LIVE_ROWS or stored is not None:
        # it became expensive (or was, and shrank): keep it for the next reads and the job
        _store(key, data, rows, time.perf_counter() - started, now)
    return Counted(data=data, computed_at=now, live=True)


def summary_refresh(kind: str, dataset_id: int) -> Counted:
    """Count ``kind`` of a dataset now and store it (jobs call this after writing in bulk)."""
    started = time.perf_counter()
    data, rows = KINDS[kind](dataset_id)
    now = timezone.now()
    _store(summary_key(kind, dataset_id), data, rows, time.perf_counter() - started, now)
    return Counted(data=data, computed_at=now, live=True)


def summaries_refresh(*, dataset_id: int | None = None) -> int:
    """Recount every stored summary (of one dataset, or all); returns how many. The beat job."""
    keys = Summary.objects.values_list("key", flat=True)
    if dataset_id is not None:
        keys = keys.filter(key__endswith=f":{dataset_id}")
    done = 0
    for key in list(keys):
        kind, _, dataset = key.rpartition(":")
        if kind not in KINDS:
            continue  # a kind no longer registered: leave it
        try:
            summary_refresh(kind, int(dataset))
        except Exception:  # one failing count must not stop the others
            log.exception("summary %s failed", key)
            continue
        done += 1
    return done


def summaries_forget(dataset_id: int) -> None:
    """Drop a dataset's stored summaries (the next reads count live again)."""
    Summary.objects.filter(key__endswith=f":{dataset_id}").delete()


def _store(key: str, data: dict, rows: int, seconds: float, now) -> None:
    Summary.objects.update_or_create(key=key, defaults={"data": data, "rows": rows, "seconds": round(seconds, 3),
                                                        "computed_at": now})


def _refresh_later(kind: str, dataset_id: int) -> None:
    if cache.add(f"summary-refresh:{kind}:{dataset_id}", 1, settings.MMIT_SUMMARY_REFRESH_SECONDS):
        try:
            background.task_send(REFRESH_TASK, kwargs={"dataset_id": dataset_id})
        except Exception:  # a page must not fail because the broker is away
            log.warning("could not ask for a recount of %s:%s", kind, dataset_id, exc_info=True)
