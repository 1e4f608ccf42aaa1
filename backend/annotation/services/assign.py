"""Yes/No sets: assembled, released and expired by the graded-set engine (``crowd.sets``).

One action and one prompt per set, questions the worker has never been shown, hidden gold of the
same action; see ``services/yesno.py`` for what the Yes/No kind supplies.
"""
from __future__ import annotations

from backend.annotation.models import Prompt, TaskSet
from backend.annotation.services.yesno import YES_NO
from backend.crowd.models import Worker
from backend.crowd.sets import assign as engine
from backend.videos.models import Dataset


def gold_count(*, dataset: Dataset, worker: Worker) -> int:
    return engine.gold_count(kind=YES_NO, dataset=dataset, worker=worker)


def taskset_release(*, taskset: TaskSet, status: str, now=None) -> None:
    """Close an open set without answers; its questions return to the pool."""
    engine.set_release(kind=YES_NO, record=taskset, status=status, now=now)


def tasksets_expire(*, now=None) -> int:
    """Expire every abandoned set (the beat schedule runs this)."""
    return engine.sets_expire(kind=YES_NO, now=now)


def taskset_assign(
    *, dataset: Dataset, worker: Worker, prompt: str = Prompt.SEEN_OR_HEARD, provider_ref: dict | None = None,
    now=None,
) -> TaskSet | None:
    """The worker's open set (resumed) or a new one; None when there is no work for them."""
    return engine.set_assign(kind=YES_NO, dataset=dataset, worker=worker, spec={"prompt": prompt},
                             provider_ref=provider_ref, now=now)

