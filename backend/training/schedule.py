"""The retraining schedule, stored with django-celery-beat so curators edit it in the admin."""
from __future__ import annotations

import json

from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from backend.common.errors import DomainError
from backend.videos.models import Dataset

BAD_INTERVAL = "The retraining interval must be at least 1 minute."


@transaction.atomic
def retraining_schedule(*, dataset: Dataset, every_hours: float, config: dict, enabled: bool = True) -> PeriodicTask:
    minutes = int(round(every_hours * 60))
    if minutes < 1:
        raise DomainError(BAD_INTERVAL)
    interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period=IntervalSchedule.MINUTES)
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"retrain {dataset.name}",
        defaults={"task": "mmit.training.retrain", "interval": interval, "kwargs": json.dumps(
            {"dataset_name": dataset.name, "config": config}), "enabled": enabled},
    )
    return task
