"""Reads for the curator dashboard: one grouped query per table, never a query per row."""
from __future__ import annotations

import statistics
from collections import defaultdict

from django.db.models import Count, F, Q

from backend.annotation.models import Answer, Question, TaskSet
from backend.common.models import Job
from backend.crowd.models import Worker
from backend.labels.models import Label
from backend.videos.models import Dataset, Video


def dataset_overview(dataset: Dataset) -> dict:
    videos = Video.objects.filter(dataset=dataset).aggregate(
        ok=Count("id", filter=Q(status=Video.Status.OK)),
        quarantined=Count("id", filter=Q(status=Video.Status.QUARANTINED)),
    )
    questions = Question.objects.filter(dataset=dataset).aggregate(
        total=Count("id"), open=Count("id", filter=Q(state=Question.State.OPEN)),
        decided=Count("id", filter=Q(state=Question.State.DECIDED)),
    )
    labels = Label.objects.filter(dataset=dataset).aggregate(
        positive=Count("id", filter=Q(state=Label.State.POSITIVE)),
        negative=Count("id", filter=Q(state=Label.State.NEGATIVE)),
        ambiguous=Count("id", filter=Q(state=Label.State.AMBIGUOUS)),
        pending=Count("id", filter=Q(state=Label.State.PENDING)),
    )
    sets = TaskSet.objects.filter(dataset=dataset).aggregate(
        accepted=Count("id", filter=Q(status=TaskSet.Status.ACCEPTED)), total=Count("id"))
    return {
        "videos": videos, "questions": questions, "labels": labels, "sets": sets,
        "answers": Answer.objects.filter(question__dataset=dataset).count(),
        "spend": dataset_spend(dataset),
    }


def dataset_spend(dataset: Dataset) -> dict:
    """What was spent against the budget (crowd providers that pay record their cost)."""
    from backend.mturk.selectors import batch_list

    spent = float(sum(b.spent for b in batch_list().filter(dataset=dataset)))
    budget = float(dataset.budget)
    return {"spent": spent, "budget": budget, "fraction": min(1.0, spent / budget) if budget else 0.0}


def running_jobs(dataset: Dataset | None = None, limit: int = 20):
    qs = Job.objects.all()
    if dataset is not None:
        qs = qs.filter(params__dataset=dataset.name)
    return qs.order_by("-created_at")[:limit]


def worker_rows(*, dataset: Dataset | None = None, offset: int = 0, limit: int = 50) -> list[dict]:
    """Workers with gold accuracy, agreement with consensus, median answer time, refusals."""
    workers = Worker.objects.all()
    if dataset is not None:
        workers = workers.filter(sets__dataset=dataset).distinct()
    page = list(workers.order_by("-answers_count", "id")[offset: offset + limit])
    ids = [w.pk for w in page]
    agreement = {
        r["worker_id"]: r for r in Answer.objects.filter(worker_id__in=ids, question__state=Question.State.DECIDED)
        .exclude(question__decision="ambiguous").values("worker_id").annotate(
            n=Count("id"),
            agree=Count("id", filter=Q(value=True, question__decision="positive")
                        | Q(value=False, question__decision="negative")))
    }
    durations = defaultdict(list)
    for wid, ms in (Answer.objects.filter(worker_id__in=ids).exclude(duration_ms=None)
                    .order_by("-id").values_list("worker_id", "duration_ms")[:50 * max(1, len(ids))]):
        durations[wid].append(ms)
    rows = []
    for w in page:
        a = agreement.get(w.pk)
        rows.append({
            "worker": w,
            "gold_accuracy": w.gold_accuracy,
            "agreement": a["agree"] / a["n"] if a and a["n"] else None,
            "median_ms": statistics.median(durations[w.pk]) if durations[w.pk] else None,
        })
    return rows


def label_page(*, dataset: Dataset, action: str = "", state: str = "", source: str = "", offset: int = 0,
               limit: int = 50):
    qs = Label.objects.filter(dataset=dataset).select_related("video", "action").order_by("video__name", "action__name")
    if action:
        qs = qs.filter(action__name=action)
    if state:
        qs = qs.filter(state=state)
    if source:
        qs = qs.filter(source=source)
    return qs.count(), list(qs[offset: offset + limit])


def video_detail(*, dataset: Dataset, video_id: int):
    video = Video.objects.filter(dataset=dataset, pk=video_id).first()
    if video is None:
        return None, []
    labels = list(Label.objects.filter(video=video).select_related("action").order_by("action__name"))
    answers = defaultdict(list)
    for qid, label_id, worker, value, excluded in (
        Answer.objects.filter(question__video=video).values_list(
            "question_id", "question__label_id", "worker__external_id", "value", "excluded")):
        answers[label_id].append({"worker": worker, "value": value, "excluded": excluded})
    return video, [(label, answers.get(label.pk, [])) for label in labels]


def answers_per_day(dataset: Dataset) -> list[dict]:
    from django.db.models.functions import TruncDate

    return list(Answer.objects.filter(question__dataset=dataset).annotate(day=TruncDate("created_at"))
                .values("day").annotate(n=Count("id")).order_by("day"))


def label_counts_by_action(dataset: Dataset, limit: int = 40) -> list[dict]:
    return list(Label.objects.filter(dataset=dataset, state=Label.State.POSITIVE).values(name=F("action__name"))
                .annotate(n=Count("id")).order_by("-n", "name")[:limit])

