"""Drawing mCAM results as in Fig. 6 of the paper (Pillow, no display).

The frame gets a red overlay whose strength follows the smoothed combined map
(``alpha * heat``); blue edges separate the regions of different actions; each
action's name is written just above the peak of its part of the map (below
it, or further away, when another name is already there).

**Edges.** After the suppression, regions of different actions are usually
separated by a gap of erased pixels rather than touching. Every pixel where
some class was active before the suppression (its normalised map at least
``floor``, which includes the erased gaps) is given to the nearest owned
pixel's action (a Euclidean distance transform), and the edges are the pixels
where that nearest action changes between 4-neighbours: a line through the
middle of the gap, or along the border where two regions touch.

**Text.** Pillow's built-in bitmap font, scaled by whole factors with
nearest-neighbour sampling (about one factor per 160 pixels of frame), drawn in
white with a black outline: identical on every machine (no FreeType), which
keeps the golden-image tests (``tests/ml/golden/``) stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from ml.interpret.mcam import MultiCAM

__all__ = [
    "EDGE_COLOUR",
    "MASK_COLOUR",
    "RED",
    "label_anchors",
    "region_edges",
    "render_frame",
    "render_mcam",
    "text_image",
    "unit_thumbnail",
]

RED = np.array((255, 0, 0), dtype=np.float32)
EDGE_COLOUR = (0, 0, 255)
MASK_COLOUR = (255, 255, 0)

ERR_FRAME = "frame must be (H, W, 3) uint8 matching the map size {size}; got {shape} {dtype}"
ERR_NAMES = "need one name per mapped class ({count}); got {names}"


@cache
def _font() -> ImageFont.ImageFont:
    loader = getattr(ImageFont, "load_default_imagefont", None)  # Pillow >= 10.1: the bitmap font
    return loader() if loader is not None else ImageFont.load_default()


def text_image(text: str, *, scale: int = 1) -> Image.Image:
    """White text with a one-pixel black outline on a transparent background.

    Args:
        text: the label.
        scale: whole magnification (nearest neighbour).

    Returns:
        An RGBA image just large enough for the text.
    """
    font = _font()
    left, top, right, bottom = font.getbbox(text)
    width, height = right - left + 2, bottom - top + 2
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    origin = (1 - left, 1 - top)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx or dy:
                draw.text((origin[0] + dx, origin[1] + dy), text, font=font, fill=(0, 0, 0, 255))
    draw.text(origin, text, font=font, fill=(255, 255, 255, 255))
    if scale > 1:
        image = image.resize((width * scale, height * scale), Image.Resampling.NEAREST)
    return image


def region_edges(owner: np.ndarray, support: np.ndarray, *, width: int = 1) -> np.ndarray:
    """Pixels on the border between the regions of different classes.

    Args:
        owner: ``(H, W)`` int class index, ``-1`` where unowned.
        support: ``(H, W)`` bool, where edges may be drawn.
        width: edge thickness in pixels.

    Returns:
        ``(H, W)`` bool.
    """
    owned = owner >= 0
    if len(np.unique(owner[owned])) < 2:
        return np.zeros(owner.shape, dtype=bool)
    _, (iy, ix) = ndimage.distance_transform_edt(~owned, return_indices=True)
    nearest = owner[iy, ix]
    region = support | owned
    edges = np.zeros(owner.shape, dtype=bool)
    horizontal = (nearest[:, 1:] != nearest[:, :-1]) & region[:, 1:] & region[:, :-1]
    vertical = (nearest[1:, :] != nearest[:-1, :]) & region[1:, :] & region[:-1, :]
    edges[:, 1:] |= horizontal
    edges[1:, :] |= vertical
    if width > 1:
        edges = ndimage.binary_dilation(edges, iterations=width - 1) & region
    return edges


def label_anchors(heat: np.ndarray, owner: np.ndarray, count: int) -> list[tuple[int, int] | None]:
    """Where to write each class's name: the peak of ``heat`` inside its region.

    Returns:
        ``(y, x)`` per class index ``0..count-1``, ``None`` for a class owning no pixel.
    """
    anchors: list[tuple[int, int] | None] = []
    for k in range(count):
        mask = owner == k
        if not mask.any():
            anchors.append(None)
            continue
        flat = np.where(mask, heat, -np.inf).argmax()
        anchors.append((int(flat // heat.shape[1]), int(flat % heat.shape[1])))
    return anchors


def _overlaps(box: tuple[int, int, int, int], boxes: list[tuple[int, int, int, int]]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def render_frame(
    frame: np.ndarray,
    *,
    heat: np.ndarray,
    owner: np.ndarray,
    names: Sequence[str],
    floor: float,
    support: np.ndarray | None = None,
    alpha: float = 0.6,
    edge_width: int = 1,
    text_scale: int | None = None,
) -> Image.Image:
    """One frame with red regions, blue edges and action names (Fig. 6).

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        heat: ``(H, W)`` smoothed combined map in ``[0, 1]``.
        owner: ``(H, W)`` int index into ``names``, ``-1`` where unowned.
        names: the display name of each mapped class.
        floor: the mCAM floor.
        support: ``(H, W)`` bool, where edges may be drawn: where some class
            was active before the suppression (default: ``heat >= floor / 2`` or owned).
        alpha: strongest overlay opacity.
        edge_width: edge thickness in pixels.
        text_scale: text magnification (default: one step per 160 pixels of
            the shorter side, at least 1).

    Returns:
        The RGB image.
    """
    if frame.ndim != 3 or frame.shape[:2] != heat.shape or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(ERR_FRAME.format(size=heat.shape, shape=frame.shape, dtype=frame.dtype))
    weight = (alpha * np.clip(heat, 0.0, 1.0)).astype(np.float32)[..., None]
    out = frame.astype(np.float32) * (1.0 - weight) + RED * weight
    support = (heat >= floor / 2) if support is None else support
    edges = region_edges(owner, support, width=edge_width)
    out[edges] = EDGE_COLOUR
    image = Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))
    height, width = heat.shape
    scale = text_scale or max(1, round(min(height, width) / 160))
    placed: list[tuple[int, int, int, int]] = []
    for k, anchor in enumerate(label_anchors(heat, owner, len(names))):
        if anchor is None:
            continue
        label = text_image(names[k], scale=scale)
        y, x = anchor
        best = None
        # just above the peak (the peak itself stays visible), else below, else further away
        for offset in (-label.height - 2, 2, -2 * label.height - 2, label.height + 2, -label.height // 2):
            left = int(np.clip(x - label.width // 2, 0, max(0, width - label.width)))
            top = int(np.clip(y + offset, 0, max(0, height - label.height)))
            box = (left, top, left + label.width, top + label.height)
            if best is None:
                best = box
            if not _overlaps(box, placed):
                best = box
                break
        placed.append(best)
        image.paste(label, best[:2], label)
    return image


def render_mcam(frames: np.ndarray, result: MultiCAM, names: Sequence[str], *, alpha: float = 0.6,
                edge_width: int = 1) -> Image.Image:
    """Render an mCAM result; per-frame results become a horizontal strip.

    Args:
        frames: ``(H, W, 3)`` uint8 for a single map, or ``(T', H, W, 3)`` with one
            frame per temporal step of a ``temporal="frames"`` result.
        result: from ``multi_label_cam``.
        names: display name per entry of ``result.classes``.
        alpha, edge_width: see ``render_frame``.

    Returns:
        The RGB image.
    """
    if len(names) != len(result.classes):
        raise ValueError(ERR_NAMES.format(count=len(result.classes), names=list(names)))
    heat, owner = result.smoothed.cpu().numpy(), result.owner.cpu().numpy()
    support = (result.maps.max(dim=0).values >= result.floor).cpu().numpy()  # erased gaps included
    if heat.ndim == 2:
        return render_frame(frames, heat=heat, owner=owner, names=names, floor=result.floor, support=support,
                            alpha=alpha, edge_width=edge_width)
    tiles = [render_frame(frames[t], heat=heat[t], owner=owner[t], names=names, floor=result.floor,
                          support=support[t], alpha=alpha, edge_width=edge_width) for t in range(heat.shape[0])]
    strip = Image.new("RGB", (sum(t.width for t in tiles), tiles[0].height))
    for i, tile in enumerate(tiles):
        strip.paste(tile, (i * tile.width, 0))
    return strip


def unit_thumbnail(image: np.ndarray, activation: torch.Tensor, threshold: float, *, size: int) -> Image.Image:
    """A NetDissect report tile: the image, dimmed outside the unit's mask, mask outlined in yellow.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        activation: ``(h, w)`` the unit's map on that image.
        threshold: the unit's threshold ``T_k``.
        size: the tile's longer side.

    Returns:
        The RGB tile.
    """
    height, width = image.shape[:2]
    scale = size / max(height, width)
    th, tw = max(1, round(height * scale)), max(1, round(width * scale))
    tile = np.asarray(Image.fromarray(image).resize((tw, th), Image.Resampling.BILINEAR)).astype(np.float32)
    up = F.interpolate(activation.float()[None, None], size=(th, tw), mode="bilinear", align_corners=False)[0, 0]
    mask = (up > threshold).numpy()
    out = np.where(mask[..., None], tile, tile * 0.3)
    outline = mask & ~ndimage.binary_erosion(mask, border_value=1)
    out[outline] = MASK_COLOUR
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))
