"""The one decorator every platform task goes through.

It fixes the task name (``mmit.<module>.<function>``, the name backend code enqueues by; the
queue comes from ``workers/routes.py``), time limits, retries with backoff for transient errors, late
acknowledgement (a task killed mid-way is redelivered) and logging, so tasks stay uniform.
Tasks take ids, re-fetch their rows, and must be idempotent because of those redeliveries.
"""
from __future__ import annotations

import functools
import logging
from typing import Callable

from django.db import InterfaceError, OperationalError

from workers.celery import app

log = logging.getLogger("workers")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def platform_task(
    *,
    soft_time_limit: int = 3600,
    time_limit: int | None = None,
    max_retries: int = 5,
) -> Callable:
    def decorate(func: Callable) -> Callable:
        name = f"mmit.{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}"

        @functools.wraps(func)
        def run(*args, **kwargs):
            log.info("task %s start args=%s kwargs=%s", name, args, kwargs)
            result = func(*args, **kwargs)
            log.info("task %s done", name)
            return result

        return app.task(
            run,
            name=name,
            soft_time_limit=soft_time_limit,
            time_limit=time_limit or soft_time_limit + 60,
            acks_late=True,
            reject_on_worker_lost=True,
            autoretry_for=TRANSIENT_ERRORS,
            retry_backoff=True,
            retry_backoff_max=300,
            retry_jitter=True,
            max_retries=max_retries,
        )

    return decorate
