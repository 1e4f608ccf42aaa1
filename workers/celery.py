"""The Celery application.

Configuration comes from Django settings (``CELERY_*``). Two queues: ``default`` for platform
work and ``ml`` for training/prediction on GPU workers
(``celery -A workers worker -Q ml``).
"""
from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

app = Celery("mmit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("default"), Queue("ml"))
app.conf.include = [
    "workers.tasks.videos",
    "workers.tasks.annotation",
    "workers.tasks.candidates",
    "workers.tasks.mturk",
    "workers.tasks.regions",
    "workers.tasks.releases",
    "workers.tasks.training",
]
# Default schedule; django-celery-beat copies it into the database, where curators edit it.
app.conf.beat_schedule = {
    "expire-abandoned-sets": {"task": "mmit.annotation.expire_sets", "schedule": 60.0},
    "mturk-review": {"task": "mmit.mturk.review", "schedule": 300.0},
    "reap-stuck-runs": {"task": "mmit.training.reap_runs", "schedule": 600.0},
    "regions-advance": {"task": "mmit.regions.advance_all", "schedule": 60.0},
    "regions-expire-drawing-sets": {"task": "mmit.regions.expire_drawing_sets", "schedule": 60.0},
}


@app.on_after_configure.connect
def _prepare_filesystem_broker(sender, **kwargs) -> None:
    # kombu's filesystem transport needs its folders to exist before the first message.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
