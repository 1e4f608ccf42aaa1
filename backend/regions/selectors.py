"""Reads of the regions app: drawing sets as the client sees them, media lookups, and what the
curators' pages show (pipeline counts, frames by stage, a frame's boxes, gold images, exports)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db.models import Count

from backend.annotation.models import GoldQuestion, Prompt
from backend.common.errors import NotFound
from backend.common.models import Job
from backend.common.pages import KeysetPage, keyset_page
from backend.common.summaries import summary_kind
from backend.crowd.sets.media import PREVIEW_PREFIX, ItemMedia
from backend.regions.conf import regions_conf
from backend.regions.models import Drawing, DrawingItem, DrawingSet, FrameAction, Region
from backend.videos.models import Video
from backend.vocabulary.selectors import action_lookup

MEDIA = ItemMedia(salt="mmit.regions.media", url_name="regions-work-media")
EXPORT_JOB = "regions_export"  # the kind of an export's job
QUESTION = "Draw a box around each region that shows “{action}”. Skip the image if no region does."


def _action(action) -> dict:
    return {"name": action.name, "display_name": action.display_name, "definition": action.definition,
            "definition_generated": action.definition_generated}


def _limits() -> dict:
    conf = regions_conf()
    return {"max_boxes": conf.max_boxes, "min_box": conf.min_box}


def drawingset_payload(drawing_set: DrawingSet) -> dict:
    """What the drawing page receives: opaque item ids, media URLs and image sizes only."""
    items = DrawingItem.objects.filter(drawing_set=drawing_set).order_by("position").values_list(
        "public_id", "width", "height")
    return {
        "id": str(drawing_set.public_id),
        "dataset": drawing_set.dataset.name,
        "question": QUESTION.format(action=drawing_set.action.display_name),
        "action": _action(drawing_set.action),
        "items": [{"id": str(pid), "media_url": MEDIA.url(pid), "width": w, "height": h} for pid, w, h in items],
        "status": drawing_set.status,
        "attempts_left": max(0, drawing_set.max_attempts - drawing_set.attempts),
        "expires_at": drawing_set.expires_at.isoformat(),
        "preview": False,
        "limits": _limits(),
    }


def drawing_preview_payload(*, dataset) -> dict | None:
    """A sample set for preview: real frames of one action, nothing reserved, nothing gradable."""
    open_ = FrameAction.objects.filter(dataset=dataset, stage=FrameAction.Stage.DRAWING)
    first = open_.select_related("action").order_by("id").first()
    if first is None:
        return None
    rows = open_.filter(action=first.action).order_by("id").values_list("pk", "frame__width", "frame__height")[
        : regions_conf().set_size]
    return {
        "id": None,
        "dataset": dataset.name,
        "question": QUESTION.format(action=first.action.display_name),
        "action": _action(first.action),
        "items": [{"id": f"preview-{n}", "media_url": MEDIA.url(f"{PREVIEW_PREFIX}{pk}"), "width": w, "height": h}
                  for n, (pk, w, h) in enumerate(rows)],
        "status": "preview",
        "attempts_left": 0,
        "expires_at": None,
        "preview": True,
        "limits": _limits(),
    }


def drawing_media_key(public_id: str) -> str | None:
    """The storage key of an item's image; the same lookup for gold and real items."""
    if public_id.startswith(PREVIEW_PREFIX):
        return FrameAction.objects.filter(pk=public_id[len(PREVIEW_PREFIX):]).values_list(
            "frame__image_key", flat=True).first()
    return DrawingItem.objects.filter(public_id=public_id).values_list("image_key", flat=True).first()


# -- curators --------------------------------------------------------------------------------------
# What the curators' pages read. Every read is bounded: counts come from a summary (live while
# small, stored once large), lists are keyset pages, a frame's detail reads that frame's rows.
UNKNOWN_VIDEO = "Unknown video {name!r} in dataset {dataset!r}."
UNKNOWN_ACTION = "Unknown action {name!r} in dataset {dataset!r}."
EXPORTS_SCANNED = 500  # export jobs read to find a dataset's (exports are rare; a job may name several datasets)


@summary_kind("regions")
def region_counts(dataset_id: int) -> tuple[dict, int]:
    """Frame-actions per stage, rejections per reason, regions per state (a summary: live while small)."""
    targets = FrameAction.objects.filter(dataset_id=dataset_id)
    stages = _grouped(targets, "stage")
    reasons = _grouped(targets.filter(stage=FrameAction.Stage.REJECTED), "reason")
    regions = _grouped(Region.objects.filter(target__dataset_id=dataset_id), "state")
    data = {"stages": {s: stages.get(s, 0) for s in FrameAction.Stage.values},
            "rejected": {r: reasons.get(r, 0) for r in FrameAction.Reason.values},
            "regions": {s: regions.get(s, 0) for s in Region.State.values}}
    return data, sum(stages.values()) + sum(regions.values())


