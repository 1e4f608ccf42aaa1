"""Tiny synthetic releases for tests, benchmarks and smoke runs on a new machine.

Each class has a colour and a tone: a video shows one moving square per
positive label in that label's colour, over a dark noisy background, and (for
the clips given audio) the sum of its labels' tones. A tiny model separates the
classes within a few epochs, so training, resuming and evaluation can be
checked end to end without real data. Pure PyAV + numpy.

``python -m ml.synthetic --out DIR`` writes one (the first command of ``ml/README.md``).
"""

from __future__ import annotations

import argparse
import colorsys
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

from ml.cli import cli_parser

__all__ = ["class_colour", "main", "render_frames", "render_tones", "write_clip", "write_release"]

AUDIO_RATE = 22050


def class_colour(index: int, num_classes: int) -> tuple[int, int, int]:
    """A saturated RGB colour for class ``index``, evenly spaced in hue."""
    r, g, b = colorsys.hsv_to_rgb(index / max(num_classes, 1), 1.0, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def render_frames(
    labels: Sequence[int],
    *,
    num_classes: int,
    size: tuple[int, int],
    num_frames: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frames showing one moving square per label.

    Args:
        labels: positive class indices.
        num_classes: ``C`` (fixes the colours).
        size: ``(height, width)``.
        num_frames: ``T``.
        rng: randomness for the background noise and the square paths.

    Returns:
        ``(T, H, W, 3)`` uint8 frames.
    """
    height, width = size
    frames = rng.integers(0, 40, size=(num_frames, height, width, 3), dtype=np.uint8)
    side = max(4, min(height, width) // 3)
    for label in labels:
        y0, x0 = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        dy, dx = rng.integers(-2, 3, size=2)
        colour = np.array(class_colour(label, num_classes), dtype=np.uint8)
        for t in range(num_frames):
            y = int(np.clip(y0 + dy * t, 0, height - side))
            x = int(np.clip(x0 + dx * t, 0, width - side))
            frames[t, y : y + side, x : x + side] = colour
    return frames


def render_tones(labels: Sequence[int], *, seconds: float, sample_rate: int = AUDIO_RATE) -> np.ndarray:
    """The sum of one sine tone per label (class ``i`` at ``220 * 2**(i/4)`` Hz).

    Returns:
        ``(samples,)`` float32 mono waveform in ``[-0.8, 0.8]``.
    """
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = np.zeros_like(t)
    for label in labels:
        wave += np.sin(2 * np.pi * 220.0 * 2 ** (label / 4) * t)
    return (0.8 * wave / max(len(labels), 1)).astype(np.float32)


def write_clip(
    path: Path | str,
    frames: np.ndarray,
    *,
    fps: int,
    audio: np.ndarray | None = None,
    sample_rate: int = AUDIO_RATE,
) -> Path:
    """Encode frames (and optionally a mono waveform) as an H.264 (+ AAC) MP4.

    Args:
        path: output ``.mp4`` file.
        frames: ``(T, H, W, 3)`` uint8 RGB, even ``H`` and ``W``.
        fps: frame rate.
        audio: ``(samples,)`` float32 mono waveform, or ``None`` for no audio stream.
        sample_rate: audio sample rate.

    Returns:
        ``path``.
    """
    path = Path(path)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.height, video.width = frames.shape[1:3]
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate)
            sound.layout = "mono"
        for image in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(video.encode(None))
        if sound is not None:
            chunk = 1024
            for start in range(0, len(audio), chunk):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(audio[None, start : start + chunk]), format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = sample_rate, start
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path


def write_release(
    out_dir: Path | str,
    *,
    num_classes: int = 4,
    split_sizes: dict[str, int] | None = None,
    size: tuple[int, int] = (32, 32),
    num_frames: int = 12,
    fps: int = 4,
    audio_fraction: float = 0.5,
    max_labels: int = 2,
    seed: int = 0,
) -> Path:
    """Write a complete synthetic release directory.

    Videos go to ``out_dir/videos/`` and are listed with relative paths; the
    manifest's ``media_root`` is ``videos``. Every video has 1..``max_labels``
    labels, and a random ``audio_fraction`` of the videos carry an AAC tone track.

    Args:
        out_dir: the release directory to create.
        num_classes: ``C``.
        split_sizes: videos per split, default ``{"train": 16, "val": 8}``.
        size: ``(height, width)`` of the clips (even numbers).
        num_frames: frames per clip.
        fps: frame rate (``num_frames / fps`` seconds per clip).
        audio_fraction: share of the clips with an audio stream.
        max_labels: most labels per video.
        seed: randomness for labels, frames and audio.

    Returns:
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    media = out_dir / "videos"
    media.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [f"action_{i}" for i in range(num_classes)]
    with open(out_dir / "vocabulary.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "name", "display_name"])
        writer.writerows([i, name, name.replace("_", " ")] for i, name in enumerate(names))
    for split, count in (split_sizes or {"train": 16, "val": 8}).items():
        with open(out_dir / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "labels"])
            for n in range(count):
                # Cycle the first label through the classes so every class has examples.
                first = n % num_classes
                extra = rng.choice(num_classes, size=rng.integers(0, max_labels), replace=False)
                labels = sorted({first, *extra.tolist()})
                frames = render_frames(labels, num_classes=num_classes, size=size,
                                       num_frames=num_frames, rng=rng)
                audio = None
                if rng.random() < audio_fraction:
                    audio = render_tones(labels, seconds=num_frames / fps)
                name = f"{split}_{n:04d}.mp4"
                write_clip(media / name, frames, fps=fps, audio=audio)
                writer.writerow([name, ";".join(names[i] for i in labels)])
    manifest = {"dataset": "synthetic", "media_root": "videos", "seed": seed}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out_dir


def build_parser() -> argparse.ArgumentParser:
    parser = cli_parser("python -m ml.synthetic", "Write a tiny synthetic release directory.")
    parser.add_argument("--out", type=Path, required=True, help="release directory to create")
    parser.add_argument("--classes", type=int, default=4, help="actions in the vocabulary")
    parser.add_argument("--train", type=int, default=16, help="training videos")
    parser.add_argument("--val", type=int, default=8, help="validation videos")
    parser.add_argument("--test", type=int, default=0, help="test videos")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("classes", "train"):
        if getattr(args, name) < 1:
            build_parser().error(f"--{name} must be at least 1")
    sizes = {split: n for split, n in (("train", args.train), ("val", args.val), ("test", args.test)) if n > 0}
    out = write_release(args.out, num_classes=args.classes, split_sizes=sizes, seed=args.seed)
    print(f"wrote {sum(sizes.values())} clips of {args.classes} actions to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
