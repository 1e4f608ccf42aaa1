"""A synthetic world that needs time: classes differ only in motion (or only in sound).

In ``ml.synthetic`` every class has a colour of its own, so one frame names the
actions. Here every object is the same square, drawn in a colour, size and
brightness that are random and independent of its class; a class is only *how*
the object changes over the clip:

* direction and speed: ``move_{left,right,up,down}_{slow,fast}`` (2 or 4 pixels a
  frame, wrapping round the frame edges so positions stay uniform);
* periodic against one-way: ``oscillate_{horizontal,vertical}`` (back and forth);
* appearing against vanishing: ``fade_{in,out}`` (brightness ramps up or down),
  ``grow`` and ``shrink`` (side ramps up or down);
* ``still`` (no change at all).

At any single frame every object's position, size, brightness and colour follow
the same distribution whatever its class (a ramp sweeps the same range the
others draw from), so a single-frame model cannot beat chance on these classes.

Audio-only classes (``tone_*``: beeping, chirping and warbling patterns around
660 Hz) exist only in the sound track: they add nothing to the frames, and every
clip carries an audio track (quiet noise plus its tone patterns), so neither the
picture nor the presence of sound gives them away.

Clips hold 1..``max_labels`` co-occurring actions (one square per visual label).
Class frequencies follow a long tail (``weight ~ 1 / rank``, ranks shuffled by the
seed so the tail mixes motion and audio classes). ``write_motion_release`` writes
the release format of ``ml.synthetic.write_release`` (``vocabulary.csv``,
``train.csv``/``val.csv``/``test.csv``, ``videos/``, ``manifest.json``), plus
``groups.json`` naming the motion-only, audio-only and tail classes for
``bench/ml_learning.py``. Pure PyAV + numpy, deterministic for a seed.

``hide_release_positives`` then plays an incomplete crowd on a split: it hides a
share of the true positives (they become unknown, neither positive nor negative)
and writes the ``negatives`` column with the true negatives the crowd was asked
about, for ``python -m ml.train --unlabelled`` (``bench/ml_learning.py --hide``).

``python -m ml.motion_world --out DIR`` writes one.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.cli import cli_parser
from ml.synthetic import AUDIO_RATE, write_clip

__all__ = [
    "AUDIO_CLASSES",
    "CLASSES",
    "MOTION_CLASSES",
    "MotionClip",
    "class_frequencies",
    "hide_positives",
    "hide_release_positives",
    "main",
    "make_clip",
    "render_audio",
    "render_motion",
    "sample_labels",
    "write_motion_release",
]

_DIRECTIONS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}
_SPEEDS = {"slow": 2, "fast": 4}

MOTION_CLASSES: tuple[str, ...] = (
    *(f"move_{d}_{s}" for d in _DIRECTIONS for s in _SPEEDS),
    "oscillate_horizontal",
    "oscillate_vertical",
    "fade_in",
    "fade_out",
    "grow",
    "shrink",
    "still",
)
"""Visual classes: same squares, different motion (15)."""

_AUDIO_PATTERNS = ("beep_slow", "beep_fast", "chirp_up", "chirp_down", "warble", "hum", "double_beep",
                   "pulse_rising", "pulse_falling", "tremolo", "stutter", "siren", "ping", "buzz",
                   "sweep_up_down", "low_hum")
AUDIO_CLASSES: tuple[str, ...] = tuple(f"tone_{p}" for p in _AUDIO_PATTERNS)
"""Audio-only classes: nothing in the frames, a tone pattern in the sound track (16)."""

CLASSES: tuple[str, ...] = MOTION_CLASSES + AUDIO_CLASSES

PALETTE = np.array([(255, 255, 255), (255, 80, 80), (80, 255, 80), (80, 120, 255), (255, 220, 60),
                    (60, 230, 230), (240, 90, 240)], dtype=np.float32)
"""Object colours, drawn per object independently of its class."""

SIDE_RANGE = (5, 11)
"""Square side in pixels: drawn uniformly for constant objects, swept by ``grow``/``shrink``."""
BRIGHTNESS_RANGE = (0.35, 1.0)
"""Brightness factor: drawn uniformly for constant objects, swept by ``fade_in``/``fade_out``."""


@dataclass(frozen=True)
class MotionClip:
    """One generated clip: its labels and media before encoding.

    Attributes:
        labels: class indices into ``CLASSES`` (visual and audio together), sorted.
        frames: ``(T, H, W, 3)`` uint8 RGB.
        audio: ``(samples,)`` float32 mono waveform.
    """

    labels: tuple[int, ...]
    frames: np.ndarray
    audio: np.ndarray


def _ramp(low: float, high: float, num_frames: int, rising: bool) -> np.ndarray:
    ramp = np.linspace(low, high, num_frames)
    return ramp if rising else ramp[::-1]


def _track(name: str, *, num_frames: int, size: tuple[int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-frame top-left position, side and brightness of one object of class ``name``."""
    height, width = size
    t = np.arange(num_frames, dtype=np.float64)
    y0, x0 = rng.uniform(0, height), rng.uniform(0, width)
    y, x = np.full(num_frames, y0), np.full(num_frames, x0)
    side = np.full(num_frames, float(rng.integers(SIDE_RANGE[0], SIDE_RANGE[1] + 1)))
    bright = np.full(num_frames, rng.uniform(*BRIGHTNESS_RANGE))
    if name.startswith("move_"):
        _, direction, speed = name.split("_")
        dy, dx = _DIRECTIONS[direction]
        y, x = y0 + dy * _SPEEDS[speed] * t, x0 + dx * _SPEEDS[speed] * t
    elif name.startswith("oscillate_"):
        swing = rng.uniform(3.0, 5.0) * np.sin(2 * np.pi * t / 4 + rng.uniform(0, 2 * np.pi))
        if name.endswith("horizontal"):
            x = x0 + swing
        else:
            y = y0 + swing
    elif name in ("fade_in", "fade_out"):
        bright = _ramp(*BRIGHTNESS_RANGE, num_frames, name == "fade_in")
    elif name in ("grow", "shrink"):
        side = _ramp(*SIDE_RANGE, num_frames, name == "grow")
    return {"y": y, "x": x, "side": np.round(side).astype(int), "bright": bright}


