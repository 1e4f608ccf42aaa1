"""The consensus region definition and box validation, on hand-computed cases."""
from __future__ import annotations

import pytest

from backend.regions.geometry import BOX_OUTSIDE, BoxError, box_validate, consensus_regions, intersection, iou


def test_three_agreeing_rounds_give_their_intersection():
    rounds = [[(10, 10, 30, 30)], [(12, 11, 31, 29)], [(9, 12, 29, 32)]]
    (region,) = consensus_regions(rounds, iou_threshold=0.5, min_agreement=2)
    assert region.box == (12, 12, 29, 29) and region.support == 3
    assert region.members == ((0, 0), (1, 0), (2, 0))
    assert region.min_iou == pytest.approx(min(iou(a[0], b[0]) for a in rounds for b in rounds if a != b), abs=1e-4)


def test_two_of_three_agree_and_the_odd_box_is_ignored():
    rounds = [[(10, 10, 30, 30)], [(40, 40, 60, 60)], [(11, 10, 30, 31)]]
    (region,) = consensus_regions(rounds, iou_threshold=0.5, min_agreement=2)
    assert region.box == (11, 10, 30, 30) and region.members == ((0, 0), (2, 0))
    assert consensus_regions(rounds, iou_threshold=0.5, min_agreement=3) == []


def test_boxes_below_the_threshold_do_not_agree():
    # IoU of these two is 1/3: overlapping, but not the same region
    rounds = [[(0, 0, 20, 20)], [(10, 0, 30, 20)]]
    assert iou(rounds[0][0], rounds[1][0]) == pytest.approx(1 / 3)
    assert consensus_regions(rounds, iou_threshold=0.5, min_agreement=2) == []
    assert consensus_regions(rounds, iou_threshold=0.3, min_agreement=2)[0].box == (10, 0, 20, 20)


def test_several_regions_per_image_and_one_box_per_round_per_region():
    left, right = (0, 0, 10, 10), (50, 50, 64, 64)
    rounds = [[left, right], [right, (1, 0, 10, 11)], [(0, 1, 11, 10)], []]  # the fourth round skipped
    regions = consensus_regions(rounds, iou_threshold=0.5, min_agreement=2)
    assert [r.support for r in regions] == [3, 2]
    assert regions[0].box == (1, 1, 10, 10) and regions[1].box == right
    # two overlapping boxes of the same round never agree with each other
    assert consensus_regions([[left, (0, 0, 10, 11)]], iou_threshold=0.5, min_agreement=2) == []


def test_intersection_and_validation():
    assert intersection([(0, 0, 10, 10), (5, 5, 20, 20)]) == (5, 5, 10, 10)
    assert intersection([(0, 0, 10, 10), (10, 0, 20, 10)]) is None
    # a hair outside (browser rounding) is clamped; further out is refused
    assert box_validate([-0.3, 0, 64.4, 10.123], item=1, index=1, width=64, height=64, min_size=4) == (0, 0, 64, 10.12)
    with pytest.raises(BoxError) as exc:
        box_validate([-1, 0, 10, 10], item=2, index=3, width=64, height=48, min_size=4)
    assert str(exc.value) == BOX_OUTSIDE.format(item=2, box=3, width=64, height=48)
