"""Exports of the verified regions: a Broden directory, a COCO detection file, statistics.

Layout of `out_dir`:
  broden/                the Broden layout (see backend/regions/broden.py), category `action`
  broden_merged/         with `merge_with`: Broden plus the action category, read as one dataset
  coco/annotations.json  COCO detection, one category per action (ids = the Broden label numbers)
  coco/images/           the frames at their original size
  stats.json             images, actions, regions per image, per-action counts, the pipeline funnel
"""
from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from django.db.models import Count
from django.utils import timezone
from PIL import Image

from backend.common.background import task_enqueue
from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.regions.broden import BrodenItem, max_label_number, merge_broden, write_broden
from backend.regions.coco import CocoImage, coco_document
from backend.regions.conf import regions_conf
from backend.regions.models import Drawing, FrameAction, Region, RegionFrame
from backend.regions.selectors import EXPORT_JOB
from backend.regions.storage import image_read
from backend.videos.models import Dataset
from backend.vocabulary.models import Action

NO_DATASETS = "Choose at least one dataset to export."
BAD_SIZE = "The Broden image size must be between 16 and 1024 pixels, and the segmentation size at most that."
BAD_OFFSET = "The label offset must be zero or more."
MERGE_FAILED = "Cannot merge with the Broden directory {path}: {problem}"
DEFAULT_SOURCE = "action_regions"


@dataclass
class VerifiedFrame:
    frame: RegionFrame
    regions: dict[str, list[tuple]] = field(default_factory=dict)  # action -> boxes
    region_ids: list[int] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return f"{self.frame.dataset.name}-{self.frame.video_id:07d}"


def verified_frames(*, datasets: list[Dataset]) -> list[VerifiedFrame]:
    """Frames with at least one verified region of a verified frame-action, in a stable order."""
    rows = (
        Region.objects.filter(state=Region.State.VERIFIED, target__stage=FrameAction.Stage.VERIFIED,
                              target__dataset__in=datasets)
        .select_related("target__frame__video", "target__frame__dataset", "target__action")
        .order_by("target__frame_id", "target__action__name", "id")
    )
    frames: dict[int, VerifiedFrame] = {}
    for region in rows:
        frame = region.target.frame
        entry = frames.setdefault(frame.pk, VerifiedFrame(frame=frame))
        entry.regions.setdefault(region.target.action.name, []).append(region.box)
        entry.region_ids.append(region.pk)
    return list(frames.values())


def regions_stats(*, datasets: list[Dataset], frames: list[VerifiedFrame] | None = None) -> dict:
    """What the dataset holds (images, actions, regions) and how the pipeline got there."""
    frames = verified_frames(datasets=datasets) if frames is None else frames
    per_image = [sum(len(b) for b in f.regions.values()) for f in frames]
    per_action: dict[str, dict[str, int]] = defaultdict(lambda: {"images": 0, "regions": 0})
    splits = Counter()
    for f in frames:
        splits[f.frame.video.split] += 1
        for action, boxes in f.regions.items():
            per_action[action]["images"] += 1
            per_action[action]["regions"] += len(boxes)
    funnel = {}
    for dataset in datasets:
        targets = FrameAction.objects.filter(dataset=dataset)
        stages = _counts(targets, "stage")
        reasons = _counts(targets.filter(stage=FrameAction.Stage.REJECTED), "reason")
        regions = _counts(Region.objects.filter(target__dataset=dataset), "state")
        funnel[dataset.name] = {
            "frames": RegionFrame.objects.filter(dataset=dataset, actions__isnull=False).distinct().count(),
            "frame_actions": sum(stages.values()),
            "stages": {s: stages.get(s, 0) for s in FrameAction.Stage.values},
            "rejected": {r: reasons.get(r, 0) for r in FrameAction.Reason.values},
            "drawings": Drawing.objects.filter(target__dataset=dataset, excluded=False).count(),
            "regions": {s: regions.get(s, 0) for s in Region.State.values},
        }
    return {
        "datasets": [d.name for d in datasets],
        "images": len(frames),
        "actions": len(per_action),
        "regions": sum(per_image),
        "regions_per_image": {
            "mean": round(statistics.fmean(per_image), 4) if per_image else None,
            "median": statistics.median(per_image) if per_image else None,
            "max": max(per_image, default=0),
            "histogram": {str(k): v for k, v in sorted(Counter(per_image).items())},
        },
        "actions_per_image": {"mean": round(statistics.fmean([len(f.regions) for f in frames]), 4) if frames else None},
        "per_action": dict(sorted(per_action.items())),
        "splits": dict(sorted(splits.items())),
        "pipeline": funnel,
    }


def _counts(qs, column: str) -> dict[str, int]:
    return {row[column]: row["n"] for row in qs.values(column).annotate(n=Count("id")).order_by()}


