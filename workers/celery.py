"""The Celery application.

Configuration comes from Django settings (``CELERY_*``), the same settings the producer of
``backend/common/background.py`` reads. Two queues (``workers/routes.py`` says which task goes
where): ``default`` for platform work and ``ml`` for training/prediction on GPU workers
(``celery -A workers worker -Q ml``).
"""
from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

from backend.config.env import env_int
from workers.routes import QUEUES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

app = Celery("mmit")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue on an exchange of its own, bound by its own name: exactly how the producer of
# backend/common/background.py, which has no queue list, declares a queue it routes to
# (workers/routes.py), so both apps publish a task to the same exchange and key.
app.conf.task_queues = tuple(Queue(name, Exchange(name), routing_key=name) for name in QUEUES)
app.conf.include = [
    "workers.tasks.videos",
    "workers.tasks.annotation",
    "workers.tasks.candidates",
    "workers.tasks.mturk",
    "workers.tasks.regions",
    "workers.tasks.releases",
    "workers.tasks.training",
    "workers.tasks.campaigns",
    "workers.tasks.summaries",
]
# Default schedule; django-celery-beat copies it into the database, where curators edit it.
app.conf.beat_schedule = {
    "expire-abandoned-sets": {"task": "mmit.annotation.expire_sets", "schedule": 60.0},
    "mturk-review": {"task": "mmit.mturk.review", "schedule": 300.0},
    "reap-stuck-runs": {"task": "mmit.training.reap_runs", "schedule": 600.0},
    # the closed loop of every running campaign, one step at a time (backend/campaigns)
    "campaigns-advance": {"task": "mmit.campaigns.advance_all", "schedule": 30.0},
    "regions-advance": {"task": "mmit.regions.advance_all", "schedule": 60.0},
    "regions-expire-drawing-sets": {"task": "mmit.regions.expire_drawing_sets", "schedule": 60.0},
    # the summaries large datasets' pages read (backend/common/summaries.py)
    "summaries-refresh": {"task": "mmit.summaries.refresh",
                          "schedule": float(env_int("MMIT_SUMMARY_REFRESH_SECONDS", 60))},
}


@app.on_after_configure.connect
def _prepare_filesystem_broker(sender, **kwargs) -> None:
    from backend.common.background import broker_folders_ensure

    broker_folders_ensure(sender.conf.broker_transport_options)
