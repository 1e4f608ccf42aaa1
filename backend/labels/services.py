"""Writes of labels that other data-model apps announce: the labels a manifest carries (an
import), and the labels of an action merged into another (a vocabulary merge).

Those apps sit below this one (a label names a video and an action), so they do not import it:
the import calls the handler registered here (``videos.services.manifest_labels_register``) and a
merge sends ``vocabulary.signals.action_merged``; both are connected in ``LabelsConfig.ready``.
"""
from __future__ import annotations

from collections.abc import Sequence

from django.db.models import OuterRef, Subquery

from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.videos.models import Dataset
from backend.videos.sources import ImportItem
from backend.vocabulary.models import Action
from backend.vocabulary.selectors import action_lookup

UNKNOWN_LABELS = "Unknown action(s) in the import: {names} (line {line}). Load or add them to the vocabulary first."


class ManifestLabels:
    """A manifest's labels become pending initial labels (each one a question to ask)."""

    def check(self, *, dataset: Dataset, items: Sequence[ImportItem]) -> None:
        lookup = action_lookup(dataset=dataset)
        for item in items:
            unknown = [name for name in item.labels if name not in lookup]
            if unknown:
                raise DomainError(UNKNOWN_LABELS.format(names=", ".join(map(repr, unknown)), line=item.line or "-"))

    def write(self, *, dataset: Dataset, items: Sequence[ImportItem], video_ids: dict[str, int]) -> int:
        lookup = action_lookup(dataset=dataset)
        labels = [
            Label(dataset=dataset, video_id=video_ids[item.source], action=lookup[name], asked_action=lookup[name],
                  source=Label.Source.INITIAL)
            for item in items if item.source in video_ids for name in item.labels
        ]
        videos = Label.objects.filter(dataset=dataset, video_id__in=video_ids.values())
        before = videos.count()
        Label.objects.bulk_create(labels, ignore_conflicts=True)
        return videos.count() - before


def labels_move_action(*, source: Action, target: Action, **_) -> dict[str, int]:
    """The labels of ``source`` move to ``target`` (a vocabulary merge).

    A video that already has a label for `target` keeps that one; the source's label is marked
    `merged` with `merged_into` pointing at it (its answers stay attached, nothing is lost), and
    a positive source label makes the target label positive, since both now name one class.
    """
    target_pairs = Label.objects.filter(action=target)
    clashing = Label.objects.filter(action=source, video_id__in=target_pairs.values("video_id"))
    positives_onto = target_pairs.filter(
        video_id__in=clashing.filter(state=Label.State.POSITIVE).values("video_id")
    ).exclude(state=Label.State.POSITIVE)
    upgraded = positives_onto.update(state=Label.State.POSITIVE)
    superseded = clashing.update(
        state=Label.State.MERGED,
        merged_into=Subquery(
            Label.objects.filter(action=target, video_id=OuterRef("video_id")).values("id")[:1]
        ),
    )
    moved = Label.objects.filter(action=source).exclude(state=Label.State.MERGED).update(action=target)
    return {"moved": moved, "superseded": superseded, "upgraded": upgraded}
