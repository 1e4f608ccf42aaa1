"""Step 3, region selection: drawing sets (one HIT each), hidden gold images graded by IoU.

The same rules as the Yes/No engine: a set holds frames of one action the worker has never
drawn, with gold images (a curated frame with known boxes, or with none when the action is not
visible there) mixed in at random positions; the client sees opaque item ids and same-form media
URLs only. At submit the boxes are validated (a 4xx that stores nothing), gold is graded on the
server (more than one missed gold image refuses the attempt without saying which), attempts are capped, a
retried submission id replays its recorded outcome, and the set's row lock makes concurrent
submits record one result. Grading feeds the worker's shared gold counters, so the engine's
blocking policy catches a bad drawer like a bad Yes/No worker.
"""
from __future__ import annotations

import math
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from backend.annotation.models import GoldQuestion, Prompt
from backend.annotation.services.assign import WORKER_BLOCKED as ASSIGN_BLOCKED
from backend.common.errors import DomainError, Forbidden, Gone, NotFound
from backend.crowd.models import Worker
from backend.crowd.policy import block_reason
from backend.crowd.services import worker_block, worker_record_grading
from backend.regions.conf import regions_conf
from backend.regions.geometry import TOO_MANY_BOXES, BoxError, box_validate, grade_gold
from backend.regions.models import (
    Drawing,
    DrawingAttempt,
    DrawingItem,
    DrawingSet,
    FrameAction,
    GoldDrawing,
    RegionFrame,
)
from backend.videos.models import Dataset

WORKER_BLOCKED = ASSIGN_BLOCKED
SET_NOT_FOUND = "There is no such drawing set."
NOT_YOUR_SET = "This drawing set belongs to another worker."
SET_EXPIRED = "This drawing set has expired; its images went back to the pool. Ask for a new set."
SET_CLOSED = "This drawing set is closed: it was refused too many times."
SET_CANCELLED = "This drawing set was cancelled."
SUBMIT_BLOCKED = "Your account can no longer submit work."
MISSING_ITEMS = "Draw boxes on every image or skip it before submitting ({n} missing)."
UNKNOWN_ITEMS = "The submission names {n} image(s) that are not in this set."
DUPLICATE_ITEMS = "The submission answers an image more than once."
SKIP_AND_BOXES = "Image {item}: either skip an image or draw boxes on it, not both."
NOTHING_DRAWN = "Image {item}: draw at least one box, or skip the image when no region helps."
REVIEW_MESSAGE = (
    "Some of your boxes do not match what we know about these images. Please review every image: "
    "box the regions that show the action, tightly, and skip only images where the action is not visible."
)
ACCEPTED_MESSAGE = "Thank you! Your regions were recorded."

_random = secrets.SystemRandom()  # gold positions must not be predictable


def _lock(qs):
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs


# -- assignment ----------------------------------------------------------------------------------
def _available(*, dataset: Dataset, worker: Worker):
    drawn = DrawingItem.objects.filter(target=OuterRef("pk"), drawing_set__worker=worker)
    return (
        FrameAction.objects.filter(dataset=dataset, stage=FrameAction.Stage.DRAWING)
        .filter(drawings_needed__gt=F("drawings") + F("in_flight"))
        .exclude(Exists(drawn))
    )


def drawing_gold_count(*, dataset: Dataset, worker: Worker, set_size: int) -> int:
    """Probation as in the engine: more gold in a worker's first drawing sets."""
    closed = DrawingSet.objects.filter(worker=worker, status__in=[DrawingSet.Status.ACCEPTED,
                                                                  DrawingSet.Status.FAILED]).count()
    ratio = dataset.probation_gold_ratio if closed < dataset.probation_sets else dataset.gold_ratio
    return 0 if ratio <= 0 else max(1, math.floor(set_size * ratio + 0.5))


def _pick_gold(*, dataset: Dataset, worker: Worker, action_id: int, n: int) -> list[GoldQuestion]:
    """Gold images of the set's action (visible gold with a stored frame), unseen ones first,
    alternating images with boxes and images to skip so neither one-sided habit passes."""
    if n <= 0:
        return []
    frames = RegionFrame.objects.filter(dataset=dataset).values("image_key")
    pool = list(
        GoldQuestion.objects.filter(dataset=dataset, prompt=Prompt.VISIBLE, action_id=action_id, active=True,
                                    image_key__in=frames)
        .annotate(seen=Count("drawings", filter=Q(drawings__worker=worker)))
    )
    pool = [g for g in pool if g.boxes or not g.truth]
    _random.shuffle(pool)
    pool.sort(key=lambda g: g.seen)
    boxed = [g for g in pool if g.truth]
    empty = [g for g in pool if not g.truth]
    chosen: list[GoldQuestion] = []
    while len(chosen) < n and (boxed or empty):
        for side in (boxed, empty) if len(chosen) % 2 == 0 else (empty, boxed):
            if side:
                chosen.append(side.pop(0))
                break
    return chosen


