"""Reads of model runs."""
from __future__ import annotations

from django.db.models import QuerySet

from backend.training.models import ModelRun
from backend.videos.models import Dataset


def run_list(*, dataset: Dataset, status: str | None = None) -> QuerySet[ModelRun]:
    """The dataset's runs, newest first (optionally of one status), with their releases."""
    runs = ModelRun.objects.filter(dataset=dataset).select_related("release", "dataset")
    return runs.filter(status=status) if status else runs


def run_get(*, dataset: Dataset, run_id: int) -> ModelRun | None:
    return run_list(dataset=dataset).filter(pk=run_id).first()
