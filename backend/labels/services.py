"""Writes of labels that other data-model apps announce: the labels a manifest carries (an
import), and the labels of an action merged into another (a vocabulary merge).

Those apps sit below this one (a label names a video and an action), so they do not import it:
the import calls the handler registered here (``videos.services.manifest_labels_register``) and a
merge sends ``vocabulary.signals.action_merged``; both are connected in ``LabelsConfig.ready``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from backend.common.errors import DomainError
from backend.labels.models import Label, LabelImport
from backend.videos.models import Dataset
from backend.videos.services import ImportOrigin
from backend.videos.sources import ImportItem
from backend.vocabulary.models import Action
from backend.vocabulary.selectors import action_lookup

UNKNOWN_LABELS = "Unknown action(s) in the import: {names} (line {line}). Load or add them to the vocabulary first."


class ManifestLabels:
    """A manifest's labels become pending initial labels (each one a question to ask), or, from a
    trusted import, verified positives with source ``import`` and their provenance (no question:
    questions are only ever made for pending labels)."""

    def check(self, *, dataset: Dataset, items: Sequence[ImportItem]) -> None:
        lookup = action_lookup(dataset=dataset)
        for item in items:
            unknown = [name for name in item.labels if name not in lookup]
            if unknown:
                raise DomainError(UNKNOWN_LABELS.format(names=", ".join(map(repr, unknown)), line=item.line or "-"))

    def trusted_begin(self, *, dataset: Dataset, source: str, origin: ImportOrigin) -> TrustedImport:
        return TrustedImport(dataset=dataset, source=source, origin=origin)

    def write(self, *, dataset: Dataset, items: Sequence[ImportItem], video_ids: dict[str, int],
              trusted: TrustedImport | None = None) -> int:
        lookup = action_lookup(dataset=dataset)
        pairs = {(video_ids[item.source], lookup[name]): None
                 for item in items if item.source in video_ids for name in item.labels}
        videos = Label.objects.filter(dataset=dataset, video_id__in=video_ids.values())
        if trusted is None:
            fields = {"source": Label.Source.INITIAL}
        else:
            # A pair that has a label already keeps it; the provenance is written with the first
            # label it accounts for (in that batch's transaction), so a re-run records none.
            existing = set(videos.values_list("video_id", "action_id"))
            pairs = {(video_id, action): None for video_id, action in pairs if (video_id, action.pk) not in existing}
            if not pairs:
                return 0
            fields = {"source": Label.Source.IMPORT, "state": Label.State.POSITIVE, "decided_at": timezone.now(),
                      "imported_from": trusted.record_get()}
        labels = [Label(dataset=dataset, video_id=video_id, action=action, asked_action=action, **fields)
                  for video_id, action in pairs]
        before = videos.count()
        Label.objects.bulk_create(labels, ignore_conflicts=True)
        added = videos.count() - before
        if trusted is not None and added:
            LabelImport.objects.filter(pk=trusted.record.pk).update(labels_added=F("labels_added") + added)
        return added


@dataclass
class TrustedImport:
    """One trusted import run: its provenance row is made when it first records a label."""

    dataset: Dataset
    source: str
    origin: ImportOrigin
    record: LabelImport | None = None

    def record_get(self) -> LabelImport:
        if self.record is None and self.origin.job_id is not None:
            # the chunks of one import job share its provenance row
            self.record = LabelImport.objects.filter(dataset=self.dataset, job_id=self.origin.job_id).first()
        if self.record is None:
            self.record = LabelImport.objects.create(
                dataset=self.dataset, manifest=self.source[:2048], imported_by_id=self.origin.user_id,
                imported_by_name=self.origin.user_name[:150], via=self.origin.via, job_id=self.origin.job_id,
            )
        return self.record


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
