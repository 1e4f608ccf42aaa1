"""Moving frame-actions through the pipeline, in one idempotent pass (`regions_advance`).

Visibility ("at least 2 rounds"): round r of a frame-action is its own Yes/No image question
(prompt `visible`, ref `regions:visible:<id>:<r>`), decided by the engine's aggregator with the
dataset's redundancy and hidden gold. The workers who answered an earlier round are marked as
already shown the new question, so each round is answered by different workers. A frame goes on
to drawing only when `MMIT_REGIONS_VISIBLE_ROUNDS` (default and minimum 2) consecutive rounds
decide *positive*; a negative or ambiguous round rejects it as not visible.

Drawing: once a frame-action has its drawings (one per round, different workers), the consensus
regions are computed (backend/regions/geometry.py). None found: one more round is asked, up to
`MMIT_REGIONS_DRAW_MAX_ROUNDS`, unless half the rounds or more skipped the image (no useful
region), which rejects it.

Verification: every consensus region is cropped from the frame and asked "Is <action>
recognisable in this crop?" (prompt `recognisable`, ref `regions:crop:<region id>`); a positive
decision verifies the region. A frame-action is verified when one of its regions is, rejected
when all of them are rejected.

The pass is safe to run at any time and repeatedly (Celery beat, the staff API, the simulator):
every step selects rows by state, so a replay finds nothing left to do.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from backend.annotation.models import Answer, Prompt, Question, Shown
from backend.annotation.services.questions import question_create_image
from backend.common.background import task_enqueue
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.regions.conf import regions_conf
from backend.regions.geometry import consensus_regions
from backend.regions.images import crop_image
from backend.regions.models import Drawing, FrameAction, Region
from backend.regions.services.drawing import drawings_withdraw_blocked
from backend.regions.storage import crop_key, image_read, image_store
from backend.videos.models import Dataset

VISIBLE_REF = "regions:visible:{target}:{round}"
CROP_REF = "regions:crop:{region}"
POSITIVE = "positive"
BATCH = 500


@dataclass
class AdvanceReport:
    drawings_withdrawn: int = 0
    visibility_rounds_opened: int = 0
    confirmed_visible: int = 0
    not_visible: int = 0
    consensus_found: int = 0
    regions_created: int = 0
    more_rounds: int = 0
    no_region: int = 0
    crops_asked: int = 0
    regions_verified: int = 0
    regions_rejected: int = 0
    verified: int = 0
    not_recognisable: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def changed(self) -> bool:
        return any(asdict(self).values())


def _lock(qs):
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=("self",))
    return qs  # SQLite: IMMEDIATE transactions already serialise writers


def visibility_rounds_start(*, targets: list[FrameAction]) -> int:
    """Open the next visibility round of each target (targets need frame__video, action, dataset).

    A target whose current question is gone (deleted, or never created) reopens its round.
    """
    opened = []
    for t in targets:
        t.visibility_round = t.visibility_round + 1 if t.visibility_question_id else max(1, t.visibility_round)
        video = t.frame.video
        # One question per row: the engine offers no bulk variant of question_create_image.
        t.visibility_question = question_create_image(
            dataset=t.dataset, action=t.action, video=video, image_key=t.frame.image_key, prompt=Prompt.VISIBLE,
            needed=t.dataset.initial_answers(video.split),
            ref=VISIBLE_REF.format(target=t.pk, round=t.visibility_round),
        )
        opened.append(t)
    FrameAction.objects.bulk_update(opened, ["visibility_round", "visibility_question"])
    # Independent rounds: whoever answered an earlier round of a frame never sees its next one.
    earlier = {VISIBLE_REF.format(target=t.pk, round=r): t for t in opened for r in range(1, t.visibility_round)}
    if earlier:
        answered = Answer.objects.filter(question__prompt=Prompt.VISIBLE, question__ref__in=list(earlier)).values_list(
            "question__ref", "worker_id")
        Shown.objects.bulk_create(
            [Shown(worker_id=w, question_id=earlier[ref].visibility_question_id) for ref, w in answered],
            ignore_conflicts=True,
        )
    return len(opened)


def visibility_rounds_open(*, dataset: Dataset) -> int:
    """Open a round for every frame-action without a question (new ones: round 1), in batches."""
    base = FrameAction.objects.filter(dataset=dataset, stage=FrameAction.Stage.VISIBILITY,
                                      visibility_question__isnull=True)
    opened = 0
    while True:
        with transaction.atomic():
            rows = list(_lock(base).select_related("frame__video", "action", "dataset").order_by("id")[:BATCH])
            if not rows:
                return opened
            opened += visibility_rounds_start(targets=rows)


def _visibility(dataset: Dataset, report: AdvanceReport, now) -> None:
    conf = regions_conf()
    base = FrameAction.objects.filter(dataset=dataset, stage=FrameAction.Stage.VISIBILITY)
    report.visibility_rounds_opened += visibility_rounds_open(dataset=dataset)
    while True:
        with transaction.atomic():
            rows = list(_lock(base.filter(visibility_question__state__in=[Question.State.DECIDED,
                                                                          Question.State.CANCELLED]))
                        .select_related("visibility_question", "frame__video", "action", "dataset")[:BATCH])
            if not rows:
                return
            next_round, decided = [], []
            for t in rows:
                q = t.visibility_question
                if q.state == Question.State.CANCELLED:
                    t.visibility_question = None  # reopen the same round
                    next_round.append(t)
                elif q.decision == POSITIVE and t.visibility_round < conf.visible_rounds:
                    next_round.append(t)
                elif q.decision == POSITIVE:
                    t.stage, t.drawings_needed = FrameAction.Stage.DRAWING, conf.draw_rounds
                    decided.append(t)
                    report.confirmed_visible += 1
                else:
                    t.stage, t.reason, t.decided_at = FrameAction.Stage.REJECTED, FrameAction.Reason.NOT_VISIBLE, now
                    decided.append(t)
                    report.not_visible += 1
            FrameAction.objects.bulk_update(decided, ["stage", "reason", "decided_at", "drawings_needed"])
            report.visibility_rounds_opened += visibility_rounds_start(targets=next_round)


def _drawing(dataset: Dataset, report: AdvanceReport, now) -> None:
    conf = regions_conf()
    while True:
        with transaction.atomic():
            rows = list(_lock(FrameAction.objects.filter(
                dataset=dataset, stage=FrameAction.Stage.DRAWING, drawings_needed__gt=0,
                drawings__gte=F("drawings_needed"))).order_by("id")[:BATCH])
            if not rows:
                return
            rounds = defaultdict(list)
            for target_id, skipped, boxes in Drawing.objects.filter(target__in=rows, excluded=False).order_by(
                    "id").values_list("target_id", "skipped", "boxes"):
                rounds[target_id].append((skipped, [tuple(b) for b in boxes]))
            regions, changed = [], []
            for t in rows:
                drawn = rounds[t.pk]
                found = consensus_regions([boxes for _, boxes in drawn], iou_threshold=conf.match_iou,
                                          min_agreement=conf.min_agreement)
                if found:
                    regions += [Region(target=t, x0=g.box[0], y0=g.box[1], x1=g.box[2], y1=g.box[3],
                                       support=g.support, min_iou=g.min_iou) for g in found]
                    t.stage = FrameAction.Stage.VERIFYING
                    report.consensus_found += 1
                elif t.drawings_needed < conf.draw_max_rounds and 2 * sum(s for s, _ in drawn) < len(drawn):
                    t.drawings_needed += 1
                    report.more_rounds += 1
                else:
                    t.stage, t.reason, t.decided_at = FrameAction.Stage.REJECTED, FrameAction.Reason.NO_REGION, now
                    report.no_region += 1
                changed.append(t)
            Region.objects.bulk_create(regions)
            report.regions_created += len(regions)
            FrameAction.objects.bulk_update(changed, ["stage", "reason", "decided_at", "drawings_needed"])


def _crops(dataset: Dataset, report: AdvanceReport) -> None:
    """Crop every new consensus region and ask whether the action is recognisable in it."""
    fmt = regions_conf().image_format
    while True:
        with transaction.atomic():
            regions = list(_lock(Region.objects.filter(
                target__dataset=dataset, state=Region.State.PENDING, question__isnull=True))
                .select_related("target__frame__video", "target__action", "target__dataset").order_by("id")[:BATCH])
            if not regions:
                return
            frames: dict[str, bytes] = {}
            for region in regions:
                t = region.target
                key = t.frame.image_key
                if key not in frames:
                    frames[key] = image_read(key)
                region.crop_key = image_store(key=crop_key(dataset_name=dataset.name, region_id=region.pk, fmt=fmt),
                                              data=crop_image(frames[key], region.box, fmt=fmt))
                region.question = question_create_image(
                    dataset=dataset, action=t.action, video=t.frame.video, image_key=region.crop_key,
                    prompt=Prompt.RECOGNISABLE, needed=dataset.initial_answers(t.frame.video.split),
                    ref=CROP_REF.format(region=region.pk),
                )
            Region.objects.bulk_update(regions, ["crop_key", "question"])
            report.crops_asked += len(regions)


def _verification(dataset: Dataset, report: AdvanceReport, now) -> None:
    with transaction.atomic():
        regions = list(_lock(Region.objects.filter(
            target__dataset=dataset, state=Region.State.PENDING, question__state=Question.State.DECIDED))
            .select_related("question"))
        for region in regions:
            verified = region.question.decision == POSITIVE
            region.state = Region.State.VERIFIED if verified else Region.State.REJECTED
            region.decided_at = now
            report.regions_verified += verified
            report.regions_rejected += not verified
        Region.objects.bulk_update(regions, ["state", "decided_at"])

        waiting = FrameAction.objects.filter(dataset=dataset, stage=FrameAction.Stage.VERIFYING)
        states = defaultdict(set)
        for target_id, state in Region.objects.filter(target__in=waiting).values_list("target_id", "state"):
            states[target_id].add(state)
        done = [t for t, seen in states.items() if Region.State.PENDING not in seen]
        ok = [t for t in done if Region.State.VERIFIED in states[t]]
        bad = [t for t in done if Region.State.VERIFIED not in states[t]]
        FrameAction.objects.filter(pk__in=ok).update(stage=FrameAction.Stage.VERIFIED, decided_at=now)
        FrameAction.objects.filter(pk__in=bad).update(stage=FrameAction.Stage.REJECTED,
                                                      reason=FrameAction.Reason.NOT_RECOGNISABLE, decided_at=now)
        report.verified += len(ok)
        report.not_recognisable += len(bad)


def regions_advance(*, dataset: Dataset) -> AdvanceReport:
    """One pass of every step; returns what moved."""
    now = timezone.now()
    report = AdvanceReport()
    report.drawings_withdrawn = drawings_withdraw_blocked(dataset=dataset)
    _visibility(dataset, report, now)
    _drawing(dataset, report, now)
    _crops(dataset, report)
    _verification(dataset, report, now)
    return report


def regions_advance_start(*, dataset: Dataset, user=None) -> Job:
    """One pass of the pipeline in a worker, now rather than at the next beat."""
    job = job_create(kind="regions_advance", user=user, params={"dataset": dataset.name})
    task_enqueue("mmit.regions.advance", dataset.id, str(job.id))
    return job