def regions_export(
    *, datasets: list[Dataset], out_dir: Path, size: int | None = None, seg_size: int | None = None,
    label_offset: int = 0, merge_with: Path | None = None, source: str = DEFAULT_SOURCE,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write the Broden directory, the COCO file and the statistics; returns the statistics."""
    size = _export_check(datasets=datasets, size=size, seg_size=seg_size, label_offset=label_offset)
    if merge_with is not None:
        try:
            label_offset = max(label_offset, max_label_number(Path(merge_with)))
        except (OSError, ValueError, KeyError) as exc:
            raise DomainError(MERGE_FAILED.format(path=merge_with, problem=exc)) from exc
    out = Path(out_dir)
    frames = verified_frames(datasets=datasets)
    coco_images = out / "coco" / "images"
    coco_images.mkdir(parents=True, exist_ok=True)
    (out / "broden").mkdir(parents=True, exist_ok=True)

    items, coco = [], []
    total = len(frames)
    for n, f in enumerate(frames, start=1):
        frame = f.frame
        suffix = Path(frame.image_key).suffix or ".jpg"
        path = coco_images / f"{f.stem}{suffix}"
        path.write_bytes(image_read(frame.image_key))
        extra = {"dataset": frame.dataset.name, "video": frame.video.name, "video_source": frame.video.source,
                 "timestamp": frame.timestamp}
        coco.append(CocoImage(file_name=path.name, width=frame.width, height=frame.height, regions=f.regions,
                              extra={**extra, "split": frame.video.split}))
        items.append(BrodenItem(stem=f.stem, split=frame.video.split, width=frame.width, height=frame.height,
                                regions=f.regions, load=lambda p=path: Image.open(p), provenance=extra))
        if progress:
            progress(n, 2 * total)
    synonyms = defaultdict(list)
    for name, display, syns in Action.objects.filter(dataset__in=datasets).values_list("name", "display_name",
                                                                                        "synonyms"):
        for s in [display, *(syns or [])]:
            if s and s != name and s not in synonyms[name]:
                synonyms[name].append(s)
    summary = write_broden(out / "broden", items, source=source, size=size, seg_size=seg_size,
                           label_offset=label_offset, synonyms=synonyms,
                           progress=(lambda d, t: progress(total + d, 2 * total)) if progress else None)
    document = coco_document(coco, category_ids=summary.labels,
                             description=f"Action Regions of {', '.join(d.name for d in datasets)}")
    (out / "coco" / "annotations.json").write_text(json.dumps(document))

    stats = regions_stats(datasets=datasets, frames=frames)
    stats["export"] = {"broden": str(out / "broden"), "coco": str(out / "coco" / "annotations.json"),
                       "size": size, "seg_size": seg_size or size // 2, "label_offset": label_offset,
                       "labels": summary.labels}
    if merge_with is not None:
        try:
            stats["export"]["merged"] = {"path": str(out / "broden_merged"),
                                         **merge_broden(Path(merge_with), out / "broden", out / "broden_merged")}
        except (OSError, ValueError) as exc:
            raise DomainError(MERGE_FAILED.format(path=merge_with, problem=exc)) from exc
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    return stats


def _export_check(*, datasets: list[Dataset], size: int | None, seg_size: int | None, label_offset: int) -> int:
    """The Broden image size to use, once the request is known to be one the export can do."""
    if not datasets:
        raise DomainError(NO_DATASETS)
    size = size or regions_conf().broden_size
    if not 16 <= size <= 1024 or (seg_size is not None and not 1 <= seg_size <= size):
        raise DomainError(BAD_SIZE)
    if label_offset < 0:
        raise DomainError(BAD_OFFSET)
    return size


def regions_export_start(*, datasets: list[Dataset], size: int | None = None, seg_size: int | None = None,
                         label_offset: int = 0, user=None) -> Job:
    """Export in a worker, into a new folder of the export directory (the server chooses where
    exports go; clients never name a path). A request the export would refuse is refused here,
    before a job is made."""
    _export_check(datasets=datasets, size=size, seg_size=seg_size, label_offset=label_offset)
    names = [d.name for d in datasets]
    out_dir = regions_conf().export_dir / f"{timezone.now():%Y%m%d-%H%M%S}-{'+'.join(names)}"
    params = {"datasets": names, "label_offset": label_offset, "out_dir": str(out_dir),
              **({"size": size} if size is not None else {}), **({"seg_size": seg_size} if seg_size is not None else {})}
    job = job_create(kind=EXPORT_JOB, user=user, params=params)
    task_enqueue("mmit.regions.export", str(job.id), [d.pk for d in datasets], str(out_dir), size, seg_size,
                 label_offset)
    return job