def drawingset_release(*, drawing_set: DrawingSet, status: str, now=None) -> None:
    """Close an open set without drawings; its frames return to the pool."""
    updated = DrawingSet.objects.filter(pk=drawing_set.pk, status=DrawingSet.Status.OPEN).update(
        status=status, closed_at=now or timezone.now())
    if updated:
        ids = list(DrawingItem.objects.filter(drawing_set_id=drawing_set.pk, target__isnull=False).values_list(
            "target_id", flat=True))
        FrameAction.objects.filter(pk__in=ids, in_flight__gt=0).update(in_flight=F("in_flight") - 1)
    drawing_set.status = status


def drawingsets_expire(*, now=None) -> int:
    """Expire every abandoned drawing set (idempotent; the beat schedule can run it)."""
    now = now or timezone.now()
    count = 0
    for ds in DrawingSet.objects.filter(status=DrawingSet.Status.OPEN, expires_at__lte=now).only("pk", "status"):
        with transaction.atomic():
            drawingset_release(drawing_set=ds, status=DrawingSet.Status.EXPIRED, now=now)
        count += 1
    return count


@transaction.atomic
def drawingset_assign(*, dataset: Dataset, worker: Worker, provider_ref: dict | None = None,
                      now=None) -> DrawingSet | None:
    """The worker's open drawing set (resumed) or a new one; None when there is no work."""
    now = now or timezone.now()
    if Worker.objects.filter(pk=worker.pk, blocked=True).exists():
        raise Forbidden(WORKER_BLOCKED)
    for stale in DrawingSet.objects.filter(worker=worker, status=DrawingSet.Status.OPEN, expires_at__lte=now):
        drawingset_release(drawing_set=stale, status=DrawingSet.Status.EXPIRED, now=now)
    current = DrawingSet.objects.filter(worker=worker, dataset=dataset, status=DrawingSet.Status.OPEN)
    if provider_ref:
        current = current.filter(provider_ref=provider_ref)
    existing = current.order_by("-id").first()
    if existing is not None:
        return existing

    conf = regions_conf()
    available = _available(dataset=dataset, worker=worker)
    n_gold = drawing_gold_count(dataset=dataset, worker=worker, set_size=conf.set_size)
    n_real = max(1, conf.set_size - n_gold)
    last = DrawingSet.objects.filter(worker=worker, dataset=dataset).order_by("-id").values_list(
        "action_id", flat=True).first()
    action_id = last if last is not None and available.filter(action_id=last).exists() else None
    if action_id is None:
        action_id = available.order_by("id").values_list("action_id", flat=True).first()
    if action_id is None:
        return None
    picked = list(_lock(available.filter(action_id=action_id).order_by("-drawings", "id"))
                  .values_list("id", flat=True)[:n_real])
    if not picked:
        return None
    golds = _pick_gold(dataset=dataset, worker=worker, action_id=action_id, n=n_gold)
    drawing_set = DrawingSet.objects.create(
        dataset=dataset, worker=worker, action_id=action_id, max_attempts=dataset.max_attempts,
        provider_ref=provider_ref or {}, expires_at=now + timedelta(minutes=dataset.set_timeout_minutes),
    )
    frames = {t.pk: t.frame for t in FrameAction.objects.filter(pk__in=picked).select_related("frame")}
    gold_frames = {f.image_key: f for f in RegionFrame.objects.filter(image_key__in=[g.image_key for g in golds])}
    entries = [(tid, None, frames[tid]) for tid in picked] + [(None, g.pk, gold_frames[g.image_key]) for g in golds]
    _random.shuffle(entries)
    DrawingItem.objects.bulk_create([
        DrawingItem(drawing_set=drawing_set, position=i, target_id=tid, gold_id=gid, image_key=frame.image_key,
                    width=frame.width, height=frame.height)
        for i, (tid, gid, frame) in enumerate(entries)
    ])
    FrameAction.objects.filter(pk__in=picked).update(in_flight=F("in_flight") + 1)
    return drawing_set


# -- submission -----------------------------------------------------------------------------------
@dataclass
class SubmitOutcome:
    accepted: bool
    body: dict
    replay: bool = False


@dataclass(frozen=True)
class Drawn:
    skipped: bool
    boxes: list[tuple[float, float, float, float]]
    ms: int | None