def render_motion(
    visual: Sequence[str],
    *,
    size: tuple[int, int],
    num_frames: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frames with one square per visual class, moving (or changing) as its class says.

    Positions wrap round the frame edges (a torus), so each object's position at a
    frame is uniform whatever its motion.

    Args:
        visual: names from ``MOTION_CLASSES`` (one object each).
        size: ``(height, width)``.
        num_frames: ``T``.
        rng: randomness for the background noise and the objects.

    Returns:
        ``(T, H, W, 3)`` uint8 frames.
    """
    height, width = size
    frames = rng.integers(0, 40, size=(num_frames, height, width, 3)).astype(np.float32)
    for name in visual:
        track = _track(name, num_frames=num_frames, size=size, rng=rng)
        colour = PALETTE[rng.integers(len(PALETTE))]
        for t in range(num_frames):
            side = int(track["side"][t])
            # Centre the square on its track so growing and shrinking stay in place.
            top = int(round(track["y"][t] - side / 2))
            left = int(round(track["x"][t] - side / 2))
            rows = np.arange(top, top + side) % height
            cols = np.arange(left, left + side) % width
            frames[t][np.ix_(rows, cols)] = colour * track["bright"][t]
    return np.clip(frames, 0, 255).astype(np.uint8)


def _pattern(name: str, t: np.ndarray, seconds: float) -> np.ndarray:
    """One audio-only class's waveform (unit amplitude) at times ``t``."""
    base = 660.0
    phase = 2 * np.pi * base * t
    gate = {
        "beep_slow": (np.sin(2 * np.pi * 2 * t) > 0),
        "beep_fast": (np.sin(2 * np.pi * 8 * t) > 0),
        "double_beep": ((t % 0.5) < 0.08) | (((t % 0.5) > 0.16) & ((t % 0.5) < 0.24)),
        "stutter": (np.sin(2 * np.pi * 16 * t) > 0.5),
        "ping": np.exp(-12 * (t % 0.5)),
        "pulse_rising": (np.sin(2 * np.pi * 4 * t) > 0) * (t / seconds),
        "pulse_falling": (np.sin(2 * np.pi * 4 * t) > 0) * (1 - t / seconds),
        "tremolo": 0.5 + 0.5 * np.sin(2 * np.pi * 6 * t),
    }
    if name in gate:
        return np.sin(phase) * gate[name]
    sweep = {
        "chirp_up": base * (0.5 + t / seconds),
        "chirp_down": base * (1.5 - t / seconds),
        "warble": base * (1 + 0.1 * np.sin(2 * np.pi * 5 * t)),
        "siren": base * (1 + 0.3 * np.sin(2 * np.pi * 1 * t)),
        "sweep_up_down": base * (0.5 + np.abs(np.sin(np.pi * t / seconds))),
    }
    if name in sweep:
        return np.sin(2 * np.pi * np.cumsum(sweep[name]) / AUDIO_RATE)
    if name == "buzz":
        return np.sign(np.sin(phase / 4))
    if name == "low_hum":
        return np.sin(phase / 3)
    return np.sin(phase)  # hum


def render_audio(audio: Sequence[str], *, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Quiet noise plus one tone pattern per audio-only class.

    Args:
        audio: names from ``AUDIO_CLASSES``.
        seconds: clip length.
        rng: randomness for the noise.

    Returns:
        ``(samples,)`` float32 mono waveform in ``[-0.8, 0.8]``.
    """
    t = np.arange(int(seconds * AUDIO_RATE)) / AUDIO_RATE
    wave = 0.05 * rng.standard_normal(t.shape)
    for name in audio:
        wave += _pattern(name.removeprefix("tone_"), t, seconds) / max(len(audio), 1)
    return np.clip(0.8 * wave, -0.8, 0.8).astype(np.float32)


def class_frequencies(num_classes: int, *, seed: int) -> np.ndarray:
    """Long-tailed sampling weights: ``1 / rank`` with ranks shuffled by ``seed``.

    Returns:
        ``(C,)`` float64 weights summing to 1; the most frequent class is ``C``
        times as likely as the least frequent one.
    """
    ranks = np.random.default_rng([seed, 1]).permutation(num_classes)
    weights = 1.0 / (ranks + 1.0)
    return weights / weights.sum()


def sample_labels(rng: np.random.Generator, weights: np.ndarray, max_labels: int) -> list[int]:
    """1..``max_labels`` distinct classes drawn by ``weights``, sorted."""
    count = int(rng.integers(1, max_labels + 1))
    return sorted(rng.choice(len(weights), size=count, replace=False, p=weights).tolist())


def make_clip(
    labels: Sequence[int],
    *,
    size: tuple[int, int],
    num_frames: int,
    fps: int,
    seed: Sequence[int],
) -> MotionClip:
    """Render one clip's frames and sound for ``labels`` (indices into ``CLASSES``).

    Frames and sound come from separate generators derived from ``seed``, and the
    frames see only the visual labels, so the audio-only labels change nothing in
    the picture.
    """
    visual = [CLASSES[i] for i in labels if CLASSES[i] in MOTION_CLASSES]
    audio = [CLASSES[i] for i in labels if CLASSES[i] in AUDIO_CLASSES]
    frames = render_motion(visual, size=size, num_frames=num_frames, rng=np.random.default_rng([*seed, 0]))
    sound = render_audio(audio, seconds=num_frames / fps, rng=np.random.default_rng([*seed, 1]))
    return MotionClip(labels=tuple(sorted(labels)), frames=frames, audio=sound)


def write_motion_release(
    out_dir: Path | str,
    *,
    split_sizes: dict[str, int] | None = None,
    size: tuple[int, int] = (32, 32),
    num_frames: int = 8,
    fps: int = 8,
    max_labels: int = 2,
    tail_fraction: float = 1 / 3,
    seed: int = 0,
) -> Path:
    """Write the motion world as a release directory (and its ``groups.json``).

    Args:
        out_dir: the release directory to create.
        split_sizes: videos per split, default ``{"train": 600, "val": 150, "test": 300}``.
        size: ``(height, width)`` of the clips (even numbers).
        num_frames: frames per clip.
        fps: frame rate.
        max_labels: most co-occurring actions per clip.
        tail_fraction: share of the classes, least frequent first, listed as the tail.
        seed: randomness for labels, frames and sound.

    Returns:
        ``out_dir``. ``groups.json`` holds ``motion_only``, ``audio_only`` and ``tail``
        (class names) and ``train_counts`` (positives per class in the training split).
    """
    out_dir = Path(out_dir)
    media = out_dir / "videos"
    media.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "vocabulary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "name", "display_name"])
        writer.writerows([i, name, name.replace("_", " ")] for i, name in enumerate(CLASSES))
    weights = class_frequencies(len(CLASSES), seed=seed)
    counts: dict[str, np.ndarray] = {}
    for split_index, (split, count) in enumerate((split_sizes or {"train": 600, "val": 150, "test": 300}).items()):
        rng = np.random.default_rng([seed, 2, split_index])
        counts[split] = np.zeros(len(CLASSES), dtype=int)
        with open(out_dir / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "labels"])
            for n in range(count):
                labels = sample_labels(rng, weights, max_labels)
                counts[split][labels] += 1
                clip = make_clip(labels, size=size, num_frames=num_frames, fps=fps, seed=(seed, 3, split_index, n))
                name = f"{split}_{n:05d}.mp4"
                write_clip(media / name, clip.frames, fps=fps, audio=clip.audio)
                writer.writerow([name, ";".join(CLASSES[i] for i in labels)])
    order = np.argsort(weights, kind="stable")
    tail = sorted(CLASSES[i] for i in order[: max(1, round(tail_fraction * len(CLASSES)))])
    groups = {
        "motion_only": list(MOTION_CLASSES),
        "audio_only": list(AUDIO_CLASSES),
        "tail": tail,
        "train_counts": {name: int(c) for name, c in zip(CLASSES, counts.get("train", np.zeros(len(CLASSES))))},
    }
    (out_dir / "groups.json").write_text(json.dumps(groups, indent=2))
    manifest = {"dataset": "motion-world", "media_root": "videos", "seed": seed,
                "size": list(size), "num_frames": num_frames, "fps": fps}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out_dir


@dataclass(frozen=True)
class HiddenLabels:
    """One video's labels after ``hide_positives``.

    Attributes:
        labels: the positives left visible (verified), sorted; empty when all were hidden.
        negatives: the verified negatives (true negatives that were asked), sorted.
        hidden: the true positives hidden (unknown to the release), sorted.
    """

    labels: tuple[int, ...]
    negatives: tuple[int, ...]
    hidden: tuple[int, ...]


def hide_positives(
    labels: Sequence[Sequence[int]], fraction: float, *, num_classes: int, asked: int, seed: int = 0,
) -> list[HiddenLabels]:
    """An incomplete crowd's view of fully labelled videos.

    ``round(fraction * P)`` of the ``P`` true positives (video, class) pairs, drawn
    uniformly without replacement, are hidden; each video's verified negatives are a
    draw of ``asked`` of its true negatives (all of them when it has fewer). A hidden
    positive is never a verified negative: it is unknown. Deterministic for a seed.

    Args:
        labels: each video's true positive class indices.
        fraction: share of the true positives to hide, in ``[0, 1]``.
        num_classes: ``C``.
        asked: verified negatives per video (true negatives asked and answered "no").
        seed: randomness for the hidden positives and the asked negatives.

    Returns:
        One ``HiddenLabels`` per video, in order (``labels`` empty when all its positives were hidden).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction!r}")
    if asked < 0:
        raise ValueError(f"asked must be at least 0; got {asked!r}")
    pairs = [(n, int(c)) for n, row in enumerate(labels) for c in sorted(set(row))]
    count = int(round(fraction * len(pairs)))
    chosen = np.random.default_rng([seed, 4]).choice(len(pairs), size=count, replace=False)
    hidden = {pairs[i] for i in chosen.tolist()}
    out = []
    for n, row in enumerate(labels):
        truth = sorted(set(int(c) for c in row))
        true_negatives = np.array([c for c in range(num_classes) if c not in truth], dtype=int)
        take = min(asked, len(true_negatives))
        negatives = np.random.default_rng([seed, 5, n]).choice(true_negatives, size=take, replace=False)
        out.append(HiddenLabels(labels=tuple(c for c in truth if (n, c) not in hidden),
                                negatives=tuple(sorted(negatives.tolist())),
                                hidden=tuple(c for c in truth if (n, c) in hidden)))
    return out


def hide_release_positives(
    release: Path | str, fraction: float, *, asked: int, seed: int = 0, split: str = "train",
) -> dict[str, int]:
    """Rewrite one split of a fully labelled release as an incomplete crowd would have it.

    ``hide_positives`` on ``split.csv``; videos left without a visible positive are
    dropped (a release lists videos with at least one verified action); the others
    get their visible ``labels`` and a ``negatives`` column. The true labels are kept
    in ``{split}_truth.csv``; other splits are left with their full truth.

    Returns:
        ``positives`` (true), ``hidden``, ``videos`` (before), ``dropped`` (videos
        without a visible positive) and ``hidden_kept`` (hidden positives of the
        videos kept: the release's missing labels).
    """
    release = Path(release)
    with open(release / "vocabulary.csv", newline="") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    index = {name: i for i, name in enumerate(names)}
    source = release / f"{split}.csv"
    with open(source, newline="") as handle:
        rows = list(csv.DictReader(handle))
    truth = [[index[name] for name in row["labels"].split(";") if name] for row in rows]
    views = hide_positives(truth, fraction, num_classes=len(names), asked=asked, seed=seed)
    source.replace(release / f"{split}_truth.csv")
    kept = [(row, view) for row, view in zip(rows, views) if view.labels]
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "labels", "negatives"])
        for row, view in kept:
            writer.writerow([row["path"], ";".join(names[c] for c in view.labels),
                             ";".join(names[c] for c in view.negatives)])
    return {"videos": len(rows), "dropped": len(rows) - len(kept), "positives": sum(len(t) for t in truth),
            "hidden": sum(len(v.hidden) for v in views), "hidden_kept": sum(len(v.hidden) for _, v in kept)}


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser("python -m ml.motion_world",
                        "Write a synthetic release whose classes differ only in motion or in sound.")
    parser.add_argument("--out", type=Path, required=True, help="release directory to create")
    parser.add_argument("--train", type=int, default=600, help="training videos")
    parser.add_argument("--val", type=int, default=150, help="validation videos")
    parser.add_argument("--test", type=int, default=300, help="test videos")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip")
    parser.add_argument("--size", type=int, default=32, help="frame side in pixels (even)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.train < 1 or args.frames < 2:
        parser.error("--train must be at least 1 and --frames at least 2")
    if args.size < 16 or args.size % 2:
        parser.error("--size must be an even number of at least 16")
    sizes = {split: n for split, n in (("train", args.train), ("val", args.val), ("test", args.test)) if n > 0}
    out = write_motion_release(args.out, split_sizes=sizes, size=(args.size, args.size),
                               num_frames=args.frames, seed=args.seed)
    print(f"wrote {sum(sizes.values())} clips of {len(CLASSES)} actions "
          f"({len(MOTION_CLASSES)} motion-only, {len(AUDIO_CLASSES)} audio-only) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
