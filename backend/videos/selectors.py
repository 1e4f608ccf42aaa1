"""Reads of datasets and videos."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from backend.common.errors import NotFound
from backend.common.summaries import summary_kind, summary_read
from backend.videos.models import Dataset, Video

UNKNOWN_DATASET = "Unknown dataset {name!r}."


def dataset_get(*, name: str) -> Dataset:
    dataset = Dataset.objects.filter(name=name).first()
    if dataset is None:
        raise NotFound(UNKNOWN_DATASET.format(name=name), field="dataset")
    return dataset


@summary_kind("videos")
def video_counts(dataset_id: int) -> tuple[dict, int]:
    """A dataset's videos, usable and quarantined (a summary: live while small)."""
    counts = Video.objects.filter(dataset_id=dataset_id).aggregate(
        ok=Count("id", filter=Q(status=Video.Status.OK)),
        quarantined=Count("id", filter=Q(status=Video.Status.QUARANTINED)))
    return counts, counts["ok"] + counts["quarantined"]


def dataset_counted(dataset: Dataset) -> Dataset:
    """``dataset`` with ``video_count`` and ``quarantined_count`` (from its summary)."""
    counts = summary_read("videos", dataset.pk).data
    dataset.video_count, dataset.quarantined_count = counts["ok"], counts["quarantined"]
    return dataset


def dataset_list() -> list[Dataset]:
    """Every dataset, with its video counts."""
    return [dataset_counted(d) for d in Dataset.objects.order_by("name")]


def video_list(*, dataset: Dataset, status: str | None = None, split: str | None = None) -> QuerySet[Video]:
    qs = Video.objects.filter(dataset=dataset)
    if status:
        qs = qs.filter(status=status)
    if split:
        qs = qs.filter(split=split)
    return qs


SEARCH_LIMIT = 50


def video_search(*, dataset: Dataset, q: str, limit: int = SEARCH_LIMIT) -> list[Video]:
    """The dataset's videos a search box means: the video with that id (digits), then the videos
    whose name starts with ``q`` (without case), at most ``limit``, by name.

    Both are index lookups (the primary key; ``video_name_prefix``, migration 0005), so a search
    costs the same in a million videos as in ten.
    """
    q = (q or "").strip()
    if not q:
        return []
    found: list[Video] = []
    if q.isdigit() and len(q) < 19:
        found.extend(Video.objects.filter(dataset=dataset, pk=int(q)))
    # `istartswith` escapes `%` and `_`: a name holding them is matched literally.
    by_name = Video.objects.filter(dataset=dataset, name__istartswith=q).exclude(pk__in=[v.pk for v in found])
    found.extend(by_name.order_by("name", "id")[: max(0, limit - len(found))])
    return found
