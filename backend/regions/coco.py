"""COCO detection JSON for the verified action regions (one category per action).

Boxes are stored as ``[x0, y0, x1, y1]``; COCO wants ``[x, y, width, height]`` in pixels of the
image file named by ``file_name``, plus an ``area`` and a polygon ``segmentation`` (the box) so
``pycocotools`` can evaluate boxes and rasterise masks alike. Pure Python; no Django.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

Box = tuple[float, float, float, float]


@dataclass
class CocoImage:
    file_name: str
    width: int
    height: int
    regions: dict[str, list[Box]]  # action -> boxes
    extra: dict = field(default_factory=dict)  # kept on the image record (video, timestamp, ...)


def coco_bbox(box: Box) -> list[float]:
    x0, y0, x1, y1 = box
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def coco_document(images: list[CocoImage], *, category_ids: dict[str, int], description: str) -> dict:
    """The whole COCO document; `category_ids` maps action names to category ids."""
    out_images, annotations = [], []
    for image_id, image in enumerate(images, start=1):
        out_images.append({"id": image_id, "file_name": image.file_name, "width": image.width,
                           "height": image.height, **image.extra})
        for action in sorted(image.regions):
            for box in image.regions[action]:
                x, y, w, h = coco_bbox(box)
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": category_ids[action],
                    "bbox": [x, y, w, h], "area": round(w * h, 2), "iscrowd": 0,
                    "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                })
    return {
        "info": {"description": description, "version": "1.0",
                 "date_created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "licenses": [],
        "images": out_images,
        "annotations": annotations,
        "categories": [{"id": cid, "name": name, "supercategory": "action"}
                       for name, cid in sorted(category_ids.items(), key=lambda kv: kv[1])],
    }
