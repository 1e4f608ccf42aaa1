"""Reads of labels: the label browser's filtered selection (which bulk corrections act on too) and
the corrections history of labels."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from backend.labels.models import Label, LabelCorrection
from backend.videos.models import Dataset


def label_filter(*, dataset: Dataset, action: str = "", state: str = "", source: str = "") -> QuerySet[Label]:
    """The dataset's labels with the label browser's filters (each one optional): the action's
    name, the state and the source. Empty filters select every label."""
    qs = Label.objects.filter(dataset=dataset)
    if action:
        qs = qs.filter(action__name=action)
    if state:
        qs = qs.filter(state=state)
    if source:
        qs = qs.filter(source=source)
    return qs


def label_get(*, dataset: Dataset, label_id: int) -> Label | None:
    return Label.objects.filter(dataset=dataset, pk=label_id).select_related("dataset", "video", "action").first()


def label_corrections(*, label_ids: Iterable[int]) -> dict[int, list[LabelCorrection]]:
    """Each label's corrections, oldest first (one query for a whole page of labels)."""
    history: dict[int, list[LabelCorrection]] = defaultdict(list)
    for correction in LabelCorrection.objects.filter(label_id__in=list(label_ids)).order_by("id"):
        history[correction.label_id].append(correction)
    return dict(history)
