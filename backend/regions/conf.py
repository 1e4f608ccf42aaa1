"""The pipeline's settings (MMIT_REGIONS_*, read from the environment in backend/config/settings.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class RegionsConf:
    frames_per_action: int  # K: centre frames per action (the paper's 500)
    visible_rounds: int  # independent Yes/No rounds a frame must pass (at least 2)
    draw_rounds: int  # drawings by different workers before consensus is computed
    draw_max_rounds: int  # cap when the first rounds do not agree
    match_iou: float  # IoU for boxes of different rounds to agree
    min_agreement: int  # rounds that must agree on a consensus region
    gold_iou: float  # IoU a drawn box needs to match a gold box
    gold_extra: int  # unmatched boxes tolerated on a gold image
    gold_max_missed: int  # missed gold images an attempt may have and still be accepted
    set_size: int  # images per drawing set, gold included
    max_boxes: int  # boxes per image
    min_box: float  # minimum box side in image pixels
    image_format: str  # "jpeg" or "png" for frames and crops
    export_dir: Path
    broden_size: int  # Broden image side (224 for broden1_224)


def regions_conf() -> RegionsConf:
    s = settings
    return RegionsConf(
        frames_per_action=s.MMIT_REGIONS_FRAMES_PER_ACTION,
        visible_rounds=max(2, s.MMIT_REGIONS_VISIBLE_ROUNDS),  # the paper: at least 2 rounds
        draw_rounds=max(2, s.MMIT_REGIONS_DRAW_ROUNDS),
        draw_max_rounds=max(2, s.MMIT_REGIONS_DRAW_MAX_ROUNDS),
        match_iou=s.MMIT_REGIONS_MATCH_IOU,
        min_agreement=max(2, s.MMIT_REGIONS_MIN_AGREEMENT),
        gold_iou=s.MMIT_REGIONS_GOLD_IOU,
        gold_extra=s.MMIT_REGIONS_GOLD_EXTRA_BOXES,
        gold_max_missed=max(0, s.MMIT_REGIONS_GOLD_MAX_MISSED),
        set_size=max(2, s.MMIT_REGIONS_SET_SIZE),
        max_boxes=max(1, s.MMIT_REGIONS_MAX_BOXES),
        min_box=s.MMIT_REGIONS_MIN_BOX_PX,
        image_format=s.MMIT_REGIONS_IMAGE_FORMAT,
        export_dir=Path(s.MMIT_REGIONS_EXPORT_DIR),
        broden_size=s.MMIT_REGIONS_BRODEN_SIZE,
    )
