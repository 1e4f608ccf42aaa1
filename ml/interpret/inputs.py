"""Frames in, model inputs out: images and videos for mCAM, image batches for NetDissect.

Frames are scaled so their shorter side is the model's training crop (no crop:
the whole frame is mapped and drawn); models are fully convolutional up to the
global pooling, so any size of at least 32 pixels works. A still image given
to a video model becomes a clip of ``T`` identical frames; a video given to an
image model is reduced to its middle frame. Normalisation uses the ImageNet
statistics like training (``ml.transforms``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ml.decode import decode_clip, scaled_size
from ml.interpret.loading import InterpretModel
from ml.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["Media", "load_image", "load_video", "model_inputs", "normalise_images"]


@dataclass(frozen=True)
class Media:
    """Decoded frames (and audio) of an image or a video.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB (``T = 1`` for an image).
        audio: ``(L,)`` float32 waveform, or ``None``.
    """

    frames: np.ndarray
    audio: np.ndarray | None = None


def load_image(path: Path | str, *, short_side: int | None) -> Media:
    """Read an image and scale its shorter side to ``short_side`` (``None``: keep)."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        size = scaled_size(image.width, image.height, short_side)
        if size != image.size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        return Media(frames=np.asarray(image)[None].copy())


def load_video(path: Path | str, *, num_frames: int, short_side: int | None,
               audio_samples: int | None = None) -> Media:
    """Decode ``num_frames`` frames spread over a video (segment centres), and optionally its audio."""
    clip = decode_clip(path, num_frames=num_frames, short_side=short_side, audio_samples=audio_samples)
    return Media(frames=clip.frames, audio=clip.audio)


def normalise_images(images: Tensor) -> Tensor:
    """``(B, 3, H, W)`` uint8 -> float32 normalised with the ImageNet statistics."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1) * 255.0
    return (images.float() - mean) / std


def model_inputs(media: Media, loaded: InterpretModel, *, device: torch.device | str = "cpu"
                 ) -> tuple[list[Tensor], np.ndarray]:
    """``forward``'s inputs for a batch of one, and the frames they show.

    Args:
        media: decoded frames (and audio).
        loaded: the model and its clip settings.
        device: where to put the tensors.

    Returns:
        ``(inputs, frames)``: ``frames`` is ``(T, H, W, 3)`` uint8, the frames fed
        (one for image models; ``T`` identical ones for an image on a video model).
    """
    frames = media.frames
    if loaded.num_frames is None:
        frames = frames[len(frames) // 2][None]
        video = normalise_images(torch.from_numpy(frames).permute(0, 3, 1, 2).to(device))
        return [video], frames
    if len(frames) != loaded.num_frames:
        index = np.linspace(0, len(frames) - 1, loaded.num_frames).round().astype(int)
        frames = frames[index]
    clip = torch.from_numpy(np.ascontiguousarray(frames)).to(device)  # (T, H, W, 3)
    video = normalise_images(clip.permute(0, 3, 1, 2)).permute(1, 0, 2, 3)[None]  # (1, 3, T, H, W)
    inputs = [video]
    if loaded.audio_samples is not None:
        audio = media.audio if media.audio is not None else np.zeros(loaded.audio_samples, dtype=np.float32)
        inputs.append(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).view(1, 1, -1).to(device))
    return inputs, frames
