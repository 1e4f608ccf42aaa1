"""Boxes: validation, overlap, the consensus region of several rounds, and gold grading.

Pure Python (no Django), so the exports, the simulator and the tests share one definition.
A box is ``(x0, y0, x1, y1)`` in pixels of the frame it was drawn on, ``x0 < x1``, ``y0 < y1``.

Consensus (Section 5.2.1: "only consider overlapping regions from the different rounds"):
every round is one worker's drawing of one frame. Two boxes of *different* rounds match when
their IoU is at least ``iou_threshold``. A consensus group holds at most one box per round, its
boxes match pairwise, and it is supported by at least ``min_agreement`` rounds; the consensus
region is the intersection of the group's boxes (never empty: pairwise-overlapping axis-aligned
boxes have a common point). Groups are formed greedily and deterministically: the box that
matches boxes in the most other rounds anchors first (ties: larger box, then earlier round),
and each other round contributes its unused box with the best worst-case IoU to the group.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Box = tuple[float, float, float, float]

BOX_NOT_NUMBERS = "Image {item}: box {box} must be four numbers [x0, y0, x1, y1]."
BOX_NOT_FINITE = "Image {item}: box {box} has a coordinate that is not a finite number."
BOX_EMPTY = "Image {item}: box {box} has zero or negative area (x1 must exceed x0 and y1 exceed y0)."
BOX_OUTSIDE = "Image {item}: box {box} lies outside the image (0..{width} x 0..{height} pixels)."
BOX_TOO_SMALL = "Image {item}: box {box} is smaller than the minimum of {min_size} pixels per side."
TOO_MANY_BOXES = "Image {item}: at most {limit} boxes per image ({n} sent)."
# Rounding of pixel coordinates in the browser (zoomed canvases) may put an edge a hair outside.
EDGE_TOLERANCE = 0.5


class BoxError(ValueError):
    """A box that cannot be stored; the message is for the worker."""


def box_validate(raw, *, item: int, index: int, width: int, height: int, min_size: float) -> Box:
    """A drawn box as sent by a client, checked and clamped to the image; BoxError otherwise."""
    where = {"item": item, "box": index}
    if not isinstance(raw, (list, tuple)) or len(raw) != 4:
        raise BoxError(BOX_NOT_NUMBERS.format(**where))
    values = []
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise BoxError(BOX_NOT_NUMBERS.format(**where))
        f = float(v)
        if not math.isfinite(f):
            raise BoxError(BOX_NOT_FINITE.format(**where))
        values.append(f)
    x0, y0, x1, y1 = values
    if x1 <= x0 or y1 <= y0:
        raise BoxError(BOX_EMPTY.format(**where))
    t = EDGE_TOLERANCE
    if x0 < -t or y0 < -t or x1 > width + t or y1 > height + t:
        raise BoxError(BOX_OUTSIDE.format(width=width, height=height, **where))
    box = (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))
    if box[2] - box[0] < min_size or box[3] - box[1] < min_size:
        raise BoxError(BOX_TOO_SMALL.format(min_size=min_size, **where))
    return tuple(round(v, 2) for v in box)


def area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def intersection(boxes: list[Box]) -> Box | None:
    x0, y0 = max(b[0] for b in boxes), max(b[1] for b in boxes)
    x1, y1 = min(b[2] for b in boxes), min(b[3] for b in boxes)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def iou(a: Box, b: Box) -> float:
    inter = intersection([a, b])
    if inter is None:
        return 0.0
    i = area(inter)
    return i / (area(a) + area(b) - i)


@dataclass(frozen=True)
class ConsensusRegion:
    box: Box
    members: tuple[tuple[int, int], ...]  # (round index, box index) of the boxes that agree
    min_iou: float  # the worst pairwise IoU inside the group

    @property
    def support(self) -> int:
        return len(self.members)


def consensus_regions(rounds: list[list[Box]], *, iou_threshold: float, min_agreement: int) -> list[ConsensusRegion]:
    """The consensus regions of several rounds (see the module docstring), most supported first."""
    nodes = [(r, k, box) for r, boxes in enumerate(rounds) for k, box in enumerate(boxes)]
    pair = {}
    for i, (r, k, a) in enumerate(nodes):
        for r2, k2, b in nodes[i + 1:]:
            if r2 != r:
                pair[(r, k, r2, k2)] = pair[(r2, k2, r, k)] = iou(a, b)

    def matching_rounds(r: int, k: int) -> int:
        return sum(1 for r2, boxes in enumerate(rounds) if r2 != r and any(
            pair[(r, k, r2, k2)] >= iou_threshold for k2 in range(len(boxes))))

    anchors = sorted(nodes, key=lambda n: (-matching_rounds(n[0], n[1]), -area(n[2]), n[0], n[1]))
    used: set[tuple[int, int]] = set()
    regions = []
    for r, k, _ in anchors:
        if (r, k) in used:
            continue
        group = [(r, k)]
        others = sorted(
            (r2 for r2 in range(len(rounds)) if r2 != r and rounds[r2]),
            key=lambda r2: (-max(pair[(r, k, r2, k2)] for k2 in range(len(rounds[r2]))), r2),
        )
        for r2 in others:
            best, best_score = None, -1.0
            for k2 in range(len(rounds[r2])):
                if (r2, k2) in used:
                    continue
                worst = min(pair[(gr, gk, r2, k2)] for gr, gk in group)
                if worst >= iou_threshold and worst > best_score:
                    best, best_score = (r2, k2), worst
            if best is not None:
                group.append(best)
        if len(group) < max(2, min_agreement):
            continue
        boxes = [rounds[gr][gk] for gr, gk in group]
        inter = intersection(boxes)
        if inter is None:  # cannot happen for pairwise-overlapping boxes; kept as a guard
            continue
        used.update(group)
        worst = min(pair[(a[0], a[1], b[0], b[1])] for i, a in enumerate(group) for b in group[i + 1:])
        regions.append(ConsensusRegion(box=tuple(round(v, 2) for v in inter), members=tuple(sorted(group)),
                                       min_iou=round(worst, 4)))
    regions.sort(key=lambda g: (-g.support, -area(g.box), g.members))
    return regions


@dataclass(frozen=True)
class GoldGrade:
    correct: bool
    matched: int
    best_ious: tuple[float, ...]  # per gold box, the best IoU of any drawn box


def grade_gold(*, drawn: list[Box], skipped: bool, gold: list[Box], iou_threshold: float,
               extra_allowed: int) -> GoldGrade:
    """A gold image is drawn correctly when every gold box is matched (one to one, IoU at least
    the threshold) by a drawn box and at most ``extra_allowed`` drawn boxes match nothing; a gold
    image with no boxes (the action is not visible there) must be skipped."""
    if not gold:
        return GoldGrade(correct=skipped or not drawn, matched=0, best_ious=())
    if skipped or not drawn:
        return GoldGrade(correct=False, matched=0, best_ious=tuple(0.0 for _ in gold))
    pairs = sorted(((iou(g, d), gi, di) for gi, g in enumerate(gold) for di, d in enumerate(drawn)), reverse=True)
    taken_g, taken_d = set(), set()
    for value, gi, di in pairs:
        if value < iou_threshold:
            break
        if gi not in taken_g and di not in taken_d:
            taken_g.add(gi)
            taken_d.add(di)
    best = tuple(round(max(iou(g, d) for d in drawn), 4) for g in gold)
    correct = len(taken_g) == len(gold) and len(drawn) - len(taken_d) <= extra_allowed
    return GoldGrade(correct=correct, matched=len(taken_g), best_ious=best)
