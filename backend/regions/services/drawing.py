"""Step 3, region selection: drawing sets (one HIT each), hidden gold images graded by IoU.

The drawing kind of graded set: the engine (``crowd.sets``) assembles, grades and records drawing
sets exactly as it does Yes/No sets -- frames of one action the worker has never drawn, gold images
(a curated frame with known boxes, or with none when the action is not visible there) mixed in at
random positions, opaque item ids and same-form media URLs only, boxes validated at submit (a 4xx
that stores nothing), more than ``MMIT_REGIONS_GOLD_MAX_MISSED`` missed gold images refusing the
attempt without saying which, attempts capped, a retried submission id replaying its outcome, one
result per set under concurrent submits. Grading feeds the worker's shared gold counters, so the
engine's blocking policy catches a bad drawer like a bad Yes/No worker.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Value
from django.db.models.functions import Greatest

from backend.annotation.models import GoldQuestion, Prompt
from backend.common.errors import DomainError
from backend.common.statements import among, compose, db_value, insert, table, when
from backend.crowd.models import Worker
from backend.crowd.sets import assign as engine
from backend.crowd.sets import submit as engine_submit
from backend.crowd.sets.kinds import (
    OPEN,
    Accepted,
    CoverMessages,
    Graded,
    LockedSet,
    SetKind,
    SetMessages,
    answers_by_item,
)
from backend.crowd.sets.submit import SubmitOutcome
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

SET_NOT_FOUND = "There is no such drawing set."
NOT_YOUR_SET = "This drawing set belongs to another worker."
SET_EXPIRED = "This drawing set has expired; its images went back to the pool. Ask for a new set."
SET_CLOSED = "This drawing set is closed: it was refused too many times."
SET_CANCELLED = "This drawing set was cancelled; ask for a new set."
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
COVER = CoverMessages(duplicate=DUPLICATE_ITEMS, unknown=UNKNOWN_ITEMS, missing=MISSING_ITEMS)


@dataclass(frozen=True)
class Drawn:
    skipped: bool
    boxes: list[tuple[float, float, float, float]]
    ms: int | None


class DrawingSets(SetKind):
    name = "drawing"
    set_model = DrawingSet
    item_model = DrawingItem
    attempt_model = DrawingAttempt
    unit_model = FrameAction
    item_set_field = "drawing_set"
    item_unit_field = "target"
    attempt_set_field = "drawing_set"
    attempt_missed_field = "gold_missed"
    unit_order = ("-drawings", "id")  # frames closest to their drawings first
    gold_first_truth = True  # an image with boxes first: a skip-everything spammer meets it at once
    messages = SetMessages(not_found=SET_NOT_FOUND, not_yours=NOT_YOUR_SET, expired=SET_EXPIRED, closed=SET_CLOSED,
                           cancelled=SET_CANCELLED, review=REVIEW_MESSAGE, accepted=ACCEPTED_MESSAGE)

    # -- assignment -------------------------------------------------------------------------------
    def set_size(self, dataset) -> int:
        return regions_conf().set_size

    def sets_closed(self, worker: Worker) -> int:
        return DrawingSet.objects.filter(worker=worker, status__in=[DrawingSet.Status.ACCEPTED,
                                                                    DrawingSet.Status.FAILED]).count()

    def available(self, *, dataset, worker: Worker, spec: dict):
        drawn = DrawingItem.objects.filter(target=OuterRef("pk"), drawing_set__worker=worker)
        return (
            FrameAction.objects.filter(dataset=dataset, stage=FrameAction.Stage.DRAWING)
            .filter(drawings_needed__gt=F("drawings") + F("in_flight"))
            .exclude(Exists(drawn))
        )

    def gold_pool(self, *, dataset, worker: Worker, action_id: int, spec: dict) -> list:
        """Visible gold of the action with a stored frame: images with boxes, and images where
        the action is not visible (to be skipped)."""
        frames = RegionFrame.objects.filter(dataset=dataset).values("image_key")
        pool = GoldQuestion.objects.filter(dataset=dataset, prompt=Prompt.VISIBLE, action_id=action_id, active=True,
                                           image_key__in=frames) \
            .annotate(seen=Count("drawings", filter=Q(drawings__worker=worker)))
        return [g for g in pool if g.boxes or not g.truth]

    def work_missing(self, *, dataset, spec: dict) -> int:
        rows = FrameAction.objects.filter(dataset=dataset, stage=FrameAction.Stage.DRAWING) \
            .aggregate(n=Sum(Greatest(F("drawings_needed") - F("drawings") - F("in_flight"), Value(0))))
        return int(rows["n"] or 0)

    def work_complete(self, *, dataset_id: int, spec: dict) -> bool:
        return not FrameAction.objects.filter(dataset_id=dataset_id, stage=FrameAction.Stage.DRAWING,
                                              drawings_needed__gt=F("drawings")).exists()

    def items_create(self, *, record, entries) -> None:
        targets = [unit_id for unit_id, _ in entries if unit_id is not None]
        frames = {t.pk: t.frame for t in FrameAction.objects.filter(pk__in=targets).select_related("frame")}
        gold_frames = {f.image_key: f for f in RegionFrame.objects.filter(
            image_key__in=[gold.image_key for _, gold in entries if gold is not None])}
        items = []
        for i, (unit_id, gold) in enumerate(entries):
            frame = frames[unit_id] if gold is None else gold_frames[gold.image_key]
            items.append(DrawingItem(drawing_set=record, position=i, target_id=unit_id,
                                     gold_id=gold.pk if gold else None, image_key=frame.image_key,
                                     width=frame.width, height=frame.height))
        DrawingItem.objects.bulk_create(items)

    # -- submission -------------------------------------------------------------------------------
    def lock(self, *, set_id, submission_id) -> LockedSet | None:
        drawing_set = DrawingSet.objects.select_for_update().filter(public_id=set_id).first()
        if drawing_set is None:
            return None
        previous = DrawingAttempt.objects.filter(drawing_set=drawing_set, submission_id=submission_id) \
            .values_list("accepted", "response").first()
        items = list(DrawingItem.objects.filter(drawing_set=drawing_set).select_related("gold").order_by("position"))
        return LockedSet(record=drawing_set, previous=previous, items=items)

    def parse(self, locked: LockedSet, answers: list[dict]) -> dict[uuid.UUID, Drawn]:
        """Every image answered once, every box a real box inside its image; DomainError otherwise."""
        conf = regions_conf()
        items: list[DrawingItem] = locked.items
        by_item = answers_by_item(answers, [i.public_id for i in items], COVER)
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

    def grade(self, locked: LockedSet, parsed: dict[uuid.UUID, Drawn], *, worker: Worker, now) -> Graded:
        conf = regions_conf()
        rows, missed = [], 0
        for item in locked.items:
            if not item.gold_id:
                continue
            drawn = parsed[item.public_id]
            grade = grade_gold(drawn=drawn.boxes, skipped=drawn.skipped,
                               gold=[tuple(b) for b in (item.gold.boxes if item.gold.truth else [])],
                               iou_threshold=conf.gold_iou, extra_allowed=conf.gold_extra)
            missed += 0 if grade.correct else 1
            rows.append((item.gold_id, worker.pk, locked.record.pk, drawn.skipped,
                         db_value(GoldDrawing, "boxes", [list(b) for b in drawn.boxes]), grade.correct,
                         min(grade.best_ious) if grade.best_ious else None, when(now)))
        return Graded(gold_total=len(rows), missed=missed, writes=[insert(
            GoldDrawing, ["gold_id", "worker_id", "drawing_set_id", "skipped", "boxes", "correct", "best_iou",
                          "created_at"], rows)])

    def max_missed(self) -> int:
        # as in the Yes/No engine, more than one miss refuses: a careful drawer who overlooks one
        # box now and then is not sent back (nor blocked for refusals), a spammer misses them all
        return regions_conf().gold_max_missed

    def attempt_payload(self, locked: LockedSet, parsed: dict[uuid.UUID, Drawn]) -> dict:
        return {"regions": [{"item": str(i.public_id), "skip": parsed[i.public_id].skipped,
                             "boxes": [list(b) for b in parsed[i.public_id].boxes], "ms": parsed[i.public_id].ms}
                            for i in locked.items]}

    def accept(self, locked: LockedSet, parsed: dict[uuid.UUID, Drawn], *, worker: Worker, now) -> Accepted:
        real = [i for i in locked.items if i.target_id]
        drawings = insert(Drawing, ["target_id", "worker_id", "drawing_set_id", "skipped", "boxes", "duration_ms",
                                    "excluded", "created_at"],
                          [(i.target_id, worker.pk, locked.record.pk, parsed[i.public_id].skipped,
                            db_value(Drawing, "boxes", [list(b) for b in parsed[i.public_id].boxes]),
                            parsed[i.public_id].ms, False, when(now)) for i in real])
        counted = compose(f"UPDATE {table(FrameAction)} SET drawings = drawings + 1, in_flight = in_flight - 1 "
                          "WHERE {ids}", ids=among("id", [i.target_id for i in real])) if real else None
        return Accepted(writes=[drawings, counted])


DRAWING = DrawingSets()


def drawing_gold_count(*, dataset: Dataset, worker: Worker) -> int:
    """Probation as in the Yes/No engine: more gold in a worker's first drawing sets."""
    return engine.gold_count(kind=DRAWING, dataset=dataset, worker=worker)


