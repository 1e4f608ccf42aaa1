"""Video, audio and fusion models of Section 6.1.

Every model exposes the same hooks, which the later mCAM module relies on:

* ``modalities``: the inputs ``forward`` takes, in order (``("video",)``,
  ``("audio",)`` or ``("video", "audio")``);
* ``features(*inputs)``: the final convolutional feature map, ``(B, D, T, H, W)``
  for video models, ``(B, D, L)`` for SoundNet, and the pair of both for fusion;
* ``pool(features) -> (B, D)`` and ``classifier: nn.Linear(D, num_classes)``, with
  ``forward(*inputs) == classifier(pool(features(*inputs)))`` in eval mode
  (dropout sits between ``pool`` and ``classifier`` in training).

``BUILDERS`` maps the ``--model`` names of the command-line tools to the
typed builders; checkpoints store the name and the keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ml.models.fusion import Fusion, fusion
from ml.models.i3d import I3DResNet, i3d_r50
from ml.models.resnet import ResNet, resnet50
from ml.models.soundnet import SoundNet, soundnet8
from ml.models.tsm import TSMResNet, tsm_r50

__all__ = [
    "BUILDERS",
    "Fusion",
    "I3DResNet",
    "ResNet",
    "SoundNet",
    "TSMResNet",
    "build_model",
    "fusion",
    "i3d_r50",
    "resnet50",
    "soundnet8",
    "tsm_r50",
]

BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "i3d_r50": i3d_r50,
    "tsm_r50": tsm_r50,
    "soundnet": soundnet8,
    "fusion": fusion,
}
"""``--model`` name -> builder."""

ERR_UNKNOWN_MODEL = "unknown model {name!r}; choose one of {choices}"


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model called ``name`` (a key of ``BUILDERS``) with keyword arguments.

    Raises:
        ValueError: naming the unknown model and the choices.
    """
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise ValueError(ERR_UNKNOWN_MODEL.format(name=name, choices=sorted(BUILDERS))) from None
    return builder(**kwargs)
