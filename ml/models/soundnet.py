"""SoundNet-8 on raw waveforms (Aytar et al. 2016; Section 6.1), adapted to 3 s clips.

The original 8-layer SoundNet at 22,050 Hz:

=====  ========  ======  ======  =======  =============
layer  channels  kernel  stride  padding  then
=====  ========  ======  ======  =======  =============
conv1  16        64      2       32       max pool 8/8
conv2  32        32      2       16       max pool 8/8
conv3  64        16      2       8
conv4  128       8       2       4
conv5  256       4       2       2        max pool 4/4
conv6  512       4       2       2
conv7  1024      4       2       2
conv8  1000+401  8       2       0        (object and scene heads)
=====  ========  ======  ======  =======  =============

each conv followed by BatchNorm and ReLU (not conv8). A 3 s clip (66,150
samples) leaves conv7 with only 3 time steps, and conv8's kernel of 8 needs 8
(about 10 s of audio): the original network cannot run on a 3-second clip.

**Adaptation: pool, not pad.** conv8 held the teacher heads that predicted
ImageNet objects and Places scenes; we drop it and average conv7's map over
time into a 1024-d clip feature for ``classifier``. Padding the waveform to
about 10 s instead would fill 70% of the input with silence and make the
feature depend on the pad. Global pooling works for any length that leaves
conv7 at least one step (about 0.15 s).

Input: ``(B, 1, L)`` mono float waveform in [-1, 1] at 22,050 Hz (clips without
an audio stream arrive as zeros). ``width`` scales every layer's channels
(16 for the original).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from ml.models.resnet import init_weights

__all__ = ["SoundNet", "soundnet8"]

# (channels as a multiple of width, kernel, stride, padding, max pool after)
_LAYERS = (
    (1, 64, 2, 32, 8),
    (2, 32, 2, 16, 8),
    (4, 16, 2, 8, 1),
    (8, 8, 2, 4, 1),
    (16, 4, 2, 2, 4),
    (32, 4, 2, 2, 1),
    (64, 4, 2, 2, 1),
)


class SoundNet(nn.Module):
    """SoundNet conv1..conv7 with global temporal pooling and a linear classifier.

    Args:
        num_classes: outputs of ``classifier``.
        width: channels of conv1 (16 originally); conv k has ``width * 2**(k-1)``.
        norm: ``"batch"`` (BatchNorm1d) or ``"group"`` (GroupNorm, batch independent).
        dropout: dropout before the classifier.

    Attributes:
        modalities: ``("audio",)``: ``forward(audio)``.
        classifier: ``nn.Linear(feature_dim, num_classes)``.
        feature_dim: conv7 channels (``64 * width``).
    """

    modalities = ("audio",)

    def __init__(
        self,
        *,
        num_classes: int,
        width: int = 16,
        norm: Literal["batch", "group"] = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for multiple, kernel, stride, padding, pool in _LAYERS:
            out = width * multiple
            layers += [
                nn.Conv1d(channels, out, kernel, stride=stride, padding=padding),
                nn.BatchNorm1d(out) if norm == "batch" else nn.GroupNorm(min(32, out), out),
                nn.ReLU(inplace=True),
            ]
            if pool > 1:
                layers.append(nn.MaxPool1d(pool, stride=pool, ceil_mode=True))
            channels = out
        self.body = nn.Sequential(*layers)
        self.feature_dim = channels
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)
        init_weights(self)

    def features(self, audio: Tensor) -> Tensor:
        """conv7 feature map (the input of mCAM for audio).

        Args:
            audio: ``(B, 1, L)`` waveform.

        Returns:
            ``(B, feature_dim, L')``, ``L'`` about ``L / 32768 + 1`` (3 for 3 s at 22,050 Hz).
        """
        return self.body(audio)

    def pool(self, features: Tensor) -> Tensor:
        """Average over time: ``(B, D, L') -> (B, D)`` (replaces conv8, see the module docstring)."""
        return features.mean(dim=2)

    def forward(self, audio: Tensor) -> Tensor:
        """``(B, 1, L) -> (B, num_classes)`` logits."""
        return self.classifier(self.dropout(self.pool(self.features(audio))))


def soundnet8(
    *,
    num_classes: int,
    width: int = 16,
    norm: Literal["batch", "group"] = "batch",
    dropout: float = 0.0,
    pretrained: Path | str | None = None,
) -> SoundNet:
    """SoundNet-8 adapted to 3 s clips (conv8 replaced by global pooling).

    Args:
        num_classes: outputs.
        width: conv1 channels (16 originally).
        norm: ``"batch"`` or ``"group"``.
        dropout: dropout before the classifier.
        pretrained: a state dict file in this module's names (e.g. converted
            Flickr-pretrained weights: ``body.{0,4,8,...}`` convs and their norms);
            a classifier of another shape is skipped.

    Returns:
        The model.
    """
    model = SoundNet(num_classes=num_classes, width=width, norm=norm, dropout=dropout)
    if pretrained is not None:
        state = torch.load(Path(pretrained), map_location="cpu", weights_only=True)
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in state.items() if k in own and own[k].shape == v.shape},
                              strict=False)
    return model
