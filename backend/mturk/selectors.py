"""Reads for publishing, the review loop and the staff dashboard (HITs, assignments, spend)."""
from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from backend.annotation.models import Prompt
from backend.common.errors import NotFound
from backend.common.summaries import summary_kind, summary_read
from backend.crowd.models import Worker
from backend.crowd.sets.kinds import kind_named
from backend.mturk.models import Assignment, Batch, Bonus, Hit
from backend.videos.models import Dataset

BATCH_NOT_FOUND = "There is no such batch."
HIT_NOT_FOUND = "There is no such HIT."
WORKER_NOT_FOUND = "There is no MTurk worker {worker_id}."
_MONEY = DecimalField(max_digits=12, decimal_places=2)


def work_missing(*, dataset: Dataset, kind: str = "yesno", prompt: str = Prompt.SEEN_OR_HEARD) -> int:
    """Work still to collect on the batch's queue (answers, drawings), not counting sets already
    out with workers."""
    return kind_named(kind).work_missing(dataset=dataset, spec={"prompt": prompt})


@summary_kind("work")
def work_count(dataset_id: int) -> tuple[dict, int]:
    """Yes/No answers still to collect, as a summary the MTurk page reads (live while small)."""
    missing = work_missing(dataset=Dataset.objects.get(pk=dataset_id))
    return {"yesno": missing}, missing


def work_missing_counted(*, dataset: Dataset) -> int:
    """``work_missing`` of the Yes/No queue for a page: from its summary (publishing counts live)."""
    return summary_read("work", dataset.pk).data["yesno"]


def work_complete(*, dataset_id: int, kind: str = "yesno", prompt: str = Prompt.SEEN_OR_HEARD) -> bool:
    """True when nothing open on the batch's queue still needs work (its HITs can expire)."""
    return kind_named(kind).work_complete(dataset_id=dataset_id, spec={"prompt": prompt})


def _sum(qs: QuerySet, field: str, group: str) -> Coalesce:
    sub = qs.order_by().values(group).annotate(s=Sum(field)).values("s")
    return Coalesce(Subquery(sub, output_field=_MONEY), Value(Decimal(0)), output_field=_MONEY)


def batch_list() -> QuerySet[Batch]:
    """Batches with their budget, what is committed and what was actually spent."""
    return (
        Batch.objects.select_related("dataset", "job", "hit_type")
        .annotate(
            hits_committed=_sum(Hit.objects.filter(batch=OuterRef("pk")), "cost_committed", "batch"),
            bonus_committed=_sum(Bonus.objects.filter(assignment__hit__batch=OuterRef("pk"))
                                 .exclude(status=Bonus.Status.FAILED), "cost", "assignment__hit__batch"),
            spent_assignments=_sum(Assignment.objects.filter(hit__batch=OuterRef("pk")), "cost", "hit__batch"),
            spent_bonuses=_sum(Bonus.objects.filter(assignment__hit__batch=OuterRef("pk"), status=Bonus.Status.PAID),
                               "cost", "assignment__hit__batch"),
            hits_created=Count("hits", filter=Q(hits__hit_id__isnull=False)),
        )
        .annotate(committed=F("hits_committed") + F("bonus_committed"),
                  spent=F("spent_assignments") + F("spent_bonuses"))
        .order_by("-id")
    )


def batch_get(*, public_id) -> Batch:
    batch = batch_list().filter(public_id=public_id).first()
    if batch is None:
        raise NotFound(BATCH_NOT_FOUND)
    return batch


def hit_list(*, batch: Batch | None = None) -> QuerySet[Hit]:
    qs = Hit.objects.select_related("batch__dataset")
    if batch is not None:
        qs = qs.filter(batch=batch)
    return qs.annotate(
        submitted=Count("assignments", filter=Q(assignments__mturk_status=Assignment.MTurkStatus.SUBMITTED)),
        approved=Count("assignments", filter=Q(assignments__mturk_status=Assignment.MTurkStatus.APPROVED)),
        rejected=Count("assignments", filter=Q(assignments__mturk_status=Assignment.MTurkStatus.REJECTED)),
        working=Count("assignments", filter=Q(assignments__mturk_status=Assignment.MTurkStatus.WORKING)),
        spent=Coalesce(Sum("assignments__cost"), Value(Decimal(0)), output_field=_MONEY),
    ).order_by("batch_id", "index")


def hit_get(*, ref: str) -> Hit:
    """A HIT by its MTurk id or its request token (the link in RequesterAnnotation)."""
    hit = hit_list().filter(Q(token=ref) | Q(hit_id=ref)).first()
    if hit is None:
        raise NotFound(HIT_NOT_FOUND)
    return hit


def assignment_list(*, hit: Hit | None = None, worker: Worker | None = None) -> QuerySet[Assignment]:
    qs = Assignment.objects.select_related("hit", "worker", "taskset", "drawing_set")
    if hit is not None:
        qs = qs.filter(hit=hit)
    if worker is not None:
        qs = qs.filter(worker=worker)
    return qs.order_by("id")


def worker_list() -> QuerySet[Worker]:
    """MTurk workers with their assignments, spend and block state, for per-worker actions."""
    return (
        Worker.objects.filter(provider="mturk").select_related("mturk_standing")
        .annotate(
            mturk_submitted=Count("mturk_assignments", filter=~Q(mturk_assignments__mturk_status="")),
            mturk_approved=Count("mturk_assignments",
                                 filter=Q(mturk_assignments__mturk_status=Assignment.MTurkStatus.APPROVED)),
            mturk_rejected=Count("mturk_assignments",
                                 filter=Q(mturk_assignments__mturk_status=Assignment.MTurkStatus.REJECTED)),
            mturk_spent=_sum(Assignment.objects.filter(worker=OuterRef("pk")), "cost", "worker"),
            bonus_spent=_sum(Bonus.objects.filter(worker=OuterRef("pk"), status=Bonus.Status.PAID), "cost", "worker"),
        )
        .order_by("id")
    )


def worker_by_mturk_id(*, mturk_worker_id: str) -> Worker:
    """The annotator behind an MTurk worker id (with their MTurk figures)."""
    annotator = worker_list().filter(external_id=mturk_worker_id).first()
    if annotator is None:
        raise NotFound(WORKER_NOT_FOUND.format(worker_id=mturk_worker_id))
    return annotator


def workers_to_notify(*, batch_public_id=None, worker_ids: list[str] | None = None) -> list[Worker]:
    """Everyone who worked on a batch, or the named workers (MTurk workers only)."""
    workers = Worker.objects.filter(provider="mturk")
    if batch_public_id:
        workers = workers.filter(mturk_assignments__hit__batch__public_id=batch_public_id)
    elif worker_ids:
        workers = workers.filter(external_id__in=worker_ids)
    else:
        return []
    return list(workers.distinct().order_by("id"))


def hits_to_review() -> QuerySet[Hit]:
    return Hit.objects.filter(status__in=[Hit.Status.OPEN, Hit.Status.EXPIRED], hit_id__isnull=False) \
        .select_related("batch").order_by("id")