def drawingset_release(*, drawing_set: DrawingSet, status: str, now=None) -> None:
    """Close an open set without drawings; its frames return to the pool."""
    engine.set_release(kind=DRAWING, record=drawing_set, status=status, now=now)


def drawingsets_expire(*, now=None) -> int:
    """Expire every abandoned drawing set (idempotent; the beat schedule can run it)."""
    return engine.sets_expire(kind=DRAWING, now=now)


def drawingset_assign(*, dataset: Dataset, worker: Worker, provider_ref: dict | None = None,
                      now=None) -> DrawingSet | None:
    """The worker's open drawing set (resumed) or a new one; None when there is no work."""
    return engine.set_assign(kind=DRAWING, dataset=dataset, worker=worker, provider_ref=provider_ref, now=now)


def drawingset_submit(*, worker: Worker, set_id: uuid.UUID, submission_id: uuid.UUID, regions: list[dict]
                      ) -> SubmitOutcome:
    """Grade and record one submission.

    `regions`: [{"item": UUID, "skip": bool, "boxes": [[x0, y0, x1, y1], ...], "ms": int | None}].
    """
    return engine_submit.set_submit(kind=DRAWING, worker=worker, set_id=set_id, submission_id=submission_id,
                                    answers=regions)


# -- blocked workers ------------------------------------------------------------------------------
def _exclude(drawings) -> int:
    """Drawings stop counting; their frame-actions ask for as many new rounds (set-based)."""
    per_target = Counter(drawings.values_list("target_id", flat=True))
    for n in set(per_target.values()):
        FrameAction.objects.filter(pk__in=[t for t, c in per_target.items() if c == n]).update(
            drawings=F("drawings") - n)
    return drawings.update(excluded=True)


@transaction.atomic
def drawings_withdraw(*, worker: Worker, **_) -> int:
    """A blocked worker's open drawing sets are cancelled and their drawings of frame-actions not
    yet decided stop counting (the rows are kept); returns how many drawings were excluded.
    Also the receiver of ``crowd.signals.worker_blocked`` (its other arguments are ignored)."""
    for drawing_set in DrawingSet.objects.filter(worker=worker, status=OPEN):
        drawingset_release(drawing_set=drawing_set, status=DrawingSet.Status.CANCELLED)
    return _exclude(Drawing.objects.filter(worker=worker, excluded=False, target__stage=FrameAction.Stage.DRAWING))


@transaction.atomic
def drawings_withdraw_blocked(*, dataset: Dataset) -> int:
    """The same for workers blocked elsewhere (by the Yes/No engine or a curator)."""
    for drawing_set in DrawingSet.objects.filter(dataset=dataset, status=OPEN, worker__blocked=True):
        drawingset_release(drawing_set=drawing_set, status=DrawingSet.Status.CANCELLED)
    return _exclude(Drawing.objects.filter(target__dataset=dataset, excluded=False, worker__blocked=True,
                                           target__stage=FrameAction.Stage.DRAWING))
