"""Decoding clips with PyAV: T frames spread over the clip, and mono audio.

Frames are chosen TSN-style: the clip's frames are split into ``T`` equal
segments and one frame is taken from each, at a random offset when training and
at the segment's centre otherwise. This gives I3D's "16 frames spread over the
clip" and TSM's "8 segments" with one rule.

For speed only the chosen frames are converted to RGB, and they are scaled by
swscale during that conversion (to ``short_side``) instead of converting full
size frames and resizing in numpy, through one reformatter per clip (a new
swscale context per frame, as ``VideoFrame.to_ndarray`` makes, cost about as
much as decoding); decoding stops after the last chosen frame. Each clip is
decoded on one thread by default: loader workers already decode several clips
in parallel, and more threads per worker would oversubscribe the CPUs.
The number of frames comes from the container (``nb_frames``, or duration x
rate); when that turns out wrong, the clip is decoded a second time with the
count it really has.

Audio is resampled to mono float32 at ``sample_rate`` (22,050 Hz for SoundNet)
and cut or zero-padded to a fixed length. A clip without an audio stream gives
zeros and ``has_audio = False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

__all__ = ["Clip", "DecodeError", "decode_clip", "sample_indices", "scaled_size"]

ERR_NO_VIDEO_STREAM = "no video stream"
ERR_NO_FRAMES = "no frames could be decoded"


class DecodeError(RuntimeError):
    """A clip without the needed stream or frames."""


@dataclass(frozen=True)
class Clip:
    """Decoded content of one video file.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB, or ``None`` when not asked for.
        audio: ``(L,)`` float32 mono in ``[-1, 1]``, or ``None`` when not asked for.
        has_audio: whether the file has an audio stream.
    """

    frames: np.ndarray | None
    audio: np.ndarray | None
    has_audio: bool


def sample_indices(num_available: int, num_frames: int, offsets: np.ndarray | None = None) -> np.ndarray:
    """Pick one frame in each of ``num_frames`` equal segments of the clip.

    Args:
        num_available: frames in the clip (>= 1).
        num_frames: ``T``, frames to return (repeats when the clip is shorter).
        offsets: ``(T,)`` positions in ``[0, 1)`` inside each segment (random when
            training), or ``None`` for the segment centres.

    Returns:
        ``(T,)`` int64 non-decreasing frame indices in ``[0, num_available)``.
    """
    edges = np.linspace(0.0, num_available, num_frames + 1)
    offsets = np.full(num_frames, 0.5) if offsets is None else offsets
    positions = edges[:-1] + offsets * (edges[1:] - edges[:-1])
    return np.clip(np.floor(positions).astype(np.int64), 0, num_available - 1)


def scaled_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """``(width, height)`` with the shorter side scaled to ``short_side`` (even sizes kept >= 2)."""
    if short_side is None:
        return width, height
    scale = short_side / min(width, height)
    return max(2, round(width * scale)), max(2, round(height * scale))


def _frame_count(stream: av.video.stream.VideoStream, container: av.container.InputContainer) -> int:
    """Frames in the stream as the container reports them (0 when unknown)."""
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if rate and stream.duration and stream.time_base:
        return int(round(float(stream.duration * stream.time_base * rate)))
    if rate and container.duration:
        return int(round(container.duration / av.time_base * float(rate)))
    return 0


def _to_rgb(frame: av.VideoFrame, short_side: int | None, reformatter: VideoReformatter) -> np.ndarray:
    width, height = scaled_size(frame.width, frame.height, short_side)
    return reformatter.reformat(frame, width=width, height=height, format="rgb24",
                                interpolation="BILINEAR").to_ndarray()


def _decode_frames(
    path: str,
    num_frames: int,
    short_side: int | None,
    offsets: np.ndarray | None,
    expected: int | None,
    threads: int,
) -> tuple[np.ndarray | None, int, bool]:
    """Decode the chosen frames.

    Returns:
        ``(frames or None, frames decoded, has an audio stream)``; ``None`` means
        the expected count was too high and the caller should retry with the
        returned count.
    """
    with av.open(path) as container:
        has_audio = bool(container.streams.audio)
        if not container.streams.video:
            raise DecodeError(ERR_NO_VIDEO_STREAM)
        stream = container.streams.video[0]
        stream.codec_context.thread_count = threads
        stream.thread_type = "NONE" if threads == 1 else "AUTO"
        reformatter = VideoReformatter()
        total = _frame_count(stream, container) if expected is None else expected
        if total <= 0:  # unknown length: keep every frame, then choose
            kept = list(container.decode(stream))
            if not kept:
                raise DecodeError(ERR_NO_FRAMES)
            chosen = sample_indices(len(kept), num_frames, offsets)
            return np.stack([_to_rgb(kept[i], short_side, reformatter) for i in chosen]), len(kept), has_audio
        chosen = sample_indices(total, num_frames, offsets)
        slots: dict[int, list[int]] = {}
        for slot, index in enumerate(chosen.tolist()):
            slots.setdefault(index, []).append(slot)
        out: list[np.ndarray | None] = [None] * num_frames
        last = int(chosen[-1])
        decoded = 0
        for index, frame in enumerate(container.decode(stream)):
            decoded = index + 1
            if index in slots:
                image = _to_rgb(frame, short_side, reformatter)
                for slot in slots[index]:
                    out[slot] = image
            if index >= last:
                break
    if decoded == 0:
        raise DecodeError(ERR_NO_FRAMES)
    if any(image is None for image in out):
        return None, decoded, has_audio
    return np.stack(out), decoded, has_audio


def _decode_audio(
    container: av.container.InputContainer, sample_rate: int, num_samples: int
) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks: list[np.ndarray] = []
    have = 0
    for frame in container.decode(container.streams.audio[0]):
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
            have += chunks[-1].size
        if have >= num_samples:
            break
    else:
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if audio.size >= num_samples:
        return np.ascontiguousarray(audio[:num_samples], dtype=np.float32)
    return np.pad(audio, (0, num_samples - audio.size)).astype(np.float32)


def decode_clip(
    path: Path | str,
    *,
    num_frames: int | None = None,
    short_side: int | None = None,
    rng: np.random.Generator | None = None,
    audio_samples: int | None = None,
    sample_rate: int = 22050,
    threads: int = 1,
) -> Clip:
    """Decode the frames and/or the audio of one video file.

    Args:
        path: the video file.
        num_frames: ``T`` frames to sample (``None``: no video decoding).
        short_side: scale frames so their shorter side has this many pixels
            (``None``: keep the size).
        rng: random frame offsets (training) or ``None`` (segment centres).
        audio_samples: length ``L`` of the returned waveform (``None``: no audio).
        sample_rate: audio sample rate in Hz.
        threads: video decoding threads (0: FFmpeg's choice).

    Returns:
        The decoded clip.

    Raises:
        DecodeError: no video stream or no decodable frame when frames are wanted.
        av.error.FFmpegError, OSError: unreadable or missing files.
    """
    frames = audio = None
    has_audio: bool | None = None
    if num_frames is not None:
        offsets = None if rng is None else rng.random(num_frames)
        frames, decoded, has_audio = _decode_frames(str(path), num_frames, short_side, offsets, None, threads)
        if frames is None:  # the container over-reported its length: decode again
            frames, _, _ = _decode_frames(str(path), num_frames, short_side, offsets, decoded, threads)
            if frames is None:
                raise DecodeError(ERR_NO_FRAMES)
    if audio_samples is not None and has_audio is not False:
        with av.open(str(path)) as container:
            has_audio = bool(container.streams.audio)
            if has_audio:
                audio = _decode_audio(container, sample_rate, audio_samples)
    if audio_samples is not None and audio is None:
        audio = np.zeros(audio_samples, dtype=np.float32)
    if has_audio is None:
        with av.open(str(path)) as container:
            has_audio = bool(container.streams.audio)
    return Clip(frames=frames, audio=audio, has_audio=has_audio)
