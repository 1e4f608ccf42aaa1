"""Starting background work: the one way backend code hands a job to the Celery workers.

Tasks are sent by name (``mmit.<module>.<function>``, fixed by ``workers.base.platform_task``)
after the current transaction commits, so a worker never looks for a row that is not there yet
and a rolled-back request starts nothing. Nothing under ``backend/`` imports ``workers/``: the
messages go through a producer, a Celery app configured from the same Django settings as the
workers' own app (broker, transport options, and the routes, which are declared once in
``workers/routes.py`` and named by ``CELERY_TASK_ROUTES``).

With ``CELERY_TASK_ALWAYS_EAGER`` (tests, a single-process trial) the task runs here instead, from
the task registry of the Celery app loaded in this process; that needs the workers' app loaded,
as it is in a worker, in beat, and in the tests.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from celery import Celery, current_app
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

APP_NAME = "mmit"
EAGER_WITHOUT_APP = ("CELERY_TASK_ALWAYS_EAGER runs task {name!r} in this process, but no Celery app with that "
                     "task is loaded here (the workers' app is: celery -A workers ...).")
BROKER_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


def broker_folders_ensure(options: dict | None) -> None:
    """kombu's filesystem transport (the embedded default) needs its folders before the first message."""
    for key in BROKER_FOLDERS:
        if (options or {}).get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@cache
def producer() -> Celery:
    """The Celery app backend code sends through (one per process; it runs no task)."""
    app = Celery(APP_NAME, set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    broker_folders_ensure(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    return app


def task_send(name: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> None:
    """Send task ``name`` now (callers normally want ``task_enqueue``, which waits for the commit)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        app = current_app._get_current_object()
        app.loader.import_default_modules()
        task = app.tasks.get(name)
        if task is None:
            raise ImproperlyConfigured(EAGER_WITHOUT_APP.format(name=name))
        task.apply(args=list(args), kwargs=kwargs or {}, throw=True)
        return
    producer().send_task(name, args=list(args), kwargs=kwargs or {})


def task_enqueue(name: str, *args: Any, **kwargs: Any) -> None:
    """Send task ``name`` with these arguments (ids and plain values, never model instances) once
    the current transaction commits; at once outside a transaction."""
    transaction.on_commit(lambda: task_send(name, args, kwargs))
