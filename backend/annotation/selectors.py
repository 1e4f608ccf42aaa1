"""Reads for the engine: sets as the client sees them, worker statistics."""
from __future__ import annotations

import statistics

from django.db.models import Count, Q

from backend.annotation.models import Answer, Prompt, Question, SetItem, TaskSet
from backend.crowd.models import Worker
from backend.crowd.sets.media import PREVIEW_PREFIX, ItemMedia

MEDIA = ItemMedia(salt="mmit.media", url_name="work-media")


def taskset_payload(taskset: TaskSet, *, preview: bool = False) -> dict:
    """What the annotator page receives. Items carry only an opaque id and a media URL."""
    items = SetItem.objects.filter(taskset=taskset).order_by("position").values_list("public_id", flat=True)
    action = taskset.action
    media_type = "video" if taskset.prompt == Prompt.SEEN_OR_HEARD else "image"
    return {
        "id": str(taskset.public_id),
        "dataset": taskset.dataset.name,
        "prompt": taskset.prompt,
        "question": Prompt(taskset.prompt).label,
        "action": {"name": action.name, "display_name": action.display_name, "definition": action.definition,
                   "definition_generated": action.definition_generated},
        "items": [{"id": str(pid), "media_url": MEDIA.url(pid), "media_type": media_type} for pid in items],
        "status": taskset.status,
        "attempts_left": max(0, taskset.max_attempts - taskset.attempts),
        "expires_at": taskset.expires_at.isoformat(),
        "preview": preview,
    }


def media_for_item(public_id) -> tuple[str, str] | None:
    """(kind, storage key) of an item's media; the same lookup for gold and regular items."""
    if str(public_id).startswith(PREVIEW_PREFIX):
        q = Question.objects.filter(pk=str(public_id)[len(PREVIEW_PREFIX):]).select_related("video").first()
        return None if q is None else (("image", q.image_key) if q.image_key else ("video", q.video.storage_key))
    item = (
        SetItem.objects.filter(public_id=public_id)
        .select_related("question__video", "gold__video")
        .only("question__image_key", "question__video__storage_key", "gold__image_key", "gold__video__storage_key",
              "taskset_id")
        .first()
    )
    if item is None:
        return None
    source = item.question or item.gold
    if source.image_key:
        return "image", source.image_key
    return "video", source.video.storage_key


def worker_answers_by_day(*, worker: Worker, days: int = 60) -> list[dict]:
    """The worker's answers per day over the last ``days`` days with any, oldest first (a chart)."""
    from django.db.models import Count
    from django.db.models.functions import TruncDate

    rows = (Answer.objects.filter(worker=worker).annotate(day=TruncDate("created_at")).values("day")
            .annotate(n=Count("id")).order_by("-day")[:days])
    return [{"label": row["day"].isoformat(), "value": row["n"]} for row in reversed(rows)]


def worker_stats(*, worker: Worker) -> dict:
    """Answers, gold accuracy, agreement with consensus, median time, refused sets, block state."""
    answers = Answer.objects.filter(worker=worker)
    decided = answers.filter(question__state=Question.State.DECIDED).exclude(question__decision="ambiguous")
    agree = decided.filter(
        Q(value=True, question__decision="positive") | Q(value=False, question__decision="negative")
    ).count()
    n_decided = decided.count()
    durations = [d for d in answers.exclude(duration_ms=None).values_list("duration_ms", flat=True)[:10000]]
    return {
        "worker": str(worker),
        "answers": worker.answers_count,
        "gold_answers": worker.gold_answers,
        "gold_accuracy": worker.gold_accuracy,
        "agreement": agree / n_decided if n_decided else None,
        "median_ms": statistics.median(durations) if durations else None,
        "sets_accepted": worker.sets_accepted,
        "attempts_refused": worker.attempts_refused,
        "sets_failed": worker.sets_failed,
        "blocked": worker.blocked,
        "blocked_reason": worker.blocked_reason,
    }


def worker_table():
    """Workers with their answer counts, for the dashboard."""
    return Worker.objects.annotate(n_answers=Count("answers")).order_by("-n_answers")


def preview_payload(*, dataset, prompt: str = Prompt.SEEN_OR_HEARD) -> dict | None:
    """A sample set for preview: real clips of one action, nothing reserved, nothing gradable."""
    first = (
        Question.objects.filter(dataset=dataset, prompt=prompt, state=Question.State.OPEN)
        .select_related("action").order_by("id").first()
    )
    if first is None:
        return None
    ids = list(
        Question.objects.filter(dataset=dataset, prompt=prompt, state=Question.State.OPEN, action=first.action)
        .order_by("id").values_list("pk", flat=True)[: dataset.set_size]
    )
    media_type = "video" if prompt == Prompt.SEEN_OR_HEARD else "image"
    action = first.action
    return {
        "id": None,
        "dataset": dataset.name,
        "prompt": prompt,
        "question": Prompt(prompt).label,
        "action": {"name": action.name, "display_name": action.display_name, "definition": action.definition,
                   "definition_generated": action.definition_generated},
        "items": [{"id": f"preview-{n}", "media_url": MEDIA.url(f"{PREVIEW_PREFIX}{qid}"), "media_type": media_type}
                  for n, qid in enumerate(ids)],
        "status": "preview",
        "attempts_left": 0,
        "expires_at": None,
        "preview": True,
    }
