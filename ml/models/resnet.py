"""2D ResNet-50 with torchvision's parameter names, and weight loading.

Written here because torchvision cannot be installed beside this project's
torch build. Parameter names match ``torchvision.models.resnet50`` exactly
(``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer1.0.downsample.0`` ...), except
that the last layer is called ``classifier`` instead of ``fc`` (uniform across
this package's models, for mCAM); ``load_torchvision_state_dict`` reads
torchvision-format files. The bottleneck takes an optional ``pre`` module run
at the start of the residual branch: TSM injects its temporal shift there.

Width and depth are configurable (``width=64, depth=(3, 4, 6, 3)`` is
ResNet-50) so tests can run tiny networks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = [
    "Bottleneck",
    "FrozenBatchNorm",
    "NormKind",
    "ResNet",
    "init_weights",
    "load_pretrained_2d",
    "load_torchvision_state_dict",
    "norm_factory",
    "resnet50",
]

NormKind = Literal["batch", "frozen", "group"]

ERR_NORM = "unknown norm {norm!r}; choose from 'batch', 'frozen', 'group'"
ERR_DEPTH = "depth must list 4 positive block counts; got {depth}"
ERR_STATE_DICT = "{path} holds no state dict (expected a mapping of parameter names to tensors)"


class FrozenBatchNorm(nn.Module):
    """BatchNorm with fixed statistics and affine parameters (no batch dependence).

    Same parameter and buffer names as ``nn.BatchNorm*`` so weights load either way.
    Works for any input ``(N, C, ...)``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x * scale.view(shape) + shift.view(shape)


def norm_factory(norm: NormKind, dims: Literal[2, 3]) -> Callable[[int], nn.Module]:
    """Normalisation layer constructor ``channels -> module``.

    Args:
        norm: ``"batch"`` (BatchNorm; converted to SyncBatchNorm by the trainer
            with ``--sync-bn``), ``"frozen"`` (fixed statistics: for small
            per-GPU batches and exact distributed equivalence) or ``"group"``
            (GroupNorm with up to 32 groups).
        dims: 2 for images, 3 for clips.
    """
    if norm == "batch":
        return nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
    if norm == "frozen":
        return FrozenBatchNorm
    if norm == "group":
        return lambda channels: nn.GroupNorm(_groups(channels), channels)
    raise ValueError(ERR_NORM.format(norm=norm))


