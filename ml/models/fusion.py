"""Spatio-temporal-auditory fusion (Section 6.1): I3D + SoundNet features -> one linear layer.

The paper concatenates "the spatio-temporal features of the I3D network with
the auditory features from SoundNet and train[s] a single linear layer" with
the multi-label losses. Here the two backbones (usually initialised from
trained I3D and SoundNet checkpoints, see ``python -m ml.train --model fusion
--video-init ... --audio-init ...``) are frozen by default, BatchNorm included,
and only ``classifier`` learns. Clips without an audio stream feed a zero
waveform to SoundNet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ml.models.i3d import I3DResNet, i3d_r50
from ml.models.soundnet import SoundNet, soundnet8

__all__ = ["Fusion", "fusion"]


class Fusion(nn.Module):
    """Linear classifier over concatenated pooled video and audio features.

    Args:
        video: the video backbone (``features``/``pool``/``feature_dim``).
        audio: the audio backbone (same interface).
        num_classes: outputs.
        freeze_backbones: train only the classifier (the paper's setting).

    Attributes:
        modalities: ``("video", "audio")``: ``forward(video, audio)``.
        classifier: ``nn.Linear(video.feature_dim + audio.feature_dim, num_classes)``;
            its first ``video.feature_dim`` input columns weigh the video features.
        feature_dim: the classifier's input size.
    """

    modalities = ("video", "audio")

    def __init__(
        self, *, video: I3DResNet, audio: SoundNet, num_classes: int, freeze_backbones: bool = True
    ) -> None:
        super().__init__()
        # The backbones' own classifiers are never used (DDP would also reject
        # parameters that get no gradient when the backbones train): drop them.
        video.classifier = nn.Identity()
        audio.classifier = nn.Identity()
        self.video = video
        self.audio = audio
        self.freeze_backbones = freeze_backbones
        self.feature_dim = video.feature_dim + audio.feature_dim
        self.classifier = nn.Linear(self.feature_dim, num_classes)
        if freeze_backbones:
            for parameter in [*video.parameters(), *audio.parameters()]:
                parameter.requires_grad_(False)

    def train(self, mode: bool = True) -> Fusion:
        super().train(mode)
        if self.freeze_backbones:  # frozen means frozen BatchNorm statistics too
            self.video.eval()
            self.audio.eval()
        return self

    def features(self, video: Tensor, audio: Tensor) -> tuple[Tensor, Tensor]:
        """Both final feature maps.

        Args:
            video: ``(B, 3, T, H, W)`` clip.
            audio: ``(B, 1, L)`` waveform.

        Returns:
            ``(B, Dv, t, h, w)`` video map and ``(B, Da, L')`` audio map.
        """
        return self.video.features(video), self.audio.features(audio)

    def pool(self, features: tuple[Tensor, Tensor]) -> Tensor:
        """``((B, Dv, ...), (B, Da, ...)) -> (B, Dv + Da)``."""
        video_map, audio_map = features
        return torch.cat([self.video.pool(video_map), self.audio.pool(audio_map)], dim=1)

    def forward(self, video: Tensor, audio: Tensor) -> Tensor:
        """``(B, 3, T, H, W), (B, 1, L) -> (B, num_classes)`` logits."""
        return self.classifier(self.pool(self.features(video, audio)))


def fusion(
    *,
    num_classes: int,
    video: Mapping[str, Any] | None = None,
    audio: Mapping[str, Any] | None = None,
    freeze_backbones: bool = True,
) -> Fusion:
    """I3D-R50 + SoundNet-8 fusion.

    Args:
        num_classes: outputs.
        video: keyword arguments of ``i3d_r50`` (without ``num_classes``).
        audio: keyword arguments of ``soundnet8`` (without ``num_classes``).
        freeze_backbones: train only the classifier.

    Returns:
        The model (backbones randomly initialised or from ``pretrained_2d``;
        the trainer loads trained backbone checkpoints into ``.video``/``.audio``).
    """
    return Fusion(
        video=i3d_r50(num_classes=num_classes, **dict(video or {})),
        audio=soundnet8(num_classes=num_classes, **dict(audio or {})),
        num_classes=num_classes,
        freeze_backbones=freeze_backbones,
    )
