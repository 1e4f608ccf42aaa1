"""A decoded-clip cache: each video's frames decoded once, read back by every epoch and run.

Decoding H.264 with PyAV costs a CPU core tens of milliseconds per clip, which
is what keeps a GPU waiting at full I3D size (``bench/ml_gpu_throughput.py``
measures it). A cache holds, for every video of a release, ``frames`` frames
(the centres of ``frames`` equal segments of the clip) scaled so their short
side is ``short_side``, in one of two formats:

* ``jpeg`` (default): each frame a JPEG (``quality`` 90), about 10x smaller than
  raw pixels; reading is a libjpeg-turbo decode (Pillow) per frame.
* ``raw``: uint8 RGB pixels, read back as a slice of a memory map: nearly no
  CPU, ``frames x short_side x width x 3`` bytes per video on disk.

Layout of a cache directory (one per release and size, built by
``python -m ml.clip_cache RELEASE --out DIR``)::

    cache.json   format, frames, short_side, quality, the video paths in order
    data.bin     the frames, concatenated
    index.npy    int64 (N * frames + 1,) byte offsets of each frame in data.bin
    shapes.npy   int32 (N, 2) height and width of each video's frames

A training clip of ``T`` frames picks one cached frame in each of ``T``
segments of the cached ones (at random in training, the centres otherwise),
so temporal jitter keeps ``frames / T`` choices per segment; crop and flip
are those of the PyAV path (``ml.transforms.ClipTransform``). Scale jitter is
not applied to cached clips: their short side is fixed at ``short_side``.
Videos missing from the cache (or unreadable when it was built) fall back to
PyAV decoding in the loader, so a cache built before new videos arrived stays
usable.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.cli import available_cores, cli_parser
from ml.decode import decode_clip, sample_indices

__all__ = ["ClipCache", "build_clip_cache", "encode_frames", "main"]

FORMATS = ("jpeg", "raw")
CACHE_FILE = "cache.json"
DATA_FILE = "data.bin"
INDEX_FILE = "index.npy"
SHAPES_FILE = "shapes.npy"

ERR_FORMAT = "unknown cache format {name!r}; choose from {choices}"
ERR_NOT_A_CACHE = "{path} is not a clip cache (no {file}); build one with python -m ml.clip_cache RELEASE --out DIR"


def encode_frames(frames: np.ndarray, fmt: str, quality: int = 90) -> list[bytes]:
    """``(K, H, W, 3)`` uint8 frames as K byte strings of the cache format."""
    if fmt == "raw":
        return [np.ascontiguousarray(frame).tobytes() for frame in frames]
    if fmt != "jpeg":
        raise ValueError(ERR_FORMAT.format(name=fmt, choices=list(FORMATS)))
    from PIL import Image

    out = []
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        out.append(buffer.getvalue())
    return out


def _decode_one(job: tuple[str, int, int, str, int]) -> tuple[list[bytes], tuple[int, int]] | None:
    path, frames, short_side, fmt, quality = job
    try:
        clip = decode_clip(path, num_frames=frames, short_side=short_side)
    except Exception:  # noqa: BLE001 - an unreadable file stays out of the cache (the loader decodes it)
        return None
    assert clip.frames is not None
    return encode_frames(clip.frames, fmt, quality), clip.frames.shape[1:3]


def build_clip_cache(
    videos: Sequence[tuple[str, Path | str]],
    out: Path | str,
    *,
    frames: int = 32,
    short_side: int = 256,
    fmt: str = "jpeg",
    quality: int = 90,
    workers: int = 1,
    progress: bool = False,
) -> dict:
    """Decode every video once and write a cache directory.

    Args:
        videos: ``(key, file)`` pairs; the key is the path as written in the
            release's split files (``ml.release.Video.path``).
        out: the cache directory (created; an existing cache there is replaced).
        frames: frames kept per video (segment centres).
        short_side: their short side in pixels.
        fmt: ``jpeg`` or ``raw``.
        quality: JPEG quality.
        workers: decoding processes.
        progress: print a progress line to stderr.

    Returns:
        The summary written to ``cache.json`` (without the path list), with
        ``videos``, ``skipped``, ``bytes`` and ``seconds``.
    """
    if fmt not in FORMATS:
        raise ValueError(ERR_FORMAT.format(name=fmt, choices=list(FORMATS)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(file), frames, short_side, fmt, quality) for _, file in videos]
    keys: list[str] = []
    shapes: list[tuple[int, int]] = []
    offsets = [0]
    skipped: list[str] = []
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        data = stack.enter_context(open(out / (DATA_FILE + ".tmp"), "wb"))
        results: Iterable = map(_decode_one, jobs)
        if workers > 1:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers))
            results = pool.map(_decode_one, jobs, chunksize=4)
        for done, ((key, _), result) in enumerate(zip(videos, results), start=1):
            if result is None:
                skipped.append(key)
            else:
                encoded, shape = result
                for blob in encoded:
                    data.write(blob)
                    offsets.append(offsets[-1] + len(blob))
                keys.append(key)
                shapes.append((int(shape[0]), int(shape[1])))
            if progress and (done % 50 == 0 or done == len(jobs)):
                rate = done / max(time.perf_counter() - start, 1e-9)
                print(f"\rclip cache: {done}/{len(jobs)} videos, {rate:.1f}/s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    os.replace(out / (DATA_FILE + ".tmp"), out / DATA_FILE)
    np.save(out / INDEX_FILE, np.asarray(offsets, dtype=np.int64))
    np.save(out / SHAPES_FILE, np.asarray(shapes, dtype=np.int32).reshape(-1, 2))
    summary = {"format": fmt, "frames": frames, "short_side": short_side, "quality": quality,
               "videos": len(keys), "skipped": skipped, "bytes": offsets[-1],
               "seconds": round(time.perf_counter() - start, 3)}
    (out / CACHE_FILE).write_text(json.dumps({**summary, "paths": keys}))
    return summary


@dataclass
class ClipCache:
    """A cache directory opened for reading (see the module docstring).

    Safe to pass to loader worker processes: the memory map is opened lazily in
    each process.
    """

    root: Path
    fmt: str
    frames: int
    short_side: int
    rows: dict[str, int]
    index: np.ndarray
    shapes: np.ndarray

    @classmethod
    def open(cls, root: Path | str) -> ClipCache:
        root = Path(root)
        if not (root / CACHE_FILE).is_file():
            raise FileNotFoundError(ERR_NOT_A_CACHE.format(path=root, file=CACHE_FILE))
        meta = json.loads((root / CACHE_FILE).read_text())
        return cls(root=root, fmt=meta["format"], frames=int(meta["frames"]), short_side=int(meta["short_side"]),
                   rows={key: row for row, key in enumerate(meta["paths"])},
                   index=np.load(root / INDEX_FILE), shapes=np.load(root / SHAPES_FILE))

    def __post_init__(self) -> None:
        self._data: np.memmap | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_data"] = None
        return state

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def _bytes(self) -> np.memmap:
        if self._data is None:
            size = int(self.index[-1])
            self._data = (np.memmap(self.root / DATA_FILE, dtype=np.uint8, mode="r") if size
                          else np.zeros(0, dtype=np.uint8))
        return self._data

    def encoded(self, key: str, positions: Sequence[int]) -> list[np.ndarray]:
        """The stored bytes of the cached frames ``positions`` of video ``key``."""
        row = self.rows[key]
        data = self._bytes()
        first = row * self.frames
        return [data[self.index[first + p]: self.index[first + p + 1]] for p in positions]

    def positions(self, num_frames: int, rng: np.random.Generator | None) -> np.ndarray:
        """Which cached frames make a clip of ``num_frames`` (random within segments when ``rng``)."""
        offsets = None if rng is None else rng.random(num_frames)
        return sample_indices(self.frames, num_frames, offsets)

    def read(self, key: str, num_frames: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 frames of video ``key`` (``KeyError`` when it is not cached)."""
        height, width = (int(v) for v in self.shapes[self.rows[key]])
        blobs = self.encoded(key, self.positions(num_frames, rng).tolist())
        if self.fmt == "raw":
            return np.stack([blob.reshape(height, width, 3) for blob in blobs])
        from PIL import Image

        out = np.empty((len(blobs), height, width, 3), dtype=np.uint8)
        for slot, blob in enumerate(blobs):
            with Image.open(io.BytesIO(blob.tobytes())) as image:
                out[slot] = np.asarray(image.convert("RGB"))
        return out