def _groups(channels: int) -> int:
    groups = min(32, channels)
    while channels % groups:
        groups -= 1
    return groups


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3 with stride, 1x1 x4) with torchvision names.

    Args:
        in_channels: input channels.
        planes: inner width; output has ``4 * planes`` channels.
        stride: stride of the 3x3 convolution.
        downsample: projection of the shortcut, or ``None``.
        norm_layer: normalisation constructor.
        pre: module run at the start of the residual branch (TSM's shift), or ``None``.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        *,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
        pre: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.pre = pre if pre is not None else nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = norm_layer(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = norm_layer(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = norm_layer(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, H, W) -> (N, 4 planes, H / stride, W / stride)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self.pre(x))))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """2D ResNet with bottleneck blocks.

    Args:
        num_classes: outputs of ``classifier``.
        width: channels of the stem; stages use ``width * (1, 2, 4, 8)`` planes.
        depth: blocks per stage.
        norm_layer: normalisation constructor.
        block_pre: called as ``block_pre(in_channels)`` for each block to build
            its ``pre`` module (``None``: plain ResNet).
        dropout: dropout before the classifier.

    Attributes:
        classifier: ``nn.Linear(feature_dim, num_classes)``.
        feature_dim: channels of the final feature map (``8 * 4 * width``).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        width: int = 64,
        depth: Sequence[int] = (3, 4, 6, 3),
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
        block_pre: Callable[[int], nn.Module] | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(depth) != 4 or any(d < 1 for d in depth):
            raise ValueError(ERR_DEPTH.format(depth=tuple(depth)))
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = width
        stages = []
        for stage, blocks in enumerate(depth):
            planes = width * 2**stage
            layer = []
            for b in range(blocks):
                stride = 2 if (b == 0 and stage > 0) else 1
                downsample = None
                if b == 0 and (stride != 1 or channels != planes * 4):
                    downsample = nn.Sequential(
                        nn.Conv2d(channels, planes * 4, 1, stride=stride, bias=False),
                        norm_layer(planes * 4),
                    )
                pre = block_pre(channels) if block_pre is not None else None
                layer.append(
                    Bottleneck(channels, planes, stride=stride, downsample=downsample,
                               norm_layer=norm_layer, pre=pre)
                )
                channels = planes * 4
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.feature_dim = channels
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)
        init_weights(self)

    def features(self, x: Tensor) -> Tensor:
        """Final convolutional feature map: ``(N, 3, H, W) -> (N, feature_dim, H/32, W/32)``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def pool(self, features: Tensor) -> Tensor:
        """Global average pooling: ``(N, D, h, w) -> (N, D)``."""
        return features.mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W) -> (N, num_classes)`` logits."""
        return self.classifier(self.dropout(self.pool(self.features(x))))


def init_weights(model: nn.Module) -> None:
    """torchvision's initialisation, with the last norm of each bottleneck at zero."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Conv3d | nn.Conv1d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm3d | nn.BatchNorm1d | nn.GroupNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    for module in model.modules():
        bn3 = getattr(module, "bn3", None)
        if isinstance(bn3, nn.BatchNorm2d | nn.BatchNorm3d | nn.GroupNorm):
            # Zero-init residual: each block starts as the identity, which
            # helps small-batch training (Goyal et al., 2017).
            nn.init.zeros_(bn3.weight)


def load_torchvision_state_dict(path: Path | str) -> dict[str, Tensor]:
    """Read a torchvision-format ResNet state dict from a local file.

    Accepts a bare state dict or one wrapped as ``{"state_dict": ...}`` /
    ``{"model": ...}``; strips a DDP ``module.`` prefix and renames ``fc.*`` to
    ``classifier.*``.

    Args:
        path: ``.pth`` file (e.g. torchvision's ``resnet50-*.pth``).

    Returns:
        The state dict with this package's names.

    Raises:
        ValueError: when the file holds no state dict.
    """
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(ERR_STATE_DICT.format(path=path))
    renamed = {}
    for name, value in state.items():
        name = name.removeprefix("module.")
        if name.startswith("fc."):
            name = "classifier." + name[3:]
        renamed[name] = value
    return renamed


def load_pretrained_2d(model: nn.Module, path: Path | str) -> list[str]:
    """Copy 2D weights into ``model``, skipping a classifier of another shape.

    Returns:
        Names of the model's parameters and buffers that the file did not provide.
    """
    state = load_torchvision_state_dict(path)
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    return sorted(k for k in own if k not in usable)


def resnet50(
    *,
    num_classes: int,
    width: int = 64,
    depth: Sequence[int] = (3, 4, 6, 3),
    norm: NormKind = "batch",
    dropout: float = 0.0,
    pretrained_2d: Path | str | None = None,
) -> ResNet:
    """2D ResNet-50 (per-image classifier; the base of TSM and I3D's inflation).

    Args:
        num_classes: outputs.
        width: stem channels (64 for ResNet-50).
        depth: blocks per stage ((3, 4, 6, 3) for ResNet-50).
        norm: normalisation kind (see ``norm_factory``).
        dropout: dropout before the classifier.
        pretrained_2d: torchvision-format weights file, or ``None``.

    Returns:
        The model; ``features(x)`` gives ``(N, 32 width, H/32, W/32)``.
    """
    model = ResNet(num_classes=num_classes, width=width, depth=depth,
                   norm_layer=norm_factory(norm, 2), dropout=dropout)
    if pretrained_2d is not None:
        load_pretrained_2d(model, pretrained_2d)
    return model
