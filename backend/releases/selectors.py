"""Reads of releases."""
from __future__ import annotations

from django.db.models import QuerySet

from backend.releases.models import Release
from backend.videos.models import Dataset


def release_list(*, dataset: Dataset) -> QuerySet[Release]:
    """The dataset's releases, newest first."""
    return Release.objects.filter(dataset=dataset).select_related("dataset").order_by("-version")
