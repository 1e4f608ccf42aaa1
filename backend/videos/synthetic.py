"""Synthetic clips of simple procedural actions, with their ground truth.

Each clip is a short H.264 MP4 (AAC sound track when an action is heard) where every visual
action is performed by its own coloured shape, and the two audio actions are sounds. The
ground truth (actions per clip, and the box of every visual action at the centre frame) feeds
the demo, the tests, the crowd simulator (it answers Yes/No and draws boxes from it) and the
small training benchmarks.

The action names are real Multi-Moments in Time classes, so WordNet and word-vector candidate
generation work on them. This module uses only PyAV and numpy (no Django), so the ``ml`` tests
can use it too.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np

AUDIO_RATE = 22_050

# name -> (visible, colour RGB)
VISUAL_ACTIONS: dict[str, tuple[int, int, int]] = {
    "rotating/spinning": (230, 60, 60),
    "jumping": (60, 200, 80),
    "falling": (70, 110, 240),
    "ascending/rising": (240, 200, 40),
    "sliding": (200, 80, 220),
    "inflating": (40, 210, 210),
    "shaking": (250, 140, 40),
    "swinging": (160, 160, 160),
    "flying": (120, 70, 30),
    "raining": (150, 190, 255),
}
AUDIO_ACTIONS = ("whistling", "drumming")
ACTIONS: tuple[str, ...] = tuple(VISUAL_ACTIONS) + AUDIO_ACTIONS

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


@dataclass
class ClipTruth:
    """Ground truth of one generated clip."""

    video: str
    actions: list[str]
    boxes: dict[str, list[Box]] = field(default_factory=dict)  # centre-frame boxes per action
    has_audio: bool = False


def _square(img: np.ndarray, cx: float, cy: float, half: float, colour, angle: float = 0.0) -> Box:
    """Draw a filled (possibly rotated) square; returns its axis-aligned bounding box."""
    h, w, _ = img.shape
    ys, xs = np.mgrid[0:h, 0:w]
    dx, dy = xs - cx, ys - cy
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    mask = (np.abs(u) <= half) & (np.abs(v) <= half)
    img[mask] = colour
    return _mask_box(mask)


def _disc(img: np.ndarray, cx: float, cy: float, r: float, colour) -> Box:
    h, w, _ = img.shape
    ys, xs = np.mgrid[0:h, 0:w]
    mask = (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    img[mask] = colour
    return _mask_box(mask)


def _mask_box(mask: np.ndarray) -> Box:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


def _draw_action(img, action: str, t: float, slot: tuple[float, float], size: int, rng_phase: float):
    """Draw one visual action at time t in [0, 1] around its slot centre; return its box."""
    sx, sy = slot
    unit = size / 8
    colour = VISUAL_ACTIONS[action]
    if action == "rotating/spinning":
        return _square(img, sx, sy, unit, colour, angle=2 * math.pi * 1.5 * t + rng_phase)
    if action == "jumping":
        hop = abs(math.sin(math.pi * 3 * t + rng_phase))
        return _disc(img, sx, sy + unit * 1.2 - 2.4 * unit * hop, unit * 0.8, colour)
    if action == "falling":
        return _square(img, sx, sy - 2 * unit + 4 * unit * t, unit * 0.8, colour)
    if action == "ascending/rising":
        return _square(img, sx, sy + 2 * unit - 4 * unit * t, unit * 0.8, colour)
    if action == "sliding":
        return _square(img, sx - 2 * unit + 4 * unit * t, sy, unit * 0.8, colour)
    if action == "inflating":
        return _disc(img, sx, sy, unit * (0.4 + 1.2 * t), colour)
    if action == "shaking":
        jitter = unit * 0.5 * math.sin(2 * math.pi * 9 * t + rng_phase)
        return _square(img, sx + jitter, sy, unit * 0.8, colour)
    if action == "swinging":
        angle = 0.8 * math.sin(2 * math.pi * 1.2 * t + rng_phase)
        px, py = sx + 2 * unit * math.sin(angle), sy - unit + 2 * unit * math.cos(angle)
        return _disc(img, px, py - unit, unit * 0.7, colour)
    if action == "flying":
        px = sx - 2 * unit + 4 * unit * t
        py = sy - unit * 0.8 * math.sin(2 * math.pi * 2 * t + rng_phase)
        return _square(img, px, py, unit * 0.6, colour, angle=0.6)
    if action == "raining":
        box = (0.0, 0.0, float(img.shape[1]), float(img.shape[0]))
        h, w, _ = img.shape
        for k in range(14):
            x = int((k * 37 + rng_phase * 50) % w)
            y = int((k * 23 + t * h * 3) % h)
            img[max(0, y - 3) : y + 3, x : x + 1] = colour
        return box
    raise ValueError(f"unknown visual action {action!r}")


def _audio_track(actions: list[str], duration: float, rng: np.random.Generator) -> np.ndarray:
    n = int(AUDIO_RATE * duration)
    t = np.arange(n) / AUDIO_RATE
    sound = rng.normal(0, 0.01, n)  # room noise, so "no action heard" still has a track
    if "whistling" in actions:
        freq = 1200 + 300 * np.sin(2 * np.pi * 0.7 * t)
        sound += 0.3 * np.sin(2 * np.pi * np.cumsum(freq) / AUDIO_RATE)
    if "drumming" in actions:
        beat = (t * 4) % 1.0
        sound += 0.6 * np.exp(-beat * 25) * np.sin(2 * np.pi * 90 * t)
    return np.clip(sound, -1, 1).astype(np.float32)


def write_clip(
    path: Path,
    actions: list[str],
    *,
    seed: int,
    size: tuple[int, int] = (128, 128),
    fps: int = 12,
    duration: float = 3.0,
    audio: bool | None = None,
) -> ClipTruth:
    """Render one clip with the given actions; returns its ground truth.

    Args:
        path: output ``.mp4`` path.
        actions: action names from ``ACTIONS``.
        seed: makes the background and phases reproducible.
        size: (width, height), even numbers (H.264 4:2:0).
        audio: write a sound track; defaults to True when an audio action is present.
    """
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise ValueError(f"unknown synthetic actions: {unknown}")
    rng = np.random.default_rng(seed)
    width, height = size
    visual = [a for a in actions if a in VISUAL_ACTIONS]
    with_audio = bool(set(actions) & set(AUDIO_ACTIONS)) if audio is None else audio
    # Each visual action gets its own slot so boxes of different actions rarely overlap.
    slots = [(width * (0.27 + 0.46 * (i % 2)), height * (0.3 + 0.4 * (i // 2 % 2))) for i in range(4)]
    order = rng.permutation(len(slots))
    phases = rng.uniform(0, 2 * math.pi, len(visual))
    background = np.array(rng.integers(10, 60, 3), dtype=np.uint8)
    n_frames = int(round(fps * duration))
    centre = n_frames // 2
    truth = ClipTruth(video=path.name, actions=list(actions), has_audio=with_audio)

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        vstream = container.add_stream("libx264", rate=fps)
        vstream.width, vstream.height = width, height
        vstream.pix_fmt = "yuv420p"
        vstream.options = {"preset": "ultrafast", "crf": "23"}
        astream = None
        if with_audio:
            astream = container.add_stream("aac", rate=AUDIO_RATE)
            astream.layout = "mono"
        for i in range(n_frames):
            t = i / max(1, n_frames - 1)
            img = np.empty((height, width, 3), dtype=np.uint8)
            img[:] = background
            for k, action in enumerate(visual):
                box = _draw_action(img, action, t, slots[order[k % len(slots)]], min(size), phases[k])
                if i == centre:
                    truth.boxes[action] = [tuple(round(v, 1) for v in box)]
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            samples = _audio_track(actions, duration, rng)
            chunk = 1024
            for start in range(0, len(samples), chunk):
                block = samples[start : start + chunk][None, :]
                aframe = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
                aframe.sample_rate = AUDIO_RATE
                aframe.pts = start
                aframe.time_base = Fraction(1, AUDIO_RATE)
                for packet in astream.encode(aframe):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return truth


def generate_dataset(
    out_dir: Path | str,
    *,
    n_clips: int,
    seed: int = 0,
    size: tuple[int, int] = (128, 128),
    fps: int = 12,
    duration: float = 3.0,
    corrupt: int = 0,
    max_actions: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> list[ClipTruth]:
    """Write ``n_clips`` clips plus ``truth.csv``, ``boxes.json`` and ``manifest.csv``.

    ``truth.csv`` has columns ``video,actions`` (``;``-separated true actions).
    ``manifest.csv`` (``path,split,labels``) gives each clip one initial label, the way a
    single-label dataset would, so the platform has something to grow from. ``corrupt`` extra
    files with a video extension but broken content are written too (they are not in the truth).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truths: list[ClipTruth] = []
    # Weighted draw so that the label distribution has a long tail, as in real data.
    weights = np.array([1.0 / (1 + 0.25 * i) for i in range(len(ACTIONS))])
    weights /= weights.sum()
    for i in range(n_clips):
        k = int(rng.integers(1, max_actions + 1))
        actions = list(rng.choice(ACTIONS, size=k, replace=False, p=weights))
        if not any(a in VISUAL_ACTIONS for a in actions):
            actions.append(str(rng.choice(list(VISUAL_ACTIONS))))
        truths.append(
            write_clip(
                out / f"clip_{i:05d}.mp4", actions, seed=seed * 100_003 + i,
                size=size, fps=fps, duration=duration,
            )
        )
        if progress:
            progress(i + 1, n_clips)
    for j in range(corrupt):
        bad = out / f"broken_{j:03d}.mp4"
        # a valid-looking prefix followed by garbage, then an empty file
        bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + rng.bytes(512) if j % 2 == 0 else b"")
    with open(out / "truth.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video", "actions"])
        for t in truths:
            writer.writerow([t.video, ";".join(t.actions)])
    with open(out / "boxes.json", "w") as f:
        json.dump({t.video: t.boxes for t in truths}, f, indent=1, sort_keys=True)
    splits = ["train"] * 8 + ["val", "test"]
    with open(out / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "split", "labels"])
        for i, t in enumerate(truths):
            writer.writerow([t.video, splits[i % len(splits)], t.actions[0]])
    return truths


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Generate synthetic action clips.")
    parser.add_argument("out_dir")
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--corrupt", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args(argv)
    generate_dataset(args.out_dir, n_clips=args.clips, corrupt=args.corrupt, seed=args.seed,
                     size=(args.size, args.size))


if __name__ == "__main__":
    main()
