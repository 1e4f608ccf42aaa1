"""Region gold: curated frames with known boxes, grading all three crowd tasks of the pipeline.

One gold image (a video's centre frame, an action, and the action's boxes in that frame, or no
box when the action is not visible there) becomes:
- a `visible` gold question (truth: it has boxes) for the visibility rounds, whose `boxes` also
  grade the drawing task (no boxes: the image must be skipped);
- `recognisable` gold crops for the final verification: each known box cropped is a positive;
  for a frame without the action its central half cropped is a negative. A crop gold keeps the
  box it was cut from in its `boxes`.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from django.db import transaction

from backend.annotation.models import GoldQuestion, Prompt
from backend.annotation.services.gold import gold_add
from backend.common.errors import DomainError
from backend.regions.conf import regions_conf
from backend.regions.geometry import BoxError, box_validate
from backend.regions.images import crop_image
from backend.regions.services.frames import frame_extract
from backend.regions.storage import gold_crop_key, image_read, image_store
from backend.videos.models import Dataset, Video
from backend.vocabulary.selectors import action_lookup

GOLD_FRAME_FAILED = "No frame could be extracted from {video}: {error}."
GOLD_CSV_COLUMNS = "A region gold file needs the columns video,action,boxes (boxes: a JSON list of [x0, y0, x1, y1])."
GOLD_CSV_ROW = "Region gold file line {line}: {problem}."


def region_gold_add(*, dataset: Dataset, video: Video, action, boxes: list | None, note: str = "",
                    user=None) -> dict:
    """Add (or replace) one gold image; returns the ids of the gold questions created."""
    try:
        frame = frame_extract(video=video)
    except (ValueError, OSError) as exc:
        raise DomainError(GOLD_FRAME_FAILED.format(video=video.name, error=exc)) from exc
    try:
        known = [box_validate(b, item=1, index=k + 1, width=frame.width, height=frame.height, min_size=1)
                 for k, b in enumerate(boxes or [])]
    except BoxError as exc:
        raise DomainError(str(exc)) from exc
    fmt = regions_conf().image_format
    pixels = image_read(frame.image_key)
    w, h = frame.width, frame.height
    crops = known or [(w / 4, h / 4, 3 * w / 4, 3 * h / 4)]
    with transaction.atomic():
        visible = gold_add(dataset=dataset, video=video, action=action, truth=bool(known), prompt=Prompt.VISIBLE,
                           image_key=frame.image_key, boxes=[list(b) for b in known], note=note, user=user)
        # a replaced gold image drops the crops it had before
        GoldQuestion.objects.filter(dataset=dataset, video=video, action=action,
                                    prompt=Prompt.RECOGNISABLE).update(active=False)
        crop_ids = []
        for k, box in enumerate(crops):
            key = image_store(key=gold_crop_key(dataset_name=dataset.name, video_id=video.pk, action_id=action.pk,
                                                index=k, fmt=fmt), data=crop_image(pixels, box, fmt=fmt))
            crop_ids.append(gold_add(dataset=dataset, video=video, action=action, truth=bool(known),
                                     prompt=Prompt.RECOGNISABLE, image_key=key, boxes=[list(box)], note=note,
                                     user=user).pk)
    return {"visible": visible.pk, "recognisable": crop_ids, "frame": frame.pk}


def region_gold_retire(*, gold: GoldQuestion) -> int:
    """Stop serving a gold image in new sets: its `visible` question and its `recognisable` crops
    (they and their answers are kept). Returns the gold questions retired now."""
    return GoldQuestion.objects.filter(
        dataset_id=gold.dataset_id, video_id=gold.video_id, action_id=gold.action_id,
        prompt__in=[Prompt.VISIBLE, Prompt.RECOGNISABLE], active=True).update(active=False)


def region_gold_import_csv(*, dataset: Dataset, path: Path, user=None) -> int:
    """Import `video,action,boxes` rows (boxes `[]` or empty: the action is not visible); the
    whole file is checked before anything is stored."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"video", "action", "boxes"} <= set(reader.fieldnames or []):
            raise DomainError(GOLD_CSV_COLUMNS)
        rows = list(reader)
    actions = action_lookup(dataset=dataset)
    videos = {v.name: v for v in Video.objects.filter(dataset=dataset, status=Video.Status.OK)}
    parsed = []
    for n, row in enumerate(rows, start=2):
        name, action = (row["video"] or "").strip(), (row["action"] or "").strip()
        if name not in videos:
            raise DomainError(GOLD_CSV_ROW.format(line=n, problem=f"unknown video {name!r}"))
        if action not in actions:
            raise DomainError(GOLD_CSV_ROW.format(line=n, problem=f"unknown action {action!r}"))
        try:
            boxes = json.loads(row["boxes"]) if (row["boxes"] or "").strip() else []
        except json.JSONDecodeError as exc:
            raise DomainError(GOLD_CSV_ROW.format(line=n, problem=f"boxes are not JSON ({exc.msg})")) from exc
        if not isinstance(boxes, list):
            raise DomainError(GOLD_CSV_ROW.format(line=n, problem="boxes must be a list of [x0, y0, x1, y1]"))
        parsed.append((videos[name], actions[action], boxes))
    with transaction.atomic():  # a box outside its frame (known only once extracted) undoes the file
        for video, action, boxes in parsed:
            region_gold_add(dataset=dataset, video=video, action=action, boxes=boxes, user=user,
                            note=f"imported from {Path(path).name}")
    return len(parsed)
