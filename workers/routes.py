"""Which queue each task goes to: the one place the platform's task routes are declared.

Every Celery app of the platform reads them through ``CELERY_TASK_ROUTES`` in the Django settings:
the workers' own app (``workers/celery.py``) and the producer backend code sends through
(``backend/common/background.py``), which names tasks and never imports them. This module imports
nothing, so the producer loads it without loading a single task.
"""
from __future__ import annotations

DEFAULT_QUEUE = "default"  # platform work: imports, rounds, exports, MTurk, regions
ML_QUEUE = "ml"  # training and interpretation, for GPU workers (celery -A workers worker -Q ml)
QUEUES = (DEFAULT_QUEUE, ML_QUEUE)

ROUTES: dict[str, str] = {
    "mmit.training.train_run": ML_QUEUE,
    "mmit.training.dissect_run": ML_QUEUE,
}


def route(name: str, args, kwargs, options, task=None, **kw) -> dict:
    """A Celery router: the queue of task ``name``."""
    return {"queue": ROUTES.get(name, DEFAULT_QUEUE)}