def _validate(items: list[DrawingItem], regions: list[dict]) -> dict[uuid.UUID, Drawn]:
    """Every image answered once, every box a real box inside its image; DomainError otherwise."""
    conf = regions_conf()
    by_item: dict[uuid.UUID, dict] = {}
    for entry in regions:
        if entry["item"] in by_item:
            raise DomainError(DUPLICATE_ITEMS)
        by_item[entry["item"]] = entry
    known = {i.public_id: i for i in items}
    unknown = set(by_item) - set(known)
    if unknown:
        raise DomainError(UNKNOWN_ITEMS.format(n=len(unknown)))
    missing = set(known) - set(by_item)
    if missing:
        raise DomainError(MISSING_ITEMS.format(n=len(missing)))
    out = {}
    for item in items:
        entry = by_item[item.public_id]
        n = item.position + 1
        raw = entry.get("boxes") or []
        skipped = bool(entry.get("skip"))
        if skipped and raw:
            raise DomainError(SKIP_AND_BOXES.format(item=n))
        if not skipped and not raw:
            raise DomainError(NOTHING_DRAWN.format(item=n))
        if len(raw) > conf.max_boxes:
            raise DomainError(TOO_MANY_BOXES.format(item=n, limit=conf.max_boxes, n=len(raw)))
        try:
            boxes = [box_validate(b, item=n, index=k + 1, width=item.width, height=item.height,
                                  min_size=conf.min_box) for k, b in enumerate(raw)]
        except BoxError as exc:
            raise DomainError(str(exc)) from exc
        out[item.public_id] = Drawn(skipped=skipped, boxes=boxes, ms=entry.get("ms"))
    return out


def drawingset_submit(*, worker: Worker, set_id: uuid.UUID, submission_id: uuid.UUID, regions: list[dict]
                      ) -> SubmitOutcome:
    """Grade and record one submission.

    `regions`: [{"item": UUID, "skip": bool, "boxes": [[x0, y0, x1, y1], ...], "ms": int | None}].
    """
    with transaction.atomic():
        result = _submit(worker=worker, set_id=set_id, submission_id=submission_id, regions=regions)
    if isinstance(result, DomainError):
        raise result  # a refusal whose state change (an expiry, a cancelled set) had to commit first
    return result


def _submit(*, worker, set_id, submission_id, regions) -> SubmitOutcome | DomainError:
    now = timezone.now()
    conf = regions_conf()
    drawing_set = DrawingSet.objects.select_for_update().filter(public_id=set_id).first()
    if drawing_set is None:
        raise NotFound(SET_NOT_FOUND)
    if drawing_set.worker_id != worker.pk:
        raise Forbidden(NOT_YOUR_SET)
    previous = DrawingAttempt.objects.filter(drawing_set=drawing_set, submission_id=submission_id).first()
    if previous is not None:
        return SubmitOutcome(previous.accepted, previous.response, replay=True)
    if drawing_set.status == DrawingSet.Status.ACCEPTED:
        accepted = DrawingAttempt.objects.filter(drawing_set=drawing_set, accepted=True).first()
        return SubmitOutcome(True, accepted.response if accepted else {"status": "accepted"}, replay=True)
    if drawing_set.status == DrawingSet.Status.FAILED:
        raise Gone(SET_CLOSED)
    if drawing_set.status in (DrawingSet.Status.EXPIRED, DrawingSet.Status.CANCELLED):
        raise Gone(SET_EXPIRED if drawing_set.status == DrawingSet.Status.EXPIRED else SET_CANCELLED)
    if drawing_set.expires_at <= now:
        drawingset_release(drawing_set=drawing_set, status=DrawingSet.Status.EXPIRED, now=now)
        return Gone(SET_EXPIRED)
    worker = Worker.objects.get(pk=worker.pk)
    if worker.blocked:
        drawingset_release(drawing_set=drawing_set, status=DrawingSet.Status.CANCELLED, now=now)
        return Forbidden(SUBMIT_BLOCKED)

    items = list(DrawingItem.objects.filter(drawing_set=drawing_set).select_related("gold").order_by("position"))
    drawn = _validate(items, regions)
    gold_items = [i for i in items if i.gold_id]
    grades = {
        i.pk: grade_gold(drawn=drawn[i.public_id].boxes, skipped=drawn[i.public_id].skipped,
                         gold=[tuple(b) for b in (i.gold.boxes if i.gold.truth else [])],
                         iou_threshold=conf.gold_iou, extra_allowed=conf.gold_extra)
        for i in gold_items
    }
    missed = sum(1 for g in grades.values() if not g.correct)
    # as in the Yes/No engine, more than one miss refuses: a careful drawer who overlooks one box
    # now and then is not sent back (nor blocked for refusals), a spammer misses them all
    accepted = missed <= conf.gold_max_missed
    number = drawing_set.attempts + 1
    payload = {"regions": [{"item": str(i.public_id), "skip": drawn[i.public_id].skipped,
                            "boxes": [list(b) for b in drawn[i.public_id].boxes], "ms": drawn[i.public_id].ms}
                           for i in items]}
    GoldDrawing.objects.bulk_create([
        GoldDrawing(gold_id=i.gold_id, worker=worker, drawing_set=drawing_set, skipped=drawn[i.public_id].skipped,
                    boxes=[list(b) for b in drawn[i.public_id].boxes], correct=grades[i.pk].correct,
                    best_iou=min(grades[i.pk].best_ious) if grades[i.pk].best_ious else None)
        for i in gold_items
    ])
    worker = worker_record_grading(worker=worker, gold_answers=len(gold_items), gold_correct=len(gold_items) - missed,
                                   refused=not accepted)
    if accepted:
        body = _accept(drawing_set=drawing_set, worker=worker, items=items, drawn=drawn, now=now)
    else:
        left = drawing_set.max_attempts - number
        if left <= 0:
            drawingset_release(drawing_set=drawing_set, status=DrawingSet.Status.FAILED, now=now)
            body = {"status": "failed", "detail": SET_CLOSED, "attempts_left": 0}
        else:
            body = {"status": "refused", "detail": REVIEW_MESSAGE, "attempts_left": left}
    DrawingSet.objects.filter(pk=drawing_set.pk).update(attempts=number)
    DrawingAttempt.objects.create(drawing_set=drawing_set, number=number, submission_id=submission_id,
                                  accepted=accepted, gold_total=len(gold_items), gold_missed=missed, payload=payload,
                                  response=body)
    reason = block_reason(worker)
    if reason:
        worker_block(worker=worker, reason=reason)
        drawings_withdraw(worker=worker)
    return SubmitOutcome(accepted, body)


