"""Reads of the regions app: drawing sets as the client sees them, media lookups."""
from __future__ import annotations

from backend.crowd.sets.media import PREVIEW_PREFIX, ItemMedia
from backend.regions.conf import regions_conf
from backend.regions.models import DrawingItem, DrawingSet, FrameAction

MEDIA = ItemMedia(salt="mmit.regions.media", url_name="regions-work-media")
QUESTION = "Draw a box around each region that shows “{action}”. Skip the image if no region does."


def _action(action) -> dict:
    return {"name": action.name, "display_name": action.display_name, "definition": action.definition}


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
