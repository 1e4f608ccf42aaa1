"""Rendering mCAM results as in Fig. 6, against golden images.

Regenerate the golden PNGs (after a deliberate change to the drawing) with::

    MMIT_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/ml/test_interpret_render.py

and look at them (``tests/ml/golden/mcam_*.png``) before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from ml.interpret.mcam import MultiCAM, combine_maps, gaussian_smooth, suppress_overlaps
from ml.interpret.render import (
    EDGE_COLOUR,
    label_anchors,
    region_edges,
    render_frame,
    render_mcam,
    text_image,
    unit_thumbnail,
)

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("MMIT_REGENERATE_GOLDEN") == "1"


def scene(size: int = 64) -> tuple[np.ndarray, torch.Tensor]:
    """A grey gradient frame and two overlapping bumps (left, right) as class maps."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    frame = np.stack([40 + xx * 2, 60 + yy * 2, np.full_like(xx, 90)], axis=-1).clip(0, 255).astype(np.uint8)
    maps = []
    for cx in (0.33 * size, 0.62 * size):
        bump = np.exp(-((yy - 0.5 * size) ** 2 + (xx - cx) ** 2) / (2 * (0.16 * size) ** 2))
        maps.append(bump / bump.max())
    return frame, torch.tensor(np.stack(maps))


def result_of(maps: torch.Tensor, *, threshold: float = 0.0) -> MultiCAM:
    suppressed, distances = suppress_overlaps(maps, threshold=threshold, similarity=0.15, floor=0.2)
    combined, owner = combine_maps(suppressed, floor=0.2)
    return MultiCAM(classes=tuple(range(len(maps))), scores=torch.ones(len(maps)), maps=maps, suppressed=suppressed,
                    combined=combined, owner=owner, smoothed=gaussian_smooth(combined), distances=distances,
                    threshold=threshold, similarity=0.15, floor=0.2)


def check_golden(image: Image.Image, name: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        image.save(path)
    assert path.is_file(), f"missing golden image {path}; regenerate it (see the module docstring)"
    got = np.asarray(image.convert("RGB")).astype(np.int16)
    want = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    assert got.shape == want.shape
    diff = np.abs(got - want).max(axis=-1)
    # a little slack for other Pillow/numpy builds; a changed drawing moves far more
    assert diff.mean() <= 0.5 and (diff > 24).mean() <= 0.002, (diff.mean(), (diff > 24).mean())


def test_fig6_rendering_matches_the_golden_image():
    frame, maps = scene(96)
    check_golden(render_mcam(frame, result_of(maps), ["jumping", "swimming"]), "mcam_two_actions.png")


def test_per_frame_strip_matches_the_golden_image():
    frame, maps = scene(48)
    frames = np.stack([frame, frame[:, ::-1].copy()])
    per_step = torch.stack([maps, maps.flip(-1)], dim=1)  # (K, T', H, W)
    steps = [result_of(per_step[:, t]) for t in range(2)]
    result = MultiCAM(classes=(0, 1), scores=torch.ones(2), maps=per_step,
                      suppressed=torch.stack([s.suppressed for s in steps], dim=1),
                      combined=torch.stack([s.combined for s in steps]), owner=torch.stack([s.owner for s in steps]),
                      smoothed=torch.stack([s.smoothed for s in steps]),
                      distances=torch.stack([s.distances for s in steps]), threshold=0.0, similarity=0.15, floor=0.2)
    image = render_mcam(frames, result, ["eating", "dining"])
    assert image.size == (96, 48)
    check_golden(image, "mcam_strip.png")


def test_regions_are_red_edges_blue_and_names_written_near_their_regions():
    frame, maps = scene(128)
    result = result_of(maps)
    image = np.asarray(render_mcam(frame, result, ["jumping", "swimming"]))
    heat, owner = result.smoothed.numpy(), result.owner.numpy()
    # red overlay where the map is strong, the frame untouched where it is 0
    strong = (heat > 0.8) & (owner >= 0)
    anchors = label_anchors(heat, owner, 2)
    text = np.zeros_like(strong)
    for y, x in anchors:
        text[max(0, y - 30) : y + 30, max(0, x - 30) : x + 30] = True
    text &= np.all(image == 255, axis=-1) | np.all(image == 0, axis=-1)  # white text, black outline
    text = ndimage.binary_dilation(text, iterations=2)
    assert (strong & ~text).sum() > 100
    reds = image[strong & ~text].astype(int)
    assert (reds[:, 0] > reds[:, 1] + 60).all() and (reds[:, 0] > reds[:, 2] + 60).all()
    edges = np.all(image == EDGE_COLOUR, axis=-1)
    # elsewhere the frame is blended with red by alpha * heat (alpha = 0.6)
    blended = frame * (1 - 0.6 * heat[..., None]) + np.array([255, 0, 0]) * 0.6 * heat[..., None]
    plain = ~text & ~edges
    assert plain.mean() > 0.8
    assert np.abs(image[plain].astype(float) - blended[plain]).max() <= 0.51
    # blue edges separate the two actions, between their regions, across the erased gap
    gap = (result.maps.max(dim=0).values >= 0.2).numpy() & (owner < 0)
    assert (edges & gap).any()
    assert edges.any()
    ys, xs = np.nonzero(edges)
    left_peak, right_peak = anchors[0][1], anchors[1][1]
    assert left_peak < np.median(xs) < right_peak
    # each name is drawn on its own region: white text pixels near each anchor
    for y, x in anchors:
        patch = image[max(0, y - 16) : y + 16, max(0, x - 24) : x + 24]
        assert np.all(patch == 255, axis=-1).sum() > 10


def test_region_edges_on_a_hand_made_partition():
    owner = np.full((6, 8), -1)
    owner[:, :3] = 0
    owner[:, 5:] = 1
    edges = region_edges(owner, np.ones((6, 8), dtype=bool))
    # the gap (columns 3, 4) is split between the nearest regions: one line between columns 3 and 4
    assert edges[:, 4].all() and edges.sum() == 6
    single = np.where(owner == 1, 0, owner)
    assert not region_edges(single, np.ones((6, 8), dtype=bool)).any()


def test_text_is_deterministic_and_scaled_by_whole_factors():
    small, large = text_image("pouring"), text_image("pouring", scale=3)
    assert large.size == (small.width * 3, small.height * 3)
    assert np.array_equal(np.asarray(text_image("pouring")), np.asarray(small))


def test_frame_size_mismatch_and_missing_names_are_errors():
    frame, maps = scene()
    result = result_of(maps)
    with pytest.raises(ValueError, match="frame must be"):
        render_frame(frame[:10], heat=result.smoothed.numpy(), owner=result.owner.numpy(), names=["a", "b"], floor=0.2)
    with pytest.raises(ValueError, match="one name per"):
        render_mcam(frame, result, ["only one"])


def test_unit_thumbnail_dims_outside_the_mask_and_outlines_it():
    image = np.full((32, 32, 3), 200, dtype=np.uint8)
    activation = torch.zeros(4, 4)
    activation[1:3, 1:3] = 1.0
    tile = np.asarray(unit_thumbnail(image, activation, 0.5, size=32)).astype(int)
    assert tile.shape == (32, 32, 3)
    assert (tile[0, 0] == 60).all()  # dimmed to 30 %
    assert (tile[16, 16] == 200).all()  # inside, untouched
    assert (np.all(tile == (255, 255, 0), axis=-1)).any()  # yellow outline