def _accept(*, drawing_set: DrawingSet, worker: Worker, items, drawn, now) -> dict:
    real = [i for i in items if i.target_id]
    Drawing.objects.bulk_create([
        Drawing(target_id=i.target_id, worker=worker, drawing_set=drawing_set, skipped=drawn[i.public_id].skipped,
                boxes=[list(b) for b in drawn[i.public_id].boxes], duration_ms=drawn[i.public_id].ms)
        for i in real
    ])
    FrameAction.objects.filter(pk__in=[i.target_id for i in real]).update(
        drawings=F("drawings") + 1, in_flight=F("in_flight") - 1)
    DrawingSet.objects.filter(pk=drawing_set.pk).update(status=DrawingSet.Status.ACCEPTED, closed_at=now)
    drawing_set.status = DrawingSet.Status.ACCEPTED
    Worker.objects.filter(pk=worker.pk).update(last_seen_at=now)
    return {"status": "accepted", "detail": ACCEPTED_MESSAGE, "attempts_left": 0}


# -- blocked workers ------------------------------------------------------------------------------
def _exclude(drawings) -> int:
    """Drawings stop counting; their frame-actions ask for as many new rounds (set-based)."""
    per_target = Counter(drawings.values_list("target_id", flat=True))
    for n in set(per_target.values()):
        FrameAction.objects.filter(pk__in=[t for t, c in per_target.items() if c == n]).update(
            drawings=F("drawings") - n)
    return drawings.update(excluded=True)


@transaction.atomic
def drawings_withdraw(*, worker: Worker) -> int:
    """A blocked worker's open drawing sets are cancelled and their drawings of frame-actions not
    yet decided stop counting (the rows are kept); returns how many drawings were excluded."""
    for drawing_set in DrawingSet.objects.filter(worker=worker, status=DrawingSet.Status.OPEN):
        drawingset_release(drawing_set=drawing_set, status=DrawingSet.Status.CANCELLED)
    return _exclude(Drawing.objects.filter(worker=worker, excluded=False, target__stage=FrameAction.Stage.DRAWING))


@transaction.atomic
def drawings_withdraw_blocked(*, dataset: Dataset) -> int:
    """The same for workers blocked elsewhere (by the Yes/No engine or a curator)."""
    for drawing_set in DrawingSet.objects.filter(dataset=dataset, status=DrawingSet.Status.OPEN,
                                                 worker__blocked=True):
        drawingset_release(drawing_set=drawing_set, status=DrawingSet.Status.CANCELLED)
    return _exclude(Drawing.objects.filter(target__dataset=dataset, excluded=False, worker__blocked=True,
                                           target__stage=FrameAction.Stage.DRAWING))
