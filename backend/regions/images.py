"""Frames and crops as image files: the centre frame of a video (PyAV), crops of a region.

No Django here: callers pass file objects and bytes, and store the results themselves.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np
from PIL import Image

NO_VIDEO_STREAM = "The file has no video stream."
NO_FRAME = "No frame could be decoded from the video."
FORMATS = {"jpeg": ("JPEG", ".jpg"), "png": ("PNG", ".png")}


@dataclass(frozen=True)
class Frame:
    pixels: np.ndarray  # (H, W, 3) uint8 RGB
    timestamp: float  # seconds from the start of the stream

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def centre_frame(source: BinaryIO | str) -> Frame:
    """The frame at the middle of the video (raises ValueError when there is none).

    With a known frame count the centre is frame ``n // 2`` (the convention of the synthetic
    clips' ``boxes.json``); otherwise the frame nearest to half the duration.
    """
    try:
        container = av.open(source)
    except av.FFmpegError as exc:
        raise ValueError(f"{NO_FRAME} ({exc})") from exc
    with container:
        if not container.streams.video:
            raise ValueError(NO_VIDEO_STREAM)
        stream = container.streams.video[0]
        tb = stream.time_base or Fraction(1, 1_000_000)
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        rate = stream.average_rate or stream.guessed_rate
        if stream.frames and rate:
            target = start + float((stream.frames // 2) / rate)
        elif stream.duration:
            target = start + float(stream.duration * tb) / 2
        elif container.duration:
            target = start + container.duration / av.time_base / 2
        else:
            target = start
        half_period = float(0.5 / rate) if rate else 0.02
        best = _nearest(container, stream, target, half_period, seek=True)
        if best is None:  # some containers seek badly: decode from the start instead
            container.seek(0)
            best = _nearest(container, stream, target, half_period, seek=False)
        if best is None:
            raise ValueError(NO_FRAME)
        frame, time = best
        return Frame(pixels=frame.to_ndarray(format="rgb24"), timestamp=round(max(0.0, time - 0.0), 4))


def _nearest(container, stream, target: float, half_period: float, *, seek: bool):
    if seek:
        try:
            container.seek(int(target / float(stream.time_base)), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            container.seek(0)
    best, best_gap = None, None
    try:
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            gap = abs(frame.time - target)
            if best_gap is None or gap < best_gap:
                best, best_gap = (frame, frame.time), gap
            if frame.time > target + half_period:
                break
    except av.FFmpegError:
        pass
    return best


def encode_image(pixels: np.ndarray, *, fmt: str = "jpeg") -> bytes:
    """RGB pixels as image file bytes (JPEG quality 95, or lossless PNG)."""
    name, _ = FORMATS[fmt]
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=name, **({"quality": 95} if name == "JPEG" else {}))
    return out.getvalue()


def extension(fmt: str) -> str:
    return FORMATS[fmt][1]


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def crop_image(data: bytes, box: tuple[float, float, float, float], *, fmt: str = "jpeg") -> bytes:
    """The pixels of ``box`` (rounded outwards to whole pixels) as a new image file."""
    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
        w, h = rgb.size
        x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
        x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
        return encode_image(np.asarray(rgb.crop((x0, y0, x1, y1))), fmt=fmt)


def load_rgb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")
