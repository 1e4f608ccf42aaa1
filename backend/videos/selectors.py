"""Reads of datasets and videos."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from backend.common.errors import NotFound
from backend.videos.models import Dataset, Video

UNKNOWN_DATASET = "Unknown dataset {name!r}."


def dataset_get(*, name: str) -> Dataset:
    dataset = Dataset.objects.filter(name=name).first()
    if dataset is None:
        raise NotFound(UNKNOWN_DATASET.format(name=name), field="dataset")
    return dataset


def dataset_list() -> QuerySet[Dataset]:
    return Dataset.objects.annotate(
        video_count=Count("videos", filter=Q(videos__status=Video.Status.OK), distinct=True),
        quarantined_count=Count("videos", filter=Q(videos__status=Video.Status.QUARANTINED), distinct=True),
    )


def video_list(*, dataset: Dataset, status: str | None = None, split: str | None = None) -> QuerySet[Video]:
    qs = Video.objects.filter(dataset=dataset)
    if status:
        qs = qs.filter(status=status)
    if split:
        qs = qs.filter(split=split)
    return qs
