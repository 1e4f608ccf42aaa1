"""Reading a video file's metadata with PyAV, and telling a broken file from a good one."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import av

NO_VIDEO_STREAM = "no video stream"
NO_FRAMES = "no decodable video frame"
EMPTY_FILE = "empty file"


class ProbeError(Exception):
    """The file cannot be used as a video; the message is the quarantine reason."""


@dataclass(frozen=True)
class VideoInfo:
    checksum: str
    size_bytes: int
    duration: float | None
    fps: float | None
    width: int
    height: int
    has_audio: bool


def file_checksum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def probe_video(path: Path) -> VideoInfo:
    """Metadata of a clip; raises ``ProbeError`` with a readable reason for a broken file.

    Every packet is demuxed (cheap) so a truncated file is caught, and the first frame is
    decoded so undecodable data is caught too, without paying for a full decode.
    """
    size = path.stat().st_size
    if size == 0:
        raise ProbeError(EMPTY_FILE)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise ProbeError(NO_VIDEO_STREAM)
            stream = container.streams.video[0]
            has_audio = bool(container.streams.audio)
            duration = None
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            decoded = False
            for packet in container.demux(stream):
                if not decoded and packet.size:
                    decoded = bool(packet.decode())
            if not decoded:
                # the decoder may hold the first frames until flushed
                decoded = bool(stream.codec_context.decode(None))
            if not decoded:
                raise ProbeError(NO_FRAMES)
            return VideoInfo(
                checksum=file_checksum(path),
                size_bytes=size,
                duration=round(duration, 4) if duration else None,
                fps=round(float(rate), 4) if rate else None,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                has_audio=has_audio,
            )
    except ProbeError:
        raise
    except (av.FFmpegError, ValueError, OSError, IndexError) as exc:
        raise ProbeError(f"unreadable video: {exc}") from exc
