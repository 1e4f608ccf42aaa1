"""Temporal Shift Module ResNet-50 (Lin et al. 2019; Section 6.1, 8 segments).

A 2D ResNet-50 run on every frame of the clip, where each bottleneck first
shifts ``1/shift_div`` of its input channels one step back in time and another
``1/shift_div`` one step forward (zero-filled at the clip's ends) inside the
residual branch ("residual shift"), so the shortcut keeps the unshifted
features. Frame predictions are averaged (TSN consensus); since the classifier
is linear this equals classifying the feature map pooled over time and space,
so ``features`` returns a ``(B, D, T, h, w)`` map like I3D's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import Tensor, nn
import torch

from ml.models.resnet import NormKind, ResNet, load_pretrained_2d, norm_factory

__all__ = ["TSMResNet", "TemporalShift", "temporal_shift", "tsm_r50"]

ERR_SEGMENTS = "TSM was built for {expected} segments; the clip has {got} frames"


def temporal_shift(x: Tensor, num_segments: int, shift_div: int = 8) -> Tensor:
    """Shift channel groups along time.

    Args:
        x: ``(B * T, C, H, W)`` frame features, frames of one clip contiguous.
        num_segments: ``T``.
        shift_div: ``1/shift_div`` of the channels move each way.

    Returns:
        ``(B * T, C, H, W)``: channels ``[0, C/d)`` take the next frame's values
        (shift back), ``[C/d, 2C/d)`` the previous frame's (shift forward), the
        rest are unchanged; vacated positions are zero.
    """
    nt, c, h, w = x.shape
    x = x.view(nt // num_segments, num_segments, c, h, w)
    fold = c // shift_div
    zeros = x.new_zeros(x.shape[0], 1, fold, h, w)
    back = torch.cat([x[:, 1:, :fold], zeros], dim=1)
    forward = torch.cat([zeros, x[:, :-1, fold : 2 * fold]], dim=1)
    return torch.cat([back, forward, x[:, :, 2 * fold :]], dim=2).view(nt, c, h, w)


class TemporalShift(nn.Module):
    """``temporal_shift`` as a module (injected at the start of each residual branch).

    Args:
        num_segments: ``T``.
        shift_div: ``1/shift_div`` of the channels move each way.
    """

    def __init__(self, num_segments: int, shift_div: int = 8) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.shift_div = shift_div

    def forward(self, x: Tensor) -> Tensor:
        return temporal_shift(x, self.num_segments, self.shift_div)

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}, shift_div={self.shift_div}"


class TSMResNet(nn.Module):
    """Clip classifier around a ResNet whose blocks carry temporal shifts.

    Args:
        backbone: a ``ResNet`` built with ``TemporalShift`` in its blocks.
        num_segments: ``T``, the frames per clip it was built for.

    Attributes:
        modalities: ``("video",)``: ``forward(video)``.
        classifier: the backbone's ``nn.Linear(feature_dim, num_classes)``.
        feature_dim: channels of the final feature map.
    """

    modalities = ("video",)

    def __init__(self, backbone: ResNet, num_segments: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_segments = num_segments
        self.feature_dim = backbone.feature_dim

    @property
    def classifier(self) -> nn.Linear:
        return self.backbone.classifier

    def features(self, video: Tensor) -> Tensor:
        """Final convolutional feature map (the input of mCAM).

        Args:
            video: ``(B, 3, T, H, W)`` normalised clip, ``T = num_segments``.

        Returns:
            ``(B, feature_dim, T, H/32, W/32)``.

        Raises:
            ValueError: when ``T`` is not ``num_segments``.
        """
        b, c, t, h, w = video.shape
        if t != self.num_segments:
            raise ValueError(ERR_SEGMENTS.format(expected=self.num_segments, got=t))
        frames = video.transpose(1, 2).reshape(b * t, c, h, w)
        maps = self.backbone.features(frames)
        return maps.view(b, t, *maps.shape[1:]).transpose(1, 2)

    def pool(self, features: Tensor) -> Tensor:
        """Average over time and space (TSN consensus): ``(B, D, T, h, w) -> (B, D)``."""
        return features.mean(dim=(2, 3, 4))

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, num_classes)`` logits."""
        return self.classifier(self.backbone.dropout(self.pool(self.features(video))))


def tsm_r50(
    *,
    num_classes: int,
    num_segments: int = 8,
    width: int = 64,
    depth: Sequence[int] = (3, 4, 6, 3),
    shift_div: int = 8,
    norm: NormKind = "batch",
    dropout: float = 0.5,
    pretrained_2d: Path | str | None = None,
) -> TSMResNet:
    """TSM ResNet-50 (8 segments in the paper).

    Args:
        num_classes: outputs.
        num_segments: frames per clip.
        width: stem channels (64 for ResNet-50).
        depth: blocks per stage ((3, 4, 6, 3) for ResNet-50).
        shift_div: ``1/shift_div`` of the channels shift each way (8).
        norm: ``"batch"``, ``"frozen"`` or ``"group"``.
        dropout: dropout before the classifier.
        pretrained_2d: torchvision-format 2D ResNet weights, or ``None``.

    Returns:
        The model; ``features(video)`` gives ``(B, 32 width, T, H/32, W/32)``.
    """
    backbone = ResNet(
        num_classes=num_classes,
        width=width,
        depth=depth,
        norm_layer=norm_factory(norm, 2),
        block_pre=lambda _channels: TemporalShift(num_segments, shift_div),
        dropout=dropout,
    )
    if pretrained_2d is not None:
        load_pretrained_2d(backbone, pretrained_2d)
    return TSMResNet(backbone, num_segments)
