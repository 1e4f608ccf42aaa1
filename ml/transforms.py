"""Spatial augmentation of decoded clips, and their normalisation.

Frames arrive already scaled (during decoding) so their short side is
``short_side``; training draws that size from ``[resize, resize * max_scale]``
(scale jitter), then a random ``crop x crop`` window and a horizontal flip
shared by all frames of the clip. Evaluation uses ``resize`` and the centre
crop.

Clips leave the loader workers as uint8 and are normalised (ImageNet mean and
std, which 2D-pretrained weights expect) by ``normalize_video`` on the
training device: float32 clips are 4x the bytes through the workers' shared
memory and the pinned-memory copy, and the per-pixel arithmetic cost the
workers a third of their time per clip (measured on 16 frames at 224x224).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ClipTransform", "normalize_video"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ERR_TOO_SMALL = "crop {crop} is larger than the resized frame {height}x{width}"


@dataclass(frozen=True)
class ClipTransform:
    """Scale jitter, crop, flip and normalisation of a clip.

    Attributes:
        crop: side of the square output.
        resize: short side before cropping (evaluation; the training minimum).
        train: random scale, crop position and flip when True; centre crop otherwise.
        flip: allow horizontal flips in training (turn off for direction-sensitive labels).
        max_scale: largest training short side as a multiple of ``resize``.
    """

    crop: int
    resize: int
    train: bool
    flip: bool = True
    max_scale: float = 1.25

    def short_side(self, rng: np.random.Generator | None) -> int:
        """The short side to decode at: random in training, ``resize`` otherwise."""
        if not self.train or rng is None:
            return self.resize
        return int(rng.integers(self.resize, int(self.resize * self.max_scale) + 1))

    def __call__(self, frames: np.ndarray, rng: np.random.Generator | None) -> Tensor:
        """Crop and flip.

        Args:
            frames: ``(T, H, W, 3)`` uint8 RGB frames with short side >= ``crop``.
            rng: randomness (training) or ``None``.

        Returns:
            ``(3, T, crop, crop)`` uint8 clip (normalise with ``normalize_video``).

        Raises:
            ValueError: when the frames are smaller than the crop.
        """
        _, height, width, _ = frames.shape
        if height < self.crop or width < self.crop:
            raise ValueError(ERR_TOO_SMALL.format(crop=self.crop, height=height, width=width))
        if self.train and rng is not None:
            top = int(rng.integers(0, height - self.crop + 1))
            left = int(rng.integers(0, width - self.crop + 1))
            flip = self.flip and bool(rng.random() < 0.5)
        else:
            top, left, flip = (height - self.crop) // 2, (width - self.crop) // 2, False
        window = frames[:, top : top + self.crop, left : left + self.crop]
        if flip:
            window = window[:, :, ::-1]
        return torch.from_numpy(np.ascontiguousarray(window.transpose(3, 0, 1, 2)))


def normalize_video(video: Tensor) -> Tensor:
    """uint8 clips to the float input of the video models.

    Args:
        video: ``(B, 3, T, H, W)`` or ``(3, T, H, W)`` uint8 (a float tensor is
            returned unchanged: already normalised).

    Returns:
        float32 ``(x / 255 - mean) / std`` with the ImageNet statistics, on
        ``video``'s device.
    """
    if video.is_floating_point():
        return video
    shape = (3, 1, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, device=video.device).view(shape) * 255.0
    std = torch.tensor(IMAGENET_STD, device=video.device).view(shape) * 255.0
    return (video.float() - mean) / std
