"""I3D ResNet-50: a 3D ResNet inflated from a 2D ResNet-50 (Section 6.1).

Architecture (Carreira & Zisserman 2017; the ResNet-50 variant of Wang et al.
2018 as in mmaction2's ``I3D-R50``):

* stem: ``conv1`` 5x7x7, stride (1, 2, 2); max pool 1x3x3, stride (1, 2, 2);
* a temporal max pool 3x1x1 with stride 2 after ``layer1`` (16 frames -> 8);
* bottlenecks whose first 1x1 convolution is inflated to 3x1x1 in the usual
  alternating pattern: every block of ``layer1``, every other block of
  ``layer2`` and ``layer3`` starting with the first, every other block of
  ``layer4`` starting with the second — ((1,1,1), (1,0,1,0), (1,0,1,0,1,0),
  (0,1,0)) for ResNet-50 — the 3x3 convolutions stay 1x3x3.

Parameter names equal the 2D ResNet's, so ``inflate_state_dict`` maps a
torchvision-format ResNet-50 file onto it: every 2D kernel is repeated over
the temporal size ``t`` and divided by ``t`` (a clip of identical frames then
gives the 2D network's activations away from the temporal borders); norms copy
over unchanged. The 2D classifier is dropped when the class count differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ml.models.resnet import NormKind, init_weights, load_torchvision_state_dict, norm_factory

__all__ = ["Bottleneck3d", "I3DResNet", "i3d_r50", "inflate_state_dict", "inflation_pattern"]

ERR_DEPTH = "depth must list 4 positive block counts; got {depth}"


def inflation_pattern(depth: Sequence[int]) -> tuple[tuple[bool, ...], ...]:
    """Which bottlenecks get a 3x1x1 first convolution, per stage.

    Args:
        depth: blocks per stage.

    Returns:
        For ``(3, 4, 6, 3)``: ``((1,1,1), (1,0,1,0), (1,0,1,0,1,0), (0,1,0))`` as bools.
    """
    starts = (None, 0, 0, 1)  # None: every block
    return tuple(
        tuple(start is None or b % 2 == start for b in range(blocks))
        for blocks, start in zip(depth, starts, strict=True)
    )


class Bottleneck3d(nn.Module):
    """3D bottleneck: (3x1x1 or 1x1x1), 1x3x3 with spatial stride, 1x1x1 x4.

    Args:
        in_channels: input channels.
        planes: inner width; output has ``4 * planes`` channels.
        stride: spatial stride of the 1x3x3 convolution.
        inflate: temporal kernel 3 in the first convolution.
        downsample: projection of the shortcut, or ``None``.
        norm_layer: normalisation constructor.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        *,
        stride: int = 1,
        inflate: bool = True,
        downsample: nn.Module | None = None,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        t = 3 if inflate else 1
        self.conv1 = nn.Conv3d(in_channels, planes, (t, 1, 1), padding=(t // 2, 0, 0), bias=False)
        self.bn1 = norm_layer(planes)
        self.conv2 = nn.Conv3d(planes, planes, (1, 3, 3), stride=(1, stride, stride),
                               padding=(0, 1, 1), bias=False)
        self.bn2 = norm_layer(planes)
        self.conv3 = nn.Conv3d(planes, planes * 4, 1, bias=False)
        self.bn3 = norm_layer(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, T, H, W) -> (B, 4 planes, T, H / stride, W / stride)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class I3DResNet(nn.Module):
    """Inflated 3D ResNet.

    Args:
        num_classes: outputs of ``classifier``.
        width: stem channels; stages use ``width * (1, 2, 4, 8)`` planes.
        depth: blocks per stage.
        norm_layer: normalisation constructor (3D).
        dropout: dropout before the classifier.

    Attributes:
        modalities: ``("video",)``: ``forward(video)``.
        classifier: ``nn.Linear(feature_dim, num_classes)``.
        feature_dim: channels of the final feature map (``32 * width``).
    """

    modalities = ("video",)

    def __init__(
        self,
        *,
        num_classes: int,
        width: int = 64,
        depth: Sequence[int] = (3, 4, 6, 3),
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm3d,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if len(depth) != 4 or any(d < 1 for d in depth):
            raise ValueError(ERR_DEPTH.format(depth=tuple(depth)))
        self.conv1 = nn.Conv3d(3, width, (5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False)
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.pool2 = nn.MaxPool3d((3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0))
        channels = width
        stages = []
        for stage, (blocks, inflate) in enumerate(zip(depth, inflation_pattern(depth), strict=True)):
            planes = width * 2**stage
            layer = []
            for b in range(blocks):
                stride = 2 if (b == 0 and stage > 0) else 1
                downsample = None
                if b == 0 and (stride != 1 or channels != planes * 4):
                    downsample = nn.Sequential(
                        nn.Conv3d(channels, planes * 4, 1, stride=(1, stride, stride), bias=False),
                        norm_layer(planes * 4),
                    )
                layer.append(Bottleneck3d(channels, planes, stride=stride, inflate=inflate[b],
                                          downsample=downsample, norm_layer=norm_layer))
                channels = planes * 4
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.feature_dim = channels
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)
        init_weights(self)

    def features(self, video: Tensor) -> Tensor:
        """Final convolutional feature map (the input of mCAM).

        Args:
            video: ``(B, 3, T, H, W)`` normalised clip.

        Returns:
            ``(B, feature_dim, ceil(T/2), H/32, W/32)``.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(video))))
        x = self.pool2(self.layer1(x))
        return self.layer4(self.layer3(self.layer2(x)))

    def pool(self, features: Tensor) -> Tensor:
        """Global average pooling: ``(B, D, t, h, w) -> (B, D)``."""
        return features.mean(dim=(2, 3, 4))

    def forward(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, num_classes)`` logits."""
        return self.classifier(self.dropout(self.pool(self.features(video))))


def inflate_state_dict(model: nn.Module, state_2d: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map a 2D ResNet state dict onto an inflated 3D model.

    A 3D kernel ``(O, I, t, k, k)`` receives the 2D kernel ``(O, I, k, k)``
    repeated ``t`` times along time and divided by ``t``; tensors of equal
    shape (norms, a matching classifier) are copied; others are skipped.

    Args:
        model: the 3D model (its names must follow the 2D ResNet's).
        state_2d: the 2D weights (names as in ``ml.models.resnet``).

    Returns:
        A state dict for ``model.load_state_dict(..., strict=False)``.
    """
    own = model.state_dict()
    out: dict[str, Tensor] = {}
    for name, target in own.items():
        source = state_2d.get(name)
        if source is None:
            continue
        if source.shape == target.shape:
            out[name] = source.clone()
        elif target.ndim == 5 and source.ndim == 4 and target.shape[:2] + target.shape[3:] == source.shape:
            t = target.shape[2]
            out[name] = source.unsqueeze(2).repeat(1, 1, t, 1, 1) / t
    return out


def i3d_r50(
    *,
    num_classes: int,
    width: int = 64,
    depth: Sequence[int] = (3, 4, 6, 3),
    norm: NormKind = "batch",
    dropout: float = 0.5,
    pretrained_2d: Path | str | None = None,
) -> I3DResNet:
    """I3D ResNet-50 (16 frames in the paper).

    Args:
        num_classes: outputs.
        width: stem channels (64 for ResNet-50).
        depth: blocks per stage ((3, 4, 6, 3) for ResNet-50).
        norm: ``"batch"``, ``"frozen"`` or ``"group"`` (see ``norm_factory``).
        dropout: dropout before the classifier.
        pretrained_2d: torchvision-format 2D ResNet weights to inflate, or ``None``.

    Returns:
        The model; ``features(video)`` gives ``(B, 32 width, T/2, H/32, W/32)``.
    """
    model = I3DResNet(num_classes=num_classes, width=width, depth=depth,
                      norm_layer=norm_factory(norm, 3), dropout=dropout)
    if pretrained_2d is not None:
        with torch.no_grad():
            model.load_state_dict(inflate_state_dict(model, load_torchvision_state_dict(pretrained_2d)),
                                  strict=False)
    return model
