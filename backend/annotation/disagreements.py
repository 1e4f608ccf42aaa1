"""The disagreement queue: the crowd's least certain verdicts first, for a curator to settle.

A label's uncertainty is how close its decision came to a coin toss: the stored ``confidence`` is
the decision's posterior under Dawid-Skene and its share of the votes under majority, so ordering
by it ascending puts "posterior nearest 0.5" and "the most split vote" first. Corrected labels
(already settled by a curator) and labels without answers are left out. Each row carries the votes
and each voter's gold accuracy, so the curator sees whose word it was.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.files.storage import default_storage
from django.db.models import Exists, F, OuterRef, Q

from backend.annotation.models import Answer
from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.labels.selectors import label_filter
from backend.videos.models import Dataset

QUEUE_LIMIT = 50
BAD_WORKER = "worker must be a worker's number (the id on the Workers page)."
UNCERTAIN_STATES = (Label.State.POSITIVE, Label.State.NEGATIVE, Label.State.AMBIGUOUS)


@dataclass
class Vote:
    worker_id: int
    worker: str
    value: bool
    gold_accuracy: float | None


@dataclass
class Disagreement:
    label: Label
    media_url: str
    yes: int
    no: int
    votes: list[Vote] = field(default_factory=list)


def disagreement_queue(*, dataset: Dataset, action: str = "", source: str = "", split: str = "",
                       worker: str | int | None = None, limit: int = QUEUE_LIMIT) -> list[Disagreement]:
    """The ``limit`` least certain decided labels of the dataset, with the filters (each optional)."""
    labels = (label_filter(dataset=dataset, action=action, source=source)
              .filter(state__in=UNCERTAIN_STATES, corrected=False, merged_into__isnull=True)
              .filter(Q(yes_count__gt=0) | Q(no_count__gt=0)))
    if split:
        labels = labels.filter(video__split=split)
    if worker not in (None, ""):
        try:
            worker_id = int(worker)
        except (TypeError, ValueError) as exc:
            raise DomainError(BAD_WORKER, field="worker") from exc
        labels = labels.filter(Exists(Answer.objects.filter(question__label=OuterRef("pk"), worker_id=worker_id)))
    rows = list(labels.select_related("video", "action")
                .order_by(F("confidence").asc(nulls_first=True), "id")[:limit])
    votes: dict[int, list[Vote]] = defaultdict(list)
    for answer in (Answer.objects.filter(question__label_id__in=[r.pk for r in rows], excluded=False)
                   .select_related("worker", "question").order_by("id")):
        w = answer.worker
        votes[answer.question.label_id].append(Vote(
            worker_id=w.pk, worker=w.external_id, value=answer.value,
            gold_accuracy=(w.gold_correct / w.gold_answers) if w.gold_answers else None))
    out = []
    for label in rows:
        found = votes.get(label.pk, [])
        out.append(Disagreement(
            label=label, media_url=default_storage.url(label.video.storage_key) if label.video.storage_key else "",
            yes=sum(v.value for v in found) if found else label.yes_count,
            no=sum(not v.value for v in found) if found else label.no_count, votes=found))
    return out
