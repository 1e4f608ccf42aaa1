"""Clip decoding throughput of the data loader against ``ffmpeg -f null``.

    python bench/ml_decode.py [--clips 40 --width 320 --height 240 --fps 30 --seconds 3]

Writes ``--clips`` synthetic H.264 clips (with AAC audio) to a temporary
folder, then decodes each of them:

* ``ml.decode.decode_clip``: what a loader worker does for I3D (16 frames
  spread over the clip, scaled to a short side of 256, RGB), one process, with
  one decoding thread (the loader's setting) and with FFmpeg's thread choice
  (as the ``ffmpeg`` command uses);
* baseline: ``ffmpeg -nostdin -an -i CLIP -f null -`` per clip (full video
  decode, audio ignored as the video models do), one process at a time;
* stricter baseline: one ``ffmpeg`` reading all clips through the concat
  demuxer (no per-clip process start).

Target of the issue: at least 70% of the ffmpeg throughput. Best of
``--rounds`` interleaved rounds.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.decode import decode_clip  # noqa: E402
from ml.synthetic import render_frames, render_tones, write_clip  # noqa: E402

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


def write_clips(folder: Path, count: int, width: int, height: int, fps: int, seconds: float) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        labels = [i % 4, (i + 1) % 4]
        frames = render_frames(labels, num_classes=4, size=(height, width), num_frames=int(fps * seconds), rng=rng)
        paths.append(write_clip(folder / f"clip_{i:03d}.mp4", frames, fps=fps, audio=render_tones(labels, seconds=seconds)))
    return paths


def ours(paths: list[Path], frames: int, short_side: int, threads: int) -> float:
    start = time.perf_counter()
    for path in paths:
        clip = decode_clip(path, num_frames=frames, short_side=short_side, threads=threads)
        assert clip.frames.shape[0] == frames
    return time.perf_counter() - start


def ffmpeg_each(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-an", "-i", str(path), "-f", "null", "-"], check=True)
    return time.perf_counter() - start


def ffmpeg_concat(listing: Path) -> float:
    start = time.perf_counter()
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-an",
                    "-f", "null", "-"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--frames", type=int, default=16, help="frames the loader samples per clip")
    parser.add_argument("--short-side", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_clips(folder, args.clips, args.width, args.height, args.fps, args.seconds)
        listing = folder / "list.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in paths))
        ours(paths[:2], args.frames, args.short_side, 1)  # warm up (imports, caches)
        ffmpeg_each(paths[:2])
        times: dict[str, list[float]] = {"ours, 1 thread": [], "ours, auto threads": [], "ffmpeg per clip": [],
                                         "ffmpeg concat": []}
        for _ in range(args.rounds):
            times["ours, 1 thread"].append(ours(paths, args.frames, args.short_side, 1))
            times["ours, auto threads"].append(ours(paths, args.frames, args.short_side, 0))
            times["ffmpeg per clip"].append(ffmpeg_each(paths))
            times["ffmpeg concat"].append(ffmpeg_concat(listing))
    rate = {name: args.clips / min(values) for name, values in times.items()}
    print(f"{args.clips} clips of {args.seconds:g} s, {args.width}x{args.height} at {args.fps} fps (H.264 + AAC); "
          f"loader: {args.frames} frames at short side {args.short_side}; best of {args.rounds} rounds")
    for name, clips_per_second in rate.items():
        print(f"  {name:20s} {clips_per_second:8.1f} clips/s")
    for mine in ("ours, 1 thread", "ours, auto threads"):
        for baseline in ("ffmpeg per clip", "ffmpeg concat"):
            ratio = rate[mine] / rate[baseline]
            print(f"{mine:18s} / {baseline:16s} = {ratio:6.1%} "
                  f"(target >= 70%: {'PASS' if ratio >= 0.7 else 'FAIL'})")


if __name__ == "__main__":
    main()