def main(argv: Sequence[str] | None = None) -> int:
    from ml.release import load_release

    parser = cli_parser("python -m ml.clip_cache",
                        "Decode a release's videos once into a clip cache that python -m ml.train --clip-cache reads.")
    parser.add_argument("release", type=Path, help="release directory")
    parser.add_argument("--out", type=Path, required=True, help="cache directory")
    parser.add_argument("--video-root", type=Path, help="directory for relative video paths")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], help="splits to cache")
    parser.add_argument("--frames", type=int, default=32, help="frames kept per video")
    parser.add_argument("--short-side", type=int, default=256, help="short side of the kept frames")
    parser.add_argument("--format", choices=FORMATS, default="jpeg", dest="fmt")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality")
    parser.add_argument("--workers", type=int, default=available_cores(), help="decoding processes")
    args = parser.parse_args(argv)
    release = load_release(args.release, video_root=args.video_root)
    seen: dict[str, Path] = {}
    for split in args.splits:
        for video in release.splits.get(split, []):
            seen.setdefault(video.path, video.file)
    summary = build_clip_cache(list(seen.items()), args.out, frames=args.frames, short_side=args.short_side,
                               fmt=args.fmt, quality=args.quality, workers=args.workers, progress=True)
    print(f"cached {summary['videos']} videos ({summary['bytes'] / 1e6:.1f} MB, {args.fmt}) in "
          f"{summary['seconds']:.1f} s; {len(summary['skipped'])} unreadable left to the loader")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