def _grouped(qs, column: str) -> dict[str, int]:
    return dict(qs.order_by().values_list(column).annotate(n=Count("id")))


def frame_page(*, dataset, stage: str, action=None, after: int | None = None, before: int | None = None,
               limit: int = 50) -> KeysetPage:
    """One keyset page of the frame-actions in ``stage`` (of ``action``), oldest first, each with
    ``region_count`` (its consensus regions)."""
    qs = FrameAction.objects.filter(dataset=dataset, stage=stage)
    if action is not None:
        qs = qs.filter(action=action)
    page = keyset_page(qs.select_related("frame__video", "action"), after=after, before=before, limit=limit)
    ids = [t.pk for t in page.rows]
    regions = _grouped(Region.objects.filter(target_id__in=ids), "target_id")
    for t in page.rows:
        t.region_count = regions.get(t.pk, 0)
    return page


@dataclass(frozen=True)
class FrameDetail:
    target: FrameAction
    image_url: str  # a signed media URL of the frame (the drawing task's own media view)
    regions: list  # Region, each with ``rect`` (x, y, w, h)
    drawings: list  # Drawing with ``worker``, each with ``tint`` (its worker's colour index) and ``rects``
    siblings: list  # the other frame-actions of the same frame


def frame_detail(*, dataset, target_id: int) -> FrameDetail | None:
    """A frame-action with its consensus regions and every worker's drawing on it."""
    target = FrameAction.objects.filter(dataset=dataset, pk=target_id).select_related(
        "frame__video", "action").first()
    if target is None:
        return None
    drawings = list(Drawing.objects.filter(target=target).select_related("worker").order_by("id"))
    for n, drawing in enumerate(drawings):
        drawing.tint = n % 6
        drawing.rects = [_rect(b) for b in drawing.boxes]
    regions = list(Region.objects.filter(target=target).order_by("id"))
    for region in regions:
        region.rect = _rect(region.box)
    siblings = list(FrameAction.objects.filter(frame_id=target.frame_id).exclude(pk=target.pk)
                    .select_related("action").order_by("action__name")[:50])
    return FrameDetail(target=target, image_url=MEDIA.url(f"{PREVIEW_PREFIX}{target.pk}"), regions=regions,
                       drawings=drawings, siblings=siblings)


def _rect(box) -> dict:
    """A box [x0, y0, x1, y1] as an SVG rectangle (x, y, width, height), rounded for the page."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return {"x": round(x0, 1), "y": round(y0, 1), "w": round(x1 - x0, 1), "h": round(y1 - y0, 1)}


def region_gold_page(*, dataset, after: int | None = None, before: int | None = None,
                     limit: int = 50) -> KeysetPage:
    """The dataset's region gold images (their ``visible`` gold question, which holds the boxes), by id."""
    qs = GoldQuestion.objects.filter(dataset=dataset, prompt=Prompt.VISIBLE).select_related("video", "action")
    return keyset_page(qs, after=after, before=before, limit=limit)


def region_gold_get(*, dataset, gold_id: int) -> GoldQuestion | None:
    return GoldQuestion.objects.filter(dataset=dataset, prompt=Prompt.VISIBLE, pk=gold_id).select_related(
        "video", "action").first()


def region_gold_subject(*, dataset, video: str, action: str) -> tuple[Video, object]:
    """The usable video and the action a gold image names, or NotFound saying which is unknown."""
    found = Video.objects.filter(dataset=dataset, name=video, status=Video.Status.OK).first()
    if found is None:
        raise NotFound(UNKNOWN_VIDEO.format(name=video, dataset=dataset.name), field="video")
    act = action_lookup(dataset=dataset).get(action)
    if act is None:
        raise NotFound(UNKNOWN_ACTION.format(name=action, dataset=dataset.name), field="action")
    return found, act


def region_exports(*, dataset, limit: int = 20) -> list[Job]:
    """The latest exports that include ``dataset``, newest first."""
    found = []
    for job in Job.objects.filter(kind=EXPORT_JOB).order_by("-created_at")[:EXPORTS_SCANNED]:
        if dataset.name in (job.params or {}).get("datasets", []):
            found.append(job)
            if len(found) == limit:
                break
    return found


def region_export_get(*, dataset, job_id) -> Job | None:
    """A finished export of ``dataset`` whose folder is still in the export directory, else None."""
    job = Job.objects.filter(pk=job_id, kind=EXPORT_JOB, status=Job.Status.SUCCEEDED).first()
    if job is None or dataset.name not in (job.params or {}).get("datasets", []):
        return None
    return job if export_folder(job) is not None else None


def export_folder(job: Job) -> Path | None:
    """The folder a finished export wrote, when it exists and lies inside the export directory
    (the server chose it; checked again so that a changed setting cannot serve other files)."""
    out = (job.params or {}).get("out_dir")
    if not out:
        return None
    root = regions_conf().export_dir.resolve()
    path = Path(out).resolve()
    return path if path.is_relative_to(root) and path != root and path.is_dir() else None
